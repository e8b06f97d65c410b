// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of {@link Depthwise} on the Vector API (the JVM's preferred species: 16 lanes
 * with AVX-512, 8 with AVX2), loaded only when {@link Vectors#on()}. Every loop works on whole
 * vectors ({@code n} a multiple of {@link #L}); {@link Depthwise} sizes its planes so that the
 * lanes past a row's end read zeros or finite values and are written where a later store
 * overwrites them. Sums over lanes go through an array in lane order, never
 * {@code reduceLanes} (whose order may differ between the interpreter and compiled code).
 */
final class VectorDepthwise {
  private VectorDepthwise() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  /** The vector length in floats. */
  static final int L = S.length();

  /**
   * {@code dst[dstAt + r*dstStep + i] = act(add + sum_t w[wAt + t] * src[srcAt + r*srcStep + off[t] + i])}
   * for rows {@code r < rows} and {@code i < n}, {@code act} the ReLU when {@code relu}. Two rows
   * go together (two independent sums per tap); within them the vectors are stored last one
   * first, so that a row's last vector, which may run into the next row of a compact plane, is
   * overwritten by that row's first.
   */
  static void conv(float[] dst, int dstAt, int dstStep, int rows, int n, float[] src, int srcAt, int srcStep,
      int[] off, float[] w, int wAt, int taps, float add, boolean relu) {
    FloatVector b = FloatVector.broadcast(S, add);
    FloatVector zero = FloatVector.zero(S);
    int r = 0;
    for (; r + 2 <= rows; r += 2) {
      int s0 = srcAt + r * srcStep;
      int d0 = dstAt + r * dstStep;
      for (int j = n - L; j >= 0; j -= L) {
        FloatVector a0 = b;
        FloatVector a1 = b;
        for (int t = 0; t < taps; t++) {
          FloatVector wv = FloatVector.broadcast(S, w[wAt + t]);
          int o = s0 + off[t] + j;
          a0 = FloatVector.fromArray(S, src, o).fma(wv, a0);
          a1 = FloatVector.fromArray(S, src, o + srcStep).fma(wv, a1);
        }
        if (relu) {
          a0 = a0.max(zero);
          a1 = a1.max(zero);
        }
        a0.intoArray(dst, d0 + j);
        a1.intoArray(dst, d0 + dstStep + j);
      }
    }
    if (r < rows) {
      int s0 = srcAt + r * srcStep;
      int d0 = dstAt + r * dstStep;
      for (int j = n - L; j >= 0; j -= L) {
        FloatVector a0 = b;
        for (int t = 0; t < taps; t++) {
          a0 = FloatVector.fromArray(S, src, s0 + off[t] + j).fma(FloatVector.broadcast(S, w[wAt + t]), a0);
        }
        if (relu) {
          a0 = a0.max(zero);
        }
        a0.intoArray(dst, d0 + j);
      }
    }
  }

  /**
   * {@code out[outAt + t] += sum_r sum_i d[dAt + r*dStep + i] * src[srcAt + r*srcStep + off[t] + i]}
   * for {@code r < rows}, {@code i < n}: per tap and column of vectors, even and odd rows in two
   * vector sums, whose lanes are then added in double in lane order. Vectors are carried only by
   * the innermost loop: JDK 17's compiler falls back to the API's Java code (an array per
   * operation) for a vector carried across nested loops, which made this 30x slower.
   */
  static void dot(float[] d, int dAt, int dStep, int rows, int n, float[] src, int srcAt, int srcStep, int[] off,
      int taps, double[] out, int outAt, float[] lanes) {
    int pairs = rows / 2;
    int d2 = 2 * dStep;
    int s2 = 2 * srcStep;
    for (int t = 0; t < taps; t++) {
      double s = 0;
      for (int j = 0; j < n; j += L) {
        int dj = dAt + j;
        int sj = srcAt + off[t] + j;
        FloatVector a0 = FloatVector.zero(S);
        FloatVector a1 = FloatVector.zero(S);
        for (int p = 0; p < pairs; p++) {
          a0 = FloatVector.fromArray(S, d, dj + p * d2).fma(FloatVector.fromArray(S, src, sj + p * s2), a0);
          a1 = FloatVector.fromArray(S, d, dj + p * d2 + dStep).fma(FloatVector.fromArray(S, src, sj + p * s2 + srcStep), a1);
        }
        if (rows % 2 != 0) {
          a0 = FloatVector.fromArray(S, d, dj + pairs * d2).fma(FloatVector.fromArray(S, src, sj + pairs * s2), a0);
        }
        a0.add(a1).intoArray(lanes, 0);
        for (int i = 0; i < L; i++) {
          s += lanes[i];
        }
      }
      out[outAt + t] += s;
    }
  }

  /** {@code sum_r sum_i d[dAt + r*dStep + i]} for {@code r < rows}, {@code i < n}, lanes added in double in order. */
  static double sum(float[] d, int dAt, int dStep, int rows, int n, float[] lanes) {
    double s = 0;
    for (int j = 0; j < n; j += L) {
      FloatVector a = FloatVector.zero(S);
      for (int r = 0; r < rows; r++) {
        a = a.add(FloatVector.fromArray(S, d, dAt + r * dStep + j));
      }
      a.intoArray(lanes, 0);
      for (int i = 0; i < L; i++) {
        s += lanes[i];
      }
    }
    return s;
  }
}
