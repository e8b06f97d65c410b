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
  /** The most column-matrix floats (all samples together) held at once: 64 MB. */
  static long BATCH_COLUMNS = 16L << 20;

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
    long oh = g.outH(x.size(2));
    long ow = g.outW(x.size(3));
    long s = oh * ow;
    INDArray w2 = w.reshape('c', o, w.length() / o);
    INDArray out = mgr.createUninitialized(outType, x.dataType(), new long[] {b, o, oh, ow}, 'c');
    long k = w.length() / o;
    if (batched(x, b, k, s)) {
      // one GEMM over the batch's columns [k, b*s], then the result [o, b, s] laid out as NCHW
      INDArray cols = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), new long[] {k, b, oh, ow}, 'c');
      Im2col.im2colRows(x, g, cols);
      INDArray o2 = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      Nd4j.gemm(w2, cols.reshape('c', k, b * s), o2.reshape('c', o, b * s), false, false, 1.0, 0.0);
      ChannelKernels.swapAxes(o2, out.reshape('c', b, o, s), bias == null ? null : bias.reshape(o).toFloatVector());
      return out;
    }
    Columns cols = new Columns(x, g, oh, ow, mgr, ArrayType.FF_WORKING_MEM);
    for (long n = 0; n < b; n++) {
      Nd4j.gemm(w2, cols.of(n), out.get(point(n), all(), all(), all()).reshape('c', o, s), false, false, 1.0, 0.0);
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
    long h = x.size(2);
    long wd = x.size(3);
    long o = w.size(0);
    long k = c * g.kh() * g.kw();
    long oh = delta.size(2);
    long ow = delta.size(3);
    long s = oh * ow;
    INDArray w2 = w.reshape('c', o, k);
    INDArray wGrad2 = wGrad.reshape('c', o, k);
    INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, x.dataType(), new long[] {b, c, h, wd}, 'c');
    if (batched(x, b, k, s) && ChannelKernels.direct(delta)) {
      INDArray d2 = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      ChannelKernels.swapAxes(delta.reshape('c', b, o, s), d2, null);
      INDArray d2m = d2.reshape('c', o, b * s);
      INDArray cols = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), new long[] {k, b, oh, ow}, 'c');
      Im2col.im2colRows(x, g, cols);
      Nd4j.gemm(d2m, cols.reshape('c', k, b * s), wGrad2, false, true, 1.0, 0.0);
      // the columns' gradient, into the columns' buffer
      Nd4j.gemm(w2, d2m, cols.reshape('c', k, b * s), true, false, 1.0, 0.0);
      Im2col.col2imRows(cols, g, dx);
      if (bGrad != null) {
        bGrad.assign(d2m.sum(1).reshape(bGrad.shape()));
      }
      return dx;
    }
    Columns cols = new Columns(x, g, oh, ow, mgr, ArrayType.BP_WORKING_MEM);
    // the columns' gradient: all samples (then one col2im) or one sample at a time, as the columns
    INDArray dcol = g.pointwise() ? null : mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(),
        new long[] {cols.all == null ? 1 : b, c, g.kh(), g.kw(), oh, ow}, 'c');
    for (long n = 0; n < b; n++) {
      INDArray dn = delta.get(point(n), all(), all(), all()).reshape('c', o, s);
      Nd4j.gemm(dn, cols.of(n), wGrad2, false, true, 1.0, n == 0 ? 0.0 : 1.0);
      if (g.pointwise()) {
        Nd4j.gemm(w2, dn, dx.get(point(n), all(), all(), all()).reshape('c', c, s), true, false, 1.0, 0.0);
      } else if (cols.all != null) {
        Nd4j.gemm(w2, dn, dcol.get(point(n), all(), all(), all(), all(), all()).reshape('c', k, s), true, false, 1.0,
            0.0);
      } else {
        Nd4j.gemm(w2, dn, dcol.reshape('c', k, s), true, false, 1.0, 0.0);
        Im2col.col2im(dcol, g, dx, n);
      }
    }
    if (!g.pointwise() && cols.all != null) {
      Im2col.col2im(dcol, g, dx, 0);
    }
    if (bGrad != null) {
      bGrad.assign(delta.sum(0, 2, 3).reshape(bGrad.shape()));
    }
    return dx;
  }

  /** The column matrices {@code [c*kh*kw, oh*ow]} of each sample of {@code x}. */
  private static final class Columns {
    private final INDArray x;
    private final Geometry g;
    private final long k;
    private final long s;
    /** Every sample's columns, {@code [b, c, kh, kw, oh, ow]}, when they fit in one buffer. */
    final INDArray all;
    private final INDArray one;

    Columns(INDArray x, Geometry g, long oh, long ow, LayerWorkspaceMgr mgr, ArrayType type) {
      this.x = x;
      this.g = g;
      long b = x.size(0);
      long c = x.size(1);
      this.k = c * g.kh() * g.kw();
      this.s = oh * ow;
      if (g.pointwise()) {
        all = null;
        one = null;
      } else if (b * k * s <= BATCH_COLUMNS) {
        all = mgr.createUninitialized(type, x.dataType(), new long[] {b, c, g.kh(), g.kw(), oh, ow}, 'c');
        Im2col.im2col(x, 0, g, all);
        one = null;
      } else {
        all = null;
        one = mgr.createUninitialized(type, x.dataType(), new long[] {1, c, g.kh(), g.kw(), oh, ow}, 'c');
      }
    }

    INDArray of(long n) {
      if (g.pointwise()) {
        return x.get(point(n), all(), all(), all()).reshape('c', x.size(1), s);
      }
      if (all != null) {
        return all.get(point(n), all(), all(), all(), all(), all()).reshape('c', k, s);
      }
      Im2col.im2col(x, n, g, one);
      return one.reshape('c', k, s);
    }
  }
}
