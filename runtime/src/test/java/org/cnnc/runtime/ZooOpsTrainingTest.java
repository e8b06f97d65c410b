// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * A generated network with squeeze-and-excitation ({@code mul}), a residual path with
 * {@code stochastic_depth} and a ShuffleNet unit ({@code chunk}, {@code channel_shuffle}), trained
 * on DL4J with each kernel set: the gradient of the SE's convolutions (which reach the loss only
 * through the product's broadcast operand) and of the conv between chunk and shuffle equals finite
 * differences of the score, with the same stochastic-depth draws; steps lower the loss; a seed
 * gives the same weights twice; inference is deterministic.
 */
class ZooOpsTrainingTest {
  static final String SPEC = """
      package org.cnnc.zoo_ops_test

      block SE(channels: int, squeeze: int) {
          x: identity
          avgpool: global_avgpool
          fc1: conv(squeeze, 1)
          activation: relu
          fc2: conv(channels, 1)
          scale_activation: sigmoid
          mul(from x, from scale_activation)
      }

      block Residual(c: int, p: float) {
          x: identity
          "block": { conv(c, 3, padding = 1) batchnorm relu SE(c, 2) }
          stochastic_depth: stochastic_depth(p)
          add(from stochastic_depth, from x)
      }

      block Shuffle(c: int) {
          x: identity
          chunk(2, 1)
          half: conv(c, 3, padding = 1)
          concat(from x -> chunk(2, 0), from half)
          channel_shuffle(2)
      }

      model Net {
          input [3, 8, 8]
          stem: conv(6, 3, padding = 1)
          shuffle: Shuffle(3)
          "block1-0": Residual(6, 0.5)
          "block1-1": Residual(6, 0.25)
          global_avgpool
          flatten
          fc: dense(3)
      }
      """;

  @TempDir static Path dir;

  static CnnModel model() throws Exception {
    var c = Compiler.compileText("net.cnn", SPEC, Map.of());
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    ClassLoader loader = Generated.compile(c, dir.resolve("gen-" + System.nanoTime()));
    return (CnnModel) loader.loadClass("org.cnnc.zoo_ops_test.Net").getConstructor().newInstance();
  }

  static MultiDataSet data() {
    Nd4j.getRandom().setSeed(21);
    INDArray x = Nd4j.randn(DataType.FLOAT, 8, 3, 8, 8);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 8, 3);
    for (int i = 0; i < 8; i++) {
      y.putScalar(i, i % 3, 1f);
    }
    return new MultiDataSet(new INDArray[] {x}, new INDArray[] {y});
  }

  static double score(ComputationGraph g, MultiDataSet d) {
    Nd4j.getRandom().setSeed(5); // the same stochastic-depth draws in every evaluation
    g.setInputs(d.getFeatures());
    g.setLabels(d.getLabels());
    g.computeGradientAndScore();
    return g.score();
  }

  @ParameterizedTest
  @EnumSource(NetBuilder.Kernels.class)
  void trainsThroughMulAndStochasticDepth(NetBuilder.Kernels kernels) throws Exception {
    CnnModel model = model();
    CnnNetwork net = CnnNetwork.create(model, new NetBuilder(3, new Sgd(0.05)).kernels(kernels));
    assertTrue(net.stateDict().containsKey("block1-0.block.3.fc2.weight"), net.stateDict().keySet().toString());
    ComputationGraph g = net.graph();
    // on cnnc's kernels (built with a plan) `x: identity` is no vertex (it would copy the
    // activation, and its gradient back): its readers read its input
    for (String x : new String[] {"shuffle.x", "block1-0.x", "block1-1.x", "block1-0.block.3.x"}) {
      assertEquals(kernels == NetBuilder.Kernels.DL4J, g.getVertex(x) != null, kernels + ": " + x);
    }
    assertEquals(java.util.List.of("block1-0.stochastic_depth", kernels == NetBuilder.Kernels.DL4J ? "block1-0.x" : "shuffle.4"),
        g.getConfiguration().getVertexInputs().get("block1-0.3"), "the residual add reads the block's input");
    MultiDataSet d = data();

    // the SE's fc1 bias and fc2 weight: analytic gradient against central differences
    for (String key : new String[] {"block1-0.block.3.fc1_b", "block1-1.block.3.fc2_W", "shuffle.half_b"}) {
      FiniteDifferences.Result r = FiniteDifferences.check(g, key, 8, 6, 1e-2, graph -> score(graph, d));
      double worst = r.worst();
      double largest = r.largest();
      assertTrue(largest > 1e-4, key + ": the SE reaches the loss");
      assertTrue(worst <= 2e-2 * largest + 1e-5, key + ": gradient differs from finite differences by " + worst
          + " (largest " + largest + ")");
    }

    // training lowers the loss, and a seed gives the same weights
    double first = score(g, d);
    Nd4j.getRandom().setSeed(9);
    for (int step = 0; step < 15; step++) {
      g.fit(d);
    }
    double last = score(g, d);
    assertTrue(last < first, kernels + ": loss " + first + " -> " + last);
    CnnNetwork again = CnnNetwork.create(model, new NetBuilder(3, new Sgd(0.05)).kernels(kernels));
    Nd4j.getRandom().setSeed(9);
    for (int step = 0; step < 15; step++) {
      again.graph().fit(d);
    }
    assertEquals(g.params(), again.graph().params(), "the same seed, the same weights");
    // inference: no draws, so twice the same output
    INDArray x = d.getFeatures()[0];
    assertEquals(net.predict(x).get("output"), net.predict(x).get("output"));
  }
}
