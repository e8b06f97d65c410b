# SPDX-License-Identifier: Apache-2.0
"""PyTorch's pools on a grid of geometries, for the ONNX export's pool test (OnnxPoolGridTest).

Writes DIR/pool_grid.npz: for case i, case<i>_input [2, 2, H, W], case<i>_output, and
case<i>_args = [avg (1) or max (0), kh, kw, sh, sw, ph, pw, ceil, count_include_pad, dilation].

    /usr/bin/python3 tools/pytorch/pool_grid.py --out DIR
"""
import argparse
import itertools
import os

import numpy as np
import torch
from torch import nn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    g = torch.Generator().manual_seed(3)
    cases = {}
    i = 0
    geometries = [((k, k), (s, s), (p, p)) for k, s, p in itertools.product((2, 3), (1, 2), (0, 1)) if p <= k // 2]
    geometries += [((2, 2), (2, 1), (1, 0)), ((3, 2), (2, 2), (1, 1)), ((3, 3), (2, 1), (0, 1))]
    for (k, s, p), ceil, size in itertools.product(geometries, (False, True), ((6, 5), (7, 7))):
        x = torch.randn((2, 2) + size, generator=g)
        for avg, extra in ((1, True), (1, False), (0, 1), (0, 2)):
            if avg:
                y = nn.AvgPool2d(k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=extra)(x)
                a = [1, k[0], k[1], s[0], s[1], p[0], p[1], int(ceil), int(extra), 1]
            else:
                if (k[0] - 1) * extra + 1 > size[0] + 2 * p[0] or (k[1] - 1) * extra + 1 > size[1] + 2 * p[1]:
                    continue
                y = nn.MaxPool2d(k, stride=s, padding=p, dilation=extra, ceil_mode=ceil)(x)
                a = [0, k[0], k[1], s[0], s[1], p[0], p[1], int(ceil), 1, extra]
            cases["case%d_input" % i] = x.numpy()
            cases["case%d_output" % i] = y.numpy()
            cases["case%d_args" % i] = np.array(a, dtype=np.float32)
            i += 1
    np.savez(os.path.join(args.out, "pool_grid.npz"), **{k: v.astype(np.float32) for k, v in cases.items()})
    print(i, "cases")


if __name__ == "__main__":
    main()
