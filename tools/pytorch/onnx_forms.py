# SPDX-License-Identifier: Apache-2.0
"""torch.onnx.export's forms of ops cnnc has, one small network each, for cnnc's import test.

Each case is a conv (so that the op reads a feature map), the form under test, and what makes the
output a vector. For each case this writes into DIR (opset 17, eval mode, dynamic batch axis,
input `input`, output `output`):
    CASE.onnx           torch.onnx.export
    CASE_input.npy      a seeded input of batch 2, float32
    CASE_output.npy     PyTorch's output on it

    /usr/bin/python3 tools/pytorch/onnx_forms.py --out DIR
"""
import argparse
import os

import numpy as np
import torch
from torch import nn


class Net(nn.Module):
    """conv(8, 3) on [3, 8, 8], then `form`, then `tail` (a function of the module and the value)."""

    def __init__(self, form, tail, features=8 * 6 * 6):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.form = form
        self.fc = nn.Linear(features, 5)
        self.tail = tail

    def forward(self, x):
        return self.tail(self, self.form(self.conv(x)))


class Fn(nn.Module):
    def __init__(self, f):
        super().__init__()
        self.f = f

    def forward(self, x):
        return self.f(x)


def flat(m, x):
    return m.fc(torch.flatten(x, 1))


def view(m, x):
    return m.fc(x.view(x.size(0), -1))


def pooled(m, x):
    return m.fc(x)


CASES = {
    # x.mean([2, 3]): ReduceMean, keepdims 0 (torchvision's ShuffleNet)
    "mean": lambda: Net(Fn(lambda x: x.mean([2, 3])), pooled, 8),
    # x.mean([2, 3], keepdim=True): ReduceMean, keepdims 1, then Flatten
    "mean_keepdim": lambda: Net(Fn(lambda x: x.mean([2, 3], keepdim=True)), flat, 8),
    # AdaptiveAvgPool2d(1): GlobalAveragePool
    "adaptive_avgpool_1": lambda: Net(nn.AdaptiveAvgPool2d(1), flat, 8),
    # x.view(x.size(0), -1): Shape, Gather, Unsqueeze, Concat, Reshape
    "view": lambda: Net(nn.ReLU(), view),
    # ReLU6: Clip(0, 6)
    "relu6": lambda: Net(nn.ReLU6(), flat),
    "hardswish": lambda: Net(nn.Hardswish(), flat),
    "hardsigmoid": lambda: Net(nn.Hardsigmoid(), flat),
    # SiLU: Sigmoid then Mul
    "silu": lambda: Net(nn.SiLU(), flat),
    # GELU: Div, Erf, Add, Mul, Mul
    "gelu": lambda: Net(nn.GELU(), flat),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    for name, make in CASES.items():
        torch.manual_seed(args.seed)
        model = make().eval()
        x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(args.seed + 1))
        with torch.no_grad():
            y = model(x)
            np.save(os.path.join(args.out, name + "_input.npy"), x.numpy().astype(np.float32))
            np.save(os.path.join(args.out, name + "_output.npy"), y.numpy().astype(np.float32))
            torch.onnx.export(model, x, os.path.join(args.out, name + ".onnx"), opset_version=17,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
        print(name, tuple(y.shape), flush=True)


if __name__ == "__main__":
    main()
