// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A direct depthwise convolution (groups = input channels, {@code m = out / in} outputs per input
 * channel; weights {@code [in*m, 1, kh, kw]} as PyTorch keeps them) on float NCHW arrays, forward
 * and backward, without im2col: a depthwise conv does 2*kh*kw flops per output, too few for a GEMM
 * to pay.
 *
 * <p>Every pass is a gather into a row of outputs: {@code row = sum_t w_t * plane[base_t ...]},
 * each tap reading adjacent floats of a padded plane held in a per-thread array, the sums kept in
 * vector registers, two output rows at a time ({@link VectorDepthwise#conv}; the same loops in
 * scalar Java without the Vector API).
 *
 * <ul>
 *   <li>Forward: the input plane is copied into a zero-padded plane whose columns are split by
 *       phase ({@code column mod stride}), so that every tap of a strided row reads adjacent floats.
 *       Rows of outputs are written into a compact plane, then the plane to the output in one copy.
 *   <li>Input gradient, stride 1: the forward conv of the output gradient, padded by
 *       {@code (k-1)*d - p}, with the kernel flipped (and the {@code m} planes of a channel
 *       summed as more taps). Other strides: each padded input row, per column phase, gathers the
 *       taps that reach it (the rows and phases a strided conv maps there), then the phases are
 *       interleaved into the row.
 *   <li>Weight and bias gradient: per tap, the products of the output gradient and the padded
 *       input summed in vector lanes over a plane, the lanes then added in double.
 * </ul>
 *
 * <p>Forward tasks are ranges of (sample, channel) planes, backward tasks ranges of channels (each
 * over the whole batch, in order), with enough work each that a small map does not become
 * thousands of tiny tasks: each task writes only its own output planes, weight and bias gradient
 * entries and input-gradient planes, so results do not depend on the threads.
 */
final class Depthwise {
  /** Multiply-adds a task should have at least (about 20 us), when there are enough. */
  static final long TASK_WORK = 1 << 16;

  /** Floats a forward task copies in (or out) at once, at least a plane. */
  static final int CHUNK = 1 << 14;

  final int c;
  final int m;
  final int h;
  final int w;
  final int oh;
  final int ow;
  final ConvGemm.Geometry g;
  final int kh;
  final int kw;
  final int taps;
  /** Lanes of a vector (1 without the Vector API). */
  private final int lanes;
  /** {@code w} rounded up to whole vectors. */
  private final int wv;

  // forward layout: the padded input plane split by row phase (row mod sh) into sh sub-planes of
  // rows of padW = w + 2*pw floats; output (y, x) is then float y*padW + sw*x of one flat row of
  // outputs, each reading float i + flatOff[t] for tap t, so that a small map fills whole vectors
  // (padW - ow floats a row are discarded; with column stride sw, also the columns between)
  /** Floats per padded row. */
  private final int padW;
  /** Floats per sub-plane, a tail included that the discarded outputs of the last row read. */
  private final int subSize;
  /** Flat outputs computed per plane: {@code oh*padW} rounded up to whole vectors. */
  private final int flatN;
  /** Each tap's offset in the row-phase-split plane. */
  private final int[] flatOff;

  // the compact forward (stride 1, an output the input's size, the Vector API): each input plane
  // is read into a per-thread array as it is, between gaps of zeros that the taps above its first
  // row and below its last read as padding; output y*w + x reads float y*w + x + compactOff[t]
  // for tap t, and a tap whose column falls off the row (reading the row before or after) is
  // masked to +0.0, the value its padding has. No row is copied into a padded plane, and the
  // outputs come out compact: same taps, same order, same bits as the padded layout.
  /** Whether the forward takes the compact layout. */
  private final boolean compact;
  /**
   * Zeros before and after each plane in the compact layout: as many as a tap reaches past the
   * plane's first or last value (the lanes past a plane's last output read further, into the next
   * plane, for outputs the next plane's overwrite).
   */
  private final int gap;
  /** Outputs computed per plane in the compact layout: {@code h*w} rounded up to whole vectors. */
  private final int compactN;
  /** Each tap's offset in the compact layout. */
  private final int[] compactOff;
  /**
   * Per tap: for each of the {@link #compactN} outputs, -1 where the tap's column lies in the
   * row and 0 where it falls off it (an AND mask); null for a tap of the kernel's centre column.
   */
  private final int[][] compactMask;

  // the input gradient of a stride-1 conv is the stride-1 conv of the output gradient, padded by
  // dTop rows and dLeft columns, with the kernel flipped: the output-gradient planes of a
  // channel (m of them) are laid out padded, rows of dPadW floats, and dx is one flat row of
  // h*dPadW floats again; otherwise (strides, padding past the kernel) each input row gathers
  // the taps that reach it from the output gradient in rows of dRowStride floats
  /** Whether the input gradient is the stride-1 conv of the padded output gradient. */
  private final boolean flipped;
  private final int dTop;
  private final int dLeft;
  /** Flipped: floats per padded output-gradient row and per padded plane. */
  private final int dPadW;
  private final int dPadPlane;
  /** Flipped: dx's flat outputs per plane, {@code h*dPadW} rounded up to whole vectors. */
  private final int dxFlatN;
  /** Otherwise: floats per row of the output gradient's gather layout, and per plane. */
  private final int dRowStride;
  private final int dPlane;
  /** Flipped: the taps' offsets in the padded output gradient, {@code m} planes of them. */
  private final int[] tOff;
  /** Otherwise: columns per phase row of a padded input-gradient row, a whole number of vectors. */
  private final int phaseCols;

  /** Whether the direct kernel takes this grouped conv: depthwise, float arrays it can address. */
  static boolean takes(long c, int groups, INDArray... arrays) {
    return groups == c && ChannelKernels.direct(arrays);
  }

  Depthwise(int c, int m, int h, int w, ConvGemm.Geometry g) {
    this(c, m, h, w, g, true);
  }

  /** What a kernel is made for: its shape, geometry, and whether it uses vectors. */
  private record Key(int c, int m, int h, int w, ConvGemm.Geometry g, boolean vectors) {}

  /** Kernels made, by what for: at most {@link #KEPT}, the least recently used dropped. */
  private static final Map<Key, Depthwise> MADE = new LinkedHashMap<>(16, 0.75f, true) {
    private static final long serialVersionUID = 1L;

    @Override
    protected boolean removeEldestEntry(Map.Entry<Key, Depthwise> eldest) {
      return size() > KEPT;
    }
  };

  private static final int KEPT = 64;

  /**
   * The kernel for these shapes, made once: its layouts and masks are computed in the constructor
   * (at batch 1, remaking them at every call took more than 3% of MobileNetV2's {@code predict}).
   * A kernel holds no state between calls, so threads share it.
   */
  static Depthwise of(int c, int m, int h, int w, ConvGemm.Geometry g) {
    Key key = new Key(c, m, h, w, g, Vectors.on());
    synchronized (MADE) {
      Depthwise k = MADE.get(key);
      if (k == null) {
        k = new Depthwise(c, m, h, w, g);
        MADE.put(key, k);
      }
      return k;
    }
  }

  /**
   * With {@code compactForward} false, the forward takes the padded layout even where the compact
   * one applies (for tests that compare the two).
   */
  Depthwise(int c, int m, int h, int w, ConvGemm.Geometry g, boolean compactForward) {
    this.c = c;
    this.m = m;
    this.h = h;
    this.w = w;
    this.g = g;
    this.kh = g.kh();
    this.kw = g.kw();
    this.taps = kh * kw;
    this.oh = (int) g.outH(h);
    this.ow = (int) g.outW(w);
    this.lanes = Vectors.on() ? VectorDepthwise.L : 1;
    this.wv = up(w);
    int sw = g.sw();
    int sh = g.sh();
    this.padW = w + 2 * g.pw();
    int subRows = (h + 2 * g.ph() + sh - 1) / sh;
    this.subSize = (subRows + 1) * padW + lanes;
    this.flatN = up(oh * padW);
    this.flatOff = new int[taps];
    for (int ki = 0; ki < kh; ki++) {
      for (int kj = 0; kj < kw; kj++) {
        int r = ki * g.dh();
        flatOff[ki * kw + kj] = (r % sh) * subSize + (r / sh) * padW + kj * g.dw();
      }
    }
    // an output the input's size at stride 1 reaches ph rows and pw columns each way
    this.compact = compactForward && lanes > 1 && sh == 1 && sw == 1 && oh == h && ow == w;
    if (compact) {
      this.gap = g.ph() * w + g.pw();
      this.compactN = up(h * w);
      this.compactOff = new int[taps];
      this.compactMask = new int[taps][];
      int[][] byColumn = new int[kw][];
      for (int kj = 0; kj < kw; kj++) {
        int dx = kj * g.dw() - g.pw();
        if (dx != 0) {
          byColumn[kj] = new int[compactN];
          for (int i = 0; i < compactN; i++) {
            int col = i % w + dx;
            byColumn[kj][i] = col >= 0 && col < w ? -1 : 0;
          }
        }
      }
      for (int ki = 0; ki < kh; ki++) {
        for (int kj = 0; kj < kw; kj++) {
          compactOff[ki * kw + kj] = (ki * g.dh() - g.ph()) * w + kj * g.dw() - g.pw();
          compactMask[ki * kw + kj] = byColumn[kj];
        }
      }
    } else {
      this.gap = 0;
      this.compactN = 0;
      this.compactOff = null;
      this.compactMask = null;
    }
    int padTop = (kh - 1) * g.dh() - g.ph();
    int padLeft = (kw - 1) * g.dw() - g.pw();
    this.flipped = g.sh() == 1 && sw == 1 && padTop >= 0 && padLeft >= 0;
    if (flipped) {
      dTop = padTop;
      dLeft = padLeft;
      dPadW = ow + 2 * padLeft;
      dPadPlane = (oh + 2 * padTop + 1) * dPadW + lanes;
      dxFlatN = up(h * dPadW);
      dRowStride = 0;
      dPlane = 0;
      phaseCols = 0;
      tOff = new int[m * taps];
      for (int j = 0; j < m; j++) {
        for (int ki = 0; ki < kh; ki++) {
          for (int kj = 0; kj < kw; kj++) {
            tOff[j * taps + ki * kw + kj] = j * dPadPlane + ki * g.dh() * dPadW + kj * g.dw();
          }
        }
      }
    } else {
      dTop = 0;
      dLeft = (kw - 1) * g.dw() / sw;
      dPadW = 0;
      dPadPlane = 0;
      dxFlatN = 0;
      phaseCols = up((w + g.pw() + sw - 1) / sw);
      dRowStride = dLeft + Math.max(phaseCols, up(ow));
      dPlane = oh * dRowStride;
      tOff = null;
    }
  }

  /** Whether the forward takes the compact layout. */
  boolean compact() {
    return compact;
  }

  private int up(int n) {
    return (n + lanes - 1) / lanes * lanes;
  }

  /** Tasks for {@code units} of {@code work} multiply-adds each: at least {@link #TASK_WORK} each, at most one a unit. */
  static int tasks(int units, long work) {
    return (int) Math.max(1, Math.min(units, units * work / TASK_WORK));
  }

  /**
   * The input plane at {@code at} of {@code xc} into the interior of the row-phase-split plane
   * {@code p}, whose padding is zero (and is zero again after this).
   */
  private void padFlat(float[] xc, int at, float[] p) {
    padRows(xc, at, h, w, p, 0, padW, subSize, g.sh(), g.ph(), g.pw());
  }

  /**
   * A compact plane of {@code rows x cols} floats at {@code at} of {@code src} into a zero-padded
   * plane at {@code dstAt} of {@code dst}: {@code top} rows and {@code left} columns of padding
   * before it, rows of {@code rowStride} floats, split by row phase (row mod {@code sh}) into
   * sub-planes {@code subSize} floats apart. Only the interior is written; padding written past a
   * row's end (see {@link #copyRows}) is zeroed again, up to a vector past the row's end, so the
   * plane needs rows of padding or a vector of tail below its last row in each sub-plane.
   */
  private void padRows(float[] src, int at, int rows, int cols, float[] dst, int dstAt, int rowStride, int subSize,
      int sh, int top, int left) {
    // row iy + top lies in sub-plane phase, row sub: counted on, not divided per row
    int phase = top % sh;
    int sub = top / sh;
    for (int iy = 0; iy < rows; iy++) {
      int to = dstAt + phase * subSize + sub * rowStride + left;
      if (++phase == sh) {
        phase = 0;
        sub++;
      }
      copyRows(src, at + iy * cols, 0, dst, to, 0, 1, cols);
      if (lanes > 1 && cols < lanes) {
        // the row's vector ran past its end: zero that again (and the start of the sub-plane's
        // next row, which is copied later, or the rows of padding below)
        VectorDepthwise.zero(dst, to + cols);
      }
    }
  }

  /**
   * {@code n} floats a row from {@code src} to {@code dst}, {@code rows} rows; with vectors, a row
   * shorter than one vector is copied as a whole vector, which writes past its end.
   */
  private void copyRows(float[] src, int srcAt, int srcStep, float[] dst, int dstAt, int dstStep, int rows, int n) {
    if (lanes > 1) {
      VectorDepthwise.copyRows(src, srcAt, srcStep, dst, dstAt, dstStep, rows, n);
      return;
    }
    for (int r = 0; r < rows; r++) {
      System.arraycopy(src, srcAt + r * srcStep, dst, dstAt + r * dstStep, n);
    }
  }

  /** {@code dst[i] = act(add + sum_t wt[wAt + t] * src[i + off[t]])} for {@code i < n}. */
  private void flat(float[] dst, int n, float[] src, int[] off, float[] wt, int wAt, float add, float cap) {
    if (lanes > 1) {
      VectorDepthwise.flat(dst, 0, n, src, off, wt, wAt, taps, add, cap);
      return;
    }
    for (int i = 0; i < n; i++) {
      float a = add;
      for (int t = 0; t < taps; t++) {
        a = Math.fma(src[i + off[t]], wt[wAt + t], a);
      }
      dst[i] = cap > 0 ? Math.min(Math.max(a, 0f), cap) : a;
    }
  }

  private void conv(float[] dst, int dstAt, int dstStep, int rows, int n, float[] src, int srcAt, int srcStep,
      int[] off, float[] wt, int wAt, int count, float add, boolean relu) {
    if (lanes > 1) {
      VectorDepthwise.conv(dst, dstAt, dstStep, rows, n, src, srcAt, srcStep, off, wt, wAt, count, add, relu);
      return;
    }
    for (int r = 0; r < rows; r++) {
      for (int i = 0; i < n; i++) {
        float a = add;
        int at = srcAt + r * srcStep + i;
        for (int t = 0; t < count; t++) {
          a = Math.fma(src[at + off[t]], wt[wAt + t], a);
        }
        dst[dstAt + r * dstStep + i] = relu ? Math.max(a, 0f) : a;
      }
    }
  }

  /**
   * {@code sum_i d[dAt + i] * src[i + off[t]]} for {@code i < n} and every tap into {@code out[outAt + t]}:
   * with vectors, through vector sums {@code outAt + t} of {@code acc} after {@code count} vectors
   * (see {@link VectorDepthwise#dot}; the caller flushes them at the end); returns the new count.
   */
  private int dot(float[] d, int dAt, int n, float[] src, int[] off, float[] acc, double[] out, int outAt, int count) {
    if (lanes > 1) {
      return VectorDepthwise.dot(d, dAt, n, src, off, taps, acc, outAt, out, outAt, count);
    }
    for (int t = 0; t < taps; t++) {
      double s = 0;
      for (int i = 0; i < n; i++) {
        s += (double) d[dAt + i] * src[i + off[t]];
      }
      out[outAt + t] += s;
    }
    return 0;
  }

  /** {@code sum_i d[i]} for {@code i < n}. */
  private double sum(float[] d, int n, float[] tmp) {
    if (lanes > 1) {
      return VectorDepthwise.sum(d, n, tmp);
    }
    double s = 0;
    for (int i = 0; i < n; i++) {
      s += d[i];
    }
    return s;
  }

  /**
   * {@code out [b, c*m, oh, ow]} = {@code x [b, c, h, w]} convolved with {@code wt} (the weights'
   * {@code c*m*kh*kw} values) plus {@code bias} (or null), then the fused activation of {@code cap}
   * ({@link ChannelKernels#NONE}, or {@link ChannelKernels#SILU}).
   */
  void forward(INDArray x, float[] wt, float[] bias, float cap, INDArray out) {
    int b = (int) x.size(0);
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer ob = out.data().asNioFloat();
    int xBase = (int) x.offset();
    int oBase = (int) out.offset();
    int planes = b * c;
    int tasks = tasks(planes, (long) m * oh * ow * taps);
    int size = g.sh() * subSize;
    int in = h * w;
    int outs = m * oh * ow;
    // planes are read and written a chunk at a time: one bulk copy each way instead of one a row
    int chunk = Math.max(1, CHUNK / Math.max(in, outs));
    // SiLU on a chunk of outputs while it is in cache, before it is written
    boolean silu = cap == ChannelKernels.SILU;
    if (compact) {
      forwardCompact(xb, xBase, ob, oBase, planes, tasks, chunk, wt, bias, silu ? ChannelKernels.NONE : cap, silu);
      Reference.reachabilityFence(x);
      Reference.reachabilityFence(out);
      return;
    }
    Parallel.forEach(tasks, task -> {
      float[] p = Scratch.floats(0, size);
      float[] xc = Scratch.floats(1, chunk * in + lanes);
      float[] oc = Scratch.floats(2, flatN + lanes);
      float[] yc = Scratch.floats(3, chunk * outs + lanes);
      Arrays.fill(p, 0, size, 0f);
      int from = (int) ((long) task * planes / tasks);
      int to = (int) ((long) (task + 1) * planes / tasks);
      for (int first = from; first < to; first += chunk) {
        int count = Math.min(chunk, to - first);
        xb.get(xBase + first * in, xc, 0, count * in);
        for (int k = 0; k < count; k++) {
          padFlat(xc, k * in, p);
          int ic = (first + k) % c;
          for (int j = 0; j < m; j++) {
            int o = ic * m + j;
            flat(oc, flatN, p, flatOff, wt, o * taps, bias == null ? 0f : bias[o], silu ? ChannelKernels.NONE : cap);
            // planes and rows are written in order: a row's overrun (see copyRows) is overwritten
            // by the next row, the chunk's last by nothing that is put
            int at = k * outs + j * oh * ow;
            if (g.sw() == 1) {
              copyRows(oc, 0, padW, yc, at, ow, oh, ow);
            } else {
              for (int y = 0; y < oh; y++) {
                for (int xx = 0, src = y * padW; xx < ow; xx++, src += g.sw()) {
                  yc[at + y * ow + xx] = oc[src];
                }
              }
            }
          }
        }
        if (silu) {
          ChannelKernels.silu(yc, count * outs);
        }
        // plane n*c + ic's outputs are planes (n*c + ic)*m + j: a chunk's outputs are contiguous
        ob.put(oBase + first * outs, yc, 0, count * outs);
      }
    });
    // the buffers are views of the arrays' native memory, which a collection of an unreachable
    // array frees (a caller's temporary input is otherwise dead once passed here)
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(out);
  }

  /**
   * The forward on the compact layout (see {@link #compact}): each task's planes read a chunk at
   * a time, each plane to its own span between gaps of zeros (a bulk read of the chunk and a copy
   * per plane measured no faster, even for 7x7 planes), the outputs written compact into the
   * chunk's output array and put in one copy.
   */
  private void forwardCompact(FloatBuffer xb, int xBase, FloatBuffer ob, int oBase, int planes, int tasks, int chunk,
      float[] wt, float[] bias, float cap, boolean silu) {
    int in = h * w;
    int outs = m * in;
    int span = in + gap;
    Parallel.forEach(tasks, task -> {
      float[] xg = Scratch.floats(1, gap + chunk * span + lanes);
      float[] yc = Scratch.floats(3, chunk * outs + lanes);
      int from = (int) ((long) task * planes / tasks);
      int to = (int) ((long) (task + 1) * planes / tasks);
      // the gaps: zeros that no read of a plane overwrites
      for (int k = 0, spans = Math.min(chunk, to - from); k <= spans; k++) {
        Arrays.fill(xg, k * span, k * span + gap, 0f);
      }
      for (int first = from; first < to; first += chunk) {
        int count = Math.min(chunk, to - first);
        for (int k = 0; k < count; k++) {
          xb.get(xBase + (first + k) * in, xg, gap + k * span, in);
        }
        for (int k = 0; k < count; k++) {
          int ic = (first + k) % c;
          for (int j = 0; j < m; j++) {
            int o = ic * m + j;
            // planes are written in order: a plane's last vector runs past its end into the
            // next plane's, which overwrites it; the chunk's last into the array's tail
            VectorDepthwise.compact(yc, k * outs + j * in, compactN, xg, gap + k * span, compactOff, compactMask, wt,
                o * taps, taps, bias == null ? 0f : bias[o], cap);
          }
        }
        if (silu) {
          ChannelKernels.silu(yc, count * outs);
        }
        ob.put(oBase + first * outs, yc, 0, count * outs);
      }
    });
  }

  /**
   * The gradients for output gradient {@code delta [b, c*m, oh, ow]}: the weights' into
   * {@code dW} ({@code c*m*kh*kw} values), the bias's into {@code db} (when not null), and the
   * input's into {@code dx} (when not null).
   */
  void backward(INDArray x, float[] wt, INDArray delta, float[] dW, float[] db, INDArray dx) {
    int b = (int) x.size(0);
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer deltaB = delta.data().asNioFloat();
    FloatBuffer dxb = dx == null ? null : dx.data().asNioFloat();
    int xBase = (int) x.offset();
    int dBase = (int) delta.offset();
    int dxBase = dx == null ? 0 : (int) dx.offset();
    int o = c * m;
    int sw = g.sw();
    int tasks = tasks(c, (long) b * m * oh * ow * taps * (dx == null ? 1 : 2));
    int pSize = g.sh() * subSize;
    int dSize = flatN + lanes;
    int dxSize = h * w + wv;
    // the input gradient's planes: flipped, the padded output gradients and dx's flat row;
    // otherwise the gather layout and dx's plane with its phase rows after it
    int qSize = flipped ? m * dPadPlane + dxFlatN + lanes : m * dPlane + dxSize + sw * phaseCols + lanes;
    Parallel.forEach(tasks, task -> {
      float[] p = Scratch.floats(0, pSize);
      // the output gradient in the forward's flat layout: dy(y, x) at y*padW + sw*x, zeros between
      float[] d = Scratch.floats(1, m * dSize);
      float[] io = Scratch.floats(2, Math.max(h * w, oh * ow) + lanes);
      float[] q = Scratch.floats(3, qSize);
      Arrays.fill(p, 0, pSize, 0f);
      Arrays.fill(d, 0, m * dSize, 0f);
      Arrays.fill(q, 0, qSize, 0f);
      double[] wAcc = new double[m * taps];
      double[] bAcc = new double[m];
      float[] wf = new float[m * taps];
      float[] tmp = new float[lanes];
      // each output's vector sums per tap, and how many vectors went into them (VectorDepthwise.dot)
      float[] acc = new float[m * taps * lanes];
      int[] counts = new int[m];
      int[][] gOff = flipped ? null : new int[sw][m * taps];
      float[][] gW = flipped ? null : new float[sw][m * taps];
      int[] gCount = new int[sw];
      int from = (int) ((long) task * c / tasks);
      int to = (int) ((long) (task + 1) * c / tasks);
      for (int ic = from; ic < to; ic++) {
        Arrays.fill(wAcc, 0);
        Arrays.fill(bAcc, 0);
        for (int j = 0; j < m; j++) {
          for (int t = 0; t < taps; t++) {
            wf[j * taps + t] = wt[(ic * m + j) * taps + taps - 1 - t];
          }
        }
        for (int n = 0; n < b; n++) {
          xb.get(xBase + (n * c + ic) * h * w, io, 0, h * w);
          padFlat(io, 0, p);
          for (int j = 0; j < m; j++) {
            deltaB.get(dBase + (n * o + ic * m + j) * oh * ow, io, 0, oh * ow);
            if (db != null) {
              bAcc[j] += sum(io, oh * ow, tmp);
            }
            if (sw == 1) {
              padRows(io, 0, oh, ow, d, j * dSize, padW, 0, 1, 0, 0);
            } else {
              for (int y = 0; y < oh; y++) {
                for (int xx = 0, at = j * dSize + y * padW; xx < ow; xx++, at += sw) {
                  d[at] = io[y * ow + xx];
                }
              }
            }
            counts[j] = dot(d, j * dSize, flatN, p, flatOff, acc, wAcc, j * taps, counts[j]);
            if (dxb == null) {
              continue;
            }
            if (flipped) {
              padRows(io, 0, oh, ow, q, j * dPadPlane, dPadW, 0, 1, dTop, dLeft);
            } else {
              int at = j * dPlane + dLeft;
              for (int oy = 0; oy < oh; oy++) {
                System.arraycopy(io, oy * ow, q, at + oy * dRowStride, ow);
              }
            }
          }
          if (dxb == null) {
            continue;
          }
          if (flipped) {
            int f = m * dPadPlane;
            flatSum(q, f, dxFlatN, q, tOff, wf, m * taps);
            copyRows(q, f, dPadW, io, 0, w, h, w);
            dxb.put(dxBase + (n * c + ic) * h * w, io, 0, h * w);
          } else {
            int at = m * dPlane;
            inputGradientRows(ic, wt, q, q, at, gOff, gW, gCount);
            dxb.put(dxBase + (n * c + ic) * h * w, q, at, h * w);
          }
        }
        for (int j = 0; j < m; j++) {
          if (lanes > 1) {
            for (int t = 0; t < taps; t++) {
              VectorDepthwise.flush(acc, j * taps + t, wAcc, j * taps + t);
            }
          }
          counts[j] = 0;
          int oc = ic * m + j;
          if (db != null) {
            db[oc] = (float) bAcc[j];
          }
          for (int t = 0; t < taps; t++) {
            dW[oc * taps + t] = (float) wAcc[j * taps + t];
          }
        }
      }
    });
    // see forward: ReLU's backward gives a temporary delta that nothing else keeps alive
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(delta);
    Reference.reachabilityFence(dx);
  }

  /** {@code dst[dstAt + i] = sum_t wt[t] * src[i + off[t]]} for {@code i < n}, {@code count} taps. */
  private void flatSum(float[] dst, int dstAt, int n, float[] src, int[] off, float[] wt, int count) {
    if (lanes > 1) {
      VectorDepthwise.flat(dst, dstAt, n, src, off, wt, 0, count, 0f, ChannelKernels.NONE);
      return;
    }
    for (int i = 0; i < n; i++) {
      float a = 0f;
      for (int t = 0; t < count; t++) {
        a = Math.fma(src[i + off[t]], wt[t], a);
      }
      dst[dstAt + i] = a;
    }
  }

  /**
   * The input gradient of channel {@code ic} for a strided (or over-padded) conv into the compact
   * plane at the start of {@code out}: per input row and column phase, the taps that reach it,
   * gathered from the padded output gradient {@code dp} into phase rows after the plane, then
   * interleaved into the row.
   */
  private void inputGradientRows(int ic, float[] wt, float[] dp, float[] out, int outAt, int[][] gOff, float[][] gW,
      int[] gCount) {
    int rowsAt = outAt + h * w + wv;
    int sh = g.sh();
    int sw = g.sw();
    for (int iy = 0; iy < h; iy++) {
      int i = iy + g.ph();
      Arrays.fill(gCount, 0);
      for (int j = 0; j < m; j++) {
        for (int ki = 0; ki < kh; ki++) {
          int r = i - ki * g.dh();
          if (r < 0 || r % sh != 0 || r / sh >= oh) {
            continue;
          }
          int rowAt = j * dPlane + (r / sh) * dRowStride + dLeft;
          for (int kj = 0; kj < kw; kj++) {
            // column s*jj + phase of the padded row reads output column jj - kj*d/s
            int phase = kj * g.dw() % sw;
            int k = gCount[phase]++;
            gOff[phase][k] = rowAt - kj * g.dw() / sw;
            gW[phase][k] = wt[(ic * m + j) * taps + ki * kw + kj];
          }
        }
      }
      for (int phase = 0; phase < sw; phase++) {
        conv(out, rowsAt + phase * phaseCols, 0, 1, phaseCols, dp, 0, 0, gOff[phase], gW[phase], 0, gCount[phase], 0f,
            false);
      }
      int row = outAt + iy * w;
      for (int phase = 0; phase < sw; phase++) {
        int first = Math.floorMod(phase - g.pw(), sw);
        int at = rowsAt + phase * phaseCols + (first + g.pw()) / sw;
        for (int ix = first; ix < w; ix += sw) {
          out[row + ix] = out[at++];
        }
      }
    }
  }
}
