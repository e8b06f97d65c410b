"""Output-shape rules of Conv2d / MaxPool2d / AvgPool2d, measured by PyTorch.

A deterministic list of small cases (fixed seed, random.Random(1234), plus a
hand-picked set: the GoogLeNet/NiN/VGG pooling steps, ceil-mode cases whose
last window would start in the padding, padding above half the kernel,
kernels larger than the padded input). Every case is run through PyTorch on
torch.randn(1, C, H, W) so that a Java test can check cnnc's shape formulas
against PyTorch itself. Nothing is downloaded.

Run from the repository root (needs Debian's python3-torch):

    /usr/bin/python3 tools/pytorch/shape_rules.py [--out DIR] [--count N]

Writes DIR/shape_rules.json (default compiler/src/test/resources/reference/):
a JSON array with one case object per line. Keys:
  op        "conv" | "maxpool" | "avgpool"
  in        [C, H, W] input shape (batch of 1, batch dim omitted)
  out       conv only: output channels
  kernel, stride, padding   [h, w]
  dilation  [h, w]  (conv, maxpool)
  groups    1       (conv)
  ceil      bool    (maxpool, avgpool)
  count_include_pad bool (avgpool)
  result    [C, H, W] output shape PyTorch produced, or "error"
  message   first line of PyTorch's error message (only when result is "error")
"""
import argparse
import json
import os
import random

import torch
import torch.nn as nn

SEED = 1234


# ------------------------------------------------------------------ cases

def conv(c, h, w, out, k, s, p, d):
    return {"op": "conv", "in": [c, h, w], "out": out, "kernel": list(k),
            "stride": list(s), "padding": list(p), "dilation": list(d), "groups": 1}


def maxpool(c, h, w, k, s, p, d, ceil):
    return {"op": "maxpool", "in": [c, h, w], "kernel": list(k), "stride": list(s),
            "padding": list(p), "dilation": list(d), "ceil": ceil}


def avgpool(c, h, w, k, s, p, ceil, cip):
    return {"op": "avgpool", "in": [c, h, w], "kernel": list(k), "stride": list(s),
            "padding": list(p), "ceil": ceil, "count_include_pad": cip}


def sq(v):
    return (v, v)


def ceil_drops_last(n, k, s, p, d=1):
    """True if PyTorch's ceil-mode correction (last window starting in the
    right padding) changes the output size. Only used to pick cases."""
    eff = d * (k - 1) + 1
    num = n + 2 * p - eff
    if num < 0:
        return False
    out = -(-num // s) + 1
    return (out - 1) * s >= n + p


def fixed_cases():
    cases = []
    # GoogLeNet / NiN / VGG16 steps of the seed article.
    cases.append(conv(3, 224, 224, 4, sq(7), sq(2), sq(3), sq(1)))      # -> 112
    for n in (112, 56, 28, 14):                                          # -> 56, 28, 14, 7
        cases.append(maxpool(4, n, n, sq(3), sq(2), sq(0), sq(1), True))
    cases.append(maxpool(4, 28, 28, sq(3), sq(1), sq(1), sq(1), True))  # inception branch4
    cases.append(maxpool(4, 7, 7, sq(3), sq(1), sq(1), sq(1), True))
    cases.append(avgpool(4, 14, 14, sq(5), sq(3), sq(0), False, True))  # aux -> 4
    cases.append(maxpool(4, 32, 32, sq(3), sq(2), sq(0), sq(1), False))  # NiN -> 15
    cases.append(maxpool(4, 15, 15, sq(3), sq(2), sq(0), sq(1), False))  # NiN -> 7
    cases.append(avgpool(4, 7, 7, sq(7), sq(1), sq(0), False, True))    # NiN -> 1
    for n in (224, 112, 56, 28, 14):                                     # VGG16
        cases.append(maxpool(4, n, n, sq(2), sq(2), sq(0), sq(1), False))
    cases.append(conv(3, 32, 32, 4, sq(5), sq(1), sq(2), sq(1)))         # NiN "same" convs
    cases.append(conv(3, 7, 7, 4, sq(3), sq(1), sq(1), sq(1)))

    # Ceil mode with the window question at in=7,k=3,s=2,p=1 (and neighbours),
    # plus every small 1-D combo where the "starts in padding" rule fires.
    for n in (5, 6, 7, 8, 9):
        cases.append(maxpool(2, n, n, sq(3), sq(2), sq(1), sq(1), True))
        cases.append(avgpool(2, n, n, sq(3), sq(2), sq(1), True, True))
    drops = [(n, k, s, p) for n in range(1, 13) for k in range(1, 7)
             for s in range(2, 5) for p in range(0, k // 2 + 1)
             if ceil_drops_last(n, k, s, p)]
    rng = random.Random(SEED + 1)
    for n, k, s, p in rng.sample(drops, min(24, len(drops))):
        other = rng.randint(1, 12)
        cases.append(maxpool(1, n, other, (k, 3), (s, 2), (p, 1), (1, 1), True))
        cases.append(avgpool(1, other, n, (3, k), (2, s), (1, p), True, rng.random() < 0.5))
    drops_d = [(n, k, s, p, d) for n in range(1, 16) for k in range(2, 5)
               for s in range(2, 5) for p in range(0, k // 2 + 1) for d in (2, 3)
               if ceil_drops_last(n, k, s, p, d)]
    for n, k, s, p, d in rng.sample(drops_d, min(10, len(drops_d))):
        cases.append(maxpool(1, n, n, sq(k), sq(s), sq(p), sq(d), True))

    # Padding above half the kernel (pooling errors; conv accepts it).
    for k, p in ((1, 1), (2, 2), (3, 2), (4, 3), (5, 3)):
        cases.append(maxpool(1, 10, 10, sq(k), sq(1), sq(p), sq(1), False))
        cases.append(avgpool(1, 10, 10, sq(k), sq(1), sq(p), False, True))
        cases.append(conv(1, 10, 10, 1, sq(k), sq(1), sq(p), sq(1)))
    cases.append(maxpool(1, 10, 10, (3, 5), (1, 1), (1, 3), (1, 1), False))  # only W too big
    cases.append(avgpool(1, 10, 10, (5, 3), (1, 1), (3, 1), False, False))  # only H too big
    cases.append(maxpool(1, 10, 10, sq(3), sq(1), sq(2), sq(2), False))     # p > k/2 but <= eff/2

    # Kernel larger than the (padded) input.
    for n, k, p, d in ((3, 5, 0, 1), (3, 5, 1, 1), (3, 5, 2, 1), (4, 9, 2, 1), (2, 3, 0, 2),
                       (5, 3, 0, 3), (1, 2, 0, 1), (1, 1, 0, 1), (6, 7, 0, 1)):
        cases.append(conv(1, n, n, 2, sq(k), sq(1), sq(p), sq(d)))
        cases.append(maxpool(1, n, n, sq(k), sq(1), sq(min(p, k // 2)), sq(d), False))
        cases.append(maxpool(1, n, n, sq(k), sq(2), sq(min(p, k // 2)), sq(d), True))
        cases.append(avgpool(1, n, n, sq(k), sq(1), sq(min(p, k // 2)), False, True))
        cases.append(avgpool(1, n, n, sq(k), sq(2), sq(min(p, k // 2)), True, False))
    cases.append(conv(1, 3, 20, 1, (5, 3), (1, 1), (0, 0), (1, 1)))  # only H too small
    cases.append(maxpool(1, 20, 3, (3, 5), (1, 1), (0, 0), (1, 1), False))  # only W
    return cases


def size(rng):
    return rng.randint(1, 8) if rng.random() < 0.5 else rng.randint(1, 40)


def pair(rng, lo, hi, same=0.6):
    a = rng.randint(lo, hi)
    return (a, a) if rng.random() < same else (a, rng.randint(lo, hi))


def pool_padding(rng, k, hi):
    """Mostly legal padding (<= k/2), sometimes anything in 0..hi."""
    if rng.random() < 0.8:
        return tuple(rng.randint(0, min(hi, x // 2)) for x in k)
    return pair(rng, 0, hi, same=0.5)


def random_case(rng, op):
    c, h, w = rng.randint(1, 4), size(rng), size(rng)
    if op == "conv":
        return conv(c, h, w, rng.randint(1, 4), pair(rng, 1, 9), pair(rng, 1, 4),
                    pair(rng, 0, 4), pair(rng, 1, 3, same=0.8) if rng.random() < 0.4 else (1, 1))
    k = pair(rng, 1, 7)
    s = pair(rng, 1, 4)
    ceil = rng.random() < 0.5
    if op == "maxpool":
        d = pair(rng, 1, 3, same=0.8) if rng.random() < 0.4 else (1, 1)
        return maxpool(c, h, w, k, s, pool_padding(rng, k, 3), d, ceil)
    return avgpool(c, h, w, k, s, pool_padding(rng, k, 3), ceil, rng.random() < 0.5)


# -------------------------------------------------------------- measurement

def module_for(case):
    op = case["op"]
    if op == "conv":
        return nn.Conv2d(case["in"][0], case["out"], tuple(case["kernel"]),
                         stride=tuple(case["stride"]), padding=tuple(case["padding"]),
                         dilation=tuple(case["dilation"]), groups=case["groups"])
    if op == "maxpool":
        return nn.MaxPool2d(tuple(case["kernel"]), stride=tuple(case["stride"]),
                            padding=tuple(case["padding"]), dilation=tuple(case["dilation"]),
                            ceil_mode=case["ceil"])
    return nn.AvgPool2d(tuple(case["kernel"]), stride=tuple(case["stride"]),
                        padding=tuple(case["padding"]), ceil_mode=case["ceil"],
                        count_include_pad=case["count_include_pad"])


def measure(case):
    try:
        with torch.no_grad():
            y = module_for(case)(torch.randn(1, *case["in"]))
        case["result"] = list(y.shape[1:])
    except (RuntimeError, ValueError) as e:
        case["result"] = "error"
        lines = str(e).strip().splitlines()
        case["message"] = lines[0] if lines else type(e).__name__
    return case


def key(case):
    return json.dumps(case, sort_keys=True)


def build(count):
    rng = random.Random(SEED)
    cases, seen = [], set()

    def add(case):
        k = key(case)
        if k not in seen:
            seen.add(k)
            cases.append(case)

    fixed = fixed_cases()
    for case in fixed:
        add(case)
    per_op = {op: sum(1 for c in cases if c["op"] == op) for op in ("conv", "maxpool", "avgpool")}
    target = count // 3
    for op in ("conv", "maxpool", "avgpool"):
        while per_op[op] < target:
            before = len(cases)
            add(random_case(rng, op))
            per_op[op] += len(cases) - before
    order = {"conv": 0, "maxpool": 1, "avgpool": 2}
    cases.sort(key=lambda c: order[c["op"]])  # stable: fixed cases first within an op
    return [measure(c) for c in cases]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="compiler/src/test/resources/reference/")
    parser.add_argument("--count", type=int, default=1500)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    cases = build(args.count)
    path = os.path.join(args.out, "shape_rules.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        f.write(",\n".join(json.dumps(c, separators=(",", ":")) for c in cases))
        f.write("\n]\n")
    for op in ("conv", "maxpool", "avgpool"):
        mine = [c for c in cases if c["op"] == op]
        errors = sum(1 for c in mine if c["result"] == "error")
        print(f"{op}: {len(mine)} cases, {errors} errors")
    print(f"{path}: {len(cases)} cases, {os.path.getsize(path):,} bytes")


if __name__ == "__main__":
    main()
