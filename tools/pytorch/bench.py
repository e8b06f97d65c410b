"""Times a network in PyTorch: forward (eval, no grad) and one training step (forward,
CrossEntropyLoss on every output, backward, Adam step) at a given batch size, on every core
(PyTorch 1.13 from Debian takes one thread by default on a 2-core machine). The network is one of
the article's (reference.py) or a torchvision model built without weights (nothing is downloaded):

    /usr/bin/python3 tools/pytorch/bench.py --model GoogLeNet --batch 8 --iters 3 --warmup 10
    /usr/bin/python3 tools/pytorch/bench.py --torchvision resnet50 --shape 3,224,224 --classes 1000 \
        --params 25557032

Prints one line: `forward_ms <median> train_ms <median> latency_ms <median> threads <n>`; latency is
the forward pass of one example. When PyTorch cannot build the network (no torchvision model of that
name, or one whose parameter count is not the spec's `--params`), prints one line
`unavailable: <reason>` and exits with 2.
"""
import argparse
import inspect
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

UNAVAILABLE = 2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import VGG16, NiN, GoogLeNet  # noqa: E402

SHAPES = {"VGG16": (3, 224, 224), "NiN": (3, 32, 32), "GoogLeNet": (3, 224, 224)}
WEIGHTS = {"GoogLeNet": [1.0, 0.3, 0.3]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="one of the article's networks: " + ", ".join(SHAPES))
    ap.add_argument("--torchvision", metavar="NAME", help="a torchvision model function, e.g. resnet50")
    ap.add_argument("--shape", help="the input shape of one example, C,H,W (with --torchvision)")
    ap.add_argument("--classes", type=int, default=1000, help="num_classes (with --torchvision)")
    ap.add_argument("--params", type=int, help="the spec's parameter count: another count is not the same network")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=10.0,
                    help="seconds of warm-up runs before timing (at least one run, at most 5000), as cnnc bench")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="intra-op threads (default: every core; PyTorch's own default can be fewer)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.torchvision:
        model = torchvision_model(a.torchvision, a.classes, a.params)
        shape = tuple(int(d) for d in a.shape.split(","))
        classes = a.classes
    elif a.model in SHAPES:
        model = {"VGG16": VGG16, "NiN": NiN, "GoogLeNet": GoogLeNet}[a.model]()
        shape = SHAPES[a.model]
        classes = 10 if a.model == "NiN" else 1000
    else:
        unavailable("PyTorch has no network %r (the article's are %s)" % (a.model, ", ".join(SHAPES)))
    x = torch.randn((a.batch,) + shape)
    def labels(o):
        # a class per example, or per pixel for a map (segmentation), of the output's classes
        size = (a.batch,) + tuple(o.shape[2:]) if o.dim() > 2 else (a.batch,)
        return torch.randint(0, classes, size, generator=torch.Generator().manual_seed(1))

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def forward():
        model.eval()
        with torch.no_grad():
            model(x)

    def train():
        model.train()
        opt.zero_grad()
        outs = model(x)
        outs = tuple(outs.values()) if isinstance(outs, dict) else outs
        outs = outs if isinstance(outs, tuple) else (outs,)
        weights = WEIGHTS.get(a.model, [1.0] * len(outs))
        loss = sum(w * loss_fn(o if o.dim() > 2 else o.reshape(a.batch, -1), labels(o))
                   for w, o in zip(weights, outs))
        loss.backward()
        opt.step()

    x1 = x[:1].clone()

    def latency():
        model.eval()
        with torch.no_grad():
            model(x1)

    # the inference passes first, on the initial weights (as ONNX Runtime's column runs them):
    # training changes the weights, and with them the values (subnormals) the passes compute on
    result = {}
    for fn in (forward, latency, train):
        start = time.perf_counter()
        runs = 0
        while True:
            fn()
            runs += 1
            if runs >= 5000 or time.perf_counter() - start >= a.warmup:
                break
        times = []
        for _ in range(a.iters):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        result[fn.__name__] = statistics.median(times)
    print("forward_ms %.1f train_ms %.1f latency_ms %.1f threads %d"
          % (result["forward"], result["train"], result["latency"], torch.get_num_threads()))


def unavailable(reason):
    print("unavailable: " + reason)
    sys.exit(UNAVAILABLE)


def torchvision_model(name, classes, params):
    """torchvision's model builder `name` (list_models()) with random weights; nothing downloaded."""
    try:
        import torchvision.models as tvm
    except ImportError as e:
        unavailable("no torchvision (%s)" % e)
    if name not in tvm.list_models():
        unavailable("torchvision has no model named %s" % name)
    kwargs = {"weights": None, "num_classes": classes}
    if "weights_backbone" in inspect.signature(tvm.get_model_builder(name)).parameters:
        kwargs["weights_backbone"] = None
    try:
        model = tvm.get_model(name, **kwargs)
    except Exception as e:  # a builder that refuses these arguments
        unavailable("torchvision's %s(%s) failed: %s" % (name, ", ".join("%s=%r" % kv for kv in kwargs.items()), e))
    count = sum(p.numel() for p in model.parameters())
    if params is not None and count != params:
        unavailable("torchvision's %s has %d parameters, the spec %d: not the same network" % (name, count, params))
    return model


if __name__ == "__main__":
    main()
