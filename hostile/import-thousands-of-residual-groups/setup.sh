# an ONNX model of 4,000 modules `m.N`: y = x + relu(conv1x1(x)), the add reading the module's input
/usr/bin/python3 - <<'PY'
import numpy as np
from onnx import TensorProto, helper, numpy_helper
nodes, inits, x = [], [], "input"
for i in range(4000):
    w = "m.%d.conv.weight" % i
    inits.append(numpy_helper.from_array(np.full((2, 2, 1, 1), 0.5, np.float32), w))
    nodes.append(helper.make_node("Conv", [x, w], ["c%d" % i], name="/m/m.%d/conv/Conv" % i, kernel_shape=[1, 1]))
    nodes.append(helper.make_node("Relu", ["c%d" % i], ["r%d" % i], name="/m/m.%d/relu/Relu" % i))
    nodes.append(helper.make_node("Add", ["r%d" % i, x], ["a%d" % i], name="/m/m.%d/Add" % i))
    x = "a%d" % i
nodes.append(helper.make_node("Relu", [x], ["output"], name="/relu/Relu"))
g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 2, 4, 4])],
                      [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
open("m.onnx", "wb").write(m.SerializeToString())
PY
