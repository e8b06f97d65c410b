// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;

import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** cnnc's ReLU layer against DL4J's activation layer: outputs and every gradient through it. */
class CnncReluTest {
  @Test
  void equalsDl4j() {
    ComputationGraph theirs = network(false);
    ComputationGraph ours = network(true);
    ours.setParams(theirs.params().dup());
    Nd4j.getRandom().setSeed(5);
    INDArray x = Nd4j.randn(DataType.FLOAT, 3, 2, 6, 5);
    INDArray y = Nd4j.randn(DataType.FLOAT, 3, 4, 6, 5);
    assertClose(theirs.outputSingle(false, x), ours.outputSingle(false, x), 0, "output");
    TestGraphs.assertSameGradients(theirs, ours, x, y, theirs.paramTable().keySet(), 1e-6);
  }

  /**
   * The backward kernel passes the gradient exactly where the value is above zero: not at +0 or
   * -0, not below, yes for the smallest subnormal and at NaN (PyTorch's rule: zero where
   * {@code x <= 0}); over more than one parallel chunk, with a length that is not a multiple of it.
   */
  @Test
  void backwardPassesTheGradientWhereTheValueIsAboveZero() {
    float[] special = {0f, -0f, -1f, 1f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.NaN, Float.MAX_VALUE,
        -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    int n = 40_000;
    java.util.Random random = new java.util.Random(3);
    float[] y = new float[n];
    float[] eps = new float[n];
    for (int i = 0; i < n; i++) {
      y[i] = i < special.length ? special[i] : (float) random.nextGaussian();
      eps[i] = 1f + random.nextFloat();
    }
    INDArray out = Nd4j.create(DataType.FLOAT, n);
    ChannelKernels.reluBackward(Nd4j.createFromArray(y), Nd4j.createFromArray(eps), out);
    for (int i = 0; i < n; i++) {
      float expected = y[i] <= 0 ? 0f : eps[i];
      org.junit.jupiter.api.Assertions.assertEquals(expected, out.getFloat(i), "at " + i + " (value " + y[i] + ")");
    }
  }

  /** ReLU6 against DL4J's activation layer, on inputs spread past both bends (0 and 6). */
  @Test
  void relu6EqualsDl4j() {
    INDArray out = equalsDl4jsActivationLayer(Activation.RELU6, 8, 6, 0, 1e-6);
    org.junit.jupiter.api.Assertions.assertTrue(out.eq(6).any() && out.eq(0).any(), "outputs at both caps");
  }

  /**
   * cnnc's layer computing {@code fn} against DL4J's activation layer, after a conv whose weights
   * are scaled by {@code scale} (inputs past the bends): the outputs within {@code outputTol}, and
   * every gradient within {@code gradientTol}. Returns cnnc's output.
   */
  static INDArray equalsDl4jsActivationLayer(Activation fn, double scale, long seed, double outputTol,
      double gradientTol) {
    ComputationGraph theirs = TestGraphs.convThen("act", new ActivationLayer(fn), 2, 6, 5, 4);
    ComputationGraph ours = TestGraphs.convThen("act", new CnncRelu(fn), 2, 6, 5, 4);
    ours.setParams(theirs.params().dup().muli(scale));
    theirs.setParams(ours.params().dup());
    Nd4j.getRandom().setSeed(seed);
    INDArray x = Nd4j.randn(DataType.FLOAT, 3, 2, 6, 5);
    INDArray y = Nd4j.randn(DataType.FLOAT, 3, 4, 6, 5);
    INDArray out = ours.outputSingle(false, x);
    assertClose(theirs.outputSingle(false, x), out, outputTol, "output");
    TestGraphs.assertSameGradients(theirs, ours, x, y, theirs.paramTable().keySet(), gradientTol);
    return out;
  }

  /**
   * ReLU6's kernels at the special values, by PyTorch's rules: forward {@code min(max(x, 0), 6)}
   * with NaN kept; backward zero where {@code x <= 0 || x >= 6} (hardtanh_backward), so a NaN passes
   * the gradient; over more than one parallel chunk.
   */
  @Test
  void relu6KernelsFollowPyTorchAtTheBends() {
    float[] special = {0f, -0f, -1f, 1f, 6f, Math.nextDown(6f), Math.nextUp(6f), Float.MIN_VALUE, -Float.MIN_VALUE,
        Float.NaN, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
    int n = 40_000;
    java.util.Random random = new java.util.Random(4);
    float[] x = new float[n];
    float[] eps = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = i < special.length ? special[i] : (float) (4 * random.nextGaussian() + 3);
      eps[i] = 1f + random.nextFloat();
    }
    INDArray y = Nd4j.create(DataType.FLOAT, n);
    INDArray g = Nd4j.create(DataType.FLOAT, n);
    ChannelKernels.clamp(Nd4j.createFromArray(x), y, 6f);
    ChannelKernels.clampBackward(Nd4j.createFromArray(x), Nd4j.createFromArray(eps), g, 6f);
    for (int i = 0; i < n; i++) {
      float expected = Float.isNaN(x[i]) ? Float.NaN : Math.min(Math.max(x[i], 0f), 6f);
      org.junit.jupiter.api.Assertions.assertEquals(expected, y.getFloat(i), "forward at " + i + " (value " + x[i] + ")");
      float grad = x[i] <= 0 || x[i] >= 6 ? 0f : eps[i];
      org.junit.jupiter.api.Assertions.assertEquals(grad, g.getFloat(i), "backward at " + i + " (value " + x[i] + ")");
    }
  }

  static ComputationGraph network(boolean cnnc) {
    return TestGraphs.convThen("relu", cnnc ? new CnncRelu() : new ActivationLayer(Activation.RELU), 2, 6, 5, 4);
  }
}
