// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-channel kernels over float {@code [b, c, n]} arrays (C order, default strides), written in
 * Java: one task per channel, each copying its {@code b} contiguous planes into a {@link Scratch}
 * array, working there and copying back. Batch norm reads its data once each way this way,
 * against five to nine whole-tensor ND4J ops. Sums are in double.
 */
final class ChannelKernels {
  private ChannelKernels() {}

  /**
   * Whether every array is float, C-ordered with default strides and int-indexable: what the Java
   * kernels of this package read and write through the arrays' native memory.
   */
  static boolean direct(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a.dataType() != DataType.FLOAT || !rowMajorDense(a) || a.offset() + a.length() > Integer.MAX_VALUE) {
        return false;
      }
    }
    return true;
  }
  /**
   * {@code a[ai + i] = max(a[ai + i], x[xi + i])} for {@code i < len}, as {@code Math.max} (a NaN
   * wins, +0 over -0): on vectors ({@link VectorMax}) when {@code vectors}, the rest in scalars.
   */
  static void maxInto(float[] a, int ai, float[] x, int xi, int len, boolean vectors) {
    int i = vectors ? VectorMax.maxInto(a, ai, x, xi, len) : 0;
    for (; i < len; i++) {
      a[ai + i] = Math.max(a[ai + i], x[xi + i]);
    }
  }

  /**
   * Runs {@code write} on {@code out} when the kernels can write it as it is ({@link #direct}),
   * else on a dense array of the working memory, copied into {@code out} then (a strided slice of
   * a concatenation's output, at batch > 1).
   */
  static void intoDense(INDArray out, org.deeplearning4j.nn.workspace.LayerWorkspaceMgr mgr,
      java.util.function.Consumer<INDArray> write) {
    if (direct(out)) {
      write.accept(out);
      return;
    }
    INDArray dense = mgr.createUninitialized(org.deeplearning4j.nn.workspace.ArrayType.FF_WORKING_MEM, DataType.FLOAT,
        out.shape(), 'c');
    write.accept(dense);
    out.assign(dense);
  }


  /**
   * Whether {@code a}'s elements lie in C order without gaps, so that element {@code i} of the
   * flattened array is at {@code offset + i}. A dimension of size 1 may have any stride: ND4J gives
   * {@code [2, 1, 9, 18]} the strides {@code [162, 162, 18, 1]} and then says they are not its
   * default ({@code Shape.hasDefaultStridesForShape}), which sent a one-channel input, or any
   * 1x1 map, off cnnc's kernels (max pooling refused it).
   */
  static boolean rowMajorDense(INDArray a) {
    long expected = 1;
    long[] shape = a.shape();
    long[] stride = a.stride();
    for (int i = shape.length - 1; i >= 0; i--) {
      if (shape[i] != 1 && stride[i] != expected) {
        return false;
      }
      expected *= shape[i];
    }
    return true;
  }

  /**
   * A fused activation's cap, as the kernels take it: {@code min(max(v, 0), cap)} when
   * {@code cap > 0}, the value itself when it is {@link #NONE}; a plain ReLU is {@link #RELU}
   * (no cap), relu6 a cap of 6. NaN stays NaN either way, as in PyTorch.
   */
  static final float NONE = 0f;

  /** The cap of a plain ReLU (see {@link #NONE}). */
  static final float RELU = Float.POSITIVE_INFINITY;

  /**
   * Not a cap: SiLU, applied by the kernels that say they take it ({@link ConvGemm#forward} and
   * the depthwise conv, through {@link #finish} or {@link #silu(float[], int)}) on values still in
   * cache. Below zero, so a kernel that does not know it would apply nothing: the conv kernels
   * turn it into {@link #NONE} and apply SiLU themselves where they have no pass that does.
   */
  static final float SILU = Float.NEGATIVE_INFINITY;

  /** {@link #RELU} when {@code relu}, else {@link #NONE}. */
  static float cap(boolean relu) {
    return relu ? RELU : NONE;
  }

  /**
   * Batch norm in training over {@code x3 [b, c, n]}: each channel's batch mean and biased
   * variance (two passes, in double, over the channel held in a per-thread array), then
   * {@code out = (x - mean) / sqrt(var + eps) * gamma + beta}, then the fused activation of
   * {@code cap} (see {@link #NONE}); one read of the input and one write of the output. Returns
   * {@code {mean, var}} per channel.
   */
  static double[][] batchNormTraining(INDArray x3, float[] gamma, float[] beta, double eps, float cap,
      INDArray out3) {
    int b = (int) x3.size(0);
    int c = (int) x3.size(1);
    int n = (int) x3.size(2);
    FloatBuffer xb = x3.data().asNioFloat();
    FloatBuffer ob = out3.data().asNioFloat();
    int xBase = (int) x3.offset();
    int oBase = (int) out3.offset();
    double[][] stats = new double[2][c];
    Parallel.forEach(c, ch -> {
      float[] p = Scratch.floats(0, b * n);
      for (int i = 0; i < b; i++) {
        xb.get(xBase + (i * c + ch) * n, p, i * n, n);
      }
      double mean = sum(p, b * n) / ((double) b * n);
      double var = squaredDeviations(p, b * n, mean) / ((double) b * n);
      stats[0][ch] = mean;
      stats[1][ch] = var;
      float scale = (float) (gamma[ch] / Math.sqrt(var + eps));
      float shift = (float) (beta[ch] - mean * scale);
      finish(p, b * n, scale, shift, cap);
      for (int i = 0; i < b; i++) {
        ob.put(oBase + (i * c + ch) * n, p, i * n, n);
      }
    });
    Reference.reachabilityFence(x3);
    Reference.reachabilityFence(out3);
    return stats;
  }

  /**
   * The values of a float array in C order (a layer's per-channel parameters, gradient views, or a
   * conv's weights, of any rank), read through its native memory when its values are adjacent: a
   * few small ND4J ops per layer call (a reshape is one) cost more than a small layer's whole kernel.
   */
  static float[] floats(INDArray v) {
    if (!direct(v)) {
      return v.isVectorOrScalar() ? v.toFloatVector() : v.dup('c').data().asFloat();
    }
    float[] out = new float[(int) v.length()];
    v.data().asNioFloat().get((int) v.offset(), out);
    Reference.reachabilityFence(v);
    return out;
  }

  /** A float vector (any number of unit axes) whose values are adjacent in its buffer. */
  static boolean contiguousFloats(INDArray v) {
    return v.dataType() == DataType.FLOAT && (v.isVectorOrScalar() && (v.length() == 1 || v.elementWiseStride() == 1))
        && v.offset() + v.length() <= Integer.MAX_VALUE;
  }

  /** Writes {@code values} into {@code v} (its length), through its native memory when its values are adjacent. */
  static void put(float[] values, INDArray v) {
    if (contiguousFloats(v)) {
      v.data().asNioFloat().put((int) v.offset(), values);
    } else {
      v.assign(Nd4j.createFromArray(values).reshape(v.shape()));
    }
    Reference.reachabilityFence(v);
  }

  /**
   * Planes (or rows) of {@code n} values a parallel task takes: whole planes, about 16K values in
   * all, so that a 7x7 map is not a task (and a lookup of the thread's arrays) per plane.
   */
  static int perTask(int n) {
    return Math.max(1, (1 << 14) / Math.max(1, n));
  }

  /** Whether every array (nulls skipped) has its values at byte offsets an int can hold. */
  static boolean addressable(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a != null && (a.offset() + a.length()) * Float.BYTES > Integer.MAX_VALUE) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether the memory of {@code a} and of {@code b} (whole arrays) do not overlap: a pass that
   * reads a vector of one and writes the other then gives what a pass through a copy gives.
   */
  static boolean disjoint(INDArray a, INDArray b) {
    long a0 = Gemm.address(a);
    long b0 = Gemm.address(b);
    return a0 + a.length() * Float.BYTES <= b0 || b0 + b.length() * Float.BYTES <= a0;
  }

  /**
   * Whether rows {@code srcAt + r * srcStride} of {@code src} and {@code dstAt + r * dstStride} of
   * {@code dst} are the same memory, row for row (a pass in place, each vector read before it is
   * written).
   */
  static boolean inPlace(INDArray src, long srcAt, long srcStride, INDArray dst, long dstAt, long dstStride) {
    return srcStride == dstStride && Gemm.address(src) + srcAt * Float.BYTES == Gemm.address(dst) + dstAt * Float.BYTES;
  }

  /** Units {@code first .. end - 1} of a parallel task. */
  interface Range {
    void run(int first, int end);
  }

  /** {@code units} units in parallel tasks of {@code per} units each (the last may have fewer). */
  static void inTasks(int units, int per, Range task) {
    Parallel.forEach((units + per - 1) / per, part -> task.run(part * per, Math.min(units, part * per + per)));
  }

  /**
   * One row of a channel pass ({@link #affine}, {@link #copyRows}, {@link #swapAxes}):
   * {@code out[o ..] = act(x[x ..] * a + s (+ r[r ..]))} for {@code n} values, offsets in elements
   * of the arrays' buffers; the scale and shift skipped for 1 and 0 without a ReLU, as
   * {@link #finish} skips them. Made once a pass: on vectors over the arrays' native memory
   * ({@link VectorChannels}) when they allow it, else through this thread's arrays.
   */
  interface RowPass {
    void row(long x, long r, long o, int n, float a, float s, float cap);

    /**
     * The pass from {@code x} (and {@code r}, or null) to {@code out}; on vectors only when
     * {@code vectorSafe} (a vector read before it is written gives what a copy gives).
     */
    static RowPass of(INDArray x, INDArray r, INDArray out, boolean vectorSafe) {
      if (vectorSafe && Vectors.on() && addressable(x, out, r)) {
        return VectorChannels.rows(x, r, out);
      }
      FloatBuffer xb = x.data().asNioFloat();
      FloatBuffer rb = r == null ? null : r.data().asNioFloat();
      FloatBuffer ob = out.data().asNioFloat();
      return (xAt, rAt, oAt, n, a, s, cap) -> {
        float[] p = Scratch.floats(0, n);
        xb.get((int) xAt, p, 0, n);
        if (rb == null) {
          finish(p, n, a, s, cap);
        } else {
          finish(p, n, a, s, NONE);
          float[] q = Scratch.floats(1, n);
          rb.get((int) rAt, q, 0, n);
          for (int k = 0; k < n; k++) {
            p[k] += q[k];
          }
          finish(p, n, 1f, 0f, cap);
        }
        ob.put((int) oAt, p, 0, n);
      };
    }
  }

  /** The values per plane of a C-ordered {@code [b, c, ...]} array: what follows its channel axis. */
  static int plane(INDArray a) {
    return (int) (a.length() / (a.size(0) * a.size(1)));
  }

  /**
   * {@code out = x * scale[c] + shift[c]}, then the fused activation of {@code cap} (see {@link #NONE}); a null
   * {@code scale} is 1 and a null {@code shift} 0, and {@code out3} may be {@code x3} (a conv's
   * bias and fused ReLU applied in place).
   */
  static void affine(INDArray x3, float[] scale, float[] shift, float cap, INDArray out3) {
    affine(x3, scale, shift, null, cap, out3);
  }

  /**
   * {@link #affine(INDArray, float[], float[], float, INDArray)} with a residual:
   * {@code out = act(x * scale[c] + shift[c] + r)} for {@code r3} of {@code x3}'s shape (or null:
   * none), in one pass. The sum is rounded as the unfused layers round it, {@code (x * scale +
   * shift)} first, then {@code + r}, then the activation, so a residual add fused into a conv
   * ({@code conv + bias + r}, then ReLU) gives the bits the conv and {@code add} give apart.
   */
  static void affine(INDArray x3, float[] scale, float[] shift, INDArray r3, float cap, INDArray out3) {
    affine(x3, scale, shift, r3, cap, out3, 0, plane(x3));
  }

  /**
   * {@link #affine(INDArray, float[], float[], INDArray, float, INDArray)} on values
   * {@code from .. from + len - 1} of each plane only (a band of columns, while it is in cache).
   * The arrays may also be of rank 4 ({@code [b, c, h, w]}, a plane of {@code h*w}), which spares
   * the caller a reshape (an ND4J view, 10-20 us of native calls) per conv.
   */
  static void affine(INDArray x3, float[] scale, float[] shift, INDArray r3, float cap, INDArray out3, int from,
      int len) {
    int c = (int) x3.size(1);
    int stride = plane(x3);
    long xBase = x3.offset();
    long oBase = out3.offset();
    long rBase = r3 == null ? 0 : r3.offset();
    RowPass pass = RowPass.of(x3, r3, out3, true);
    inTasks((int) x3.size(0) * c, perTask(len), (first, end) -> {
      for (int plane = first; plane < end; plane++) {
        int ch = plane % c;
        long at = (long) plane * stride + from;
        pass.row(xBase + at, rBase + at, oBase + at, len, scale == null ? 1f : scale[ch],
            shift == null ? 0f : shift[ch], cap);
      }
    });
    Reference.reachabilityFence(x3);
    Reference.reachabilityFence(r3);
    Reference.reachabilityFence(out3);
  }


  /**
   * Batch norm's backward pass in training: with {@code xhat = (x - mean) * invStd},
   * {@code dBeta = sum(dy)}, {@code dGamma = sum(dy * xhat)} and
   * {@code dx = gamma * invStd * (dy - dBeta / m - xhat * dGamma / m)}, m = b * n. With a fused
   * activation of {@code cap} (a ReLU, or relu6), {@code relu3} is the layer's output and
   * {@code dy} counts only where it is positive (and below the cap).
   * Each channel's inputs and gradients are read once, into per-thread arrays that the second
   * pass reuses from cache.
   */
  static void batchNormBackward(INDArray x3, INDArray dy3, INDArray relu3, float cap, float[] mean, float[] invStd,
      float[] gamma, INDArray dx3, float[] dGamma, float[] dBeta) {
    int b = (int) x3.size(0);
    int c = (int) x3.size(1);
    int n = (int) x3.size(2);
    double m = (double) b * n;
    FloatBuffer xb = x3.data().asNioFloat();
    FloatBuffer db = dy3.data().asNioFloat();
    FloatBuffer ob = dx3.data().asNioFloat();
    FloatBuffer rb = relu3 == null ? null : relu3.data().asNioFloat();
    int xBase = (int) x3.offset();
    int dBase = (int) dy3.offset();
    int oBase = (int) dx3.offset();
    int rBase = relu3 == null ? 0 : (int) relu3.offset();
    Parallel.forEach(c, ch -> {
      float[] px = Scratch.floats(0, b * n);
      float[] pd = Scratch.floats(1, b * n);
      float[] pr = rb == null ? null : Scratch.floats(2, n);
      float mu = mean[ch];
      for (int i = 0; i < b; i++) {
        int at = (i * c + ch) * n;
        xb.get(xBase + at, px, i * n, n);
        db.get(dBase + at, pd, i * n, n);
        if (pr != null) {
          rb.get(rBase + at, pr, 0, n);
          if (cap == RELU) {
            positiveOnly(pd, i * n, pr, n);
          } else {
            insideOnly(pd, i * n, pr, n, cap);
          }
        }
      }
      double sumDy = sum(pd, b * n);
      double sumDyXmu = dotDeviations(pd, px, b * n, mu);
      float is = invStd[ch];
      dBeta[ch] = (float) sumDy;
      dGamma[ch] = (float) (sumDyXmu * is);
      float a = gamma[ch] * is;
      float k1 = (float) (-a * sumDyXmu * is * is / m);
      float k2 = (float) (-a * sumDy / m);
      for (int k = 0; k < b * n; k++) {
        px[k] = a * pd[k] + k1 * (px[k] - mu) + k2;
      }
      for (int i = 0; i < b; i++) {
        ob.put(oBase + (i * c + ch) * n, px, i * n, n);
      }
    });
    Reference.reachabilityFence(x3);
    Reference.reachabilityFence(dy3);
    Reference.reachabilityFence(relu3);
    Reference.reachabilityFence(dx3);
  }

  // Sums in double over a channel's values (batch norm's statistics and gradients): eight partial
  // sums, each over every eighth value, added in a fixed order at the end, so the result does not
  // depend on the threads. One sum in one double waits on the add before it (four cycles a value):
  // MobileNetV2's training spent more time in these loops than in the rest of batch norm.

  /** Whether the loops below run on {@link VectorSums} (same bits). */
  private static boolean vectorSums() {
    return Vectors.on() && VectorSums.USABLE;
  }

  /** No partial sums yet: the start of each loop below. */
  private static final double[] NO_SUMS = new double[8];

  /** {@code sum_k p[k]} for {@code k < n}. */
  static double sum(float[] p, int n) {
    return vectorSums() ? VectorSums.sum(p, n) : sumFrom(p, 0, n, NO_SUMS);
  }

  /**
   * {@link #sum} from value {@code k} on, its eight partial sums so far in {@code s} (where
   * {@link VectorSums} leaves off: the values short of a vector).
   */
  static double sumFrom(float[] p, int k, int n, double[] s) {
    double s0 = s[0];
    double s1 = s[1];
    double s2 = s[2];
    double s3 = s[3];
    double s4 = s[4];
    double s5 = s[5];
    double s6 = s[6];
    double s7 = s[7];
    for (; k + 8 <= n; k += 8) {
      s0 += p[k];
      s1 += p[k + 1];
      s2 += p[k + 2];
      s3 += p[k + 3];
      s4 += p[k + 4];
      s5 += p[k + 5];
      s6 += p[k + 6];
      s7 += p[k + 7];
    }
    for (; k < n; k++) {
      s0 += p[k];
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** {@code sum_k (p[k] - mean)^2} for {@code k < n}, in double. */
  static double squaredDeviations(float[] p, int n, double mean) {
    return vectorSums() ? VectorSums.squaredDeviations(p, n, mean) : squaredDeviationsFrom(p, 0, n, mean, NO_SUMS);
  }

  /** {@link #squaredDeviations} from value {@code k} on, its eight partial sums so far in {@code s}. */
  static double squaredDeviationsFrom(float[] p, int k, int n, double mean, double[] s) {
    double s0 = s[0];
    double s1 = s[1];
    double s2 = s[2];
    double s3 = s[3];
    double s4 = s[4];
    double s5 = s[5];
    double s6 = s[6];
    double s7 = s[7];
    for (; k + 8 <= n; k += 8) {
      double d0 = p[k] - mean;
      double d1 = p[k + 1] - mean;
      double d2 = p[k + 2] - mean;
      double d3 = p[k + 3] - mean;
      double d4 = p[k + 4] - mean;
      double d5 = p[k + 5] - mean;
      double d6 = p[k + 6] - mean;
      double d7 = p[k + 7] - mean;
      s0 += d0 * d0;
      s1 += d1 * d1;
      s2 += d2 * d2;
      s3 += d3 * d3;
      s4 += d4 * d4;
      s5 += d5 * d5;
      s6 += d6 * d6;
      s7 += d7 * d7;
    }
    for (; k < n; k++) {
      double d = p[k] - mean;
      s0 += d * d;
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /** {@code sum_k d[k] * (x[k] - mu)} for {@code k < n}, each product in float, the sum in double. */
  static double dotDeviations(float[] d, float[] x, int n, float mu) {
    return dotDeviations(d, x, 0, n, mu);
  }

  /** {@code sum_k d[k] * (x[k] - mu)} for {@code from <= k < from + n}, as {@link #dotDeviations(float[], float[], int, float)}. */
  static double dotDeviations(float[] d, float[] x, int from, int n, float mu) {
    return vectorSums() ? VectorSums.dotDeviations(d, x, from, n, mu)
        : dotDeviationsFrom(d, x, from, from + n, mu, NO_SUMS);
  }

  /** {@link #dotDeviations} over {@code k <= i < end}, its eight partial sums so far in {@code s}. */
  static double dotDeviationsFrom(float[] d, float[] x, int k, int end, float mu, double[] s) {
    double s0 = s[0];
    double s1 = s[1];
    double s2 = s[2];
    double s3 = s[3];
    double s4 = s[4];
    double s5 = s[5];
    double s6 = s[6];
    double s7 = s[7];
    for (; k + 8 <= end; k += 8) {
      s0 += d[k] * (x[k] - mu);
      s1 += d[k + 1] * (x[k + 1] - mu);
      s2 += d[k + 2] * (x[k + 2] - mu);
      s3 += d[k + 3] * (x[k + 3] - mu);
      s4 += d[k + 4] * (x[k + 4] - mu);
      s5 += d[k + 5] * (x[k + 5] - mu);
      s6 += d[k + 6] * (x[k + 6] - mu);
      s7 += d[k + 7] * (x[k + 7] - mu);
    }
    for (; k < end; k++) {
      s0 += d[k] * (x[k] - mu);
    }
    return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
  }

  /**
   * {@code d[at + k] = y[k] > 0 ? d[at + k] : 0} for {@code k < n} (a NaN in {@code y} keeps
   * {@code d}, as PyTorch's ReLU backward does): as bit masks, which the JIT vectorizes (a
   * conditional does not).
   */
  static void positiveOnly(float[] d, int at, float[] y, int n) {
    if (vectorSums()) {
      VectorSums.positiveOnly(d, at, y, n);
    } else {
      positiveOnlyScalar(d, at, y, 0, n);
    }
  }

  /** {@link #positiveOnly} in scalar code, over {@code y[yAt ..]}. */
  static void positiveOnlyScalar(float[] d, int at, float[] y, int yAt, int n) {
    for (int k = 0; k < n; k++) {
      // the sign bit of -bits & ~bits is set exactly when bits, as an int, is above zero
      int bits = Float.floatToRawIntBits(y[yAt + k]);
      int keep = (-bits & ~bits) >> 31;
      d[at + k] = Float.intBitsToFloat(Float.floatToRawIntBits(d[at + k]) & keep);
    }
  }

  /**
   * {@code d[at + k] = 0 < y[k] < cap ? d[at + k] : 0} for {@code k < n}, {@code y} a clamp's
   * output ({@code cap} finite and positive): relu6's backward from its output, which is inside
   * (0, cap) exactly where its input is; a NaN in {@code y} keeps {@code d}, as PyTorch's
   * {@code hardtanh_backward} does. As bit masks (for floats above zero the bits order as the
   * values), which the JIT vectorizes.
   */
  static void insideOnly(float[] d, int at, float[] y, int n, float cap) {
    if (vectorSums()) {
      VectorSums.insideOnly(d, at, y, n, cap);
    } else {
      insideOnlyScalar(d, at, y, 0, n, cap);
    }
  }

  /** {@link #insideOnly} in scalar code, over {@code y[yAt ..]}. */
  static void insideOnlyScalar(float[] d, int at, float[] y, int yAt, int n, float cap) {
    int capBits = Float.floatToRawIntBits(cap);
    for (int k = 0; k < n; k++) {
      int bits = Float.floatToRawIntBits(y[yAt + k]);
      int positive = (-bits & ~bits) >> 31;
      int below = (bits - capBits) >> 31;
      int nan = (0x7f800000 - (bits & 0x7fffffff)) >> 31;
      d[at + k] = Float.intBitsToFloat(Float.floatToRawIntBits(d[at + k]) & (positive & below | nan));
    }
  }

  /**
   * A ReLU's backward pass over whole arrays (all {@link #direct}): {@code out = eps} where
   * {@code y}, the ReLU's input or output, is positive, else 0. Four times faster than ND4J's
   * {@code ThresholdReluBp} on this project's machine.
   */
  static void reluBackward(INDArray y, INDArray eps, INDArray out) {
    elementwise(y, eps, out, (py, pe, len) -> positiveOnly(pe, 0, py, len));
  }

  /** What {@link #elementwise} does to a chunk: {@code x} alone in place, or {@code e} in place from {@code x} and {@code e}. */
  interface Chunk {
    void apply(float[] x, float[] e, int len);
  }

  /**
   * An elementwise kernel over whole arrays (all {@link #direct}, of one length), a chunk of 16K
   * values per task on every core: each chunk of {@code x} (and of {@code e}, when not null) read
   * into this thread's arrays, {@code f} applied, and the chunk of {@code x} (without {@code e})
   * or of {@code e} written to {@code out}.
   */
  static void elementwise(INDArray x, INDArray e, INDArray out, Chunk f) {
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer eb = e == null ? null : e.data().asNioFloat();
    FloatBuffer ob = out.data().asNioFloat();
    long xBase = x.offset();
    long eBase = e == null ? 0 : e.offset();
    long oBase = out.offset();
    long length = x.length();
    int chunk = 1 << 14;
    Parallel.forEach((int) ((length + chunk - 1) / chunk), part -> {
      int at = part * chunk;
      int len = (int) Math.min(chunk, length - at);
      float[] px = Scratch.floats(0, len);
      float[] pe = eb == null ? null : Scratch.floats(1, len);
      xb.get((int) (xBase + at), px, 0, len);
      if (eb != null) {
        eb.get((int) (eBase + at), pe, 0, len);
      }
      f.apply(px, pe, len);
      ob.put((int) (oBase + at), eb == null ? px : pe, 0, len);
    });
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(e);
    Reference.reachabilityFence(out);
  }

  /**
   * PyTorch's ReLU6, {@code hardtanh(x, 0, cap)}, over whole arrays (all {@link #direct}):
   * {@code out = min(max(x, 0), cap)}, a NaN staying NaN as in PyTorch's clamp.
   */
  static void clamp(INDArray x, INDArray out, float cap) {
    elementwise(x, null, out, (px, unused, len) -> {
      for (int k = 0; k < len; k++) {
        px[k] = Math.min(Math.max(px[k], 0f), cap);
      }
    });
  }

  /**
   * {@code out[p][i] = x[p][i] * s[p % scales]} over {@code planes} planes of {@code plane} values
   * ({@code x}, {@code out} {@link #direct}, {@code [planes * plane]}; {@code s} direct, of
   * {@code scales} values): a squeeze-and-excitation's scale, one pass, tasks of whole planes.
   */
  static void scalePlanes(INDArray x, INDArray s, INDArray out, int planes, int plane, int scales) {
    FloatBuffer xb = x.data().asNioFloat();
    FloatBuffer ob = out.data().asNioFloat();
    float[] scale = new float[scales];
    s.data().asNioFloat().get((int) s.offset(), scale, 0, scales);
    long xBase = x.offset();
    long oBase = out.offset();
    int per = perTask(plane);
    Parallel.forEach((planes + per - 1) / per, part -> {
      int p0 = part * per;
      int count = Math.min(per, planes - p0);
      float[] px = Scratch.floats(0, count * plane);
      xb.get((int) (xBase + (long) p0 * plane), px, 0, count * plane);
      for (int q = 0; q < count; q++) {
        float f = scale[(p0 + q) % scales];
        for (int i = q * plane, end = i + plane; i < end; i++) {
          px[i] *= f;
        }
      }
      ob.put((int) (oBase + (long) p0 * plane), px, 0, count * plane);
    });
    Reference.reachabilityFence(x);
    Reference.reachabilityFence(s);
    Reference.reachabilityFence(out);
  }

  /**
   * {@code d[p % scales] += sum_i e[p][i] * x[p][i]} over {@code planes} planes of {@code plane}
   * values ({@code e}, {@code x} {@link #direct}): the scale's gradient of {@link #scalePlanes}, each
   * plane summed in order in float, then the planes of one scale in order of {@code p}.
   */
  static float[] planeDots(INDArray e, INDArray x, int planes, int plane, int scales) {
    FloatBuffer eb = e.data().asNioFloat();
    FloatBuffer xb = x.data().asNioFloat();
    long eBase = e.offset();
    long xBase = x.offset();
    float[] dots = new float[planes];
    int per = perTask(plane);
    Parallel.forEach((planes + per - 1) / per, part -> {
      int p0 = part * per;
      int count = Math.min(per, planes - p0);
      float[] pe = Scratch.floats(0, count * plane);
      float[] px = Scratch.floats(1, count * plane);
      eb.get((int) (eBase + (long) p0 * plane), pe, 0, count * plane);
      xb.get((int) (xBase + (long) p0 * plane), px, 0, count * plane);
      for (int q = 0; q < count; q++) {
        dots[p0 + q] = (float) dotDeviations(pe, px, q * plane, plane, 0f);
      }
    });
    float[] d = new float[scales];
    for (int p = 0; p < planes; p++) {
      d[p % scales] += dots[p];
    }
    Reference.reachabilityFence(e);
    Reference.reachabilityFence(x);
    return d;
  }

  /** PyTorch's SiLU of one value: {@code x / (1 + exp(-x))} (NaN stays NaN, -inf gives NaN as in PyTorch). */
  static float silu(float x) {
    return x / (1f + exp(-x));
  }

  /** The input gradient of SiLU at {@code x} for output gradient {@code e}: {@code e * s * (1 + x * (1 - s))}, {@code s} the sigmoid. */
  static float siluGrad(float x, float e) {
    float s = 1f / (1f + exp(-x));
    return e * (s * (1f + x * (1f - s)));
  }

  /** {@link #exp}'s constants: log2(e), ln(2) in two parts, round-to-nearest's 1.5 * 2^23, Cephes' polynomial. */
  static final float LOG2E = 1.44269504088896341f;
  static final float LN2_HI = 0.693359375f;
  static final float LN2_LO = -2.12194440e-4f;
  static final float ROUND = 12582912f;
  static final float[] EXP_POLY = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
      1.6666665459e-1f, 5.0000001201e-1f};

  /**
   * {@code e^x} in float within about an ulp, by operations whose results IEEE 754 fixes (add,
   * multiply, fused multiply-add, exact scaling by powers of two): {@link VectorSilu} computes the
   * same steps on vectors, so the two give the same bits, whether the JIT has compiled them or
   * not (the Vector API's own {@code EXP} gives other bits interpreted than compiled). Cephes'
   * {@code expf}: {@code x = n ln 2 + r}, {@code |r| <= ln 2 / 2}, {@code e^r} by its polynomial,
   * times {@code 2^n} as two factors (so both stay normal); below -104 it is 0, above 88.8 infinity.
   */
  static float exp(float x) {
    x = Math.min(Math.max(x, -104f), 89f);
    float n = (x * LOG2E + ROUND) - ROUND;
    float r = Math.fma(-n, LN2_HI, x);
    r = Math.fma(-n, LN2_LO, r);
    float p = EXP_POLY[0];
    for (int i = 1; i < EXP_POLY.length; i++) {
      p = Math.fma(p, r, EXP_POLY[i]);
    }
    p = Math.fma(p, r * r, r) + 1f;
    int ni = (int) n;
    int n1 = ni >> 1;
    int n2 = ni - n1;
    return p * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
  }

  /**
   * {@code out = silu(x)} (both {@link #direct}, of one length), a chunk at a time on every core,
   * on vectors when {@link Vectors#on()}, with the same bits either way ({@link #exp}).
   */
  static void silu(INDArray x, INDArray out) {
    elementwise(x, null, out, (px, unused, len) -> silu(px, len));
  }

  /** {@code p[0 .. n)} replaced by its SiLU: on vectors when {@link Vectors#on()}, the same bits either way. */
  static void silu(float[] p, int n) {
    if (Vectors.on()) {
      VectorSilu.forward(p, n);
    } else {
      for (int k = 0; k < n; k++) {
        p[k] = silu(p[k]);
      }
    }
  }

  /** {@code out = eps * silu'(x)} (all {@link #direct}, of one length), as {@link #silu(INDArray, INDArray)} runs. */
  static void siluBackward(INDArray x, INDArray eps, INDArray out) {
    boolean vectors = Vectors.on();
    elementwise(x, eps, out, (px, pe, len) -> {
      if (vectors) {
        VectorSilu.backward(px, pe, len);
      } else {
        for (int k = 0; k < len; k++) {
          pe[k] = siluGrad(px[k], pe[k]);
        }
      }
    });
  }

  /**
   * {@code out = xs[0] + xs[1] + ...} (all {@link #direct}, of {@code out}'s length), added in
   * that order as DL4J's vertex adds them, then the fused activation of {@code cap} (see
   * {@link #NONE}): one read of each input and one write, a chunk at a time.
   */
  static void sum(INDArray[] xs, INDArray out, float cap) {
    FloatBuffer[] xb = new FloatBuffer[xs.length];
    long[] xBase = new long[xs.length];
    for (int i = 0; i < xs.length; i++) {
      xb[i] = xs[i].data().asNioFloat();
      xBase[i] = xs[i].offset();
    }
    FloatBuffer ob = out.data().asNioFloat();
    long oBase = out.offset();
    long length = out.length();
    int chunk = 1 << 14;
    Parallel.forEach((int) ((length + chunk - 1) / chunk), part -> {
      int at = part * chunk;
      int len = (int) Math.min(chunk, length - at);
      float[] p = Scratch.floats(0, len);
      float[] q = Scratch.floats(1, len);
      xb[0].get((int) (xBase[0] + at), p, 0, len);
      for (int i = 1; i < xb.length; i++) {
        xb[i].get((int) (xBase[i] + at), q, 0, len);
        for (int k = 0; k < len; k++) {
          p[k] += q[k];
        }
      }
      finish(p, len, 1f, 0f, cap);
      ob.put((int) (oBase + at), p, 0, len);
    });
    Reference.reachabilityFence(xs);
    Reference.reachabilityFence(out);
  }

  /**
   * The backward pass of {@link #clamp}: {@code out = eps} where {@code 0 < x < cap}, else 0; a NaN
   * in {@code x} keeps {@code eps}, as PyTorch's {@code hardtanh_backward} does (it zeroes where
   * {@code x <= 0 || x >= cap}). Bit masks ({@link #insideOnly}), not a branch per value, which the
   * JIT does not vectorize.
   */
  static void clampBackward(INDArray x, INDArray eps, INDArray out, float cap) {
    elementwise(x, eps, out, (px, pe, len) -> insideOnly(pe, 0, px, len, cap));
  }

  /**
   * {@code dst[j][i] = src[i][j] (+ add[i])} for {@code src [A, B, n]} and {@code dst [B, A, n]}:
   * the first two axes swapped, plane by plane, with an optional value per {@code src} row, then
   * the fused activation of {@code cap} (see {@link #NONE}).
   */
  static void swapAxes(INDArray src3, INDArray dst3, float[] add, float cap) {
    int a = (int) src3.size(0);
    int bb = (int) src3.size(1);
    int n = (int) src3.size(2);
    long sBase = src3.offset();
    long dBase = dst3.offset();
    RowPass pass = RowPass.of(src3, null, dst3, disjoint(src3, dst3));
    inTasks(a * bb, perTask(n), (first, end) -> {
      for (int plane = first; plane < end; plane++) {
        int i = plane / bb;
        int j = plane % bb;
        pass.row(sBase + (long) plane * n, 0, dBase + ((long) j * a + i) * n, n, 1f, add == null ? 0f : add[i], cap);
      }
    });
    Reference.reachabilityFence(src3);
    Reference.reachabilityFence(dst3);
  }


  /**
   * {@code rows} runs of {@code len} floats from {@code src} (starting at element {@code srcAt},
   * {@code srcStride} apart) to {@code dst} (likewise), each run plus {@code add[row]} (when not
   * null) and then the fused activation of {@code cap} (see {@link #NONE}); source and destination may be the same
   * array. This is a conv tile's epilogue (bias and ReLU while the tile is in cache) and the
   * gather of a band of an output gradient.
   */
  static void copyRows(INDArray src, long srcAt, long srcStride, INDArray dst, long dstAt, long dstStride, int rows,
      int len, float[] add, float cap) {
    long sBase = src.offset() + srcAt;
    long dBase = dst.offset() + dstAt;
    // vector by vector is safe on other memory, or on the same rows in place
    RowPass pass = RowPass.of(src, null, dst, disjoint(src, dst)
        || inPlace(src, srcAt, srcStride, dst, dstAt, dstStride));
    inTasks(rows, perTask(len), (first, end) -> {
      for (int row = first; row < end; row++) {
        pass.row(sBase + row * srcStride, 0, dBase + row * dstStride, len, 1f, add == null ? 0f : add[row], cap);
      }
    });
    Reference.reachabilityFence(src);
    Reference.reachabilityFence(dst);
  }


  /**
   * Each channel's sum over {@code y [b, channels, ...]} (C order, default strides), summed in
   * double: a conv's bias gradient. One task per channel reads its {@code b} planes (ND4J's
   * {@code sum(0, 2, 3)} took 2.6 ms for {@code [8, 192, 56, 56]}).
   */
  static float[] channelSums(INDArray y, int channels) {
    int b = (int) y.size(0);
    int n = (int) (y.length() / b / channels);
    FloatBuffer yb = y.data().asNioFloat();
    int base = (int) y.offset();
    float[] sums = new float[channels];
    Parallel.forEach(channels, ch -> {
      float[] p = Scratch.floats(0, n);
      double total = 0;
      for (int i = 0; i < b; i++) {
        yb.get(base + (i * channels + ch) * n, p, 0, n);
        total += sum(p, n);
      }
      sums[ch] = (float) total;
    });
    Reference.reachabilityFence(y);
    return sums;
  }

  /**
   * {@code p[0..n) * scale + shift}, then the fused activation of {@code cap} (see {@link #NONE}):
   * batch norm's affine map and a conv's bias, with a fused ReLU or relu6. A scale of 1 changes
   * nothing exactly.
   */
  static void finish(float[] p, int n, float scale, float shift, float cap) {
    if (cap == SILU) {
      finish(p, n, scale, shift, NONE);
      silu(p, n);
      return;
    }
    if (cap == RELU) {
      for (int k = 0; k < n; k++) {
        p[k] = Math.max(p[k] * scale + shift, 0f);
      }
    } else if (cap > 0) {
      for (int k = 0; k < n; k++) {
        p[k] = Math.min(Math.max(p[k] * scale + shift, 0f), cap);
      }
    } else if (scale != 1f || shift != 0f) {
      for (int k = 0; k < n; k++) {
        p[k] = p[k] * scale + shift;
      }
    }
  }
}
