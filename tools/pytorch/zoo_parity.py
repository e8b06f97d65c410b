"""Eval-mode outputs of torchvision 0.14's zoo models, for cnnc's zoo parity test.

For each model named (torchvision's function names, as zoo/<name>.cnn declares them), with
weights=None: every parameter and BatchNorm statistic seeded (non-trivial running mean and
variance, as parity.py seeds the article's networks), the state_dict saved as <name>.npz (keys as
torchvision names them, without num_batches_tracked), one seeded input of batch 1 as
<name>_input.npy (of torchvision's reference size, or of PARITY_INPUT's where a model takes any
size and a smaller one keeps the test fast), and the model's eval-mode output as
<name>_output.npy, computed in float64 (then stored as float32): the exact output, so the test
measures cnnc's rounding alone, not PyTorch's float32 rounding as well (on regnet_y_400mf's seeded
weights PyTorch's own float32 output is 2.8e-5 of its largest value away from float64's). Prints
that distance for each model. Nothing is downloaded.

    /usr/bin/python3 tools/pytorch/zoo_parity.py --out DIR --models resnet18,mobilenet_v2
"""
import argparse
import copy
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity import save_npz, seeded  # noqa: E402
from zoo_reference import MODELS  # noqa: E402


# Models run at a smaller input than the reference's 224 (their specs take it as `size`).
PARITY_INPUT = {"fcn_resnet50": (3, 64, 64)}


def model_and_input(name, seed):
    """The model `name` in eval mode with every parameter and statistic seeded from `seed`, and its
    seeded input of batch 1 (PARITY_INPUT's size where it has one): what the parity test runs."""
    build, shape = {n: (b, s) for n, b, s in MODELS}[name]
    shape = PARITY_INPUT.get(name, shape)
    model = seeded(build(), seed).eval()
    x = torch.randn((1,) + tuple(shape), generator=torch.Generator().manual_seed(seed + 1))
    return model, x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--seed", type=int, default=17)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    for name in args.models.split(","):
        model, x = model_and_input(name, args.seed)
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        save_npz(os.path.join(args.out, name + ".npz"), state)
        np.save(os.path.join(args.out, name + "_input.npy"), x.numpy().astype(np.float32))
        with torch.no_grad():
            y32 = model(x)
            y = copy.deepcopy(model).double()(x.double())
        if isinstance(y, dict):  # the segmentation models: their output `out`
            y, y32 = y["out"], y32["out"]
        np.save(os.path.join(args.out, name + "_output.npy"), y.numpy().astype(np.float32))
        err = ((y32.double() - y).abs().max() / y.abs().max()).item()
        print(name, tuple(y.shape), "PyTorch float32 against float64: %.2e" % err, flush=True)


if __name__ == "__main__":
    main()
