# SPDX-License-Identifier: Apache-2.0
"""How well-posed GoogLeNet's training step is in float32, measured on PyTorch itself (issue 14).

Runs torchvision's GoogLeNet (aux heads on, dropout off, batch norm in training mode, seeded init,
nothing downloaded) in float32 and in float64 from the same weights and batch, and prints:

1. per parameter, the largest gradient difference relative to the largest gradient element
   (float32 against float64, and float32 against float32 with the input changed by 1e-7
   relative), the worst 10 and the median;
2. the loss curves of a few optimizer steps, float32 against float64, relative difference per step.

    /usr/bin/python3 tools/pytorch/float_conditioning.py [--batch 2] [--steps 4]

A float32 implementation cannot follow an exact loss curve closer than PyTorch's own float32 does:
this is the yardstick for comparing two float32 implementations (cnnc's kernels and DL4J's layers).
"""
import argparse
import copy
import statistics

import torch
import torchvision


def network():
    torch.manual_seed(0)
    m = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=True).train()
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout):
            mod.p = 0.0
    return m


def loss_of(model, x, y):
    out = model(x)
    ce = torch.nn.functional.cross_entropy
    return ce(out.logits, y) + 0.3 * (ce(out.aux_logits1, y) + ce(out.aux_logits2, y))


def grads(model, x, y):
    model.zero_grad()
    loss = loss_of(model, x, y)
    loss.backward()
    return loss.item(), {k: p.grad.detach().double().clone() for k, p in model.named_parameters()}


def rel(a, b):
    return ((a - b).abs().max() / (b.abs().max() + 1e-6)).item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(3)
    x = torch.randn(args.batch, 3, 224, 224, generator=g)
    y = torch.tensor([(s * 7) % 1000 for s in range(args.batch)])
    m = network()
    m64 = copy.deepcopy(m).double()
    l32, g32 = grads(m, x, y)
    l64, g64 = grads(m64, x.double(), y)
    _, g32p = grads(m, x * (1 + 1e-7 * torch.randn(x.shape, generator=g)), y)
    print("batch %d: loss float32 %.9f, float64 %.9f" % (args.batch, l32, l64))
    rows = sorted(((rel(g32[k], g64[k]), rel(g32p[k], g32[k]), k) for k in g64), reverse=True)
    print("gradient: parameter, float32 vs float64, float32 with input x(1+1e-7) vs float32")
    for r in rows[:10]:
        print("  %-42s %.2e  %.2e" % (r[2], r[0], r[1]))
    print("  median over %d parameters:%s %.2e  %.2e" % (
        len(rows), " " * 17, statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows)))
    for name, make in (("Adam 1e-3", lambda p: torch.optim.Adam(p, 1e-3)), ("SGD 0.01", lambda p: torch.optim.SGD(p, 0.01))):
        curves = []
        for dt in (torch.float32, torch.float64):
            mm = copy.deepcopy(m).to(dt)
            opt = make(mm.parameters())
            losses = []
            for _ in range(args.steps):
                opt.zero_grad()
                loss = loss_of(mm, x.to(dt), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
            curves.append(losses)
        print("%s loss per step: float32 %s" % (name, " ".join("%.6f" % v for v in curves[0])))
        print("%s loss per step: float64 %s" % (name, " ".join("%.6f" % v for v in curves[1])))
        print("%s relative difference:   %s" % (name, " ".join("%.1e" % (abs(a - b) / abs(b)) for a, b in zip(*curves))))


if __name__ == "__main__":
    main()
