// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.FloatBuffer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of {@link DirectConv} on the Vector API, loaded only when {@link Vectors#on()}:
 * one output row, six output channels by four vectors of columns at a time.
 */
final class VectorDirectConv {
  private VectorDirectConv() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  /** The vector length in floats. */
  static final int L = S.length();

  /** Output channels computed together: six by four vectors, 24 sums in registers (of 32 with AVX-512). */
  static final int BLOCK = 6;

  /**
   * One output row of every channel: {@code out[oc][j] = act(add[oc] + sum_t wq[...] * src[off[t] + j])}
   * for {@code j < ow}, channel {@code oc}'s row at float {@code at + oc*plane} of {@code ob}.
   * {@code wq} holds the weights by blocks of {@link #BLOCK} channels, tap by tap ({@code blocks}
   * of them, zero past channel {@code o}); {@code src} holds at least a whole number of vectors past
   * each tap's offset. A block's rows are summed into {@code sums} ({@link #BLOCK} rows of
   * {@code ow} rounded up to vectors), finished there, and put into the output in one copy each.
   */
  static void row(float[] src, int[] off, int taps, float[] wq, int blocks, int o, float[] add, float cap,
      FloatBuffer ob, int at, int plane, int ow, float[] sums) {
    int vecs = (ow + L - 1) / L;
    int cols = vecs * L;
    for (int blk = 0; blk < blocks; blk++) {
      int wAt = blk * taps * BLOCK;
      if (vecs >= 4) {
        // chunks of four vectors, the last one back from the row's end (recomputing a few
        // columns, in the same order, rather than running them at a quarter of the multiply-adds a load)
        for (int v = 0; v < vecs; v += 4) {
          six(src, off, taps, wq, wAt, Math.min(v, vecs - 4) * L, sums, cols);
        }
      } else {
        for (int v = 0; v < vecs; v++) {
          one(src, off, taps, wq, wAt, v * L, sums, cols);
        }
      }
      for (int i = 0, oc = BLOCK * blk; i < BLOCK && oc < o; i++, oc++) {
        finish(sums, i * cols, cols, add[oc], cap);
        ob.put(at + oc * plane, sums, i * cols, ow);
      }
    }
  }

  /** Six channels by four vectors from column {@code j}, into rows of {@code cols} of {@code sums}. */
  private static void six(float[] src, int[] off, int taps, float[] wq, int wAt, int j, float[] sums, int cols) {
    FloatVector a00 = FloatVector.zero(S);
    FloatVector a01 = a00;
    FloatVector a02 = a00;
    FloatVector a03 = a00;
    FloatVector a10 = a00;
    FloatVector a11 = a00;
    FloatVector a12 = a00;
    FloatVector a13 = a00;
    FloatVector a20 = a00;
    FloatVector a21 = a00;
    FloatVector a22 = a00;
    FloatVector a23 = a00;
    FloatVector a30 = a00;
    FloatVector a31 = a00;
    FloatVector a32 = a00;
    FloatVector a33 = a00;
    FloatVector a40 = a00;
    FloatVector a41 = a00;
    FloatVector a42 = a00;
    FloatVector a43 = a00;
    FloatVector a50 = a00;
    FloatVector a51 = a00;
    FloatVector a52 = a00;
    FloatVector a53 = a00;
    for (int t = 0, q = wAt; t < taps; t++, q += BLOCK) {
      int s = off[t] + j;
      FloatVector x0 = FloatVector.fromArray(S, src, s);
      FloatVector x1 = FloatVector.fromArray(S, src, s + L);
      FloatVector x2 = FloatVector.fromArray(S, src, s + 2 * L);
      FloatVector x3 = FloatVector.fromArray(S, src, s + 3 * L);
      FloatVector w0 = FloatVector.broadcast(S, wq[q]);
      a00 = x0.fma(w0, a00);
      a01 = x1.fma(w0, a01);
      a02 = x2.fma(w0, a02);
      a03 = x3.fma(w0, a03);
      FloatVector w1 = FloatVector.broadcast(S, wq[q + 1]);
      a10 = x0.fma(w1, a10);
      a11 = x1.fma(w1, a11);
      a12 = x2.fma(w1, a12);
      a13 = x3.fma(w1, a13);
      FloatVector w2 = FloatVector.broadcast(S, wq[q + 2]);
      a20 = x0.fma(w2, a20);
      a21 = x1.fma(w2, a21);
      a22 = x2.fma(w2, a22);
      a23 = x3.fma(w2, a23);
      FloatVector w3 = FloatVector.broadcast(S, wq[q + 3]);
      a30 = x0.fma(w3, a30);
      a31 = x1.fma(w3, a31);
      a32 = x2.fma(w3, a32);
      a33 = x3.fma(w3, a33);
      FloatVector w4 = FloatVector.broadcast(S, wq[q + 4]);
      a40 = x0.fma(w4, a40);
      a41 = x1.fma(w4, a41);
      a42 = x2.fma(w4, a42);
      a43 = x3.fma(w4, a43);
      FloatVector w5 = FloatVector.broadcast(S, wq[q + 5]);
      a50 = x0.fma(w5, a50);
      a51 = x1.fma(w5, a51);
      a52 = x2.fma(w5, a52);
      a53 = x3.fma(w5, a53);
    }
    a00.intoArray(sums, j);
    a01.intoArray(sums, j + L);
    a02.intoArray(sums, j + 2 * L);
    a03.intoArray(sums, j + 3 * L);
    a10.intoArray(sums, cols + j);
    a11.intoArray(sums, cols + j + L);
    a12.intoArray(sums, cols + j + 2 * L);
    a13.intoArray(sums, cols + j + 3 * L);
    a20.intoArray(sums, 2 * cols + j);
    a21.intoArray(sums, 2 * cols + j + L);
    a22.intoArray(sums, 2 * cols + j + 2 * L);
    a23.intoArray(sums, 2 * cols + j + 3 * L);
    a30.intoArray(sums, 3 * cols + j);
    a31.intoArray(sums, 3 * cols + j + L);
    a32.intoArray(sums, 3 * cols + j + 2 * L);
    a33.intoArray(sums, 3 * cols + j + 3 * L);
    a40.intoArray(sums, 4 * cols + j);
    a41.intoArray(sums, 4 * cols + j + L);
    a42.intoArray(sums, 4 * cols + j + 2 * L);
    a43.intoArray(sums, 4 * cols + j + 3 * L);
    a50.intoArray(sums, 5 * cols + j);
    a51.intoArray(sums, 5 * cols + j + L);
    a52.intoArray(sums, 5 * cols + j + 2 * L);
    a53.intoArray(sums, 5 * cols + j + 3 * L);
  }

  /** Six channels by one vector from column {@code j}. */
  private static void one(float[] src, int[] off, int taps, float[] wq, int wAt, int j, float[] sums, int cols) {
    FloatVector a0 = FloatVector.zero(S);
    FloatVector a1 = a0;
    FloatVector a2 = a0;
    FloatVector a3 = a0;
    FloatVector a4 = a0;
    FloatVector a5 = a0;
    for (int t = 0, q = wAt; t < taps; t++, q += BLOCK) {
      FloatVector x = FloatVector.fromArray(S, src, off[t] + j);
      a0 = x.fma(FloatVector.broadcast(S, wq[q]), a0);
      a1 = x.fma(FloatVector.broadcast(S, wq[q + 1]), a1);
      a2 = x.fma(FloatVector.broadcast(S, wq[q + 2]), a2);
      a3 = x.fma(FloatVector.broadcast(S, wq[q + 3]), a3);
      a4 = x.fma(FloatVector.broadcast(S, wq[q + 4]), a4);
      a5 = x.fma(FloatVector.broadcast(S, wq[q + 5]), a5);
    }
    a0.intoArray(sums, j);
    a1.intoArray(sums, cols + j);
    a2.intoArray(sums, 2 * cols + j);
    a3.intoArray(sums, 3 * cols + j);
    a4.intoArray(sums, 4 * cols + j);
    a5.intoArray(sums, 5 * cols + j);
  }

  /** {@code act(x + add)} for {@code x} in {@code sums[at .. at + n)}, {@code n} a whole number of vectors. */
  private static void finish(float[] sums, int at, int n, float add, float cap) {
    FloatVector zero = FloatVector.zero(S);
    FloatVector top = FloatVector.broadcast(S, cap);
    for (int k = at; k < at + n; k += L) {
      FloatVector v = FloatVector.fromArray(S, sums, k).add(add);
      if (cap > 0) {
        v = v.max(zero);
        if (cap != ChannelKernels.RELU) {
          v = v.min(top);
        }
      } else if (cap == ChannelKernels.SILU) {
        v = VectorSilu.silu(v);
      }
      v.intoArray(sums, k);
    }
  }
}
