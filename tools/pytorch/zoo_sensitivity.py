# SPDX-License-Identifier: Apache-2.0
"""How much a zoo model amplifies float32 rounding, on zoo_parity.py's seeded weights and input.

Prints PyTorch's own float32 output against float64's (max |a - b| / max |b|, as ZooParityTest
measures cnnc's); the same after every leaf module's float32 output is changed by a relative
6e-8 * randn (about half a float ulp), for 8 draws; and, in float64, the output's change when one
leaf alone is changed so, for the 12 leaves that move it most. A model whose float32 outputs move
by close to its parity bound under such changes has a bound that rounding alone can break.
Nothing is downloaded.

    /usr/bin/python3 tools/pytorch/zoo_sensitivity.py regnet_y_400mf
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_parity import model_and_input  # noqa: E402

SEED = 17  # zoo_parity.py's default
NOISE = 6e-8


def relative(a, b):
    return ((a.double() - b).abs().max() / b.abs().max()).item()


def main():
    name = sys.argv[1]
    torch.set_num_threads(2)
    model, x = model_and_input(name, SEED)
    g = torch.Generator().manual_seed(5)

    def noise(module, inputs, out):
        return out * (1 + NOISE * torch.randn(out.shape, generator=g, dtype=out.dtype))

    with torch.no_grad():
        y = copy.deepcopy(model).double()(x.double())
        print("float32 against float64: %.2e" % relative(model(x), y))
        leaves = [m for m in model.modules() if not list(m.children())]
        hooks = [m.register_forward_hook(noise) for m in leaves]
        draws = [relative(model(x), y) for _ in range(8)]
        for h in hooks:
            h.remove()
        print("every leaf's output changed by %.0e * randn: %s" % (NOISE, " ".join("%.1e" % d for d in draws)))
        double = copy.deepcopy(model).double()
        one = []
        for path, m in double.named_modules():
            if list(m.children()) or isinstance(m, (torch.nn.ReLU, torch.nn.Identity, torch.nn.Dropout)):
                continue
            h = m.register_forward_hook(noise)
            one.append((relative(double(x.double()), y), path))
            h.remove()
    one.sort(reverse=True)
    print("one leaf changed alone (float64):")
    for err, path in one[:12]:
        print("  %.2e %s" % (err, path))


if __name__ == "__main__":
    main()
