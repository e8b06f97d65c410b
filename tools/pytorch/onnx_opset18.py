# SPDX-License-Identifier: Apache-2.0
"""ONNX opset 18's forms of ops cnnc imports, written with onnx.helper, for cnnc's import test.

torch 1.13 writes opsets up to 17; opset 18 moved ReduceMean's axes to an input, gave Resize an
`axes` attribute and Split a `num_outputs` attribute. Debian's python3-onnx 1.12 knows opset 17
only, but its helper writes any node: these models declare opset 18 and are checked by ONNX
Runtime (which implements 18), not by this onnx's checker. Each case is a conv (3 -> 8 channels,
3x3, on [3, 8, 8]), the form under test, and what follows it; the weights are seeded. For each
case this writes into DIR:
    CASE.onnx           the model, input `input` [batch, 3, 8, 8], output `output`
    CASE_input.npy      a seeded input of batch 2, float32
The expected output is ONNX Runtime's on CASE.onnx (the test runs it).

    /usr/bin/python3 tools/pytorch/onnx_opset18.py --out DIR
"""
import argparse
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(18)


def tensor(name, *shape, dtype=np.float32):
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


def const(name, values, dtype):
    return numpy_helper.from_array(np.array(values, dtype), name)


def conv(x="input", out="c", name="conv", channels=8):
    return ([helper.make_node("Conv", [x, name + ".weight", name + ".bias"], [out], name="/%s/Conv" % name,
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1])],
            [tensor(name + ".weight", channels, 3 if x == "input" else 8, 3, 3), tensor(name + ".bias", channels)])


def model(nodes, inits, output_shape):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch"] + output_shape)], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)], producer_name="onnx_opset18.py")


def reducemean():
    # torch's x.mean([2, 3]) at opset 18: the axes an input
    n, i = conv()
    n.append(helper.make_node("ReduceMean", ["c", "axes"], ["m"], name="/ReduceMean", keepdims=0))
    i.append(const("axes", [2, 3], np.int64))
    n.append(helper.make_node("Gemm", ["m", "fc.weight", "fc.bias"], ["output"], name="/fc/Gemm", transB=1))
    i += [tensor("fc.weight", 5, 8), tensor("fc.bias", 5)]
    return model(n, i, [5])


def resize_scales():
    # nearest x2 of H and W, scales for axes [2, 3] only (ONNX Runtime 1.23 refuses [-2, -1] here)
    n, i = conv()
    n.append(helper.make_node("Resize", ["c", "", "scales"], ["output"], name="/up/Resize", mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="floor", axes=[2, 3]))
    i.append(const("scales", [2.0, 2.0], np.float32))
    return model(n, i, [8, 16, 16])


def resize_sizes():
    # bilinear (half_pixel) to 12x20, sizes for axes [2, 3], antialias and the policy at their defaults
    n, i = conv()
    n.append(helper.make_node("Resize", ["c", "", "", "sizes"], ["output"], name="/up/Resize", mode="linear",
                              coordinate_transformation_mode="half_pixel", axes=[2, 3], antialias=0,
                              keep_aspect_ratio_policy="stretch"))
    i.append(const("sizes", [12, 20], np.int64))
    return model(n, i, [8, 12, 20])


def split(num_outputs):
    # the channels in two halves, joined again the other way round, then a conv
    n, i = conv()
    if num_outputs:
        n.append(helper.make_node("Split", ["c"], ["a", "b"], name="/Split", axis=1, num_outputs=2))
    else:
        n.append(helper.make_node("Split", ["c", "split"], ["a", "b"], name="/Split", axis=1))
        i.append(const("split", [4, 4], np.int64))
    n.append(helper.make_node("Relu", ["a"], ["ra"], name="/relu/Relu"))
    n.append(helper.make_node("Concat", ["b", "ra"], ["j"], name="/Concat", axis=1))
    n2, i2 = conv("j", "output", "conv2")
    return model(n + n2, i + i2, [8, 8, 8])


CASES = {
    "reducemean_axes_input": reducemean,
    "resize_axes_scales": resize_scales,
    "resize_axes_sizes": resize_sizes,
    "split_num_outputs": lambda: split(True),
    "split_sizes_input": lambda: split(False),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for name, make in CASES.items():
        with open(os.path.join(args.out, name + ".onnx"), "wb") as f:
            f.write(make().SerializeToString())
        x = np.random.default_rng(19).standard_normal((2, 3, 8, 8)).astype(np.float32)
        np.save(os.path.join(args.out, name + "_input.npy"), x)
        print(name, flush=True)


if __name__ == "__main__":
    main()
