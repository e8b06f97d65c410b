// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Batch norm's sums and the fused activations' backward masks on the Vector API
 * ({@link VectorSums}) give the bits of {@link ChannelKernels}' scalar loops (the Vector API off),
 * at lengths with and without a tail, from offsets, with values that tell orders of addition and
 * roundings apart (magnitudes from 1e-30 to 1e30, so a different order of the partial sums or a
 * fused multiply-add changes the result) and every special value the masks compare: NaN of both
 * signs, -0.0, infinities, denormals, the cap itself and the floats around it.
 */
class VectorSumsTest {
  private static final float[] SPECIAL = {-0f, 0f, Float.NaN, Float.intBitsToFloat(0xffc00000),
      Float.intBitsToFloat(0x7f800001), Float.intBitsToFloat(0xff800001), Float.POSITIVE_INFINITY,
      Float.NEGATIVE_INFINITY, 1e-45f, -1e-45f, Float.MIN_NORMAL, 6f, Math.nextUp(6f), Math.nextDown(6f), -6f,
      Float.MAX_VALUE, -Float.MAX_VALUE};

  private static float[] values(Random r, int n, boolean special) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      if (special && r.nextInt(4) == 0) {
        v[i] = SPECIAL[r.nextInt(SPECIAL.length)];
      } else {
        v[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(61) - 30));
      }
    }
    return v;
  }

  private static <T> T scalar(Supplier<T> run) {
    KernelSettings before = KernelSettings.use(KernelSettings.current().withVectors(false));
    try {
      return run.get();
    } finally {
      KernelSettings.use(before);
    }
  }

  @ParameterizedTest(name = "n {0}")
  @ValueSource(ints = {0, 1, 7, 8, 9, 15, 16, 17, 31, 64, 100, 1001, 12544})
  void sumsGiveTheScalarLoopsBits(int n) {
    assertTrue(Vectors.on() && VectorSums.USABLE, "the tests run with the Vector API on a machine of 256-bit vectors");
    Random r = new Random(n * 31L + 7);
    for (int from : new int[] {0, 3, 8}) {
      float[] p = values(r, from + n, false);
      float[] d = values(r, from + n, false);
      float[] q = java.util.Arrays.copyOf(p, n);
      double mean = r.nextGaussian() * 1e3;
      float mu = (float) (r.nextGaussian() * 1e3);
      assertEquals(Double.doubleToRawLongBits(scalar(() -> ChannelKernels.sum(q, n))),
          Double.doubleToRawLongBits(ChannelKernels.sum(q, n)), "sum");
      assertEquals(Double.doubleToRawLongBits(scalar(() -> ChannelKernels.squaredDeviations(q, n, mean))),
          Double.doubleToRawLongBits(ChannelKernels.squaredDeviations(q, n, mean)), "squared deviations");
      assertEquals(Double.doubleToRawLongBits(scalar(() -> ChannelKernels.dotDeviations(d, p, from, n, mu))),
          Double.doubleToRawLongBits(ChannelKernels.dotDeviations(d, p, from, n, mu)), "dot from " + from);
    }
    // a NaN or an infinity anywhere reaches the sum as in the loops (a NaN's sign and payload may
    // differ: which operand's NaN an add passes on is the hardware's choice)
    float[] s = values(r, n, true);
    double loops = scalar(() -> ChannelKernels.sum(s, n));
    double vec = ChannelKernels.sum(s, n);
    assertTrue(Double.doubleToRawLongBits(loops) == Double.doubleToRawLongBits(vec)
        || Double.isNaN(loops) && Double.isNaN(vec), "sum of special values: " + loops + " against " + vec);
  }

  @ParameterizedTest(name = "n {0}")
  @ValueSource(ints = {1, 5, 16, 23, 49, 64, 100, 3136})
  void masksGiveTheScalarLoopsBits(int n) {
    assertTrue(Vectors.on() && VectorSums.USABLE, "the tests run with the Vector API on a machine of 256-bit vectors");
    Random r = new Random(n * 17L + 3);
    for (int at : new int[] {0, 5, 32}) {
      float[] y = values(r, n, true);
      float[] d = values(r, at + n, true);
      for (float cap : new float[] {6f, 1f, Float.MIN_VALUE, Float.MAX_VALUE}) {
        float[] loops = scalar(() -> {
          float[] e = d.clone();
          ChannelKernels.insideOnly(e, at, y, n, cap);
          return e;
        });
        float[] vec = d.clone();
        ChannelKernels.insideOnly(vec, at, y, n, cap);
        assertArrayEquals(bits(loops), bits(vec), "relu6-like mask at " + at + " cap " + cap);
      }
      float[] loops = scalar(() -> {
        float[] e = d.clone();
        ChannelKernels.positiveOnly(e, at, y, n);
        return e;
      });
      float[] vec = d.clone();
      ChannelKernels.positiveOnly(vec, at, y, n);
      assertArrayEquals(bits(loops), bits(vec), "ReLU mask at " + at);
      // the values before the offset are left alone
      for (int i = 0; i < at; i++) {
        assertEquals(Float.floatToRawIntBits(d[i]), Float.floatToRawIntBits(vec[i]));
      }
    }
  }

  private static int[] bits(float[] v) {
    int[] b = new int[v.length];
    for (int i = 0; i < v.length; i++) {
      b[i] = Float.floatToRawIntBits(v[i]);
    }
    return b;
  }
}
