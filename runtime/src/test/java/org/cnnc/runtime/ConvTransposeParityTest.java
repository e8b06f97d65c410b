// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.cnnc.runtime.UpsampleParityTest.close;

import java.util.Map;
import org.cnnc.compiler.io.Npz;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code conv_transpose} through the registry's lowering against PyTorch's
 * {@code nn.ConvTranspose2d} (tools/pytorch/parity.py, CONV_TRANSPOSE_CASES): strides, padding,
 * output_padding, groups (depthwise included), dilation, rectangular kernels; the output and the
 * gradients of the input, weight and bias for the same output gradient, the weights loaded in
 * PyTorch's layout {@code [in, out/groups, kh, kw]}.
 */
class ConvTransposeParityTest {
  @ParameterizedTest
  @CsvSource(delimiter = ';', value = {
      // name; out; kernel; stride; padding; output_padding; groups; dilation; bias
      "plain3x3; 6; 3; 1; 0; 0; 1; 1; true",
      "s2_p1_op1; 3; 3; 2; 1; 1; 1; 1; true",
      "fcn_x2_k4; 3; 4; 2; 1; 0; 1; 1; false",
      "groups2; 6; 3; 2; 1; 0; 2; 1; true",
      "dilated_op; 4; 3; 1; 2; 1; 1; 2; true",
      "rect; 2; 2,3; 3,1; 0,1; 2,0; 1; 1; true",
      "depthwise_s3; 4; 3; 3; 0; 2; 4; 1; false"})
  void convTransposeEqualsPyTorch(String name, int out, String k, String s, String p, String op, int groups, String d,
      boolean bias) throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("conv_transpose_cases.npz"));
    INDArray in = NdNpz.toNd4j(cases.get(name + "_input"));
    NetBuilder b = new NetBuilder(1).inputGradients(true);
    String x = b.input("input", in.size(1), in.size(2), in.size(3));
    String y = b.op("op", "conv_transpose", x, "out", out, "kernel", pair(k), "stride", pair(s), "padding", pair(p),
        "output_padding", pair(op), "groups", groups, "dilation", pair(d), "bias", bias);
    b.output("out", y, Loss.NONE, 1);
    ComputationGraph g = new ComputationGraph(b.build());
    g.init();
    INDArray w = g.getParam("op_W");
    w.assign(NdNpz.toNd4j(cases.get(name + "_weight")).reshape('c', w.shape()));
    if (bias) {
      g.getParam("op_b").assign(NdNpz.toNd4j(cases.get(name + "_bias")).reshape(g.getParam("op_b").shape()));
    }
    INDArray actual = g.feedForward(new INDArray[] {in}, false, false).get(y);
    close(NdNpz.toNd4j(cases.get(name + "_output")), actual, name + " output");
    g.initGradientsView();
    Layer l = g.getLayer("op");
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    l.setInput(in, mgr);
    l.activate(true, mgr);
    Pair<Gradient, INDArray> grads = l.backpropGradient(NdNpz.toNd4j(cases.get(name + "_dy")), mgr);
    close(NdNpz.toNd4j(cases.get(name + "_dinput")), grads.getSecond(), name + " input gradient");
    INDArray dw = NdNpz.toNd4j(cases.get(name + "_dweight"));
    close(dw, grads.getFirst().getGradientFor("W").reshape('c', dw.shape()), name + " weight gradient");
    if (bias) {
      close(NdNpz.toNd4j(cases.get(name + "_dbias")), grads.getFirst().getGradientFor("b").reshape(-1),
          name + " bias gradient");
    }
  }

  private static int[] pair(String v) {
    String[] parts = v.split(",");
    return parts.length == 1 ? new int[] {Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[0].trim())}
        : new int[] {Integer.parseInt(parts[0].trim()), Integer.parseInt(parts[1].trim())};
  }
}
