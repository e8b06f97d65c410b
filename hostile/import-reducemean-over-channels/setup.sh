# an ONNX model (opset 18: the axes are an input) whose ReduceMean averages the channels, named
# with a newline and a terminal escape: a located error naming the node, escaped (was: unsupported op)
/usr/bin/python3 - <<'PY'
import numpy as np
from onnx import TensorProto, helper, numpy_helper
w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "c.weight")
axes = numpy_helper.from_array(np.array([1, 1 << 62], np.int64), "axes")
g = helper.make_graph(
    [helper.make_node("Conv", ["input", "c.weight"], ["y"], name="/c/Conv", kernel_shape=[3, 3]),
     helper.make_node("ReduceMean", ["y", "axes"], ["output"], name="/evil\n\x1b[31m/ReduceMean", keepdims=0)],
    "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [w, axes])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
open("m.onnx", "wb").write(m.SerializeToString())
PY
