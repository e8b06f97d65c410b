// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A direct depthwise convolution (groups = input channels, {@code m = out / in} outputs per input
 * channel; weights {@code [in*m, 1, kh, kw]} as PyTorch keeps them) on float NCHW arrays, forward
 * and backward, without im2col: a depthwise conv does 2*kh*kw flops per output, too few for a GEMM
 * to pay.
 *
 * <p>Each input plane is first copied into a zero-padded plane whose columns are split by phase
 * ({@code column mod stride}), as {@link VectorPool} does, so that every tap of a row of outputs
 * reads adjacent floats whatever the stride or dilation: a row of outputs is then, per tap, one
 * {@code acc += w * plane[base ...]} over whole vectors (the Vector API when {@link Vectors#on()},
 * else the same scalar loop). The backward pass runs the same taps: the weight gradient as
 * per-tap products accumulated lane by lane (summed in double at the end), the input gradient
 * scattered into a padded plane of the same layout, then copied back without its padding.
 *
 * <p>Forward tasks are (sample, input channel) pairs, backward tasks input channels (each over
 * the whole batch, in order): each task writes only its own output planes, weight and bias
 * gradient entries and input-gradient planes, so results do not depend on the threads.
 */
final class Depthwise {
  final int c;
  final int m;
  final int h;
  final int w;
  final int oh;
  final int ow;
  /** {@code ow} rounded up to whole vectors (the length of every row loop). */
  final int owv;
  final ConvGemm.Geometry g;
  /** Rows of the padded plane ({@code h + 2 ph}). */
  private final int rows;
  /** Floats per phase row of the padded plane. */
  private final int phaseW;
  private final int taps;
  /** Each tap's offset in the padded plane from its output row's first padded row. */
  private final int[] tapBase;
  private final int[] tapRow;

  /** Whether the direct kernel takes this grouped conv: depthwise, float arrays it can address. */
  static boolean takes(long c, int groups, INDArray... arrays) {
    return groups == c && ChannelKernels.direct(arrays);
  }

  Depthwise(int c, int m, int h, int w, ConvGemm.Geometry g) {
    this.c = c;
    this.m = m;
    this.h = h;
    this.w = w;
    this.g = g;
    this.oh = (int) g.outH(h);
    this.ow = (int) g.outW(w);
    int lanes = Vectors.on() ? VectorDepthwise.L : 1;
    this.owv = (ow + lanes - 1) / lanes * lanes;
    this.rows = h + 2 * g.ph();
    int wp = w + 2 * g.pw();
    this.phaseW = Math.max((wp + g.sw() - 1) / g.sw(), owv + (g.kw() - 1) * g.dw() / g.sw());
    this.taps = g.kh() * g.kw();
    this.tapBase = new int[taps];
    this.tapRow = new int[taps];
    for (int ki = 0; ki < g.kh(); ki++) {
      for (int kj = 0; kj < g.kw(); kj++) {
        int t = kj * g.dw();
        tapRow[ki * g.kw() + kj] = ki * g.dh();
        tapBase[ki * g.kw() + kj] = (t % g.sw()) * phaseW + t / g.sw();
      }
    }
  }

  private int planeSize() {
    return rows * g.sw() * phaseW;
  }

  /** Where padded row {@code r}'s phase rows start. */
  private int row(int r) {
    return r * g.sw() * phaseW;
  }

  /** Input plane at {@code at} of {@code xb} into the padded, phase-split plane {@code p}. */
  private void load(FloatBuffer xb, int at, float[] p, float[] line) {
    Arrays.fill(p, 0, planeSize(), 0f);
    int s = g.sw();
    for (int iy = 0; iy < h; iy++) {
      int r = row(iy + g.ph());
      if (s == 1) {
        xb.get(at + iy * w, p, r + g.pw(), w);
        continue;
      }
      xb.get(at + iy * w, line, 0, w);
      for (int ix = 0; ix < w; ix++) {
        int j = ix + g.pw();
        p[r + (j % s) * phaseW + j / s] = line[ix];
      }
    }
  }

  /**
   * The inside (padding dropped) of the padded plane at {@code from} in {@code p} into the plane at
   * {@code at} of {@code xb}.
   */
  private void store(float[] p, int from, FloatBuffer xb, int at, float[] line) {
    int s = g.sw();
    for (int iy = 0; iy < h; iy++) {
      int r = from + row(iy + g.ph());
      if (s == 1) {
        xb.put(at + iy * w, p, r + g.pw(), w);
        continue;
      }
      for (int ix = 0; ix < w; ix++) {
        int j = ix + g.pw();
        line[ix] = p[r + (j % s) * phaseW + j / s];
      }
      xb.put(at + iy * w, line, 0, w);
    }
  }

  private static void axpy(float[] acc, int at, float a, float[] p, int base, int n) {
    if (Vectors.on()) {
      VectorDepthwise.axpy(acc, at, a, p, base, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      acc[at + i] += a * p[base + i];
    }
  }

  private static void mulAdd(float[] acc, int at, float[] d, int dAt, float[] p, int base, int n) {
    if (Vectors.on()) {
      VectorDepthwise.mulAdd(acc, at, d, dAt, p, base, n);
      return;
    }
    for (int i = 0; i < n; i++) {
      acc[at + i] += d[dAt + i] * p[base + i];
    }
  }

  /**
   * {@code out [b, c*m, oh, ow]} = {@code x [b, c, h, w]} convolved with {@code wt} (the weights'
   * {@code c*m*kh*kw} values) plus {@code bias} (or null), then {@code max(., 0)} when {@code relu}.
   */
  void forward(INDArray x, float[] wt, float[] bias, boolean relu, INDArray out) {
    int b = (int) x.size(0);
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer ob = out.data().asNioFloat();
    int xBase = (int) x.offset();
    int oBase = (int) out.offset();
    int o = c * m;
    IntStream.range(0, b * c).parallel().forEach(job -> {
      int n = job / c;
      int ic = job % c;
      float[] p = Scratch.floats(0, planeSize());
      float[] acc = Scratch.floats(1, owv);
      float[] line = Scratch.floats(2, w);
      load(xb, xBase + job * h * w, p, line);
      for (int j = 0; j < m; j++) {
        int oc = ic * m + j;
        int wAt = oc * taps;
        float add = bias == null ? 0f : bias[oc];
        int outAt = oBase + (n * o + oc) * oh * ow;
        for (int oy = 0; oy < oh; oy++) {
          Arrays.fill(acc, 0, owv, add);
          int r = oy * g.sh();
          for (int t = 0; t < taps; t++) {
            axpy(acc, 0, wt[wAt + t], p, row(r + tapRow[t]) + tapBase[t], owv);
          }
          if (relu) {
            for (int i = 0; i < ow; i++) {
              acc[i] = Math.max(acc[i], 0f);
            }
          }
          ob.put(outAt + oy * ow, acc, 0, ow);
        }
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
    FloatBuffer db4 = delta.data().asNioFloat();
    FloatBuffer dxb = dx == null ? null : dx.data().asNioFloat();
    int xBase = (int) x.offset();
    int dBase = (int) delta.offset();
    int dxBase = dx == null ? 0 : (int) dx.offset();
    int o = c * m;
    IntStream.range(0, c).parallel().forEach(ic -> {
      int size = planeSize();
      float[] p = Scratch.floats(0, 2 * size);
      float[] d = Scratch.floats(1, oh * owv);
      float[] line = Scratch.floats(2, w);
      float[] wAcc = Scratch.floats(3, m * taps * owv);
      Arrays.fill(wAcc, 0, m * taps * owv, 0f);
      double[] bSum = new double[m];
      for (int n = 0; n < b; n++) {
        load(xb, xBase + (n * c + ic) * h * w, p, line);
        if (dxb != null) {
          Arrays.fill(p, size, 2 * size, 0f);
        }
        for (int j = 0; j < m; j++) {
          int oc = ic * m + j;
          int dAt = dBase + (n * o + oc) * oh * ow;
          Arrays.fill(d, 0, oh * owv, 0f);
          double sum = 0;
          for (int oy = 0; oy < oh; oy++) {
            db4.get(dAt + oy * ow, d, oy * owv, ow);
            for (int i = 0; i < ow; i++) {
              sum += d[oy * owv + i];
            }
          }
          bSum[j] += sum;
          for (int oy = 0; oy < oh; oy++) {
            int r = oy * g.sh();
            for (int t = 0; t < taps; t++) {
              int base = row(r + tapRow[t]) + tapBase[t];
              mulAdd(wAcc, (j * taps + t) * owv, d, oy * owv, p, base, owv);
              if (dxb != null) {
                axpy(p, size + base, wt[oc * taps + t], d, oy * owv, owv);
              }
            }
          }
        }
        if (dxb != null) {
          // the gradient plane sits after the input plane in the same array
          store(p, size, dxb, dxBase + (n * c + ic) * h * w, line);
        }
      }
      for (int j = 0; j < m; j++) {
        int oc = ic * m + j;
        if (db != null) {
          db[oc] = (float) bSum[j];
        }
        for (int t = 0; t < taps; t++) {
          double s = 0;
          int at = (j * taps + t) * owv;
          for (int i = 0; i < owv; i++) {
            s += wAcc[at + i];
          }
          dW[oc * taps + t] = (float) s;
        }
      }
    });
  }
}
