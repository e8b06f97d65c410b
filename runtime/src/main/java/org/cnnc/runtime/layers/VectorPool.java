// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Max pooling of one map plane with the Vector API, a vector of adjacent outputs of one output row
 * at a time: {@link CnncMaxPool}'s kernel when {@link Vectors#on()}. The plane is first copied into
 * a padded plane, -inf around the input and its columns split by phase ({@code x mod stride}), so
 * that every kernel tap of a row of outputs reads adjacent floats whatever the stride. Training
 * keeps PyTorch's scan: a tap replaces the kept value when it is greater or NaN, taps in row-major
 * order, so the argmax is the first maximum (the last NaN), and the kept value is that input's; a
 * window's -inf padding never wins (it is never greater), and an all -inf window keeps its first
 * tap inside the input, as PyTorch's does. Positions are kept as floats, exact below 2^24 (see
 * {@link #fits}). Loop-carried vectors are kept in arrays, not locals: JDK 17's compiler boxes a
 * vector that a loop carries, which made a first version 7x slower.
 */
final class VectorPool {
  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
  private static final int L = S.length();

  final int h;
  final int w;
  final int oh;
  final int ow;
  /** {@code ow} rounded up to whole vectors: the row length of {@link #best} and {@link #arg}. */
  final int owv;
  private final int s0;
  private final int s1;
  private final int p0;
  private final int p1;
  /** The padded plane: {@code rows} rows, each {@code s1} phase rows of {@code phaseW} floats. */
  private final int phaseW;
  private final int rows;
  /** Each tap's offset in the padded plane from its output's first padded row and slot. */
  private final int[] tapOffset;
  /** Each tap's position in the plane, from {@code oy * s0 * w + ox * s1}. */
  private final float[] tapPosition;
  /** Each output's first tap inside the input ({@code oh x owv}), its argmax until a tap wins. */
  private final float[] firstTap;
  /** The lanes' column offsets: {@code lane * s1}. */
  private final FloatVector lanes;
  private final int k0;
  private final int k1;
  /** Whether {@link #maxSeparable} applies: no dilation. */
  final boolean separable;

  /** Positions are exact as floats: the plane holds fewer than 2^24 values. */
  static boolean fits(long h, long w) {
    return h * w < (1 << 24);
  }

  VectorPool(int h, int w, int[] k, int[] s, int[] p, int[] d, int oh, int ow) {
    this.h = h;
    this.w = w;
    this.oh = oh;
    this.ow = ow;
    this.s0 = s[0];
    this.s1 = s[1];
    this.p0 = p[0];
    this.p1 = p[1];
    this.k0 = k[0];
    this.k1 = k[1];
    separable = d[0] == 1 && d[1] == 1;
    owv = (ow + L - 1) / L * L;
    phaseW = owv + (k[1] - 1) * d[1] / s1 + 1;
    rows = (oh - 1) * s0 + (k[0] - 1) * d[0] + 1;
    tapOffset = new int[k[0] * k[1]];
    tapPosition = new float[k[0] * k[1]];
    for (int i = 0; i < k[0]; i++) {
      for (int j = 0; j < k[1]; j++) {
        int column = j * d[1];
        tapOffset[i * k[1] + j] = (i * d[0] * s1 + column % s1) * phaseW + column / s1;
        tapPosition[i * k[1] + j] = (i * d[0] - p0) * w + column - p1;
      }
    }
    firstTap = new float[oh * owv];
    for (int oy = 0; oy < oh; oy++) {
      int y0 = oy * s0 - p0;
      int y = y0 + (y0 >= 0 ? 0 : (-y0 + d[0] - 1) / d[0] * d[0]);
      for (int ox = 0; ox < ow; ox++) {
        int x0 = ox * s1 - p1;
        firstTap[oy * owv + ox] = y * w + x0 + (x0 >= 0 ? 0 : (-x0 + d[1] - 1) / d[1] * d[1]);
      }
    }
    float[] offsets = new float[L];
    for (int q = 0; q < L; q++) {
      offsets[q] = q * s1;
    }
    lanes = FloatVector.fromArray(S, offsets, 0);
    same = separable && s0 == 1 && s1 == 1 && oh == h && ow == w && k0 == 2 * p0 + 1 && k1 == 2 * p1 + 1 && p1 <= L;
    sameColumns = same ? sameColumns() : null;
  }

  int paddedSize() {
    return rows * s1 * phaseW;
  }

  int outputSize() {
    return oh * owv;
  }

  /** Lays plane {@code in[off ...]} out in {@code padded}: input column x at phase (x + p1) mod s1, slot (x + p1) / s1. */
  void pad(float[] in, int off, float[] padded) {
    Arrays.fill(padded, 0, paddedSize(), Float.NEGATIVE_INFINITY);
    for (int r = 0; r < rows; r++) {
      int y = r - p0;
      if (y < 0 || y >= h) {
        continue;
      }
      int src = off + y * w;
      if (s1 == 1) {
        int x0 = Math.max(0, -p1);
        int x1 = Math.min(w, phaseW - p1);
        System.arraycopy(in, src + x0, padded, r * phaseW + x0 + p1, x1 - x0);
        continue;
      }
      for (int phase = 0; phase < s1; phase++) {
        int dst = (r * s1 + phase) * phaseW;
        int m0 = Math.max(0, Math.floorDiv(p1 - phase + s1 - 1, s1));
        int m1 = Math.min(phaseW, Math.floorDiv(w - 1 + p1 - phase, s1) + 1);
        int x = src + m0 * s1 + phase - p1;
        for (int m = m0; m < m1; m++, x += s1) {
          padded[dst + m] = in[x];
        }
      }
    }
  }

  /** The length of {@link #maxSeparable}'s row of column maxima: the padding, the columns read, and again the padding. */
  int rowSize() {
    return (ow - 1) * s1 + k1;
  }

  /** Lanes {@code 0, 2, 4, ...} and {@code 1, 3, 5, ...} of two vectors, wrapped: lane {@code i} of each half takes {@code 2i} (+1) of its vector. */
  private static final VectorShuffle<Float> EVEN = VectorShuffle.fromOp(S, i -> (2 * i) % L);
  private static final VectorShuffle<Float> ODD = VectorShuffle.fromOp(S, i -> (2 * i + 1) % L);
  /** The upper half of the lanes, which take the second vector's. */
  private static final VectorMask<Float> UPPER = VectorMask.fromLong(S, -1L << (L / 2));

  /** Whether {@link #maxSeparable} splits its rows by column phase on vectors (stride 2 across). */
  private boolean split() {
    return s1 == 2;
  }

  /**
   * The floats {@link #maxSeparable} needs in {@code row} and in {@code cols}: past {@link
   * #rowSize()}, whole vectors read beyond a row's end when it is split by phase (their lanes land
   * past the outputs kept).
   */
  int scratchSize() {
    return Math.max(rowSize(), 2 * phaseStride()) + 2 * L;
  }

  /** Where the odd columns start in {@link #maxSeparable}'s {@code cols} when it splits rows by phase. */
  private int phaseStride() {
    return owv + k1 + L;
  }

  /** The floats each array of {@link #infer} needs (its output, {@code res}, aside). */
  int inferenceSize() {
    return same ? h * w + 2 * L : flat() ? flatSize() : Math.max(h * w, scratchSize());
  }

  /**
   * Whether {@link #maxSame} applies: stride 1, no dilation, and an output the input's size (an
   * odd kernel padded by half on each side: GoogLeNet's Inception poolings, 3x3 with padding 1).
   */
  private final boolean same;

  /**
   * For {@link #maxSame}, made with the geometry: for each column tap {@code j} (a shift of
   * {@code j - p1}), which positions of the plane have that neighbour in their row (and a
   * vector's slack of false); null when not {@link #same}.
   */
  private final boolean[][] sameColumns;

  private boolean[][] sameColumns() {
    boolean[][] c = new boolean[k1][];
    for (int j = 0; j < k1; j++) {
      int dx = j - p1;
      c[j] = new boolean[h * w + L];
      for (int i = 0; i < h * w; i++) {
        int x = i % w + dx;
        c[j][i] = x >= 0 && x < w;
      }
    }
    return c;
  }

  /**
   * Inference for {@link #same}: the plane at {@code at} of {@code src} pooled into {@code out}
   * ({@code h * w}), read where it lies, with no padded copy and no row by row copies (which cost
   * more than the maxima on GoogLeNet's 14x14 and 7x7 maps). The window's maximum over its rows
   * into {@code v} (from {@code L}, a vector's slack either side): the centre row, then each
   * other row's shift over the rows that have it, one flat run each; then over its columns into
   * {@code out}: the centre, then each shift where the neighbour is in the same row (a mask per
   * shift). The taps of the other kernels, so the same bits.
   */
  private void maxSame(float[] src, int at, float[] out, float[] v) {
    int n = h * w;
    System.arraycopy(src, at, v, L, n);
    for (int i = 0; i < k0; i++) {
      int dy = i - p0;
      if (dy == 0) {
        continue;
      }
      int y0 = Math.max(0, -dy);
      int y1 = Math.min(h, h - dy);
      int from = y0 * w;
      int len = (y1 - y0) * w;
      ChannelKernels.maxInto(v, L + from, src, at + from + dy * w, len, true);
    }
    System.arraycopy(v, L, out, 0, n);
    boolean[][] columns = sameColumns;
    for (int j = 0; j < k1; j++) {
      int dx = j - p1;
      if (dx == 0) {
        continue;
      }
      boolean[] ok = columns[j];
      int q = 0;
      for (int end = S.loopBound(n); q < end; q += L) {
        FloatVector.fromArray(S, out, q)
            .lanewise(VectorOperators.MAX, FloatVector.fromArray(S, v, L + q + dx), VectorMask.fromArray(S, ok, q))
            .intoArray(out, q);
      }
      for (; q < n; q++) {
        if (ok[q]) {
          out[q] = Math.max(out[q], v[L + q + dx]);
        }
      }
    }
  }

  /** Readies a task's first array for {@link #infer} (the flat kernel's -inf padding). */
  void startInference(float[] plane) {
    if (!same && flat()) {
      clearFlat(plane);
    }
  }

  /**
   * Inference without dilation ({@link #separable}): the plane at {@code at} of {@code src} pooled
   * into {@code res} ({@code oh * ow} and {@link #outputSlack()}), by {@link #maxFlat} on narrow
   * maps or with stride 1 and {@link #maxSeparable} otherwise. {@code plane}, {@code work1} and
   * {@code work2} are {@link #inferenceSize()} long, {@code plane} readied once per task by
   * {@link #startInference}.
   */
  void infer(float[] src, int at, float[] plane, float[] res, float[] work1, float[] work2) {
    if (same) {
      maxSame(src, at, res, work1);
    } else if (flat()) {
      loadFlat(src, at, plane);
      maxFlat(plane, res, work1, work2);
    } else {
      System.arraycopy(src, at, plane, 0, h * w);
      maxSeparable(plane, res, work1, work2);
    }
  }

  /**
   * Whether {@link #maxFlat} applies: no dilation, and stride 1 both ways or output rows narrower
   * than a vector, where {@link #maxSeparable}'s row loops run scalar (GoogLeNet's 14x14 -> 7x7
   * and 28x28 -> 14x14: {@code PoolBench}).
   */
  private boolean flat() {
    return separable && (s0 == 1 && s1 == 1 || ow < L);
  }

  /** The row length of {@link #maxFlat}'s padded plane: the left padding, the input, and what the last window reads past it. */
  private int flatWidth() {
    return Math.max(p1 + w, (ow - 1) * s1 + k1);
  }

  /** The rows of {@link #maxFlat}'s padded plane: the top padding, the input, and what the last window reads below it. */
  private int flatHeight() {
    return Math.max(p0 + h, (oh - 1) * s0 + k0);
  }

  /** The floats {@link #maxFlat} needs in each of its arrays: the padded plane and a vector's slack past it. */
  private int flatSize() {
    return flatHeight() * flatWidth() + k1 + 2 * L;
  }

  /**
   * Inference without dilation on narrow maps or with stride 1 ({@link #flat}): the plane as one
   * flat row over a padded copy of it ({@code padded}, rows of {@link #flatWidth} with -inf
   * around the input, which the caller fills once with {@link #clearFlat} and {@link #loadFlat}
   * fills the inside of), so that each kernel row and column is a shift of the whole plane and
   * every vector is full however narrow the map (a 14x14 map is 12 vectors here against a scalar
   * loop per row). The window's maximum over its rows into {@code v}, tap by tap, for every row
   * a window starts at, then over its columns into {@code o}, at stride 1; then each output
   * picked out, every {@code s0}-th row and {@code s1}-th column (with a stride, this computes
   * windows no output needs, which full vectors still make cheaper than the scalar loops).
   * Padding only ever adds -inf, which never wins, so the same bits as {@link #maxSeparable}.
   */
  private void maxFlat(float[] padded, float[] out, float[] v, float[] o) {
    int ws = flatWidth();
    int n = ((oh - 1) * s0 + 1) * ws;
    System.arraycopy(padded, 0, v, 0, n);
    for (int r = 1; r < k0; r++) {
      int from = r * ws;
      for (int i = 0; i < n; i += L) {
        FloatVector.fromArray(S, v, i).max(FloatVector.fromArray(S, padded, from + i)).intoArray(v, i);
      }
    }
    System.arraycopy(v, 0, o, 0, n);
    for (int j = 1; j < k1; j++) {
      for (int i = 0; i < n; i += L) {
        FloatVector.fromArray(S, o, i).max(FloatVector.fromArray(S, v, j + i)).intoArray(o, i);
      }
    }
    for (int oy = 0; oy < oh; oy++) {
      int from = oy * s0 * ws;
      if (s1 == 1) {
        System.arraycopy(o, from, out, oy * ow, ow);
      } else {
        for (int ox = 0; ox < ow; ox++) {
          out[oy * ow + ox] = o[from + ox * s1];
        }
      }
    }
  }

  /** {@link #maxFlat}'s padded plane all -inf (its inside is overwritten plane by plane; the padding stays). */
  private void clearFlat(float[] padded) {
    Arrays.fill(padded, 0, flatSize(), Float.NEGATIVE_INFINITY);
  }

  /** The plane at {@code at} of {@code src} into the inside of {@link #maxFlat}'s padded plane, row by row. */
  private void loadFlat(float[] src, int at, float[] padded) {
    int ws = flatWidth();
    for (int y = 0; y < h; y++) {
      System.arraycopy(src, at + y * w, padded, (y + p0) * ws + p1, w);
    }
  }

  /** Extra floats {@link #maxSeparable} may write past {@code oh * ow} in {@code out}: a vector's. */
  static int outputSlack() {
    return L;
  }

  /**
   * Row {@code row} split by column phase into {@code cols}: {@code cols[m] = row[2m]} (from 0) and
   * {@code cols[phase + m] = row[2m + 1]}, {@code m < n} rounded up to whole vectors, two vectors in,
   * one out per phase.
   */
  private static void splitPhases(float[] row, float[] cols, int phase, int n) {
    for (int m = 0; m < n; m += L) {
      FloatVector a = FloatVector.fromArray(S, row, 2 * m);
      FloatVector b = FloatVector.fromArray(S, row, 2 * m + L);
      a.rearrange(EVEN).blend(b.rearrange(EVEN), UPPER).intoArray(cols, m);
      a.rearrange(ODD).blend(b.rearrange(ODD), UPPER).intoArray(cols, phase + m);
    }
  }

  /**
   * Inference without dilation ({@link #separable}): each output's maximum into {@code out} (rows
   * of {@code ow}), the window's maximum over its rows first, for every column at once, then over
   * its columns. {@code row} ({@link #rowSize}) holds an output row's column maxima between -inf
   * padding, {@code cols} ({@code (ow - 1) * s1 + 1}) their maxima over the kernel's width when
   * the stride skips columns; with a stride of 2 across, {@code cols} holds the row's even and odd
   * columns apart instead ({@link #scratchSize}), split on vectors, and each tap is a vector of
   * adjacent outputs. The same set of taps as {@link #max}, and max is order-free (NaN
   * wins, +0 over -0), so the same bits; no padded copy of the plane.
   */
  void maxSeparable(float[] in, float[] out, float[] row, float[] cols) {
    int rowLen = rowSize();
    int span = (ow - 1) * s1 + 1;
    int width = Math.min(w, rowLen - p1); // the columns any window reads
    Arrays.fill(row, 0, rowLen, Float.NEGATIVE_INFINITY);
    float[] target = s1 == 1 ? out : cols;
    for (int oy = 0; oy < oh; oy++) {
      int y0 = oy * s0 - p0;
      int i0 = Math.max(0, y0);
      int i1 = Math.min(h, y0 + k0);
      System.arraycopy(in, i0 * w, row, p1, width);
      for (int y = i0 + 1; y < i1; y++) {
        int src = y * w;
        int x = 0;
        for (; x + L <= width; x += L) {
          FloatVector.fromArray(S, row, p1 + x).max(FloatVector.fromArray(S, in, src + x)).intoArray(row, p1 + x);
        }
        for (; x < width; x++) {
          row[p1 + x] = Math.max(row[p1 + x], in[src + x]);
        }
      }
      if (split()) {
        // stride 2: the row's even and odd columns apart, then tap j of output ox is phase j % 2,
        // slot ox + j / 2, so whole vectors of outputs at once (a scalar gather cost more than the maxima)
        int phase = phaseStride();
        int n = ow + (k1 - 1) / 2;
        splitPhases(row, cols, phase, n);
        int o = oy * ow;
        // tap by tap through out (no vector carried by a loop: see the class's note)
        System.arraycopy(cols, 0, out, o, ow);
        for (int j = 1; j < k1; j++) {
          int from = (j & 1) * phase + (j >> 1);
          for (int ox = 0; ox < ow; ox += L) {
            FloatVector.fromArray(S, out, o + ox).max(FloatVector.fromArray(S, cols, from + ox)).intoArray(out, o + ox);
          }
        }
        continue;
      }
      int at = s1 == 1 ? oy * ow : 0;
      System.arraycopy(row, 0, target, at, span);
      for (int j = 1; j < k1; j++) {
        int x = 0;
        for (; x + L <= span; x += L) {
          FloatVector.fromArray(S, target, at + x).max(FloatVector.fromArray(S, row, j + x)).intoArray(target, at + x);
        }
        for (; x < span; x++) {
          target[at + x] = Math.max(target[at + x], row[j + x]);
        }
      }
      if (s1 != 1) {
        int o = oy * ow;
        for (int ox = 0; ox < ow; ox++) {
          out[o + ox] = cols[ox * s1];
        }
      }
    }
  }

  /** Each output's maximum into {@code best} (rows of {@link #owv}); NaN wins, as in Math.max. */
  void max(float[] padded, float[] best) {
    for (int oy = 0; oy < oh; oy++) {
      int row = oy * owv;
      Arrays.fill(best, row, row + owv, Float.NEGATIVE_INFINITY);
      int base = oy * s0 * s1 * phaseW;
      for (int t = 0; t < tapOffset.length; t++) {
        int at = base + tapOffset[t];
        for (int ox = 0; ox < owv; ox += L) {
          FloatVector.fromArray(S, best, row + ox).max(FloatVector.fromArray(S, padded, at + ox)).intoArray(best, row + ox);
        }
      }
    }
  }

  /** Each output's kept value into {@code best} and its argmax position in the plane into {@code arg}, by PyTorch's scan. */
  void maxWithArgmax(float[] padded, float[] best, float[] arg) {
    for (int oy = 0; oy < oh; oy++) {
      int row = oy * owv;
      Arrays.fill(best, row, row + owv, Float.NEGATIVE_INFINITY);
      System.arraycopy(firstTap, row, arg, row, owv);
      int base = oy * s0 * s1 * phaseW;
      for (int t = 0; t < tapOffset.length; t++) {
        int at = base + tapOffset[t];
        float position = oy * s0 * w + tapPosition[t];
        for (int ox = 0; ox < owv; ox += L) {
          FloatVector v = FloatVector.fromArray(S, padded, at + ox);
          FloatVector kept = FloatVector.fromArray(S, best, row + ox);
          VectorMask<Float> wins = v.compare(VectorOperators.GT, kept).or(v.compare(VectorOperators.NE, v));
          kept.blend(v, wins).intoArray(best, row + ox);
          FloatVector.fromArray(S, arg, row + ox).blend(lanes.add(position + ox * s1), wins).intoArray(arg, row + ox);
        }
      }
    }
  }
}
