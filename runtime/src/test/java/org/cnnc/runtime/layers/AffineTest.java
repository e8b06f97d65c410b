// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link ChannelKernels#affine}'s pass on vectors over native memory ({@link VectorChannels}) gives
 * the bits of its loops over Java arrays (the Vector API off): with and without a scale, shift and
 * residual, each activation, over planes with a scalar tail and over a band of each plane, on
 * values that tell the roundings apart (SiLU included): -0.0, NaN, infinities, and sums that round differently
 * when fused.
 */
class AffineTest {
  @ParameterizedTest(name = "b {0} c {1} n {2} band {3}+{4} residual {5} scaled {6} cap {7}")
  @CsvSource({
      "2, 5, 49, 0, 49, false, true, 6",
      "2, 5, 49, 0, 49, true, true, Infinity",
      "1, 3, 37, 0, 37, true, false, 0",
      "1, 3, 37, 0, 37, false, false, 0",
      "1, 3, 37, 0, 37, false, false, Infinity",
      "3, 4, 196, 0, 196, true, true, 6",
      "2, 3, 100, 20, 45, true, true, Infinity",
      "2, 3, 100, 7, 16, false, true, 0",
      "1, 2, 5, 0, 5, true, true, 6",
      "2, 5, 49, 0, 49, false, true, -Infinity",
      "2, 3, 100, 20, 45, true, true, -Infinity",
      "1, 3, 37, 0, 37, true, false, -Infinity"})
  void vectorsOverNativeMemoryGiveTheLoopsBits(int b, int c, int n, int from, int len, boolean residual,
      boolean scaled, float cap) {
    assertTrue(Vectors.on(), "the tests run with the Vector API");
    Random r = new Random(b * 1000L + c * 100L + n + from);
    float[] special = {-0f, 0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 6f, -6f, 1e-45f};
    float[] xs = new float[b * c * n];
    float[] rs = new float[b * c * n];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = r.nextInt(5) == 0 ? special[r.nextInt(special.length)] : (float) (r.nextGaussian() * 4);
      rs[i] = r.nextInt(5) == 0 ? special[r.nextInt(special.length)] : (float) (r.nextGaussian() * 4);
    }
    float[] scale = scaled ? new float[c] : null;
    float[] shift = scaled ? new float[c] : null;
    for (int i = 0; scaled && i < c; i++) {
      scale[i] = (float) r.nextGaussian();
      shift[i] = i == 0 ? -0f : (float) r.nextGaussian();
    }
    INDArray x = Nd4j.create(xs, new long[] {b, c, n});
    INDArray res = residual ? Nd4j.create(rs, new long[] {b, c, n}) : null;
    INDArray vec = Nd4j.create(xs, new long[] {b, c, n});
    INDArray loops = Nd4j.create(xs, new long[] {b, c, n});
    ChannelKernels.affine(x, scale, shift, res, cap, vec, from, len);
    KernelSettings before = KernelSettings.use(KernelSettings.current().withVectors(false));
    try {
      ChannelKernels.affine(x, scale, shift, res, cap, loops, from, len);
    } finally {
      KernelSettings.use(before);
    }
    assertArrayEquals(bits(loops), bits(vec));
  }

  private static int[] bits(INDArray a) {
    float[] f = a.data().asFloat();
    int[] out = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = Float.floatToRawIntBits(f[i]);
    }
    return out;
  }
}
