"""Times the article's networks in PyTorch: forward (eval, no grad) and one training step
(forward, CrossEntropyLoss on every output, backward, Adam step) at a given batch size, on every
core (PyTorch 1.13 from Debian takes one thread by default on a 2-core machine).

    /usr/bin/python3 tools/pytorch/bench.py --model GoogLeNet --batch 8 --iters 3 --warmup 10

Prints one line: `forward_ms <median> train_ms <median> latency_ms <median> threads <n>`; latency is
the forward pass of one example.
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import VGG16, NiN, GoogLeNet  # noqa: E402

SHAPES = {"VGG16": (3, 224, 224), "NiN": (3, 32, 32), "GoogLeNet": (3, 224, 224)}
WEIGHTS = {"GoogLeNet": [1.0, 0.3, 0.3]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=10.0,
                    help="seconds of warm-up runs before timing (at least one run, at most 5000), as cnnc bench")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="intra-op threads (default: every core; PyTorch's own default can be fewer)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = {"VGG16": VGG16, "NiN": NiN, "GoogLeNet": GoogLeNet}[a.model]()
    x = torch.randn((a.batch,) + SHAPES[a.model])
    y = torch.randint(0, 10 if a.model == "NiN" else 1000, (a.batch,))
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
        outs = outs if isinstance(outs, tuple) else (outs,)
        weights = WEIGHTS.get(a.model, [1.0])
        loss = sum(w * loss_fn(o.reshape(a.batch, -1), y) for w, o in zip(weights, outs))
        loss.backward()
        opt.step()

    x1 = x[:1].clone()

    def latency():
        model.eval()
        with torch.no_grad():
            model(x1)

    result = []
    for fn in (forward, train, latency):
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
        result.append(statistics.median(times))
    print("forward_ms %.1f train_ms %.1f latency_ms %.1f threads %d"
          % (result[0], result[1], result[2], torch.get_num_threads()))


if __name__ == "__main__":
    main()
