// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Depthwise}'s compact forward (stride 1, an output the input's size: each plane read as it
 * is between gaps of zeros, the taps that fall off a row masked) gives the bits of its padded
 * layout, on every geometry it takes and every fused activation. The input has infinities and NaNs
 * in the first and last columns of some planes: a masked tap must read +0.0 (as padding does), not
 * a product of the neighbouring row's value with zero.
 */
class DepthwiseCompactTest {
  static Stream<Arguments> geometries() {
    List<Arguments> cases = new ArrayList<>();
    int[][] shapes = {
        // batch, c, m, h, w, k, pad, dilation
        {2, 5, 1, 7, 7, 3, 1, 1},     // MobileNet's last maps, a row shorter than a vector
        {2, 3, 1, 14, 14, 3, 1, 1},
        {1, 4, 1, 9, 37, 3, 1, 1},    // rows of several vectors and a part
        {2, 3, 1, 11, 13, 5, 2, 1},   // EfficientNet's 5x5
        {1, 2, 1, 10, 9, 7, 3, 1},    // 7x7 (ConvNeXt)
        {2, 3, 1, 12, 12, 3, 2, 2},   // dilated
        {2, 3, 2, 8, 6, 3, 1, 1},     // two outputs per channel
        {3, 2, 1, 2, 2, 3, 1, 1},     // a map smaller than a vector
        {1, 3, 1, 5, 1, 3, 1, 1},     // one column: every side tap masked
        {1, 2, 1, 1, 20, 3, 1, 1}};   // one row: every tap above and below reads the gaps
    float[] caps = {ChannelKernels.NONE, ChannelKernels.RELU, 6f, ChannelKernels.SILU};
    for (int[] s : shapes) {
      for (float cap : caps) {
        cases.add(Arguments.of(s, cap));
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} cap {1}")
  @MethodSource("geometries")
  void compactGivesThePaddedLayoutsBits(int[] s, float cap) {
    assertTrue(Vectors.on(), "the tests run with the Vector API");
    int b = s[0];
    int c = s[1];
    int m = s[2];
    int h = s[3];
    int w = s[4];
    int k = s[5];
    ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {k, k}, new int[] {1, 1}, new int[] {s[6], s[6]},
        new int[] {s[7], s[7]});
    Depthwise compact = new Depthwise(c, m, h, w, g, true);
    Depthwise padded = new Depthwise(c, m, h, w, g, false);
    assertTrue(compact.compact(), "the geometry takes the compact layout");
    assertFalse(padded.compact());
    Random r = new Random(31L * h + w + k);
    float[] xs = new float[b * c * h * w];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = (float) r.nextGaussian();
    }
    // poison the first column of the first plane and the last column of the second: an output at
    // a row's other end is finite with padding, and a side tap that read across the row's end
    // (into the row after or before) would make it infinite or NaN
    float[] poison = {Float.POSITIVE_INFINITY, Float.NaN, Float.NEGATIVE_INFINITY};
    for (int y = 0; y < h; y++) {
      xs[y * w] = poison[y % 3];
      xs[h * w + y * w + w - 1] = poison[(y + 1) % 3];
    }
    INDArray x = Nd4j.create(xs, new long[] {b, c, h, w});
    float[] wt = new float[c * m * k * k];
    for (int i = 0; i < wt.length; i++) {
      wt[i] = (float) r.nextGaussian();
    }
    float[] bias = new float[c * m];
    for (int i = 0; i < bias.length; i++) {
      bias[i] = (float) r.nextGaussian();
    }
    INDArray yc = Nd4j.create(DataType.FLOAT, b, (long) c * m, h, w);
    INDArray yp = Nd4j.create(DataType.FLOAT, b, (long) c * m, h, w);
    compact.forward(x, wt, bias, cap, yc);
    padded.forward(x, wt, bias, cap, yp);
    int[] ec = KernelHarness.bits(yc);
    int[] ep = KernelHarness.bits(yp);
    assertArrayEquals(ep, ec, "compact and padded layouts");
  }

}
