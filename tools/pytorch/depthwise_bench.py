"""PyTorch 1.13's depthwise 3x3 conv forward on MobileNetV2-like shapes (batch 8): ms and ns/FLOP,
to set beside runtime's DepthwiseBench. Run: /usr/bin/python3 tools/pytorch/depthwise_bench.py"""
import time
import torch

torch.manual_seed(0)
for c, h, w, s in [(32, 112, 112, 1), (96, 112, 112, 2), (144, 56, 56, 1), (576, 14, 14, 1)]:
    conv = torch.nn.Conv2d(c, c, 3, stride=s, padding=1, groups=c, bias=False)
    x = torch.randn(8, c, h, w)
    with torch.no_grad():
        for _ in range(3):
            y = conv(x)
        t = []
        for _ in range(9):
            t0 = time.perf_counter()
            y = conv(x)
            t.append((time.perf_counter() - t0) * 1e3)
    ms = sorted(t)[4]
    flops = 2.0 * y.numel() * 9
    print("%4dx%3dx%3d s%d  %8.2f ms  %7.4f ns/FLOP" % (c, h, w, s, ms, ms * 1e6 / flops))
