// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.cnnc.runtime.layers.BroadcastMul;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The {@code mul} merge against PyTorch's {@code x * y} (tools/pytorch/parity.py, mul_cases.npz):
 * the output through the registry's lowering ({@code b.merge(..., "mul", ...)}) on a DL4J graph,
 * and the gradient of every input, a broadcast one summed over what it was repeated along.
 */
class MulParityTest {
  static double relErr(INDArray actual, INDArray expected) {
    return Transforms.abs(actual.sub(expected)).maxNumber().doubleValue()
        / (Transforms.abs(expected).maxNumber().doubleValue() + 1e-6);
  }

  @ParameterizedTest
  @ValueSource(strings = {"se", "se_input_first", "both_ways", "three", "equal"})
  void mulEqualsPyTorch(String name) throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("mul_cases.npz"));
    List<INDArray> ins = new ArrayList<>();
    for (int i = 0; cases.containsKey(name + "_in" + i); i++) {
      ins.add(NdNpz.toNd4j(cases.get(name + "_in" + i)));
    }
    INDArray expected = NdNpz.toNd4j(cases.get(name + "_output"));

    NetBuilder b = new NetBuilder(1);
    List<String> names = new ArrayList<>();
    for (int i = 0; i < ins.size(); i++) {
      names.add(b.input("in" + i, ins.get(i).size(1), ins.get(i).size(2), ins.get(i).size(3)));
    }
    String y = b.merge("op", "mul", names.toArray(new String[0]));
    b.output("out", y, Loss.NONE, 1);
    ComputationGraph g = new ComputationGraph(b.build());
    g.init();
    INDArray actual = g.feedForward(ins.toArray(new INDArray[0]), false, false).get(y);
    assertArrayEquals(expected.shape(), actual.shape(), name);
    assertTrue(relErr(actual, expected) <= 1e-6, name + ": output, max rel err " + relErr(actual, expected));

    // backward, through the vertex the lowering built
    assertTrue(g.getVertex("op") instanceof BroadcastMul.Impl, g.getVertex("op").getClass().getName());
    GraphVertex v = new BroadcastMul().instantiate(null, "op", 0, null, false, DataType.FLOAT);
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    v.setInputs(ins.toArray(new INDArray[0]));
    v.doForward(true, mgr);
    v.setEpsilon(NdNpz.toNd4j(cases.get(name + "_dy")));
    INDArray[] grads = v.doBackward(false, mgr).getSecond();
    for (int i = 0; i < ins.size(); i++) {
      INDArray want = NdNpz.toNd4j(cases.get(name + "_d" + i));
      assertArrayEquals(want.shape(), grads[i].shape(), name + " gradient " + i);
      assertTrue(relErr(grads[i], want) <= 1e-5, name + ": gradient of input " + i + ", max rel err "
          + relErr(grads[i], want));
    }
  }
}
