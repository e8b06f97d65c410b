# an ONNX model reshaping to [batch * 2, -1]: the batch size (unknown) in shape arithmetic
# (was a NullPointerException, exit 3)
/usr/bin/python3 - <<'PY'
import numpy as np
from onnx import TensorProto, helper, numpy_helper
w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "c.weight")
c = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)
g = helper.make_graph(
    [helper.make_node("Conv", ["input", "c.weight"], ["y"], name="/c/Conv", kernel_shape=[3, 3]),
     helper.make_node("Shape", ["y"], ["s"], name="/Shape"),
     helper.make_node("Gather", ["s", "zero"], ["n"], name="/Gather", axis=0),
     helper.make_node("Mul", ["n", "two"], ["n2"], name="/Mul"),
     helper.make_node("Unsqueeze", ["n2", "axes"], ["n2v"], name="/Unsqueeze"),
     helper.make_node("Concat", ["n2v", "minus1"], ["t"], name="/Concat", axis=0),
     helper.make_node("Reshape", ["y", "t"], ["output"], name="/Reshape")],
    "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
    [w, c("zero", 0), c("two", 2), c("axes", [0]), c("minus1", [-1])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
open("m.onnx", "wb").write(m.SerializeToString())
PY
