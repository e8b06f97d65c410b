// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * ConvNeXt's ops run in inference only on DL4J: their SameDiff layers' backward pass returns twice
 * the input gradient (measured against central differences of the score: 0.435 against 0.0069 for
 * a layer norm's weight, six layers from the loss). A generated network with them says which nodes
 * cannot be trained and why (the compiler's rule, Capabilities.untrainableOp), which `cnnc train`
 * refuses with; the same network without them has nothing to refuse.
 */
class ConvNextTrainingTest {
  static final String SPEC = """
      package org.cnnc.convnext_test

      model Net {
          input [3, 6, 6]
          stem: conv(8, 3, padding = 1)
          x: identity
          "block": {
              conv(8, 3, padding = 1, groups = 8)
              permute([0, 2, 3, 1])
              layernorm(eps = 1e-6)
              linear(16)
              gelu
              linear(8)
              permute([0, 3, 1, 2])
          }
          layer_scale: scale([8, 1, 1], init = 0.5)
          sum: add(from layer_scale, from x)
          norm: layernorm2d(eps = 1e-6)
          global_avgpool
          flatten
          fc: dense(3)
      }
      """;

  @TempDir static Path dir;

  static double score(ComputationGraph g, MultiDataSet d) {
    g.setInputs(d.getFeatures());
    g.setLabels(d.getLabels());
    g.computeGradientAndScore();
    return g.score();
  }

  static CnnModel model(String spec, String name) throws Exception {
    var c = Compiler.compileText("net.cnn", spec.replace("model Net ", "model " + name + " "), Map.of());
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    return (CnnModel) Generated.compile(c, dir.resolve("gen-" + name)).loadClass("org.cnnc.convnext_test." + name)
        .getConstructor().newInstance();
  }

  @Test
  void aNetworkWithConvNextOpsIsRefusedForTraining() throws Exception {
    CnnModel model = model(SPEC, "Net");
    CnnNetwork net = CnnNetwork.create(model, new NetBuilder(3, new Sgd(0.05)));
    ComputationGraph g = net.graph();
    // every ConvNeXt op of the spec is named, with the compiler's reason; nothing else is
    java.util.Set<String> expected = new java.util.TreeSet<>();
    for (NetBuilder.TensorMapping m : net.manifest()) {
      if (m.path().startsWith("block.") && !m.path().startsWith("block.0.") || m.path().startsWith("layer_scale")
          || m.path().startsWith("norm")) {
        expected.add(m.vertex());
      }
    }
    expected.addAll(java.util.List.of("block.1", "block.6"));
    assertEquals(expected, new java.util.TreeSet<>(net.untrainable().keySet()));
    for (var e : net.untrainable().entrySet()) {
      assertTrue(e.getValue().contains("runs in inference only"), e.toString());
    }
    // the same network without them trains
    assertTrue(CnnNetwork.create(model(SPEC.replaceAll("(?s)\"block\".*?layer_scale: scale\\(\\[8, 1, 1\\], init = 0.5\\)",
        "layer_scale: conv(8, 1)").replace("norm: layernorm2d(eps = 1e-6)", "norm: batchnorm"), "Net2"),
        new NetBuilder(3, new Sgd(0.05))).untrainable().isEmpty());
  }
}
