"""PyTorch 1.13's depthwise conv (no bias) on MobileNetV2/EfficientNet-like shapes, batch 8, on every
core: forward (no grad) and backward (input and weight gradients, `aten::convolution_backward`), ms,
median of --iters runs after --warmup runs. Standalone it prints a table:

    /usr/bin/python3 tools/pytorch/depthwise_bench.py

With --serve it answers runtime's DepthwiseBench, which interleaves its own timings with these:
each request line `c h w stride kernel batch iters` gets the line `forward_ms backward_ms`.
"""
import argparse
import os
import sys
import time

import torch

SHAPES = [(32, 112, 112, 1, 3), (96, 112, 112, 2, 3), (144, 56, 56, 1, 3), (576, 14, 14, 1, 3)]


def median(f, iters, warmup):
    for _ in range(warmup):
        f()
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        f()
        t.append((time.perf_counter() - t0) * 1e3)
    return sorted(t)[len(t) // 2]


def time_shape(c, h, w, s, k, batch, iters, warmup):
    torch.manual_seed(0)
    p = k // 2
    weight = torch.randn(c, 1, k, k)
    x = torch.randn(batch, c, h, w)
    with torch.no_grad():
        y = torch.nn.functional.conv2d(x, weight, None, s, p, 1, c)
        dy = torch.randn(y.shape)

        def forward():
            torch.nn.functional.conv2d(x, weight, None, s, p, 1, c)

        def backward():
            torch.ops.aten.convolution_backward(dy, x, weight, None, [s, s], [p, p], [1, 1], False, [0, 0], c,
                                                [True, True, False])

        return median(forward, iters, warmup), median(backward, iters, warmup), y.numel()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--serve", action="store_true")
    ap.add_argument("--iters", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="intra-op threads (default: every core; PyTorch's own default can be fewer)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.serve:
        print("ready threads %d" % torch.get_num_threads(), flush=True)
        for line in sys.stdin:
            c, h, w, s, k, batch, iters = (int(v) for v in line.split())
            f, b, _ = time_shape(c, h, w, s, k, batch, iters, a.warmup)
            print("%.4f %.4f" % (f, b), flush=True)
        return
    print("threads %d" % torch.get_num_threads())
    print("shape                forward ms  ns/FLOP  backward ms")
    for c, h, w, s, k in SHAPES:
        f, b, outputs = time_shape(c, h, w, s, k, 8, a.iters, a.warmup)
        flops = 2.0 * outputs * k * k
        print("%4dx%3dx%3d k%d s%d  %10.2f  %7.4f  %10.2f" % (c, h, w, k, s, f, f * 1e6 / flops, b))


if __name__ == "__main__":
    main()
