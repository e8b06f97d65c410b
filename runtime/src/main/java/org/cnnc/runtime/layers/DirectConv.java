// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The forward pass of a convolution of few input channels (a network's first conv, on an image's
 * one to four channels) computed directly from its input, without im2col: ResNet's, GoogLeNet's,
 * MobileNet's, EfficientNet's and VGG's first convs.
 *
 * <p>Why: such a conv's column matrix has {@code c*kh*kw} rows for {@code o} products each, so
 * writing it costs about what the products cost. ResNet-50's 7x7 stem at batch 8 wrote 59 MB of
 * columns (5.6 ms) for a 4.7 ms product, then read its 25.7 MB output back to add the bias and
 * apply the ReLU (1.5 ms); ONNX Runtime's direct kernel takes 4.3 ms for all of it.
 *
 * <p>How: for a band of output rows, each input row the band reads is split once by column phase
 * (column mod stride: a strided tap then reads consecutive values) into zero-padded rows; the
 * padding rows above and below the image read one row of zeros. Each output row is then computed
 * as six output channels by four vectors of columns at a time (24 sums in registers), every tap a
 * load of four vectors and six broadcast weights (a row of fewer than four vectors, six channels
 * by one). A row's last chunk of four vectors starts four vectors back from its end, recomputing a
 * few columns in the same order rather than running them a vector at a time. The sums go to a
 * small array where they get the bias and the activation, and each channel's row is put into the
 * output in one copy, so nothing is written past the row.
 *
 * <p>Each output is the sum over its taps in the weights' order ({@code c}, then {@code kh}, then
 * {@code kw}), then the bias, then the activation: the same for any number of threads. It agrees
 * with im2col and a GEMM to rounding (the GEMM's order of sums is its own), and padding is a zero
 * that is multiplied and added, as im2col's is.
 */
final class DirectConv {
  private DirectConv() {}

  /** Output rows per task: the input rows they read (split by phase) stay in the core's cache. */
  static final int BAND = 8;

  /** The most output channels of a conv computed directly, unless its taps are few ({@link #FEW_TAPS}). */
  static final int MAX_OUTPUTS = 64;

  /** Taps per output ({@code c*kh*kw}) few enough for any number of output channels. */
  static final int FEW_TAPS = 32;

  /**
   * Whether this conv's forward is computed directly: the Vector API on, at most
   * {@link KernelSettings#directMaxChannels()} input channels, at most {@link #MAX_OUTPUTS} output
   * channels or at most {@link #FEW_TAPS} taps, one group, float arrays in C order that a byte offset
   * addresses, and a padded row of phases that an int indexes.
   *
   * <p>The outputs' rule, measured at batch 8 on 224x224 images (docs/performance-history.md,
   * session 19): im2col's cost grows with the taps and the map, the product's also with the
   * outputs, so from some number of outputs MKL's faster products pay for the columns. Direct won
   * every conv of up to 64 outputs (7x7/2 to 64: 8.6 against 11.4 ms; 11x11/4 to 64: 6.9 against
   * 7.7) and 3x3 ones to 96 and 128 (3.8 against 5.5 at 112^2; 29.7 against 34.3), and lost
   * 11x11/4 to 96 (NiN's: 7.4-8.7 against 6.4-7.4) and 7x7/2 to 128 (20.5 against 17.3).
   */
  static boolean takes(INDArray x, INDArray w, ConvGemm.Geometry g, INDArray out) {
    long c = x.size(1);
    long taps = c * g.kh() * g.kw();
    if (out.size(1) > MAX_OUTPUTS && taps > FEW_TAPS) {
      return false;
    }
    // a row split by phase, at most: its columns rounded up to a vector (of at most 64 lanes), and the taps' reach
    long phaseRow = (long) g.sw() * (out.size(3) + 64 + g.kw() * (long) g.dw() + g.pw());
    return c <= KernelSettings.current().directMaxChannels() && w.size(1) == c && Vectors.on()
        && ChannelKernels.direct(x, w, out) && ChannelKernels.addressable(x, out)
        && taps * out.size(1) < Integer.MAX_VALUE / 8 && phaseRow * (c * ((long) BAND * g.sh() + (long) g.kh() * g.dh()) + 1)
        < Integer.MAX_VALUE / 8;
  }

  /**
   * {@code out [b, o, oh, ow]} = {@code x [b, c, h, w]} convolved with {@code w [o, c, kh, kw]}, plus
   * {@code bias[o]} (or null), then the activation of {@code cap} ({@link ChannelKernels#NONE},
   * {@link ChannelKernels#RELU}, a cap, {@link ChannelKernels#SILU}).
   */
  static void forward(INDArray x, INDArray w, float[] bias, float cap, ConvGemm.Geometry g, INDArray out) {
    Shape s = new Shape((int) x.size(0), (int) x.size(1), (int) x.size(2), (int) x.size(3), (int) out.size(1),
        (int) out.size(2), (int) out.size(3), g, VectorDirectConv.L, VectorDirectConv.BLOCK);
    float[] wt = ChannelKernels.floats(w);
    // weights by blocks of output channels, tap by tap: wq[(block*taps + t)*BLOCK + i]
    int block = VectorDirectConv.BLOCK;
    float[] wq = new float[s.blocks * s.taps * block];
    for (int oc = 0; oc < s.o; oc++) {
      for (int t = 0; t < s.taps; t++) {
        wq[(oc / block * s.taps + t) * block + oc % block] = wt[oc * s.taps + t];
      }
    }
    float[] add = new float[s.blocks * block];
    if (bias != null) {
      System.arraycopy(bias, 0, add, 0, s.o);
    }
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer ob = out.data().asNioFloat();
    int xBase = (int) x.offset();
    int oBase = (int) out.offset();
    int bands = (s.oh + BAND - 1) / BAND;
    Parallel.forEach(s.b * bands, task -> {
      int n = task / bands;
      int oy0 = task % bands * BAND;
      int oy1 = Math.min(s.oh, oy0 + BAND);
      int lo = Math.max(0, oy0 * g.sh() - g.ph());
      int hi = Math.min(s.h, (oy1 - 1) * g.sh() + (g.kh() - 1) * g.dh() - g.ph() + 1);
      int rows = Math.max(0, hi - lo);
      float[] buf = Scratch.floats(0, (s.c * rows + 1) * s.rowLen);
      float[] row = Scratch.floats(1, s.w);
      float[] sums = Scratch.floats(2, VectorDirectConv.BLOCK * s.rowLen);
      int zeroRow = s.c * rows * s.rowLen;
      Arrays.fill(buf, zeroRow, zeroRow + s.rowLen, 0f);
      for (int ch = 0; ch < s.c; ch++) {
        for (int iy = lo; iy < hi; iy++) {
          xb.get(xBase + ((n * s.c + ch) * s.h + iy) * s.w, row, 0, s.w);
          s.split(row, buf, (ch * rows + iy - lo) * s.rowLen);
        }
      }
      int[] rowAt = new int[s.c * g.kh()];
      int[] off = new int[s.taps];
      for (int oy = oy0; oy < oy1; oy++) {
        for (int ch = 0; ch < s.c; ch++) {
          for (int ky = 0; ky < g.kh(); ky++) {
            int iy = oy * g.sh() + ky * g.dh() - g.ph();
            rowAt[ch * g.kh() + ky] = iy >= 0 && iy < s.h ? (ch * rows + iy - lo) * s.rowLen : zeroRow;
          }
        }
        for (int t = 0; t < s.taps; t++) {
          off[t] = rowAt[t / g.kw()] + s.colOff[t % g.kw()];
        }
        int at = oBase + (n * s.o * s.oh + oy) * s.ow;
        VectorDirectConv.row(buf, off, s.taps, wq, s.blocks, s.o, add, cap, ob, at, s.oh * s.ow, s.ow, sums);
      }
    });
    // the buffers are views of the arrays' native memory, which a collection of an unreachable
    // array frees (a caller's temporary input is otherwise dead once passed here)
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(out);
  }

  /**
   * A conv's sizes and its rows of phases: an input row is kept as {@code sw} phase rows of
   * {@link #phaseLen} floats, phase {@code r}'s value {@code m} the input's column
   * {@code sw*(m - m0) + r} (zero off the image); tap {@code kx} of output column {@code j} reads
   * {@code colOff[kx] + j} of the split row.
   */
  private static final class Shape {
    final int b;
    final int c;
    final int h;
    final int w;
    final int o;
    final int oh;
    final int ow;
    final int taps;
    final int blocks;
    final int sw;
    final int m0;
    final int phaseLen;
    final int rowLen;
    final int[] colOff;

    Shape(int b, int c, int h, int w, int o, int oh, int ow, ConvGemm.Geometry g, int lanes, int block) {
      this.b = b;
      this.c = c;
      this.h = h;
      this.w = w;
      this.o = o;
      this.oh = oh;
      this.ow = ow;
      this.taps = c * g.kh() * g.kw();
      this.blocks = (o + block - 1) / block;
      this.sw = g.sw();
      // column kx*dw - pw of a tap = sw*a + r: phase r, value j + a + m0 (m0 makes the least 0)
      this.m0 = -Math.floorDiv(-g.pw(), sw);
      int aMax = Math.floorDiv((g.kw() - 1) * g.dw() - g.pw(), sw);
      int cols = (ow + lanes - 1) / lanes * lanes;
      this.phaseLen = cols + m0 + Math.max(0, aMax);
      this.rowLen = sw * phaseLen;
      this.colOff = new int[g.kw()];
      for (int kx = 0; kx < g.kw(); kx++) {
        int q = kx * g.dw() - g.pw();
        colOff[kx] = Math.floorMod(q, sw) * phaseLen + Math.floorDiv(q, sw) + m0;
      }
    }

    /** Input row {@code row[0 .. w)} split by phase into {@code dst[at .. at + rowLen)}. */
    void split(float[] row, float[] dst, int at) {
      Arrays.fill(dst, at, at + rowLen, 0f);
      // columns past the last a tap reads are left out
      if (sw == 1) {
        System.arraycopy(row, 0, dst, at + m0, Math.min(w, phaseLen - m0));
        return;
      }
      for (int r = 0; r < sw; r++) {
        // the values of phase r: columns r, r + sw, ... at m = column / sw + m0
        int end = at + (r + 1) * phaseLen;
        for (int col = r, m = at + r * phaseLen + m0; col < w && m < end; col += sw, m++) {
          dst[m] = row[col];
        }
      }
    }
  }
}
