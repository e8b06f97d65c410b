// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.cnnc.runtime.MulParityTest.relErr;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.cnnc.compiler.io.Npz;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * ConvNeXt's ops through the registry's lowerings against PyTorch (tools/pytorch/parity.py,
 * convnext_cases.npz): permute to channels-last, layernorm, linear, gelu, linear, permute back,
 * scale ([C, 1, 1], keyed by its label) and layernorm2d, loaded by the builder's manifest from
 * PyTorch's state_dict: the output, and the gradients of sum(output * dy) for every tensor (with
 * DL4J's SameDiff layers' doubled gradient undone: SameDiffErrors).
 */
class ConvNextParityTest {
  @Test
  void chainEqualsPyTorchForwardAndBackward() throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("convnext_cases.npz"));
    INDArray in = NdNpz.toNd4j(cases.get("input"));
    NetBuilder b = new NetBuilder(1);
    String x = b.input("input", in.size(1), in.size(2), in.size(3));
    x = b.op("to_last", "permute", x, "dims", new int[] {0, 2, 3, 1});
    x = b.op("ln", "layernorm", x, "eps", 1e-6);
    x = b.op("fc1", "linear", x, "out", 24);
    x = b.op("act", "gelu", x);
    x = b.op("fc2", "linear", x, "out", 8);
    x = b.op("to_first", "permute", x, "dims", new int[] {0, 3, 1, 2});
    x = b.op("gamma", "scale", x, "shape", new int[] {8, 1, 1}, "init", 1e-6);
    String y = b.op("ln2d", "layernorm2d", x, "eps", 1e-6);
    b.output("out", y, Loss.NONE, 1);
    ComputationGraph g = new ComputationGraph(b.build());
    g.init();
    // the manifest holds PyTorch's keys and shapes; every tensor of the fixture is loaded through it
    java.util.Set<String> torchKeys = new java.util.TreeSet<>(cases.keySet());
    torchKeys.removeIf(k -> k.endsWith("_grad") || java.util.Set.of("input", "output", "dy", "dinput").contains(k));
    assertEquals(torchKeys, new java.util.TreeSet<>(b.manifest().stream().map(NetBuilder.TensorMapping::path).toList()));
    for (NetBuilder.TensorMapping m : b.manifest()) {
      Npz.Array a = cases.get(m.path());
      assertNotNull(a, "no tensor " + m.path() + " in PyTorch's state_dict");
      INDArray v = NdNpz.toNd4j(a);
      assertArrayEquals(v.shape(), m.shape(), m.path());
      INDArray target = g.getParam(m.vertex() + "_" + m.key());
      target.assign(v.reshape(target.shape()));
    }
    INDArray expected = NdNpz.toNd4j(cases.get("output"));
    INDArray actual = g.feedForward(new INDArray[] {in}, false, false).get(y);
    assertArrayEquals(expected.shape(), actual.shape());
    assertTrue(relErr(actual, expected) <= 1e-5, "output, max rel err " + relErr(actual, expected));

    // the backward pass of training: the gradients of sum(output * dy), every tensor's
    g.setInputs(in);
    g.feedForward(new INDArray[] {in}, true, false); // keep the layers' inputs for the backward pass
    Gradient grad = g.backpropGradient(NdNpz.toNd4j(cases.get("dy")));
    for (NetBuilder.TensorMapping m : b.manifest()) {
      INDArray want = NdNpz.toNd4j(cases.get(m.path() + "_grad"));
      INDArray got = grad.getGradientFor(m.vertex() + "_" + m.key());
      assertNotNull(got, "no gradient of " + m.path());
      got = got.reshape(want.shape());
      assertTrue(relErr(got, want) <= 1e-4, "gradient of " + m.path() + ", max rel err " + relErr(got, want));
    }
  }
}
