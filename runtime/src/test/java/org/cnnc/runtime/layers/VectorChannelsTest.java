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
 * The channel passes on vectors over native memory ({@link VectorChannels}) give the bits of
 * {@link ChannelKernels}' loops over Java arrays (the Vector API off): affine with and without a
 * scale, shift and residual, each activation (SiLU included), over planes with a scalar tail and
 * over a band of each plane; copyRows and swapAxes with and without a value per row. The values
 * tell the roundings apart: -0.0, NaN, infinities, and sums that round differently when fused.
 */
class VectorChannelsTest {
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
    assertArrayEquals(KernelHarness.bits(loops), KernelHarness.bits(vec));
  }

  @ParameterizedTest(name = "rows {0} len {1} add {2} cap {3}")
  @CsvSource({"7, 37, true, Infinity", "5, 16, false, 0", "9, 3, true, 6", "4, 50, true, -Infinity",
      "3, 40, false, Infinity"})
  void copyRowsAndSwapAxesGiveTheLoopsBits(int rows, int len, boolean add, float cap) {
    assertTrue(Vectors.on(), "the tests run with the Vector API");
    Random r = new Random(rows * 100L + len);
    int srcStride = len + 5;
    int dstStride = len + 3;
    INDArray src = Nd4j.create(values(r, rows * srcStride + 4), new long[] {rows * srcStride + 4});
    float[] adds = add ? values(r, rows) : null;
    float[] init = values(r, rows * dstStride + 2);
    INDArray vec = Nd4j.create(init, new long[] {init.length});
    INDArray loops = Nd4j.create(init, new long[] {init.length});
    ChannelKernels.copyRows(src, 2, srcStride, vec, 1, dstStride, rows, len, adds, cap);
    // swapped axes: [rows, 2, len] to [2, rows, len], a value per source row
    INDArray src3 = Nd4j.create(values(r, rows * 2 * len), new long[] {rows, 2, len});
    INDArray vec3 = Nd4j.create(DataType.FLOAT, 2, rows, len);
    INDArray loops3 = Nd4j.create(DataType.FLOAT, 2, rows, len);
    ChannelKernels.swapAxes(src3, vec3, adds, cap);
    KernelSettings before = KernelSettings.use(KernelSettings.current().withVectors(false));
    try {
      ChannelKernels.copyRows(src, 2, srcStride, loops, 1, dstStride, rows, len, adds, cap);
      ChannelKernels.swapAxes(src3, loops3, adds, cap);
    } finally {
      KernelSettings.use(before);
    }
    assertArrayEquals(KernelHarness.bits(loops), KernelHarness.bits(vec), "copyRows");
    // in place: a conv's epilogue on its own output (rows at the same addresses)
    INDArray inVec = Nd4j.create(init, new long[] {init.length});
    INDArray inLoops = Nd4j.create(init, new long[] {init.length});
    ChannelKernels.copyRows(inVec, 1, dstStride, inVec, 1, dstStride, rows, len, adds, cap);
    KernelSettings off = KernelSettings.use(KernelSettings.current().withVectors(false));
    try {
      ChannelKernels.copyRows(inLoops, 1, dstStride, inLoops, 1, dstStride, rows, len, adds, cap);
    } finally {
      KernelSettings.use(off);
    }
    assertArrayEquals(KernelHarness.bits(inLoops), KernelHarness.bits(inVec), "copyRows in place");
    assertArrayEquals(KernelHarness.bits(loops3), KernelHarness.bits(vec3), "swapAxes");
  }

  /**
   * The passes read and write native memory through buffers, which do not keep their arrays
   * alive: a temporary passed in (referenced by nothing after the call starts) must not be freed
   * by a collection while the pass reads it. Every result is checked against the first.
   */
  @org.junit.jupiter.api.Test
  void keepsTemporariesAliveWhileCollectionsRun() {
    Random r = new Random(3);
    int b = 4;
    int c = 16;
    int n = 3136;
    float[] xs = values(r, b * c * n);
    float[] rs = values(r, b * c * n);
    float[] scale = values(r, c);
    float[] shift = values(r, c);
    INDArray expected = Nd4j.create(DataType.FLOAT, b, c, n);
    ChannelKernels.affine(Nd4j.create(xs, new long[] {b, c, n}), scale, shift, Nd4j.create(rs, new long[] {b, c, n}),
        6f, expected, 0, n);
    int[] want = KernelHarness.bits(expected);
    KernelHarness.underCollections(b * c * n, () -> {
      // compiled code takes a few hundred runs: the interpreter keeps every local alive
      for (int i = 0; i < 1200; i++) {
        INDArray out = Nd4j.create(DataType.FLOAT, b, c, n);
        ChannelKernels.affine(Nd4j.create(xs, new long[] {b, c, n}), scale, shift,
            Nd4j.create(rs, new long[] {b, c, n}), 6f, out, 0, n);
        assertArrayEquals(want, KernelHarness.bits(out), "run " + i);
      }
    });
  }

  private static float[] values(Random r, int n) {
    float[] special = {-0f, 0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 6f, -6f, 1e-45f};
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = r.nextInt(5) == 0 ? special[r.nextInt(special.length)] : (float) (r.nextGaussian() * 4);
    }
    return v;
  }

}
