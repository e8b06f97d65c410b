// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.cnnc.runtime.layers.GemmConvolution;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * The gradient of the network's input, which training never reads: cnnc's convs that read the
 * input skip it by default (as PyTorch does for an input without requires_grad), and training is
 * bit for bit what it is with the gradient computed; when anything but a cnnc conv reads the input,
 * or {@code NetBuilder.inputGradients(true)}, every layer computes it.
 */
class InputGradientTest {
  @Test
  void nin() throws Exception {
    CnnModel model = Generated.model("NiN");
    ComputationGraph skip = CnnNetwork.create(model, new NetBuilder(1, new Sgd(0.01))).graph();
    ComputationGraph keep = CnnNetwork.create(model, new NetBuilder(1, new Sgd(0.01)).inputGradients(true)).graph();
    List<String> stems = readersOfInput(skip);
    assertEquals(1, stems.size(), "NiN's input feeds one conv: " + stems);
    assertFalse(conv(skip, stems.get(0)).isInputGradient());
    assertTrue(conv(keep, stems.get(0)).isInputGradient());
    keep.setParams(skip.params().dup());
    long[] in = model.inputShape();
    Nd4j.getRandom().setSeed(3);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, in[0], in[1], in[2]);
    INDArray labels = Nd4j.zeros(DataType.FLOAT, 2, 10);
    labels.putScalar(0, 3, 1f);
    labels.putScalar(1, 7, 1f);
    for (int step = 0; step < 3; step++) {
      // the same dropout masks in both
      Nd4j.getRandom().setSeed(100 + step);
      skip.fit(new INDArray[] {x}, new INDArray[] {labels});
      Nd4j.getRandom().setSeed(100 + step);
      keep.fit(new INDArray[] {x}, new INDArray[] {labels});
      assertEquals(keep.score(), skip.score(), 0.0, "score, step " + step);
      assertEquals(keep.params(), skip.params(), "parameters after step " + step);
    }
  }

  @Test
  void twoConvsReadingTheInputBothSkipIt() {
    ComputationGraph g = twoReaders(false, false);
    assertFalse(conv(g, "a").isInputGradient());
    assertFalse(conv(g, "b").isInputGradient());
    trains(g);
    assertNull(g.getVertex("input").getEpsilon(), "no input gradient");
  }

  @Test
  void anotherReaderOfTheInputKeepsItEverywhere() {
    ComputationGraph g = twoReaders(true, false);
    assertTrue(conv(g, "a").isInputGradient());
    trains(g);
  }

  @Test
  void inputGradientsOnKeepsIt() {
    ComputationGraph g = twoReaders(false, true);
    assertTrue(conv(g, "a").isInputGradient());
    assertTrue(conv(g, "b").isInputGradient());
    trains(g);
  }

  /** input -> conv a and (conv b, or a max pool when poolReads) -> concat -> pool -> dense -> loss. */
  private static ComputationGraph twoReaders(boolean poolReads, boolean inputGradients) {
    NetBuilder b = new NetBuilder(1, new Sgd(0.01)).kernels(NetBuilder.Kernels.CNNC).inputGradients(inputGradients);
    String in = b.input("input", 3, 8, 8);
    String a = b.conv("a", in, 4, NetBuilder.size(3), NetBuilder.size(1), new int[] {1, 1}, NetBuilder.size(1), 1, true);
    String other = poolReads
        ? b.maxpool("b", in, NetBuilder.size(3), NetBuilder.size(1), new int[] {1, 1}, NetBuilder.size(1), false)
        : b.conv("b", in, 4, NetBuilder.size(1), NetBuilder.size(1), new int[] {0, 0}, NetBuilder.size(1), 1, true);
    String cat = b.concat("cat", a, other);
    String pooled = b.flatten("flat", b.globalAvgpool("gap", cat));
    b.output("out", b.dense("fc", pooled, 5, true), Loss.CROSS_ENTROPY, 1.0);
    ComputationGraph g = new ComputationGraph(b.build());
    g.init();
    return g;
  }

  private static void trains(ComputationGraph g) {
    Nd4j.getRandom().setSeed(9);
    INDArray x = Nd4j.randn(DataType.FLOAT, 4, 3, 8, 8);
    INDArray labels = Nd4j.zeros(DataType.FLOAT, 4, 5);
    for (int i = 0; i < 4; i++) {
      labels.putScalar(i, i, 1f);
    }
    g.fit(new INDArray[] {x}, new INDArray[] {labels});
    double first = g.score();
    for (int i = 0; i < 30; i++) {
      g.fit(new INDArray[] {x}, new INDArray[] {labels});
    }
    assertTrue(g.score() < first, "loss " + first + " -> " + g.score());
  }

  private static List<String> readersOfInput(ComputationGraph g) {
    String input = g.getConfiguration().getNetworkInputs().get(0);
    return g.getConfiguration().getVertexInputs().entrySet().stream()
        .filter(e -> e.getValue().contains(input)).map(Map.Entry::getKey).sorted().toList();
  }

  private static GemmConvolution conv(ComputationGraph g, String name) {
    assertNotNull(g.getLayer(name), name);
    return (GemmConvolution) g.getLayer(name).conf().getLayer();
  }
}
