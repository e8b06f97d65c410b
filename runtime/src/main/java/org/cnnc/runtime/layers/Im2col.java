// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * im2col and col2im for float NCHW arrays, written in Java over the arrays' native memory: each
 * column row is bulk copies of input rows (stride 1) with the padding zero-filled, rows spread
 * over the cores. On the project's machine this is 2.5-5x faster than ND4J's own im2col (VGG16's
 * 64-channel 224 x 224 layer: 60 ms against 312 ms for a batch of 8). Arrays that are not float,
 * or too large for int indexing, go through ND4J's.
 */
final class Im2col {
  private Im2col() {}

  /**
   * Samples {@code n0 .. n0 + count - 1} of {@code x [b, c, h, w]} into the column matrix
   * {@code col [c*kh*kw, count, oh*ow]}; both C-ordered with default strides. For one sample that
   * is ND4J's own layout {@code [1, c, kh, kw, oh, ow]}, which is how arrays that are not float get
   * there; a batch of them needs float arrays.
   */
  static void im2col(INDArray x, long n0, int count, ConvGemm.Geometry g, INDArray col) {
    im2col(x, n0, count, g, col, 0, (int) g.outH(x.size(2)));
  }

  /**
   * Output rows {@code oy0 .. oy1 - 1} only (a band of the map) of samples {@code n0 ..
   * n0 + count - 1} into {@code col [c*kh*kw, count, (oy1 - oy0)*ow]}; float arrays unless the band
   * is the whole map.
   */
  static void im2col(INDArray x, long n0, int count, ConvGemm.Geometry g, INDArray col, int oy0, int oy1) {
    if (!ChannelKernels.direct(x, col)) {
      wholeMap(oy0, oy1, g.outH(x.size(2)));
      Convolution.im2col(x.get(NDArrayIndex.interval(n0, n0 + single(count))), g.kh(), g.kw(), g.sh(), g.sw(),
          g.ph(), g.pw(), g.dh(), g.dw(), false, col.reshape('c', 1, x.size(1), g.kh(), g.kw(), g.outH(x.size(2)),
              g.outW(x.size(3))));
      return;
    }
    int c = (int) x.size(1);
    int h = (int) x.size(2);
    int w = (int) x.size(3);
    int ow = (int) g.outW(w);
    int taps = g.kh() * g.kw();
    int rows = c * taps;
    int band = (oy1 - oy0) * ow;
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer cb = col.data().asNioFloat();
    int xBase = (int) (x.offset() + n0 * c * h * w);
    int cBase = (int) col.offset();
    if (g.sw() == 1 && ow >= KernelSettings.current().directRow()) {
      // stride 1, long rows: each output row is one bulk copy from the input row, buffer to
      // buffer (VGG16's forward: 1,556-1,575 ms this way, 1,655-1,660 through a Java array)
      Parallel.forEach(count * rows, job -> {
        int n = job / rows;
        int r = job % rows;
        int ch = r / taps;
        int ki = (r / g.kw()) % g.kh();
        int kj = r % g.kw();
        int ix0 = kj * g.dw() - g.pw();
        int lo = firstInside(ix0, g.sw(), ow);
        int hi = Math.max(lo, endInside(ix0, g.sw(), w, ow));
        int plane = xBase + (n * c + ch) * h * w;
        int out = cBase + (r * count + n) * band;
        for (int oy = oy0; oy < oy1; oy++) {
          int iy = oy * g.sh() - g.ph() + ki * g.dh();
          int dst = out + (oy - oy0) * ow;
          if (iy < 0 || iy >= h) {
            zero(cb, dst, ow);
            continue;
          }
          zero(cb, dst, lo);
          if (hi > lo) {
            cb.put(dst + lo, xb, plane + iy * w + ix0 + lo, hi - lo);
          }
          zero(cb, dst + hi, ow - hi);
        }
      });
      return;
    }
    // short rows, or strided: one task per input plane, read once into a Java array; each of its
    // kh*kw column rows is built from that array and written in one bulk copy (NiN's 5x5 conv at
    // 15^2: 2.4 ms with one task per column row, whose per-row buffer reads cost more than the
    // copying itself). A strided plane is first split into its stride's phases (the columns
    // q, q + s, q + 2s, ... of each row side by side), in which every tap's inputs for a row of
    // outputs are adjacent: each is one array copy instead of a gather (GoogLeNet's 7x7 stem of
    // stride 2 at batch 8: 7.3 ms before, see docs/performance-history.md, session 16)
    int sw = g.sw();
    int wq = (w + sw - 1) / sw;
    // the input rows the band reads: r0 .. r1 - 1, of which the taps read those marked (a stride
    // past the kernel's reach skips rows: a 1x1 conv of stride 2 reads every other one), and the
    // column phases the taps read (that conv reads phase 0 only)
    int r0 = Math.max(0, oy0 * g.sh() - g.ph());
    int r1 = Math.min(h, (oy1 - 1) * g.sh() - g.ph() + (g.kh() - 1) * g.dh() + 1);
    int rowsIn = Math.max(0, r1 - r0);
    boolean[] rowRead = new boolean[rowsIn];
    boolean[] phaseRead = new boolean[sw];
    boolean everyRow = true;
    for (int ki = 0; ki < g.kh(); ki++) {
      for (int oy = oy0; oy < oy1; oy++) {
        int iy = oy * g.sh() - g.ph() + ki * g.dh();
        if (iy >= r0 && iy < r1) {
          rowRead[iy - r0] = true;
        }
      }
    }
    for (boolean read : rowRead) {
      everyRow &= read;
    }
    for (int t = 0; t < taps; t++) {
      phaseRead[Math.floorMod(Tap.of(t, g, w, ow).ix0(), sw)] = true;
    }
    boolean wholeRows = everyRow;
    Parallel.forEach(count * c, job -> {
      int n = job / c;
      int ch = job % c;
      float[] in = Scratch.floats(0, rowsIn * w);
      float[] line = Scratch.floats(1, band);
      if (wholeRows && rowsIn > 0) {
        xb.get(xBase + job * h * w + r0 * w, in, 0, rowsIn * w);
      } else {
        for (int r = 0; r < rowsIn; r++) {
          if (rowRead[r]) {
            xb.get(xBase + job * h * w + (r0 + r) * w, in, r * w, w);
          }
        }
      }
      // phase q of input row r holds its columns q + s*j at [(q * rowsIn + r) * wq + j]
      float[] phases = sw == 1 ? null : Scratch.floats(2, sw * rowsIn * wq);
      if (phases != null) {
        for (int r = 0; r < rowsIn; r++) {
          if (!rowRead[r]) {
            continue;
          }
          for (int q = 0; q < sw; q++) {
            if (!phaseRead[q]) {
              continue;
            }
            int dst = (q * rowsIn + r) * wq;
            for (int j = 0, src = r * w + q; src < (r + 1) * w; j++, src += sw) {
              phases[dst + j] = in[src];
            }
          }
        }
      }
      for (int t = 0; t < taps; t++) {
        Tap tap = Tap.of(t, g, w, ow);
        int ix0 = tap.ix0();
        int lo = tap.lo();
        int hi = tap.hi();
        for (int oy = oy0; oy < oy1; oy++) {
          int iy = oy * g.sh() - g.ph() + tap.ki() * g.dh();
          int dst = (oy - oy0) * ow;
          if (iy < 0 || iy >= h) {
            Arrays.fill(line, dst, dst + ow, 0f);
            continue;
          }
          for (int o = 0; o < lo; o++) {
            line[dst + o] = 0f;
          }
          if (phases == null) {
            System.arraycopy(in, (iy - r0) * w + ix0 + lo, line, dst + lo, hi - lo);
          } else if (hi > lo) {
            // input column ix0 + o*s = s * (floorDiv(ix0, s) + o) + floorMod(ix0, s)
            int q = Math.floorMod(ix0, sw);
            System.arraycopy(phases, (q * rowsIn + iy - r0) * wq + Math.floorDiv(ix0, sw) + lo, line, dst + lo, hi - lo);
          }
          for (int o = hi; o < ow; o++) {
            line[dst + o] = 0f;
          }
        }
        cb.put(cBase + ((ch * taps + t) * count + n) * band, line, 0, band);
      }
    });
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(col);
  }

  /**
   * The adjoint of {@link #im2col}: {@code col [c*kh*kw, count, oh*ow]} summed back into samples
   * {@code n0 .. n0 + count - 1} of {@code x [b, c, h, w]} (those samples overwritten).
   */
  static void col2im(INDArray col, int count, ConvGemm.Geometry g, INDArray x, long n0) {
    col2im(col, count, g, x, n0, 0, (int) g.outH(x.size(2)), false);
  }

  /**
   * The adjoint of the band form of {@link #im2col}: the columns of output rows
   * {@code oy0 .. oy1 - 1} summed back into samples {@code n0 .. n0 + count - 1} of {@code x},
   * added to what they hold when {@code accumulate}, else overwriting them.
   */
  static void col2im(INDArray col, int count, ConvGemm.Geometry g, INDArray x, long n0, int oy0, int oy1,
      boolean accumulate) {
    int c = (int) x.size(1);
    int h = (int) x.size(2);
    int w = (int) x.size(3);
    if (!ChannelKernels.direct(x, col)) {
      wholeMap(oy0, oy1, g.outH(h));
      if (accumulate) {
        throw new IllegalStateException("accumulating columns needs float arrays");
      }
      Convolution.col2im(col.reshape('c', 1, c, g.kh(), g.kw(), g.outH(h), g.outW(w)),
          x.get(NDArrayIndex.interval(n0, n0 + single(count))), g.sh(), g.sw(), g.ph(), g.pw(), h, w, g.dh(), g.dw());
      return;
    }
    int ow = (int) g.outW(w);
    int taps = g.kh() * g.kw();
    int band = (oy1 - oy0) * ow;
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer cb = col.data().asNioFloat();
    int xBase = (int) (x.offset() + n0 * c * h * w);
    int cBase = (int) col.offset();
    Parallel.forEach(count * c, job -> {
      int plane = xBase + job * h * w;
      // the plane is summed in a Java array, each column row read in one bulk copy
      float[] acc = Scratch.floats(0, h * w);
      float[] line = Scratch.floats(1, band);
      if (accumulate) {
        xb.get(plane, acc, 0, h * w);
      } else {
        Arrays.fill(acc, 0, h * w, 0f);
      }
      for (int t = 0; t < taps; t++) {
        Tap tap = Tap.of(t, g, w, ow);
        int ki = tap.ki();
        int ix0 = tap.ix0();
        int lo = tap.lo();
        int hi = tap.hi();
        cb.get(cBase + (((job % c) * taps + t) * count + job / c) * band, line, 0, band);
        for (int oy = oy0; oy < oy1; oy++) {
          int iy = oy * g.sh() - g.ph() + ki * g.dh();
          if (iy < 0 || iy >= h) {
            continue;
          }
          int dst = iy * w + ix0;
          int src = (oy - oy0) * ow;
          if (g.sw() == 1) {
            for (int o = lo; o < hi; o++) {
              acc[dst + o] += line[src + o];
            }
          } else {
            for (int o = lo; o < hi; o++) {
              acc[dst + o * g.sw()] += line[src + o];
            }
          }
        }
      }
      xb.put(plane, acc, 0, h * w);
    });
    Reference.reachabilityFence(col);
    Reference.reachabilityFence(x);
  }

  private static void wholeMap(int oy0, int oy1, long oh) {
    if (oy0 != 0 || oy1 != oh) {
      throw new IllegalStateException("a band of the map needs float arrays");
    }
  }

  private static int single(int count) {
    if (count != 1) {
      throw new IllegalStateException("the columns of several samples at once need float arrays");
    }
    return 1;
  }

  /**
   * Kernel tap {@code t} (row-major in the kernel): its kernel row {@code ki}, the input column
   * {@code ix0} of output column 0, and the output columns {@code lo .. hi - 1} whose input column
   * lies inside the input.
   */
  private record Tap(int ki, int ix0, int lo, int hi) {
    static Tap of(int t, ConvGemm.Geometry g, int w, int ow) {
      int ix0 = (t % g.kw()) * g.dw() - g.pw();
      int lo = firstInside(ix0, g.sw(), ow);
      return new Tap(t / g.kw(), ix0, lo, Math.max(lo, endInside(ix0, g.sw(), w, ow)));
    }
  }

  /** The first output column whose input column {@code ix0 + o * s} is not left of the input. */
  private static int firstInside(int ix0, int s, int ow) {
    return ix0 >= 0 ? 0 : Math.min(ow, (-ix0 + s - 1) / s);
  }

  /** One past the last output column whose input column is left of {@code w}. */
  private static int endInside(int ix0, int s, int w, int ow) {
    return w - ix0 <= 0 ? 0 : Math.min(ow, (w - ix0 + s - 1) / s);
  }

  private static final float[] ZEROS = new float[1024];

  /**
   * {@code n} zeros into {@code b} from {@code at}: element by element for a padding's few, in
   * bulk copies for whole rows (a bulk copy's checks cost more than a few single stores).
   */
  private static void zero(FloatBuffer b, int at, int n) {
    if (n < 32) {
      for (int i = 0; i < n; i++) {
        b.put(at + i, 0f);
      }
      return;
    }
    for (int done = 0; done < n; done += ZEROS.length) {
      b.put(at + done, ZEROS, 0, Math.min(ZEROS.length, n - done));
    }
  }
}
