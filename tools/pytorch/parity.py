"""Parity fixtures: the article's networks run by PyTorch on known weights and inputs.

For each of VGG16, NiN and GoogLeNet (the article's code, imported from reference.py) this
writes into DIR:
    MODEL.npz             the state_dict, float32, BatchNorm running stats included
                          (num_batches_tracked left out); weights seeded, BN running mean
                          and variance set to non-trivial values so eval mode is tested
    MODEL_input.npy       a random batch of 2, float32, C order
    MODEL_OUTPUT.npy      each output in eval mode (GoogLeNet: main, aux1, aux2)
NiN_compressed.npz, NiN_fortran.npz and NiN_float64.npz (NiN's weights saved with
savez_compressed, as Fortran-order arrays, and as float64), op_cases.npz (single ops: ceil average pooling, LRN, channel softmax, ...),
grouped_conv_cases.npz (grouped and depthwise convs with their gradients), upsample_cases.npz,
conv_transpose_cases.npz and pixel_loss_cases.npz (upsampling, transposed convs and the per-pixel
cross-entropy, plain and with ignore_index = 255, with their gradients), and
pool_cases.npz: ceil-mode max pooling on inputs with negative values, at sizes where
DL4J's Same and Truncate modes both differ from PyTorch, with PyTorch's results.

Run (Debian's python3-torch, PyTorch 1.13):
    /usr/bin/python3 tools/pytorch/parity.py --out DIR [--seed N] [--models NiN,GoogLeNet]
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import VGG16, NiN, GoogLeNet  # noqa: E402

MODELS = {
    "VGG16": (VGG16, (3, 224, 224), ["output"]),
    "NiN": (NiN, (3, 32, 32), ["output"]),
    "GoogLeNet": (GoogLeNet, (3, 224, 224), ["main", "aux2", "aux1"]),
}

# (size, kernel, stride, padding): ceil mode differs from floor, and Same padding differs too
# for some of them, so both of cnnc's lowerings (Same, and -inf padding) are exercised.
POOL_CASES = [(12, 3, 2, 1), (9, 2, 2, 0), (112, 3, 2, 0), (10, 4, 3, 1), (7, 2, 3, 0), (14, 3, 2, 1)]


def seeded(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            # Scaled so that activations neither vanish nor explode through 22 layers.
            fan_in = p[0].numel() if p.dim() > 1 else 1
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif name.endswith("weight"):          # BatchNorm gamma
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:                                  # biases, BatchNorm beta
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=g))
    return model


class Chunk(nn.Module):
    """x.chunk(chunks, dim=1)[index], as cnnc's `chunk(chunks, index)`."""

    def __init__(self, chunks, index):
        super().__init__()
        self.chunks, self.index = chunks, index

    def forward(self, x):
        return x.chunk(self.chunks, dim=1)[self.index]


class ConvNextChain(nn.Module):
    """ConvNeXt's channels-last stretch, layer scale and LayerNorm2d, named as cnnc's test names them."""

    def __init__(self, c, hidden):
        super().__init__()
        from torchvision.models.convnext import LayerNorm2d
        from torchvision.ops.misc import Permute
        self.to_last = Permute([0, 2, 3, 1])
        self.ln = nn.LayerNorm(c, eps=1e-6)
        self.fc1 = nn.Linear(c, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, c)
        self.to_first = Permute([0, 3, 1, 2])
        self.gamma = nn.Parameter(torch.full((c, 1, 1), 1e-6))
        self.ln2d = LayerNorm2d(c, eps=1e-6)

    def forward(self, x):
        y = self.to_first(self.fc2(self.act(self.fc1(self.ln(self.to_last(x))))))
        return self.ln2d(self.gamma * y)


def save_npz(path, tensors):
    np.savez(path, **{k: v.detach().cpu().numpy().astype(np.float32) for k, v in tensors.items()})



def conv_case(out, name, conv, bias, shape, g):
    """Seeds a (transposed) conv's weight and bias, runs a batch of 2 of `shape` through it, and
    saves under `name`: input, weight, bias, output, dy and the gradients of sum(output * dy)."""
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.3)
        if bias:
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=g) * 0.1)
    x = torch.randn((2,) + shape, generator=g).requires_grad_(True)
    y = conv(x)
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    out[name + "_input"] = x.detach()
    out[name + "_weight"] = conv.weight.detach()
    out[name + "_output"] = y.detach()
    out[name + "_dy"] = dy
    out[name + "_dinput"] = x.grad
    out[name + "_dweight"] = conv.weight.grad
    if bias:
        out[name + "_bias"] = conv.bias.detach()
        out[name + "_dbias"] = conv.bias.grad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--models", default=",".join(MODELS))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(args.seed)
    for name in args.models.split(","):
        cls, shape, outputs = MODELS[name]
        model = seeded(cls(), args.seed).eval()
        state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        save_npz(os.path.join(args.out, name + ".npz"), state)
        x = torch.randn((2,) + shape, generator=torch.Generator().manual_seed(args.seed + 1))
        np.save(os.path.join(args.out, name + "_input.npy"), x.numpy().astype(np.float32))
        with torch.no_grad():
            ys = model(x)
        if not isinstance(ys, tuple):
            ys = (ys,)
        for out_name, y in zip(outputs, ys):
            np.save(os.path.join(args.out, name + "_" + out_name + ".npy"), y.numpy().astype(np.float32))
        print(name, [tuple(y.shape) for y in ys], flush=True)

    if "NiN" in args.models.split(","):
        # The same NiN weights as numpy writes them in two other ways a reader must handle.
        model = seeded(NiN(), args.seed)
        state = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()
                 if not k.endswith("num_batches_tracked")}
        np.savez_compressed(os.path.join(args.out, "NiN_compressed.npz"), **state)
        np.savez(os.path.join(args.out, "NiN_fortran.npz"), **{k: np.asfortranarray(v) for k, v in state.items()})
        np.savez(os.path.join(args.out, "NiN_float64.npz"), **{k: v.astype(np.float64) for k, v in state.items()})

    cases = {}
    g = torch.Generator().manual_seed(args.seed + 2)
    for i, (size, k, s, p) in enumerate(POOL_CASES):
        x = torch.randn((2, 3, size, size), generator=g) - 0.5     # mostly negative near the edges too
        y = nn.MaxPool2d(k, stride=s, padding=p, ceil_mode=True)(x)
        cases["case%d_input" % i] = x
        cases["case%d_output" % i] = y
        cases["case%d_args" % i] = torch.tensor([size, k, s, p], dtype=torch.float32)
    save_npz(os.path.join(args.out, "pool_cases.npz"), cases)

    # Single ops whose DL4J lowering differs from the obvious one, on inputs with negative values.
    ops = {}
    g = torch.Generator().manual_seed(args.seed + 3)
    op_cases = [
        ("avgpool_ceil_k2", nn.AvgPool2d(2, ceil_mode=True), (3, 3, 7)),
        ("avgpool_ceil_k3s2_nopad", nn.AvgPool2d(3, stride=2, ceil_mode=True, count_include_pad=False), (3, 10, 9)),
        ("avgpool_pad_include", nn.AvgPool2d(3, stride=1, padding=1), (3, 6, 5)),
        ("avgpool_ceil_pad_include", nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True), (3, 10, 8)),
        ("avgpool_pad_exclude", nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), (3, 6, 5)),
        ("lrn5", nn.LocalResponseNorm(5, alpha=1e-2, beta=0.75, k=2.0), (8, 4, 4)),
        ("lrn3", nn.LocalResponseNorm(3), (6, 3, 3)),
        ("softmax_channels", nn.Softmax(dim=1), (6, 2, 3)),
        ("leaky_relu", nn.LeakyReLU(0.2), (3, 4, 4)),
        ("zeropad", nn.ZeroPad2d((1, 0, 2, 3)), (2, 3, 3)),
        ("maxpool_dilated", nn.MaxPool2d(3, stride=2, padding=1, dilation=2, ceil_mode=True), (2, 11, 9)),
        # adaptive average pooling: overlapping windows of two sizes (11 -> 5), uneven ones (7 -> 3),
        # a size above the input's (4 -> 6: windows repeat), and the identity
        ("adaptive_avgpool_5x3", nn.AdaptiveAvgPool2d((5, 3)), (3, 11, 7)),
        ("adaptive_avgpool_6", nn.AdaptiveAvgPool2d(6), (2, 4, 9)),
        ("adaptive_avgpool_same", nn.AdaptiveAvgPool2d((4, 5)), (2, 4, 5)),
        # ShuffleNet's channel split and shuffle
        ("chunk_3_1", Chunk(3, 1), (9, 4, 3)),
        ("channel_shuffle_2", nn.ChannelShuffle(2), (10, 3, 4)),
        ("channel_shuffle_3", nn.ChannelShuffle(3), (12, 2, 5)),
        # activations, on inputs spread to cross every bend (relu6 above 6, hardswish at -3 and 3)
        ("relu6", nn.ReLU6(), (3, 4, 4), 5.0),
        ("hardsigmoid", nn.Hardsigmoid(), (3, 4, 4), 4.0),
        ("hardswish", nn.Hardswish(), (3, 4, 4), 4.0),
        ("silu", nn.SiLU(), (3, 4, 4), 3.0),
        ("gelu", nn.GELU(), (3, 4, 4), 3.0),
    ]
    for name, module, shape, *scale in op_cases:
        x = torch.randn((2,) + shape, generator=g) * (scale[0] if scale else 1.0)
        ops[name + "_input"] = x
        ops[name + "_output"] = module(x)
    save_npz(os.path.join(args.out, "op_cases.npz"), ops)

    # Grouped and depthwise convolutions: input, weight, bias, output, and the gradients of
    # sum(output * dy) for a given dy (input, weight, bias).
    grouped = {}
    g = torch.Generator().manual_seed(args.seed + 4)
    grouped_cases = [
        # name, in, out, kernel, stride, padding, dilation, groups, bias, input [c, h, w]
        ("dw3x3", 8, 8, 3, 1, 1, 1, 8, False, (8, 13, 11)),
        ("dw3x3_s2_x2", 6, 12, 3, 2, 1, 1, 6, True, (6, 15, 14)),
        ("dw5x5_dilated", 4, 4, 5, 1, 4, 2, 4, True, (4, 12, 9)),
        ("dw3x3_wide", 3, 3, 3, 2, 1, 1, 3, True, (3, 9, 57)),
        ("groups4", 8, 12, 3, 1, 1, 1, 4, True, (8, 9, 10)),
        ("groups2_1x1_s2", 6, 6, 1, 2, 0, 1, 2, False, (6, 7, 7)),
    ]
    for name, cin, cout, k, s, p, d, groups, bias, shape in grouped_cases:
        conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, dilation=d, groups=groups, bias=bias)
        conv_case(grouped, name, conv, bias, shape, g)
    save_npz(os.path.join(args.out, "grouped_conv_cases.npz"), grouped)

    # The broadcasting multiply (`mul`): PyTorch's x * y on broadcast shapes, and the gradients of
    # sum(output * dy) for every input (a broadcast input's is summed over what it was repeated
    # along). Each case: <name>_in0, <name>_in1, ..., <name>_output, <name>_dy, <name>_d0, ...
    muls = {}
    g = torch.Generator().manual_seed(args.seed + 5)
    mul_cases = [
        # squeeze-and-excitation: scale_activation(...) * input, the scale first as torchvision writes it
        ("se", [(6, 1, 1), (6, 5, 4)], True),
        ("se_input_first", [(5, 7, 3), (5, 1, 1)], True),
        ("both_ways", [(3, 1, 4), (3, 5, 1)], False),
        ("three", [(4, 3, 3), (4, 1, 1), (1, 3, 3)], False),
        ("equal", [(2, 3, 3), (2, 3, 3)], False),
    ]
    for name, shapes, sigmoid_scale in mul_cases:
        ins = []
        for shape in shapes:
            x = torch.randn((2,) + shape, generator=g)
            if sigmoid_scale and shape[1:] == (1, 1):
                x = torch.sigmoid(x)
            ins.append(x.requires_grad_(True))
        y = ins[0]
        for x in ins[1:]:
            y = y * x
        dy = torch.randn(y.shape, generator=g)
        (y * dy).sum().backward()
        for i, x in enumerate(ins):
            muls["%s_in%d" % (name, i)] = x.detach()
            muls["%s_d%d" % (name, i)] = x.grad
        muls[name + "_output"] = y.detach()
        muls[name + "_dy"] = dy
    save_npz(os.path.join(args.out, "mul_cases.npz"), muls)

    # Upsampling (`upsample`): F.interpolate with PyTorch 1.13's own index rules (nearest is its
    # `nearest`, not `nearest-exact`; a scale factor given maps by 1 / scale, a size by in / out),
    # and the input gradient of sum(output * dy). Each case: <name>_input, _output, _dy, _dinput.
    ups = {}
    g = torch.Generator().manual_seed(args.seed + 6)
    for name, kwargs, shape in UPSAMPLE_CASES:
        x = (torch.randn((2,) + shape, generator=g) * 2).requires_grad_(True)
        y = torch.nn.functional.interpolate(x, **kwargs)
        dy = torch.randn(y.shape, generator=g)
        if kwargs["mode"] == "nearest":
            # PyTorch 1.13's nearest backward copies where out = in and halves where out = 2 in even
            # when its [N, C, H, W] forward does not (scale 1.1, 2.1): its gradient is then not its
            # forward's. The gradient kept is the forward's: the same gather by PyTorch's own source
            # indices (read off its forward), through index_select's autograd.
            rows = nearest_sources(shape[1], y.shape[2], kwargs, 0)
            cols = nearest_sources(shape[2], y.shape[3], kwargs, 1)
            gathered = x.index_select(2, rows).index_select(3, cols)
            assert torch.equal(gathered, y), name
            (gathered * dy).sum().backward()
        else:
            (y * dy).sum().backward()
        ups[name + "_input"] = x.detach()
        ups[name + "_output"] = y.detach()
        ups[name + "_dy"] = dy
        ups[name + "_dinput"] = x.grad
    save_npz(os.path.join(args.out, "upsample_cases.npz"), ups)

    # Transposed convolutions (`conv_transpose`): as the grouped convs above, input, weight, bias,
    # output and the gradients of sum(output * dy).
    transposed = {}
    g = torch.Generator().manual_seed(args.seed + 7)
    for name, cin, cout, k, s, p, op, groups, d, bias, shape in CONV_TRANSPOSE_CASES:
        conv = nn.ConvTranspose2d(cin, cout, k, stride=s, padding=p, output_padding=op, groups=groups, bias=bias,
                                  dilation=d)
        conv_case(transposed, name, conv, bias, shape, g)
    save_npz(os.path.join(args.out, "conv_transpose_cases.npz"), transposed)

    # Per-pixel cross-entropy (nn.CrossEntropyLoss on [N, C, H, W] logits and an [N, H, W] class
    # map, the mean over every pixel): the logits are a 1x1 conv's output whose weights start as the
    # identity, so the conv's gradients carry the loss's gradient. Saved: input, labels (as floats),
    # loss, and the conv's weight and bias gradients.
    g = torch.Generator().manual_seed(args.seed + 8)
    x = torch.randn((3, 4, 5, 7), generator=g) * 2
    labels = torch.randint(0, 4, (3, 5, 7), generator=g)
    conv = nn.Conv2d(4, 4, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(4).view(4, 4, 1, 1))
        conv.bias.zero_()
    loss = nn.CrossEntropyLoss()(conv(x), labels)
    loss.backward()
    dweight, dbias = conv.weight.grad.clone(), conv.bias.grad.clone()
    # The same with ignore_index = 255 (unlabeled pixels, as in segmentation masks): about a third of
    # the pixels, and all but two of the last example's, are 255; the mean is over the labeled ones.
    ignored = labels.clone()
    ignored[torch.rand((3, 5, 7), generator=g) < 0.3] = 255
    ignored[2].view(-1)[2:] = 255
    conv.zero_grad()
    loss_ignore = nn.CrossEntropyLoss(ignore_index=255)(conv(x), ignored)
    loss_ignore.backward()
    save_npz(os.path.join(args.out, "pixel_loss_cases.npz"), {
        "input": x, "labels": labels.float(), "loss": loss.detach().reshape(1),
        "dweight": dweight, "dbias": dbias,
        "ignore_labels": ignored.float(), "ignore_loss": loss_ignore.detach().reshape(1),
        "ignore_dweight": conv.weight.grad, "ignore_dbias": conv.bias.grad})

    # ConvNeXt's ops in a chain, as cnnc's permute, layernorm, linear, gelu, linear, permute, scale
    # and layernorm2d: the state_dict (keys as cnnc names them), input, output, dy, and the
    # gradients of sum(output * dy) for the input and every tensor (<key>_grad).
    convnext = {}
    g = torch.Generator().manual_seed(args.seed + 9)
    chain = ConvNextChain(8, 24)
    with torch.no_grad():
        for t in chain.parameters():
            t.copy_(torch.randn(t.shape, generator=g) * 0.5)
    x = (torch.randn((2, 8, 5, 6), generator=g) * 2 + 0.5).requires_grad_(True)
    y = chain(x)
    dy = torch.randn(y.shape, generator=g)
    (y * dy).sum().backward()
    for k, t in chain.state_dict().items():
        convnext[k] = t
        convnext[k + "_grad"] = dict(chain.named_parameters())[k].grad
    convnext["input"] = x.detach()
    convnext["output"] = y.detach()
    convnext["dy"] = dy
    convnext["dinput"] = x.grad
    save_npz(os.path.join(args.out, "convnext_cases.npz"), convnext)


def nearest_sources(size, out, kwargs, axis):
    """The source index of each output index along one axis, as F.interpolate's nearest picks it
    on a contiguous [N, C, H, W] input (two channels, so that its channels-last kernel is not taken)."""
    shape = [1, 2, 1, 1]
    shape[2 + axis] = size
    ramp = torch.arange(size, dtype=torch.float32).view(-1).repeat(2).view(1, 2, size, 1)
    if axis == 1:
        ramp = ramp.view(1, 2, 1, size)
    other = kwargs.get("size")
    args = dict(kwargs)
    if other is not None:
        args["size"] = (out, 1) if axis == 0 else (1, out)
    else:
        f = kwargs["scale_factor"]
        f = f if isinstance(f, tuple) else (f, f)
        args["scale_factor"] = (f[0], 1.0) if axis == 0 else (1.0, f[1])
    picked = torch.nn.functional.interpolate(ramp, **args)
    return picked[0, 0].reshape(-1).long()


# name, F.interpolate's arguments, input [c, h, w] (UpsampleParityTest builds the same upsample)
UPSAMPLE_CASES = [
    ("nearest_x2", dict(scale_factor=2, mode="nearest"), (3, 4, 5)),
    ("nearest_x1_5_odd", dict(scale_factor=1.5, mode="nearest"), (2, 5, 7)),
    ("nearest_2x3", dict(scale_factor=(2, 3), mode="nearest"), (2, 3, 4)),
    ("nearest_size_7x11", dict(size=(7, 11), mode="nearest"), (2, 5, 4)),
    ("nearest_down_0_6", dict(scale_factor=0.6, mode="nearest"), (2, 9, 7)),
    # PyTorch's [N, C, H, W] kernel: floor(i / 1.1) even where out = in (its channels-last one copies)
    ("nearest_x1_1_same_size", dict(scale_factor=1.1, mode="nearest"), (2, 5, 6)),
    ("nearest_x2_1_twice", dict(scale_factor=2.1, mode="nearest"), (2, 5, 3)),
    ("nearest_x1_7", dict(scale_factor=1.7, mode="nearest"), (2, 7, 9)),
    ("bilinear_x2", dict(scale_factor=2, mode="bilinear", align_corners=False), (3, 4, 5)),
    ("bilinear_x1_5_odd", dict(scale_factor=1.5, mode="bilinear", align_corners=False), (2, 5, 7)),
    ("bilinear_size_9x13", dict(size=(9, 13), mode="bilinear", align_corners=False), (2, 5, 7)),
    ("bilinear_size_224", dict(size=(224, 224), mode="bilinear", align_corners=False), (2, 28, 28)),
    ("bilinear_down_size_3x2", dict(size=(3, 2), mode="bilinear", align_corners=False), (2, 7, 6)),
    ("bilinear_half_x2_5", dict(scale_factor=(0.5, 2.5), mode="bilinear", align_corners=False), (2, 6, 3)),
    ("bilinear_same_size", dict(size=(5, 7), mode="bilinear", align_corners=False), (2, 5, 7)),
    ("bilinear_corners_x1_5", dict(scale_factor=1.5, mode="bilinear", align_corners=True), (2, 5, 7)),
    ("bilinear_corners_size_9x4", dict(size=(9, 4), mode="bilinear", align_corners=True), (2, 5, 7)),
    ("bilinear_corners_to_1", dict(size=(1, 3), mode="bilinear", align_corners=True), (2, 4, 5)),
    ("bilinear_x1_1_same_size", dict(scale_factor=1.1, mode="bilinear", align_corners=False), (2, 5, 6)),
    ("bilinear_x1_7", dict(scale_factor=1.7, mode="bilinear", align_corners=False), (2, 7, 9)),
]

# name, in, out, kernel, stride, padding, output_padding, groups, dilation, bias, input [c, h, w]
CONV_TRANSPOSE_CASES = [
    ("plain3x3", 4, 6, 3, 1, 0, 0, 1, 1, True, (4, 5, 6)),
    ("s2_p1_op1", 4, 3, 3, 2, 1, 1, 1, 1, True, (4, 5, 7)),
    ("fcn_x2_k4", 3, 3, 4, 2, 1, 0, 1, 1, False, (3, 6, 5)),
    ("groups2", 4, 6, 3, 2, 1, 0, 2, 1, True, (4, 4, 5)),
    ("dilated_op", 2, 4, 3, 1, 2, 1, 1, 2, True, (2, 6, 5)),
    ("rect", 3, 2, (2, 3), (3, 1), (0, 1), (2, 0), 1, 1, True, (3, 4, 5)),
    ("depthwise_s3", 4, 4, 3, 3, 0, 2, 4, 1, False, (4, 3, 4)),
]


if __name__ == "__main__":
    main()
