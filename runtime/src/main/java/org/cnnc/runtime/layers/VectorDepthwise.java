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

  /** Vectors summed in float before their lanes are added in double. */
  private static final int RUN = 64;

  /**
   * {@code sum_i d[dAt + i] * src[i + off[t]]} for {@code i < n} (whole vectors) and every tap,
   * added to tap {@code t}'s vector sum {@code acc[(accAt + t)*L ...]}, which {@code count} vectors have
   * gone into so far: when it reaches {@link #RUN} vectors, its lanes are added to
   * {@code out[outAt + t]} in double, in lane order, and it starts again from zero. So a map of a
   * few vectors does not pay a reduction per plane, and no sum runs long in float. Returns the
   * new count (the same for every tap). Vectors are carried only by the innermost loop: JDK 17's
   * compiler falls back to the API's Java code (an array per operation) for a vector carried
   * across nested loops.
   */
  static int dot(float[] d, int dAt, int n, float[] src, int[] off, int taps, float[] acc, int accAt, double[] out,
      int outAt, int count) {
    int after = count;
    for (int t = 0; t < taps; t++) {
      int o = off[t];
      int c = count;
      int j = 0;
      while (j < n) {
        int end = Math.min(n, j + (RUN - c) * L);
        c += (end - j) / L;
        FloatVector a0 = FloatVector.fromArray(S, acc, (accAt + t) * L);
        FloatVector a1 = FloatVector.zero(S);
        for (; j + 2 * L <= end; j += 2 * L) {
          a0 = FloatVector.fromArray(S, d, dAt + j).fma(FloatVector.fromArray(S, src, o + j), a0);
          a1 = FloatVector.fromArray(S, d, dAt + j + L).fma(FloatVector.fromArray(S, src, o + j + L), a1);
        }
        if (j < end) {
          a0 = FloatVector.fromArray(S, d, dAt + j).fma(FloatVector.fromArray(S, src, o + j), a0);
          j += L;
        }
        a0.add(a1).intoArray(acc, (accAt + t) * L);
        if (c == RUN) {
          flush(acc, accAt + t, out, outAt + t);
          c = 0;
        }
      }
      after = c;
    }
    return after;
  }

  /** Vector sum {@code k} of {@code acc} added to {@code out[at]} in double, lane by lane, and zeroed. */
  static void flush(float[] acc, int k, double[] out, int at) {
    double s = 0;
    for (int i = k * L; i < (k + 1) * L; i++) {
      s += acc[i];
      acc[i] = 0f;
    }
    out[at] += s;
  }

  /** {@code sum_i d[i]} for {@code i < n}: whole vectors in runs as {@link #dot}, the rest in double. */
  static double sum(float[] d, int n, float[] lanes) {
    double s = 0;
    int whole = n / L * L;
    for (int from = 0; from < whole; from += RUN * L) {
      int end = Math.min(whole, from + RUN * L);
      FloatVector a = FloatVector.zero(S);
      for (int j = from; j < end; j += L) {
        a = a.add(FloatVector.fromArray(S, d, j));
      }
      a.intoArray(lanes, 0);
      for (int i = 0; i < L; i++) {
        s += lanes[i];
      }
    }
    for (int i = whole; i < n; i++) {
      s += d[i];
    }
    return s;
  }

  /**
   * {@code dst[dstAt + i] = act(add + sum_t w[wAt + t] * src[i + off[t]])} for {@code i < n} (a multiple of
   * {@link #L}), the taps in order: {@link Depthwise}'s flat forward row. 3x3 and 5x5 kernels have
   * loops of their own with the offsets and weights held in registers (the general loop reloads
   * both for every vector).
   */
  static void flat(float[] dst, int dstAt, int n, float[] src, int[] off, float[] w, int wAt, int taps, float add,
      float cap) {
    if (taps == 9) {
      flat9(dst, dstAt, n, src, off, w, wAt, add, cap);
      return;
    }
    if (taps == 25) {
      flat25(dst, dstAt, n, src, off, w, wAt, add, cap);
      return;
    }
    FloatVector b = FloatVector.broadcast(S, add);
    FloatVector zero = FloatVector.zero(S);
    boolean relu = cap > 0;
    boolean capped = relu && cap != Float.POSITIVE_INFINITY;
    FloatVector top = FloatVector.broadcast(S, cap);
    for (int j = 0; j < n; j += L) {
      FloatVector a = b;
      for (int t = 0; t < taps; t++) {
        a = FloatVector.fromArray(S, src, j + off[t]).fma(FloatVector.broadcast(S, w[wAt + t]), a);
      }
      if (relu) {
        a = a.max(zero);
        if (capped) {
          a = a.min(top);
        }
      }
      a.intoArray(dst, dstAt + j);
    }
  }

  private static void flat9(float[] dst, int dstAt, int n, float[] src, int[] off, float[] w, int wAt, float add, float cap) {
    int o0 = off[0]; int o1 = off[1]; int o2 = off[2]; int o3 = off[3]; int o4 = off[4]; int o5 = off[5]; int o6 = off[6]; int o7 = off[7]; int o8 = off[8];
    FloatVector w0 = FloatVector.broadcast(S, w[wAt + 0]);
    FloatVector w1 = FloatVector.broadcast(S, w[wAt + 1]);
    FloatVector w2 = FloatVector.broadcast(S, w[wAt + 2]);
    FloatVector w3 = FloatVector.broadcast(S, w[wAt + 3]);
    FloatVector w4 = FloatVector.broadcast(S, w[wAt + 4]);
    FloatVector w5 = FloatVector.broadcast(S, w[wAt + 5]);
    FloatVector w6 = FloatVector.broadcast(S, w[wAt + 6]);
    FloatVector w7 = FloatVector.broadcast(S, w[wAt + 7]);
    FloatVector w8 = FloatVector.broadcast(S, w[wAt + 8]);
    FloatVector b = FloatVector.broadcast(S, add);
    FloatVector zero = FloatVector.zero(S);
    boolean relu = cap > 0;
    boolean capped = relu && cap != Float.POSITIVE_INFINITY;
    FloatVector top = FloatVector.broadcast(S, cap);
    int j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      int k = j + L;
      FloatVector a = b;
      FloatVector c = b;
      a = FloatVector.fromArray(S, src, j + o0).fma(w0, a);
      c = FloatVector.fromArray(S, src, k + o0).fma(w0, c);
      a = FloatVector.fromArray(S, src, j + o1).fma(w1, a);
      c = FloatVector.fromArray(S, src, k + o1).fma(w1, c);
      a = FloatVector.fromArray(S, src, j + o2).fma(w2, a);
      c = FloatVector.fromArray(S, src, k + o2).fma(w2, c);
      a = FloatVector.fromArray(S, src, j + o3).fma(w3, a);
      c = FloatVector.fromArray(S, src, k + o3).fma(w3, c);
      a = FloatVector.fromArray(S, src, j + o4).fma(w4, a);
      c = FloatVector.fromArray(S, src, k + o4).fma(w4, c);
      a = FloatVector.fromArray(S, src, j + o5).fma(w5, a);
      c = FloatVector.fromArray(S, src, k + o5).fma(w5, c);
      a = FloatVector.fromArray(S, src, j + o6).fma(w6, a);
      c = FloatVector.fromArray(S, src, k + o6).fma(w6, c);
      a = FloatVector.fromArray(S, src, j + o7).fma(w7, a);
      c = FloatVector.fromArray(S, src, k + o7).fma(w7, c);
      a = FloatVector.fromArray(S, src, j + o8).fma(w8, a);
      c = FloatVector.fromArray(S, src, k + o8).fma(w8, c);
      if (relu) {
        a = a.max(zero);
        c = c.max(zero);
        if (capped) {
          a = a.min(top);
          c = c.min(top);
        }
      }
      a.intoArray(dst, dstAt + j);
      c.intoArray(dst, dstAt + k);
    }
    if (j < n) {
      FloatVector a = b;
      a = FloatVector.fromArray(S, src, j + o0).fma(w0, a);
      a = FloatVector.fromArray(S, src, j + o1).fma(w1, a);
      a = FloatVector.fromArray(S, src, j + o2).fma(w2, a);
      a = FloatVector.fromArray(S, src, j + o3).fma(w3, a);
      a = FloatVector.fromArray(S, src, j + o4).fma(w4, a);
      a = FloatVector.fromArray(S, src, j + o5).fma(w5, a);
      a = FloatVector.fromArray(S, src, j + o6).fma(w6, a);
      a = FloatVector.fromArray(S, src, j + o7).fma(w7, a);
      a = FloatVector.fromArray(S, src, j + o8).fma(w8, a);
      if (relu) {
        a = a.max(zero);
        if (capped) {
          a = a.min(top);
        }
      }
      a.intoArray(dst, dstAt + j);
    }
  }




  private static void flat25(float[] dst, int dstAt, int n, float[] src, int[] off, float[] w, int wAt, float add, float cap) {
    int o0 = off[0]; int o1 = off[1]; int o2 = off[2]; int o3 = off[3]; int o4 = off[4]; int o5 = off[5]; int o6 = off[6]; int o7 = off[7]; int o8 = off[8]; int o9 = off[9]; int o10 = off[10]; int o11 = off[11]; int o12 = off[12]; int o13 = off[13]; int o14 = off[14]; int o15 = off[15]; int o16 = off[16]; int o17 = off[17]; int o18 = off[18]; int o19 = off[19]; int o20 = off[20]; int o21 = off[21]; int o22 = off[22]; int o23 = off[23]; int o24 = off[24];
    FloatVector w0 = FloatVector.broadcast(S, w[wAt + 0]);
    FloatVector w1 = FloatVector.broadcast(S, w[wAt + 1]);
    FloatVector w2 = FloatVector.broadcast(S, w[wAt + 2]);
    FloatVector w3 = FloatVector.broadcast(S, w[wAt + 3]);
    FloatVector w4 = FloatVector.broadcast(S, w[wAt + 4]);
    FloatVector w5 = FloatVector.broadcast(S, w[wAt + 5]);
    FloatVector w6 = FloatVector.broadcast(S, w[wAt + 6]);
    FloatVector w7 = FloatVector.broadcast(S, w[wAt + 7]);
    FloatVector w8 = FloatVector.broadcast(S, w[wAt + 8]);
    FloatVector w9 = FloatVector.broadcast(S, w[wAt + 9]);
    FloatVector w10 = FloatVector.broadcast(S, w[wAt + 10]);
    FloatVector w11 = FloatVector.broadcast(S, w[wAt + 11]);
    FloatVector w12 = FloatVector.broadcast(S, w[wAt + 12]);
    FloatVector w13 = FloatVector.broadcast(S, w[wAt + 13]);
    FloatVector w14 = FloatVector.broadcast(S, w[wAt + 14]);
    FloatVector w15 = FloatVector.broadcast(S, w[wAt + 15]);
    FloatVector w16 = FloatVector.broadcast(S, w[wAt + 16]);
    FloatVector w17 = FloatVector.broadcast(S, w[wAt + 17]);
    FloatVector w18 = FloatVector.broadcast(S, w[wAt + 18]);
    FloatVector w19 = FloatVector.broadcast(S, w[wAt + 19]);
    FloatVector w20 = FloatVector.broadcast(S, w[wAt + 20]);
    FloatVector w21 = FloatVector.broadcast(S, w[wAt + 21]);
    FloatVector w22 = FloatVector.broadcast(S, w[wAt + 22]);
    FloatVector w23 = FloatVector.broadcast(S, w[wAt + 23]);
    FloatVector w24 = FloatVector.broadcast(S, w[wAt + 24]);
    FloatVector b = FloatVector.broadcast(S, add);
    FloatVector zero = FloatVector.zero(S);
    boolean relu = cap > 0;
    boolean capped = relu && cap != Float.POSITIVE_INFINITY;
    FloatVector top = FloatVector.broadcast(S, cap);
    int j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      int k = j + L;
      FloatVector a = b;
      FloatVector c = b;
      a = FloatVector.fromArray(S, src, j + o0).fma(w0, a);
      c = FloatVector.fromArray(S, src, k + o0).fma(w0, c);
      a = FloatVector.fromArray(S, src, j + o1).fma(w1, a);
      c = FloatVector.fromArray(S, src, k + o1).fma(w1, c);
      a = FloatVector.fromArray(S, src, j + o2).fma(w2, a);
      c = FloatVector.fromArray(S, src, k + o2).fma(w2, c);
      a = FloatVector.fromArray(S, src, j + o3).fma(w3, a);
      c = FloatVector.fromArray(S, src, k + o3).fma(w3, c);
      a = FloatVector.fromArray(S, src, j + o4).fma(w4, a);
      c = FloatVector.fromArray(S, src, k + o4).fma(w4, c);
      a = FloatVector.fromArray(S, src, j + o5).fma(w5, a);
      c = FloatVector.fromArray(S, src, k + o5).fma(w5, c);
      a = FloatVector.fromArray(S, src, j + o6).fma(w6, a);
      c = FloatVector.fromArray(S, src, k + o6).fma(w6, c);
      a = FloatVector.fromArray(S, src, j + o7).fma(w7, a);
      c = FloatVector.fromArray(S, src, k + o7).fma(w7, c);
      a = FloatVector.fromArray(S, src, j + o8).fma(w8, a);
      c = FloatVector.fromArray(S, src, k + o8).fma(w8, c);
      a = FloatVector.fromArray(S, src, j + o9).fma(w9, a);
      c = FloatVector.fromArray(S, src, k + o9).fma(w9, c);
      a = FloatVector.fromArray(S, src, j + o10).fma(w10, a);
      c = FloatVector.fromArray(S, src, k + o10).fma(w10, c);
      a = FloatVector.fromArray(S, src, j + o11).fma(w11, a);
      c = FloatVector.fromArray(S, src, k + o11).fma(w11, c);
      a = FloatVector.fromArray(S, src, j + o12).fma(w12, a);
      c = FloatVector.fromArray(S, src, k + o12).fma(w12, c);
      a = FloatVector.fromArray(S, src, j + o13).fma(w13, a);
      c = FloatVector.fromArray(S, src, k + o13).fma(w13, c);
      a = FloatVector.fromArray(S, src, j + o14).fma(w14, a);
      c = FloatVector.fromArray(S, src, k + o14).fma(w14, c);
      a = FloatVector.fromArray(S, src, j + o15).fma(w15, a);
      c = FloatVector.fromArray(S, src, k + o15).fma(w15, c);
      a = FloatVector.fromArray(S, src, j + o16).fma(w16, a);
      c = FloatVector.fromArray(S, src, k + o16).fma(w16, c);
      a = FloatVector.fromArray(S, src, j + o17).fma(w17, a);
      c = FloatVector.fromArray(S, src, k + o17).fma(w17, c);
      a = FloatVector.fromArray(S, src, j + o18).fma(w18, a);
      c = FloatVector.fromArray(S, src, k + o18).fma(w18, c);
      a = FloatVector.fromArray(S, src, j + o19).fma(w19, a);
      c = FloatVector.fromArray(S, src, k + o19).fma(w19, c);
      a = FloatVector.fromArray(S, src, j + o20).fma(w20, a);
      c = FloatVector.fromArray(S, src, k + o20).fma(w20, c);
      a = FloatVector.fromArray(S, src, j + o21).fma(w21, a);
      c = FloatVector.fromArray(S, src, k + o21).fma(w21, c);
      a = FloatVector.fromArray(S, src, j + o22).fma(w22, a);
      c = FloatVector.fromArray(S, src, k + o22).fma(w22, c);
      a = FloatVector.fromArray(S, src, j + o23).fma(w23, a);
      c = FloatVector.fromArray(S, src, k + o23).fma(w23, c);
      a = FloatVector.fromArray(S, src, j + o24).fma(w24, a);
      c = FloatVector.fromArray(S, src, k + o24).fma(w24, c);
      if (relu) {
        a = a.max(zero);
        c = c.max(zero);
        if (capped) {
          a = a.min(top);
          c = c.min(top);
        }
      }
      a.intoArray(dst, dstAt + j);
      c.intoArray(dst, dstAt + k);
    }
    if (j < n) {
      FloatVector a = b;
      a = FloatVector.fromArray(S, src, j + o0).fma(w0, a);
      a = FloatVector.fromArray(S, src, j + o1).fma(w1, a);
      a = FloatVector.fromArray(S, src, j + o2).fma(w2, a);
      a = FloatVector.fromArray(S, src, j + o3).fma(w3, a);
      a = FloatVector.fromArray(S, src, j + o4).fma(w4, a);
      a = FloatVector.fromArray(S, src, j + o5).fma(w5, a);
      a = FloatVector.fromArray(S, src, j + o6).fma(w6, a);
      a = FloatVector.fromArray(S, src, j + o7).fma(w7, a);
      a = FloatVector.fromArray(S, src, j + o8).fma(w8, a);
      a = FloatVector.fromArray(S, src, j + o9).fma(w9, a);
      a = FloatVector.fromArray(S, src, j + o10).fma(w10, a);
      a = FloatVector.fromArray(S, src, j + o11).fma(w11, a);
      a = FloatVector.fromArray(S, src, j + o12).fma(w12, a);
      a = FloatVector.fromArray(S, src, j + o13).fma(w13, a);
      a = FloatVector.fromArray(S, src, j + o14).fma(w14, a);
      a = FloatVector.fromArray(S, src, j + o15).fma(w15, a);
      a = FloatVector.fromArray(S, src, j + o16).fma(w16, a);
      a = FloatVector.fromArray(S, src, j + o17).fma(w17, a);
      a = FloatVector.fromArray(S, src, j + o18).fma(w18, a);
      a = FloatVector.fromArray(S, src, j + o19).fma(w19, a);
      a = FloatVector.fromArray(S, src, j + o20).fma(w20, a);
      a = FloatVector.fromArray(S, src, j + o21).fma(w21, a);
      a = FloatVector.fromArray(S, src, j + o22).fma(w22, a);
      a = FloatVector.fromArray(S, src, j + o23).fma(w23, a);
      a = FloatVector.fromArray(S, src, j + o24).fma(w24, a);
      if (relu) {
        a = a.max(zero);
        if (capped) {
          a = a.min(top);
        }
      }
      a.intoArray(dst, dstAt + j);
    }
  }




  /**
   * {@code n} floats a row from {@code src} (rows {@code srcStep} apart) to {@code dst} (rows
   * {@code dstStep} apart), in order, in whole vectors: a row of {@code n >= L} floats ends with a
   * vector that overlaps the one before it; a shorter one is copied as one vector, which reads and
   * writes {@code L - n} floats past the row's end.
   */
  static void copyRows(float[] src, int srcAt, int srcStep, float[] dst, int dstAt, int dstStep, int rows, int n) {
    for (int r = 0; r < rows; r++) {
      int s = srcAt + r * srcStep;
      int d = dstAt + r * dstStep;
      if (n < L) {
        FloatVector.fromArray(S, src, s).intoArray(dst, d);
        continue;
      }
      int j = 0;
      for (; j + L <= n; j += L) {
        FloatVector.fromArray(S, src, s + j).intoArray(dst, d + j);
      }
      if (j < n) {
        FloatVector.fromArray(S, src, s + n - L).intoArray(dst, d + n - L);
      }
    }
  }

  /** Zeros {@code L} floats of {@code a} from {@code at}. */
  static void zero(float[] a, int at) {
    FloatVector.zero(S).intoArray(a, at);
  }
}
