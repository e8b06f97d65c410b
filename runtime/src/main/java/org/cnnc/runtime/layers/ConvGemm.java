package org.cnnc.runtime.layers;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A 2-d convolution (NCHW, weights {@code [out, in, kh, kw]} as PyTorch keeps them) computed as
 * matrix products on ND4J's BLAS, forward and backward.
 *
 * <p>Two layouts, chosen by the size of the output map, so that every GEMM is large:
 *
 * <ul>
 *   <li><b>per sample</b> (maps of at least {@link #PER_SAMPLE_MIN} positions): for each sample,
 *       {@code out[n] = W[out, in*kh*kw] x col[n][in*kh*kw, oh*ow]}, written straight into the
 *       NCHW output; a 1x1, stride-1, unpadded conv multiplies the input itself, with no im2col.
 *   <li><b>whole batch</b> (small maps, such as Inception's 14x14 and 7x7): one GEMM over
 *       {@code [in*kh*kw, batch*oh*ow]}, whose result is then laid out as NCHW.
 * </ul>
 *
 * The backward pass is the same products transposed: {@code dW = dOut x col^T},
 * {@code dCol = W^T x dOut}, then col2im.
 */
public final class ConvGemm {
  /** Output positions per sample from which one GEMM per sample is large enough. */
  static long PER_SAMPLE_MIN = Long.getLong("cnnc.conv.perSampleMin", 784);

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

  static boolean perSample(long positions, long batch) {
    return batch == 1 || positions >= PER_SAMPLE_MIN;
  }

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
    long c = x.size(1);
    long o = w.size(0);
    long k = c * g.kh() * g.kw();
    long oh = g.outH(x.size(2));
    long ow = g.outW(x.size(3));
    long s = oh * ow;
    INDArray w2 = w.reshape('c', o, k);
    INDArray out = mgr.createUninitialized(outType, x.dataType(), new long[] {b, o, oh, ow}, 'c');
    if (perSample(s, b)) {
      INDArray col = g.pointwise() ? null
          : mgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), new long[] {1, c, g.kh(), g.kw(), oh, ow}, 'c');
      for (long n = 0; n < b; n++) {
        INDArray cols = columns(x, n, col, g, c, k, s);
        Nd4j.gemm(w2, cols, out.get(point(n), all(), all(), all()).reshape('c', o, s), false, false, 1.0, 0.0);
      }
    } else {
      INDArray cols = batchColumns(x, g, mgr, ArrayType.FF_WORKING_MEM, oh, ow);
      INDArray o2 = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      Nd4j.gemm(w2, cols, o2.reshape('c', o, b * s), false, false, 1.0, 0.0);
      out.reshape('c', b, o, s).assign(o2.permute(1, 0, 2));
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
    if (perSample(s, b)) {
      INDArray col = g.pointwise() ? null
          : mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), new long[] {1, c, g.kh(), g.kw(), oh, ow}, 'c');
      INDArray dcol = g.pointwise() ? null
          : mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), new long[] {1, c, g.kh(), g.kw(), oh, ow}, 'c');
      for (long n = 0; n < b; n++) {
        INDArray dn = delta.get(point(n), all(), all(), all()).reshape('c', o, s);
        INDArray cols = columns(x, n, col, g, c, k, s);
        Nd4j.gemm(dn, cols, wGrad2, false, true, 1.0, n == 0 ? 0.0 : 1.0);
        if (g.pointwise()) {
          Nd4j.gemm(w2, dn, dx.get(point(n), all(), all(), all()).reshape('c', c, s), true, false, 1.0, 0.0);
        } else {
          Nd4j.gemm(w2, dn, dcol.reshape('c', k, s), true, false, 1.0, 0.0);
          Convolution.col2im(dcol, dx.get(interval(n, n + 1), all(), all(), all()), g.sh(), g.sw(), g.ph(), g.pw(),
              (int) h, (int) wd, g.dh(), g.dw());
        }
      }
    } else {
      INDArray d2 = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      d2.assign(delta.reshape('c', b, o, s).permute(1, 0, 2));
      INDArray d2m = d2.reshape('c', o, b * s);
      INDArray cols = batchColumns(x, g, mgr, ArrayType.BP_WORKING_MEM, oh, ow);
      Nd4j.gemm(d2m, cols, wGrad2, false, true, 1.0, 0.0);
      INDArray dcol = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(),
          new long[] {c, g.kh(), g.kw(), b, oh, ow}, 'c');
      Nd4j.gemm(w2, d2m, dcol.reshape('c', k, b * s), true, false, 1.0, 0.0);
      if (g.pointwise()) {
        dx.reshape('c', b, c, s).assign(dcol.reshape('c', c, b, s).permute(1, 0, 2));
      } else {
        Convolution.col2im(dcol.permute(3, 0, 1, 2, 4, 5), dx, g.sh(), g.sw(), g.ph(), g.pw(), (int) h, (int) wd,
            g.dh(), g.dw());
      }
    }
    if (bGrad != null) {
      bGrad.assign(delta.sum(0, 2, 3).reshape(bGrad.shape()));
    }
    return dx;
  }

  /** Sample n's column matrix {@code [c*kh*kw, oh*ow]}: the input itself for a pointwise conv, else im2col into col. */
  private static INDArray columns(INDArray x, long n, INDArray col, Geometry g, long c, long k, long s) {
    if (g.pointwise()) {
      return x.get(point(n), all(), all(), all()).reshape('c', c, s);
    }
    Convolution.im2col(x.get(interval(n, n + 1), all(), all(), all()), g.kh(), g.kw(), g.sh(), g.sw(), g.ph(), g.pw(),
        g.dh(), g.dw(), false, col);
    return col.reshape('c', k, s);
  }

  /** The whole batch's column matrix {@code [c*kh*kw, b*oh*ow]}. */
  private static INDArray batchColumns(INDArray x, Geometry g, LayerWorkspaceMgr mgr, ArrayType type, long oh, long ow) {
    long b = x.size(0);
    long c = x.size(1);
    INDArray buf = mgr.createUninitialized(type, x.dataType(), new long[] {c, g.kh(), g.kw(), b, oh, ow}, 'c');
    if (g.pointwise()) {
      buf.reshape('c', c, b, oh * ow).assign(x.reshape('c', b, c, oh * ow).permute(1, 0, 2));
    } else {
      Convolution.im2col(x, g.kh(), g.kw(), g.sh(), g.sw(), g.ph(), g.pw(), g.dh(), g.dw(), false,
          buf.permute(3, 0, 1, 2, 4, 5));
    }
    return buf.reshape('c', c * g.kh() * g.kw(), b * oh * ow);
  }
}
