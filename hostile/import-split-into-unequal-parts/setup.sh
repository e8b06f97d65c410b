# a conv to 8 channels, then a Split (opset 18, num_outputs 3) concatenated again
/usr/bin/python3 - <<'PY'
import numpy as np
from onnx import TensorProto, helper, numpy_helper
w = numpy_helper.from_array(np.ones((8, 3, 1, 1), np.float32), "conv.weight")
g = helper.make_graph(
    [helper.make_node("Conv", ["input", "conv.weight"], ["c"], name="/conv/Conv", kernel_shape=[1, 1]),
     helper.make_node("Split", ["c"], ["a", "b", "d"], name="/Split", axis=1, num_outputs=3),
     helper.make_node("Concat", ["a", "b", "d"], ["output"], name="/Concat", axis=1)],
    "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 8, 8])],
    [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], [w])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
open("m.onnx", "wb").write(m.SerializeToString())
PY
