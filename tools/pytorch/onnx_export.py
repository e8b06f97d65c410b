# SPDX-License-Identifier: Apache-2.0
"""torch.onnx.export of the article's networks and of the zoo, for cnnc's import test.

For each model named (VGG16, NiN, GoogLeNet from reference.py; torchvision 0.14's zoo models by
their function names, from zoo_reference.py), seeded as parity.py seeds them (non-trivial
BatchNorm statistics), in eval mode, this writes into DIR:
    MODEL.onnx          torch.onnx.export, opset 17 (--opset), dynamic batch axis `batch`,
                        the input named `input`, the outputs as the spec names them,
                        BatchNorm kept as BatchNormalization (not folded into the conv)
    MODEL_input.npy     a seeded input of batch 2, float32
    MODEL_OUTPUT.npy    each output of PyTorch in eval mode on that input

    /usr/bin/python3 tools/pytorch/onnx_export.py --out DIR [--models NiN,resnet18] [--opset 17]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parity import MODELS as ARTICLE, seeded  # noqa: E402
from zoo_reference import MODELS as ZOO  # noqa: E402


def build(name):
    if name in ARTICLE:
        cls, shape, outputs = ARTICLE[name]
        return cls(), shape, outputs
    for zname, make, shape in ZOO:
        if zname == name:
            # the segmentation models return {"out": ...}; their specs name the output `out`
            return make(), tuple(shape), ["out"] if name.startswith("fcn_") else ["output"]
    raise SystemExit("unknown model " + name)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(2)
    for name in args.models.split(","):
        model, shape, outputs = build(name)
        model = seeded(model, args.seed).eval()
        x = torch.randn((2,) + tuple(shape), generator=torch.Generator().manual_seed(args.seed + 1))
        np.save(os.path.join(args.out, name + "_input.npy"), x.numpy().astype(np.float32))
        with torch.no_grad():
            ys = model(x)
            if isinstance(ys, dict):
                ys = tuple(ys[n] for n in outputs)
            if not isinstance(ys, tuple):
                ys = (ys,)
            for out_name, y in zip(outputs, ys):
                np.save(os.path.join(args.out, name + "_" + out_name + ".npy"), y.numpy().astype(np.float32))
            torch.onnx.export(model, x, os.path.join(args.out, name + ".onnx"), opset_version=args.opset,
                              input_names=["input"], output_names=outputs,
                              dynamic_axes={n: {0: "batch"} for n in ["input"] + outputs},
                              do_constant_folding=True,
                              # PRESERVE keeps BatchNormalization as its own node (EVAL would fold it
                              # into the conv before it); the model is in eval mode, so is the export
                              training=torch.onnx.TrainingMode.PRESERVE)
        print(name, [tuple(y.shape) for y in ys], flush=True)


if __name__ == "__main__":
    main()
