package org.cnnc.runtime.layers;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A 2-d convolution (NCHW, weights {@code [out, in, kh, kw]} as PyTorch keeps them) computed as
 * matrix products on ND4J's BLAS, forward and backward, in one of two layouts:
 *
 * <ul>
 *   <li><b>whole batch</b>, while the batch's columns fit in {@link #BATCH_COLUMNS} floats:
 *       {@link Im2col} writes them as {@code [in*kh*kw, b*oh*ow]}, one GEMM gives
 *       {@code [out, b, oh*ow]}, and one pass lays that out as NCHW, adding the bias;
 *   <li><b>per sample</b>, for larger maps (VGG16's first blocks):
 *       {@code out[n] = W[out, in*kh*kw] x col[n]}, written straight into the NCHW output; a 1x1,
 *       stride-1, unpadded conv multiplies the input itself.
 * </ul>
 *
 * Measured on this project's machine (README, "Performance"): NiN's first conv (k = 75) takes
 * 1.2 ms as one GEMM against 6.5 ms as eight; NiN's forward went from 56 to 36-39 ms and its
 * training step from 252 to 190-202 ms. ND4J's own im2col could not produce the batch layout
 * cheaply (28 ms into a permuted view against 5.6 ms into its natural one, on NiN's 5x5 layer).
 *
 * <p>The backward pass is the same products transposed: {@code dW = dOut x col^T},
 * {@code dCol = W^T x dOut}, then col2im.
 */
public final class ConvGemm {
  /** The most column-matrix floats of the whole batch for its one GEMM: 64 MB. */
  static final long BATCH_COLUMNS = 16L << 20;

  private ConvGemm() {}

  /** Kernel, stride, padding and dilation, each {@code [h, w]}. */
  public record Geometry(int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
    public Geometry(int[] kernel, int[] stride, int[] padding, int[] dilation) {
      this(kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]);
    }

    /** A 1x1 conv of stride 1 without padding: the input itself is the column matrix. */
    boolean pointwise() {
      return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0;
    }

    long outH(long h) {
      return (h + 2L * ph - ((long) dh * (kh - 1) + 1)) / sh + 1;
    }

    long outW(long w) {
      return (w + 2L * pw - ((long) dw * (kw - 1) + 1)) / sw + 1;
    }
  }

  /**
   * Whether to multiply the whole batch's columns at once: float arrays whose columns fit in
   * {@link #BATCH_COLUMNS}, and a batch of more than one. One GEMM with {@code n = b*oh*ow} beats
   * {@code b} GEMMs when they are small (NiN's first conv, k = 75: 1.2 ms against 6.5 ms).
   */
  static boolean batched(INDArray x, long b, long k, long s) {
    return BATCHED && b > 1 && b * k * s <= BATCH_COLUMNS && ChannelKernels.direct(x);
  }

  /** Whether the whole-batch layout is on (a switch for measuring the two). */
  static boolean BATCHED = !Boolean.getBoolean("cnnc.conv.perSample");

  /** The array itself when it is C-ordered with default strides, else a C-ordered copy. */
  static INDArray contiguous(INDArray a, LayerWorkspaceMgr mgr, ArrayType type) {
    return a.ordering() == 'c' && Shape.hasDefaultStridesForShape(a) ? a : mgr.dup(type, a, 'c');
  }

  /**
   * {@code x [b, c, h, w]} (C order) convolved with {@code w [o, c, kh, kw]}, plus {@code bias [o]}
   * (or null); the result, {@code [b, o, oh, ow]}, is allocated as {@code outType}.
   */
  public static INDArray forward(INDArray x, INDArray w, INDArray bias, Geometry g, LayerWorkspaceMgr mgr,
      ArrayType outType) {
    long b = x.size(0);
    long o = w.size(0);
    long k = w.length() / o;
    long oh = g.outH(x.size(2));
    long ow = g.outW(x.size(3));
    long s = oh * ow;
    INDArray w2 = w.reshape('c', o, k);
    INDArray out = mgr.createUninitialized(outType, x.dataType(), new long[] {b, o, oh, ow}, 'c');
    if (batched(x, b, k, s)) {
      // one GEMM over the batch's columns [k, b*s], then the result [o, b, s] laid out as NCHW
      INDArray cols = columns(x, b, k, s, mgr, ArrayType.FF_WORKING_MEM);
      Im2col.im2col(x, 0, (int) b, g, cols);
      INDArray o2 = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      Nd4j.gemm(w2, cols, o2.reshape('c', o, b * s), false, false, 1.0, 0.0);
      ChannelKernels.swapAxes(o2, out.reshape('c', b, o, s), bias == null ? null : bias.reshape(o).toFloatVector());
      return out;
    }
    INDArray col = g.pointwise() ? null : columns(x, 1, k, s, mgr, ArrayType.FF_WORKING_MEM);
    for (long n = 0; n < b; n++) {
      Nd4j.gemm(w2, sampleColumns(x, n, g, col, s), sample(out, n, o, s), false, false, 1.0, 0.0);
    }
    if (bias != null) {
      Nd4j.getExecutioner().exec(new BroadcastAddOp(out, bias.reshape(o), out, 1));
    }
    return out;
  }

  /**
   * The gradients of {@link #forward}: {@code dW} into {@code wGrad} and {@code db} into
   * {@code bGrad} (overwritten; {@code bGrad} may be null), and {@code dx} returned, allocated as
   * an activation gradient. {@code delta} is the gradient of the output, C-ordered.
   */
  public static INDArray backward(INDArray x, INDArray w, INDArray delta, INDArray wGrad, INDArray bGrad, Geometry g,
      LayerWorkspaceMgr mgr) {
    long b = x.size(0);
    long c = x.size(1);
    long o = w.size(0);
    long k = w.length() / o;
    long s = delta.size(2) * delta.size(3);
    INDArray w2 = w.reshape('c', o, k);
    INDArray wGrad2 = wGrad.reshape('c', o, k);
    INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, x.dataType(), x.shape(), 'c');
    if (batched(x, b, k, s) && ChannelKernels.direct(delta)) {
      INDArray d2 = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      ChannelKernels.swapAxes(delta.reshape('c', b, o, s), d2, null);
      INDArray d2m = d2.reshape('c', o, b * s);
      INDArray cols = columns(x, b, k, s, mgr, ArrayType.BP_WORKING_MEM);
      Im2col.im2col(x, 0, (int) b, g, cols);
      Nd4j.gemm(d2m, cols, wGrad2, false, true, 1.0, 0.0);
      // the columns' gradient, into the columns' buffer
      Nd4j.gemm(w2, d2m, cols, true, false, 1.0, 0.0);
      Im2col.col2im(cols, (int) b, g, dx, 0);
      if (bGrad != null) {
        bGrad.assign(d2m.sum(1).reshape(bGrad.shape()));
      }
      return dx;
    }
    INDArray col = g.pointwise() ? null : columns(x, 1, k, s, mgr, ArrayType.BP_WORKING_MEM);
    INDArray dcol = g.pointwise() ? null : columns(x, 1, k, s, mgr, ArrayType.BP_WORKING_MEM);
    for (long n = 0; n < b; n++) {
      INDArray dn = sample(delta, n, o, s);
      Nd4j.gemm(dn, sampleColumns(x, n, g, col, s), wGrad2, false, true, 1.0, n == 0 ? 0.0 : 1.0);
      if (g.pointwise()) {
        Nd4j.gemm(w2, dn, sample(dx, n, c, s), true, false, 1.0, 0.0);
      } else {
        Nd4j.gemm(w2, dn, dcol, true, false, 1.0, 0.0);
        Im2col.col2im(dcol, 1, g, dx, n);
      }
    }
    if (bGrad != null) {
      bGrad.assign(delta.sum(0, 2, 3).reshape(bGrad.shape()));
    }
    return dx;
  }

  /** A column matrix {@code [k, count*s]} for {@code count} samples. */
  private static INDArray columns(INDArray x, long count, long k, long s, LayerWorkspaceMgr mgr, ArrayType type) {
    return mgr.createUninitialized(type, x.dataType(), new long[] {k, count * s}, 'c');
  }

  /** Sample n's column matrix {@code [c*kh*kw, s]}: the input itself for a pointwise conv, else im2col into col. */
  private static INDArray sampleColumns(INDArray x, long n, Geometry g, INDArray col, long s) {
    if (col == null) {
      return sample(x, n, x.size(1), s);
    }
    Im2col.im2col(x, n, 1, g, col);
    return col;
  }

  /** Sample n of {@code a [b, rows, ...]} as the matrix {@code [rows, s]} (a view). */
  private static INDArray sample(INDArray a, long n, long rows, long s) {
    return a.get(point(n), all(), all(), all()).reshape('c', rows, s);
  }
}
