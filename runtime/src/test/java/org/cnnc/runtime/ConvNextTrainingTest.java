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
 * A generated network with ConvNeXt's block (a depthwise conv, permute, layernorm, linear, gelu,
 * linear, permute back, scale, layernorm2d) trained on DL4J: the gradient of every tensor under
 * these ops, as the training step computes it, equals central differences of the score (DL4J's
 * SameDiff layers double it unless SameDiffErrors undoes that: 0.435 against 0.0069 for the layer
 * norm's weight, six such layers from the loss); steps lower the loss.
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
  void gradientsEqualFiniteDifferencesAndStepsLowerTheLoss() throws Exception {
    CnnModel model = model(SPEC, "Net");
    CnnNetwork net = CnnNetwork.create(model, new NetBuilder(3, new Sgd(0.05)));
    assertTrue(net.untrainable().isEmpty(), net.untrainable().toString());
    ComputationGraph g = net.graph();
    Nd4j.getRandom().setSeed(21);
    INDArray x = Nd4j.randn(DataType.FLOAT, 4, 3, 6, 6);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 4, 3);
    for (int i = 0; i < 4; i++) {
      y.putScalar(i, i % 3, 1f);
    }
    MultiDataSet d = new MultiDataSet(new INDArray[] {x}, new INDArray[] {y});
    int checked = 0;
    for (NetBuilder.TensorMapping m : net.manifest()) {
      // the ConvNeXt ops' tensors, and the depthwise conv's below them (its gradient passes through all)
      if (m.path().startsWith("stem") || m.path().startsWith("fc")) {
        continue;
      }
      FiniteDifferences.Result r = FiniteDifferences.check(g, m.vertex() + "_" + m.key(), 4, 4, 1e-2, graph -> score(graph, d));
      double worst = r.worst();
      double largest = r.largest();
      System.out.printf("convnext training gradient %s: worst %.3g of largest %.3g%n", m.path(), worst, largest);
      assertTrue(largest > 1e-5, m.path() + " reaches the loss");
      assertTrue(worst <= 2e-2 * largest + 1e-4, m.path() + ": gradient differs from finite differences by " + worst
          + " (largest " + largest + ")");
      checked++;
    }
    assertTrue(checked >= 11, "checked " + checked + " tensors");
    double first = score(g, d);
    for (int step = 0; step < 10; step++) {
      g.fit(d);
    }
    double last = score(g, d);
    assertTrue(last < first, "loss " + first + " -> " + last);
  }
}
