// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.cnnc.runtime.NetBuilder.size;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A single grouped or depthwise conv built by {@link NetBuilder} (cnnc's kernels and ND4J's ops)
 * against PyTorch's {@code nn.Conv2d(groups = ...)} (tools/pytorch/parity.py): the output, and the
 * gradients of the input, weight and bias for the same output gradient.
 */
class GroupedConvParityTest {
  @ParameterizedTest
  @CsvSource({
      // name, out, kernel, stride, padding, dilation, groups, bias
      "dw3x3, 8, 3, 1, 1, 1, 8, false",
      "dw3x3_s2_x2, 12, 3, 2, 1, 1, 6, true",
      "dw5x5_dilated, 4, 5, 1, 4, 2, 4, true",
      "dw3x3_wide, 3, 3, 2, 1, 1, 3, true",
      "groups4, 12, 3, 1, 1, 1, 4, true",
      "groups2_1x1_s2, 6, 1, 2, 0, 1, 2, false"})
  void groupedConvEqualsPyTorch(String name, int out, int k, int s, int p, int d, int groups, boolean bias)
      throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("grouped_conv_cases.npz"));
    for (NetBuilder.Kernels kernels : NetBuilder.Kernels.values()) {
      String what = name + " " + kernels;
      INDArray in = NdNpz.toNd4j(cases.get(name + "_input"));
      NetBuilder b = new NetBuilder(1).kernels(kernels).inputGradients(true);
      String x = b.input("input", in.size(1), in.size(2), in.size(3));
      String y = b.conv("op", x, out, size(k), size(s), size(p), size(d), groups, bias);
      b.output("out", y, Loss.NONE, 1);
      ComputationGraph g = new ComputationGraph(b.build());
      g.init();
      g.getParam("op_W").assign(NdNpz.toNd4j(cases.get(name + "_weight")));
      if (bias) {
        g.getParam("op_b").assign(NdNpz.toNd4j(cases.get(name + "_bias")).reshape(g.getParam("op_b").shape()));
      }
      INDArray actual = g.feedForward(new INDArray[] {in}, false, false).get(y);
      close(NdNpz.toNd4j(cases.get(name + "_output")), actual, what + " output");
      g.initGradientsView();
      Layer l = g.getLayer("op");
      LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
      l.setInput(in, mgr);
      l.activate(true, mgr);
      Pair<Gradient, INDArray> grads = l.backpropGradient(NdNpz.toNd4j(cases.get(name + "_dy")), mgr);
      close(NdNpz.toNd4j(cases.get(name + "_dinput")), grads.getSecond(), what + " input gradient");
      close(NdNpz.toNd4j(cases.get(name + "_dweight")), grads.getFirst().getGradientFor("W"), what + " weight gradient");
      if (bias) {
        close(NdNpz.toNd4j(cases.get(name + "_dbias")), grads.getFirst().getGradientFor("b").reshape(-1),
            what + " bias gradient");
      }
    }
  }

  private static void close(INDArray expected, INDArray actual, String what) {
    assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
    double err = ParityTest.relErr(actual, expected);
    assertTrue(err <= 1e-5, what + ": max rel err " + err);
  }
}
