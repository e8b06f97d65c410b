// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
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

  /** Ints of the same shape, for masks over {@link #S}'s lanes. */
  private static final VectorSpecies<Integer> I = S.withLanes(int.class);

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
   * {@link #L}), the taps in order: {@link Depthwise}'s flat forward row. 3x3 kernels have a loop
   * of their own with the offsets and weights held in registers. Larger kernels take the general
   * loop: a 5x5 kernel's 25 weights and offsets held the same way made a method that C1 could not
   * compile ("out of virtual registers"), so it never reached C2 and ran its vectors boxed, 100
   * times slower (docs/performance-history.md, session 17).
   */
  static void flat(float[] dst, int dstAt, int n, float[] src, int[] off, float[] w, int wAt, int taps, float add,
      float cap) {
    if (taps == 9) {
      flat9(dst, dstAt, n, src, off, w, wAt, add, cap);
      return;
    }
    FloatVector b = FloatVector.broadcast(S, add);
    FloatVector zero = FloatVector.zero(S);
    boolean relu = cap > 0;
    boolean capped = relu && cap != Float.POSITIVE_INFINITY;
    FloatVector top = FloatVector.broadcast(S, cap);
    int j = 0;
    // four vectors of outputs at a time: four chains of fused multiply-adds in flight, each tap's
    // weight broadcast once for the four
    for (; j + 4 * L <= n; j += 4 * L) {
      FloatVector a0 = b;
      FloatVector a1 = b;
      FloatVector a2 = b;
      FloatVector a3 = b;
      for (int t = 0; t < taps; t++) {
        FloatVector wt = FloatVector.broadcast(S, w[wAt + t]);
        int at = j + off[t];
        a0 = FloatVector.fromArray(S, src, at).fma(wt, a0);
        a1 = FloatVector.fromArray(S, src, at + L).fma(wt, a1);
        a2 = FloatVector.fromArray(S, src, at + 2 * L).fma(wt, a2);
        a3 = FloatVector.fromArray(S, src, at + 3 * L).fma(wt, a3);
      }
      activate(a0, relu, capped, zero, top).intoArray(dst, dstAt + j);
      activate(a1, relu, capped, zero, top).intoArray(dst, dstAt + j + L);
      activate(a2, relu, capped, zero, top).intoArray(dst, dstAt + j + 2 * L);
      activate(a3, relu, capped, zero, top).intoArray(dst, dstAt + j + 3 * L);
    }
    for (; j < n; j += L) {
      FloatVector a = b;
      for (int t = 0; t < taps; t++) {
        a = FloatVector.fromArray(S, src, j + off[t]).fma(FloatVector.broadcast(S, w[wAt + t]), a);
      }
      activate(a, relu, capped, zero, top).intoArray(dst, dstAt + j);
    }
  }

  /**
   * {@code dst[dstAt + i] = act(add + sum_t w[wAt + t] * tap(t, i))} for {@code i < n} (a multiple
   * of {@link #L}), the taps in order, where {@code tap(t, i)} is {@code src[srcAt + i + off[t]]}
   * with its bits ANDed with {@code mask[t][i]} (+0.0 where the mask is 0; no mask: the value):
   * {@link Depthwise}'s compact forward row. 3x3 kernels have a loop of their own.
   */
  static void compact(float[] dst, int dstAt, int n, float[] src, int srcAt, int[] off, int[][] mask, float[] w,
      int wAt, int taps, float add, float cap) {
    if (taps == 9 && mask[1] == null && mask[0] != null && mask[2] != null) {
      compact9(dst, dstAt, n, src, srcAt, off, mask[0], mask[2], w, wAt, add, cap);
      return;
    }
    FloatVector b = FloatVector.broadcast(S, add);
    FloatVector zero = FloatVector.zero(S);
    boolean relu = cap > 0;
    boolean capped = relu && cap != Float.POSITIVE_INFINITY;
    FloatVector top = FloatVector.broadcast(S, cap);
    int j = 0;
    for (; j + 2 * L <= n; j += 2 * L) {
      FloatVector a0 = b;
      FloatVector a1 = b;
      for (int t = 0; t < taps; t++) {
        FloatVector wt = FloatVector.broadcast(S, w[wAt + t]);
        int at = srcAt + j + off[t];
        FloatVector v0 = FloatVector.fromArray(S, src, at);
        FloatVector v1 = FloatVector.fromArray(S, src, at + L);
        int[] m = mask[t];
        if (m != null) {
          v0 = v0.reinterpretAsInts().and(IntVector.fromArray(I, m, j)).reinterpretAsFloats();
          v1 = v1.reinterpretAsInts().and(IntVector.fromArray(I, m, j + L)).reinterpretAsFloats();
        }
        a0 = v0.fma(wt, a0);
        a1 = v1.fma(wt, a1);
      }
      activate(a0, relu, capped, zero, top).intoArray(dst, dstAt + j);
      activate(a1, relu, capped, zero, top).intoArray(dst, dstAt + j + L);
    }
    for (; j < n; j += L) {
      FloatVector a = b;
      for (int t = 0; t < taps; t++) {
        FloatVector v = FloatVector.fromArray(S, src, srcAt + j + off[t]);
        int[] m = mask[t];
        if (m != null) {
          v = v.reinterpretAsInts().and(IntVector.fromArray(I, m, j)).reinterpretAsFloats();
        }
        a = v.fma(FloatVector.broadcast(S, w[wAt + t]), a);
      }
      activate(a, relu, capped, zero, top).intoArray(dst, dstAt + j);
    }
  }

  /** {@link #compact} for a 3x3 kernel: offsets and weights in registers, the left and right columns' masks loaded once a vector. */
  private static void compact9(float[] dst, int dstAt, int n, float[] src, int srcAt, int[] off, int[] left,
      int[] right, float[] w, int wAt, float add, float cap) {
    int o0 = srcAt + off[0]; int o1 = srcAt + off[1]; int o2 = srcAt + off[2];
    int o3 = srcAt + off[3]; int o4 = srcAt + off[4]; int o5 = srcAt + off[5];
    int o6 = srcAt + off[6]; int o7 = srcAt + off[7]; int o8 = srcAt + off[8];
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
    for (int j = 0; j < n; j += L) {
      IntVector l = IntVector.fromArray(I, left, j);
      IntVector r = IntVector.fromArray(I, right, j);
      FloatVector a = b;
      a = and(FloatVector.fromArray(S, src, j + o0), l).fma(w0, a);
      a = FloatVector.fromArray(S, src, j + o1).fma(w1, a);
      a = and(FloatVector.fromArray(S, src, j + o2), r).fma(w2, a);
      a = and(FloatVector.fromArray(S, src, j + o3), l).fma(w3, a);
      a = FloatVector.fromArray(S, src, j + o4).fma(w4, a);
      a = and(FloatVector.fromArray(S, src, j + o5), r).fma(w5, a);
      a = and(FloatVector.fromArray(S, src, j + o6), l).fma(w6, a);
      a = FloatVector.fromArray(S, src, j + o7).fma(w7, a);
      a = and(FloatVector.fromArray(S, src, j + o8), r).fma(w8, a);
      if (relu) {
        a = a.max(zero);
        if (capped) {
          a = a.min(top);
        }
      }
      a.intoArray(dst, dstAt + j);
    }
  }

  /** {@code v}'s bits ANDed with {@code mask}'s. */
  private static FloatVector and(FloatVector v, IntVector mask) {
    return v.reinterpretAsInts().and(mask).reinterpretAsFloats();
  }

  private static FloatVector activate(FloatVector a, boolean relu, boolean capped, FloatVector zero, FloatVector top) {
    if (!relu) {
      return a;
    }
    a = a.max(zero);
    return capped ? a.min(top) : a;
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
