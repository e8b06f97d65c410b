// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.sema.Value;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * A loss over maps: {@code cross_entropy} on a {@code [C, H, W]} output is PyTorch's
 * {@code nn.CrossEntropyLoss} per pixel against an {@code [N, H, W]} class map (the mean over
 * every pixel), its value and gradient against PyTorch's (tools/pytorch/parity.py); class maps
 * become labels through {@link Trainer#pixelLabels}, which refuses a class out of range by
 * position; and fcn_resnet50 from the zoo trains: steps on a small batch lower its loss.
 */
class PixelLossTest {
  @TempDir Path dir;

  @Test
  void lossAndGradientEqualPyTorch() throws Exception {
    parity("", Trainer.NO_IGNORE);
  }

  /**
   * {@code nn.CrossEntropyLoss(ignore_index=255)}: a third of the pixels and nearly all of one
   * example's are 255; the loss is the mean over the labeled pixels of the batch, and the ignored
   * ones add no gradient.
   */
  @Test
  void ignoredPixelsLossAndGradientEqualPyTorch() throws Exception {
    parity("ignore_", 255);
  }

  private static void parity(String prefix, long ignore) throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("pixel_loss_cases.npz"));
    INDArray x = NdNpz.toNd4j(cases.get("input"));
    INDArray labels = Trainer.pixelLabels(NdNpz.toNd4j(cases.get(prefix + "labels")).castTo(DataType.LONG), 4, ignore);
    if (ignore != Trainer.NO_IGNORE) {
      long unlabeled = NdNpz.toNd4j(cases.get(prefix + "labels")).eq(255).castTo(DataType.INT).sumNumber().longValue();
      assertTrue(unlabeled > 33 && unlabeled < 105, "ignored pixels: " + unlabeled);
      assertEquals(105 - unlabeled, labels.sumNumber().longValue(), "one label per labeled pixel");
    }
    NetBuilder b = new NetBuilder(1);
    String in = b.input("input", 4, 5, 7);
    String y = b.conv("conv", in, 4, NetBuilder.size(1), NetBuilder.size(1), NetBuilder.size(0), NetBuilder.size(1), 1,
        true);
    b.output("out", y, Loss.CROSS_ENTROPY, 1);
    ComputationGraph g = new ComputationGraph(b.build());
    g.init();
    g.getParam("conv_W").assign(Nd4j.eye(4).reshape(4, 4, 1, 1));
    g.getParam("conv_b").assign(0);
    g.setInputs(x);
    g.setLabels(labels);
    g.computeGradientAndScore();
    double loss = cases.get(prefix + "loss").data()[0];
    assertEquals(loss, g.score(), 1e-5 * loss, "loss");
    // DL4J's gradients are of the batch's summed loss (its updater divides by the batch), PyTorch's of the mean
    UpsampleParityTest.close(NdNpz.toNd4j(cases.get(prefix + "dweight")), g.gradient().getGradientFor("conv_W").div(3),
        "weight");
    UpsampleParityTest.close(NdNpz.toNd4j(cases.get(prefix + "dbias")),
        g.gradient().getGradientFor("conv_b").reshape(-1).div(3), "bias");
  }

  @Test
  void classMapsBecomeOneHotLabelsAndABadClassIsNamed() {
    INDArray map = Nd4j.createFromArray(new long[][][] {{{0, 2}, {1, 2}}});
    INDArray l = Trainer.pixelLabels(map, 3);
    assertEquals(List.of(1L, 3L, 2L, 2L), java.util.Arrays.stream(l.shape()).boxed().toList());
    assertEquals(1f, l.getFloat(0, 2, 1, 1));
    assertEquals(0f, l.getFloat(0, 1, 1, 1));
    assertEquals(1f, l.getFloat(0, 1, 1, 0));
    assertEquals(4.0, l.sumNumber().doubleValue()); // one class per pixel
    var e = assertThrows(IllegalArgumentException.class,
        () -> Trainer.pixelLabels(Nd4j.createFromArray(new long[][][] {{{0, 3}}}), 3));
    assertEquals("class 3 at example 0, row 0, column 1 is not in [0, 3)", e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Trainer.pixelLabels(Nd4j.zeros(DataType.LONG, 2, 2), 3));
    // ignore_index: 255 is unlabeled (all zeros); any other class out of range is still named
    INDArray ignored = Trainer.pixelLabels(Nd4j.createFromArray(new long[][][] {{{0, 255}, {255, 2}}}), 3, 255);
    assertEquals(2.0, ignored.sumNumber().doubleValue());
    assertEquals(0.0, ignored.get(NDArrayIndex.point(0), NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.point(1))
        .sumNumber().doubleValue());
    assertEquals(1f, ignored.getFloat(0, 2, 1, 1));
    var bad = assertThrows(IllegalArgumentException.class,
        () -> Trainer.pixelLabels(Nd4j.createFromArray(new long[][][] {{{255, 254}}}), 3, 255));
    assertEquals("class 254 at example 0, row 0, column 1 is not in [0, 3)", bad.getMessage());
  }

  @Test
  void fcnResnet50TrainsOnASmallBatch() throws Exception {
    Compiler.Compilation c = Compiler.compile(new Compiler.Request(List.of(Generated.ROOT.resolve("zoo/fcn_resnet50.cnn")),
        List.of(), Map.of("size", new Value.IntV(32), "classes", new Value.IntV(3))));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    ClassLoader loader = Generated.compile(c, dir.resolve("gen"));
    CnnModel model = (CnnModel) loader.loadClass("org.cnnc.zoo."
        + org.cnnc.compiler.codegen.JavaGenerator.javaClassName("fcn_resnet50")).getConstructor().newInstance();
    CnnNetwork net = CnnNetwork.create(model, new NetBuilder(7, new Sgd(0.01)));
    assertTrue(net.untrainable().isEmpty(), net.untrainable().toString());
    Nd4j.getRandom().setSeed(3);
    INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 32, 32);
    // a class map the network can learn: class by the quadrant's brightness
    long[][][] map = new long[2][32][32];
    for (int n = 0; n < 2; n++) {
      for (int i = 0; i < 32; i++) {
        for (int j = 0; j < 32; j++) {
          map[n][i][j] = (i / 16 + j / 16 + n) % 3;
        }
      }
    }
    DataSet d = new DataSet(x, Trainer.pixelLabels(Nd4j.createFromArray(map), 3));
    ComputationGraph g = net.graph();
    g.setInputs(x);
    g.setLabels(d.getLabels());
    g.computeGradientAndScore();
    double before = g.score();
    for (int step = 0; step < 3; step++) {
      g.fit(d);
    }
    g.setInputs(x);
    g.setLabels(d.getLabels());
    g.computeGradientAndScore();
    double after = g.score();
    assertTrue(after < before, "loss " + before + " -> " + after);
    assertEquals(List.of(2L, 3L, 32L, 32L), java.util.Arrays.stream(net.predict(x).get("out").shape()).boxed().toList());
  }
}
