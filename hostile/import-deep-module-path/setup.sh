# an ONNX model whose conv is named by a module path of 3,000 components (was: exit 3, the spec
# written nested past the compiler's 256 levels; deeper, minutes of work)
/usr/bin/python3 - <<'PY'
import numpy as np
from onnx import TensorProto, helper, numpy_helper
path = ".".join(["m"] * 3000)
w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), path + ".weight")
g = helper.make_graph(
    [helper.make_node("Conv", ["input", path + ".weight"], ["y"], name=path, kernel_shape=[3, 3]),
     helper.make_node("Relu", ["y"], ["output"], name="/r/Relu")],
    "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
open("m.onnx", "wb").write(m.SerializeToString())
PY
