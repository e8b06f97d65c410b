package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.GemmConvolutionTest.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * cnnc's max pooling: its output equals a plain loop over each window clipped to the input
 * (PyTorch's semantics, ceil mode included; ParityTest checks the ceil cases against PyTorch
 * itself), and where DL4J's subsampling layer computes the same pooling (floor mode) the outputs
 * and every gradient through it equal DL4J's.
 */
class CnncMaxPoolTest {
  @ParameterizedTest
  @CsvSource({
      // h, w, kernel h, kernel w, stride, padding, dilation, ceil
      "9, 9, 3, 3, 2, 0, 1, false",
      "9, 9, 3, 3, 2, 0, 1, true",
      "8, 8, 3, 3, 1, 1, 1, false",
      "10, 7, 2, 2, 2, 0, 1, true",
      "11, 11, 3, 3, 2, 1, 2, false",
      "12, 9, 3, 2, 3, 1, 1, true",
      "7, 7, 2, 2, 2, 1, 1, false"})
  void equalsTheDefinitionAndDl4j(int h, int w, int kh, int kw, int s, int p, int d, boolean ceil) {
    int[] k = {kh, kw};
    int[] st = {s, s};
    int[] pd = {p, p};
    int[] dl = {d, d};
    ComputationGraph ours = network(new CnncMaxPool(k, st, pd, dl, ceil), h, w);
    Nd4j.getRandom().setSeed(h * 31L + w);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, 3, h, w);
    INDArray conv = ours.feedForward(new INDArray[] {x}, false, false).get("conv").dup();
    INDArray pooled = ours.feedForward(new INDArray[] {x}, false, false).get("pool");
    INDArray expected = naive(conv, k, st, pd, dl, ceil);
    assertArrayEquals(expected.shape(), pooled.shape());
    assertClose(expected, pooled, 0, "output");
    if (ceil) {
      return;
    }
    ComputationGraph theirs = network(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(k).stride(st)
        .padding(pd).dilation(dl).convolutionMode(ConvolutionMode.Truncate).build(), h, w);
    theirs.getParam("conv_W").assign(ours.getParam("conv_W"));
    theirs.getParam("conv_b").assign(ours.getParam("conv_b"));
    INDArray y = Nd4j.randn(DataType.FLOAT, pooled.shape());
    for (ComputationGraph g : new ComputationGraph[] {theirs, ours}) {
      g.setInputs(x);
      g.setLabels(y);
      g.computeGradientAndScore();
    }
    assertTrue(Math.abs(theirs.score() - ours.score()) <= 1e-5 * Math.abs(theirs.score()), "score");
    for (String key : theirs.paramTable().keySet()) {
      assertClose(theirs.gradient().getGradientFor(key), ours.gradient().getGradientFor(key), 1e-5, "gradient " + key);
    }
  }

  /** Max over each window, clipped to the input; PyTorch's output size. */
  static INDArray naive(INDArray x, int[] k, int[] s, int[] p, int[] d, boolean ceil) {
    long h = x.size(2);
    long w = x.size(3);
    long oh = CnncMaxPool.outSize(h, k[0], s[0], p[0], d[0], ceil);
    long ow = CnncMaxPool.outSize(w, k[1], s[1], p[1], d[1], ceil);
    INDArray out = Nd4j.create(DataType.FLOAT, x.size(0), x.size(1), oh, ow);
    for (int n = 0; n < x.size(0); n++) {
      for (int c = 0; c < x.size(1); c++) {
        for (int oy = 0; oy < oh; oy++) {
          for (int ox = 0; ox < ow; ox++) {
            double best = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < k[0]; i++) {
              for (int j = 0; j < k[1]; j++) {
                long iy = (long) oy * s[0] - p[0] + (long) i * d[0];
                long ix = (long) ox * s[1] - p[1] + (long) j * d[1];
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                  best = Math.max(best, x.getDouble(n, c, iy, ix));
                }
              }
            }
            out.putScalar(new long[] {n, c, oy, ox}, best);
          }
        }
      }
    }
    return out;
  }

  static ComputationGraph network(Layer pool, int h, int w) {
    return TestGraphs.convThen("pool", pool, 3, h, w, 3);
  }
}
