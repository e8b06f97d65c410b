"""Reference figures for the zoo: torchvision 0.14's models, as zoo/<name>.cnn must reproduce them.

Nothing is downloaded (weights=None, weights_backbone=None); weights are random and
irrelevant -- only counts, shapes and MACs are recorded. Run from the repository root
(needs Debian's python3-torch and python3-torchvision):

    /usr/bin/python3 tools/pytorch/zoo_reference.py [--out DIR] [name ...]

Writes <name>.json into DIR (default compiler/src/test/resources/reference/zoo/) for each
model (all 13 by default), in the format of tools/pytorch/reference.py, compact (one line per
entry):

- model, input (one example, [C, H, W]), outputs [name, shape];
- params: trainable elements (ConvNeXt's layer_scale included);
- buffers: BatchNorm running_mean + running_var elements (num_batches_tracked is not counted);
- macs: weight multiply-accumulates at batch 1, counted as cnnc counts them
  (compiler/.../shape/Ops.java): Conv2d `out.numel * C_in/groups * kh * kw` (grouped,
  depthwise and squeeze-and-excitation 1x1 convolutions included); Linear
  `out.numel * in_features`, which is `in * out` on a vector and `H * W * in * out` for
  ConvNeXt's channels-last Linear on a map. Nothing else counts: batch and layer norm, layer
  scale, the SE multiply, activations, pooling and FCN's bilinear upsampling are not weight
  multiply-accumulates;
- macs_by_output: {output name: macs} (each zoo model has one output);
- state_dict [key, shape] without num_batches_tracked;
- modules [name, type, params, macs]: every submodule owning parameters;
- layers [name, type, output shape]: every module call whose output is one tensor, in
  execution order (a container after its children). A module called more than once
  (ResNet's `relu`) appears once per call, in order;
- options [name, {option: value}]: what a module computes with beyond its shapes: BatchNorm's
  eps and momentum, LayerNorm's eps, Dropout's p.
"""
import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torchvision.models as tvm
import torchvision.models.segmentation as tvs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import count, under, weight_macs  # noqa: E402


def options(module):
    """The module's arguments that change its values but no shape or count."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return {"eps": module.eps, "momentum": module.momentum}
    if isinstance(module, nn.LayerNorm):
        return {"eps": module.eps}
    if isinstance(module, nn.Dropout):
        return {"p": module.p}
    return None


def describe(model_name, model, input_shape):
    model.eval()
    layers, macs = [], {}

    def hook_for(name):
        def hook(module, inputs, output):
            if isinstance(output, torch.Tensor):
                layers.append([name, type(module).__name__, list(output.shape[1:])])
            if not list(module.children()):
                macs[name] = macs.get(name, 0) + weight_macs(module, output)
        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in model.named_modules() if n]
    with torch.no_grad():
        out = model(torch.zeros(1, *input_shape))
    for h in handles:
        h.remove()
    outs = list(out.items()) if isinstance(out, dict) else [("output", out)]

    def macs_under(prefix):
        return sum(v for n, v in macs.items() if under(n, prefix))

    total = sum(macs.values())
    bn_buffers = sum(b.numel() for n, b in model.named_buffers()
                     if n.endswith("running_mean") or n.endswith("running_var"))
    return {
        "model": model_name,
        "input": list(input_shape),
        "params": count(p for p in model.parameters() if p.requires_grad),
        "buffers": bn_buffers,
        "macs": total,
        "macs_by_output": {outs[0][0]: total},
        "outputs": [[n, list(o.shape[1:])] for n, o in outs],
        "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()
                       if not k.endswith("num_batches_tracked")],
        "modules": [[n, type(m).__name__, count(m.parameters()), macs_under(n)]
                    for n, m in model.named_modules() if n and count(m.parameters()) > 0],
        "layers": layers,
        "options": [[n, options(m)] for n, m in model.named_modules() if n and options(m)],
    }


def dump(ref, f):
    """JSON with one line per scalar field and per list entry: small files, readable diffs."""
    f.write("{\n")
    items = list(ref.items())
    for i, (key, value) in enumerate(items):
        f.write(" " + json.dumps(key) + ": ")
        if isinstance(value, list) and value and isinstance(value[0], list):
            f.write("[\n" + ",\n".join("  " + json.dumps(e) for e in value) + "\n ]")
        else:
            f.write(json.dumps(value))
        f.write(",\n" if i < len(items) - 1 else "\n")
    f.write("}\n")


IMAGE = [3, 224, 224]
MODELS = [
    ("alexnet", lambda: tvm.alexnet(weights=None), IMAGE),
    ("vgg19_bn", lambda: tvm.vgg19_bn(weights=None), IMAGE),
    ("resnet18", lambda: tvm.resnet18(weights=None), IMAGE),
    ("resnet50", lambda: tvm.resnet50(weights=None), IMAGE),
    ("squeezenet1_0", lambda: tvm.squeezenet1_0(weights=None), IMAGE),
    ("densenet121", lambda: tvm.densenet121(weights=None), IMAGE),
    ("mobilenet_v2", lambda: tvm.mobilenet_v2(weights=None), IMAGE),
    ("mobilenet_v3_small", lambda: tvm.mobilenet_v3_small(weights=None), IMAGE),
    ("efficientnet_b0", lambda: tvm.efficientnet_b0(weights=None), IMAGE),
    ("shufflenet_v2_x1_0", lambda: tvm.shufflenet_v2_x1_0(weights=None), IMAGE),
    ("regnet_y_400mf", lambda: tvm.regnet_y_400mf(weights=None), IMAGE),
    ("convnext_tiny", lambda: tvm.convnext_tiny(weights=None), IMAGE),
    ("fcn_resnet50", lambda: tvs.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=False), IMAGE),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="compiler/src/test/resources/reference/zoo/")
    parser.add_argument("names", nargs="*", help="models to write (default: all)")
    args = parser.parse_args()
    known = [m[0] for m in MODELS]
    unknown = [n for n in args.names if n not in known]
    if unknown:
        parser.error("unknown model(s) " + ", ".join(unknown) + "; known: " + ", ".join(known))
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    for name, build, shape in MODELS:
        if args.names and name not in args.names:
            continue
        ref = describe(name, build(), shape)
        path = os.path.join(args.out, name + ".json")
        with open(path, "w", encoding="utf-8") as f:
            dump(ref, f)
        print(f"{path}: params={ref['params']:,} buffers={ref['buffers']:,} "
              f"macs={ref['macs']:,} outputs={ref['outputs']}")


if __name__ == "__main__":
    main()
