// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.point;

import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A 2-d convolution (NCHW, weights {@code [out, in, kh, kw]} as PyTorch keeps them) computed as
 * matrix products on ND4J's BLAS, forward and backward, with the bias and an optional ReLU applied
 * in the same pass that lays the product out. Float arrays take one of two layouts:
 *
 * <ul>
 *   <li><b>whole batch</b>, while the batch's columns fit in {@link #BATCH_COLUMNS} floats:
 *       {@link Im2col} writes them as {@code [in*kh*kw, b*oh*ow]}, one GEMM gives
 *       {@code [out, b, oh*ow]}, and one pass lays that out as NCHW;
 *   <li><b>tiled</b>, for larger maps (VGG16's first blocks): sample by sample, band of output
 *       rows by band, each band's columns at most about {@link KernelSettings#tileColumns()} floats, so that the
 *       columns and the product are still in cache when they are used.
 * </ul>
 *
 * Arrays that are not float go one sample at a time through ND4J's im2col. Convolutions that
 * oneDNN runs faster ({@link OneDnn#takesForward}, {@link OneDnn#takesBackward}) go to it instead.
 *
 * <p>Measured on this project's machine (README, "Performance"): NiN's first conv (k = 75) takes
 * 1.2 ms as one GEMM against 6.5 ms as eight; VGG16's 64-channel 224 x 224 conv went from 428 ms
 * as whole-sample products (each sample's 115 MB of columns written, then read) to the figure the
 * README gives for bands.
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
   * Whether to multiply the whole batch's columns at once: float input {@code x} and output (or
   * output gradient) {@code y} the Java kernels can address, columns that fit in
   * {@link #BATCH_COLUMNS}, and a batch of more than one. One GEMM with {@code n = b*oh*ow} beats
   * {@code b} GEMMs when they are small (NiN's first conv, k = 75: 1.2 ms against 6.5 ms).
   */
  static boolean batched(INDArray x, INDArray y, long b, long k, long s) {
    return KernelSettings.current().batched() && b > 1 && b * k * s <= BATCH_COLUMNS && ChannelKernels.direct(x, y);
  }

  /** The array itself when it is C-ordered with default strides, else a C-ordered copy. */
  static INDArray contiguous(INDArray a, LayerWorkspaceMgr mgr, ArrayType type) {
    return ChannelKernels.rowMajorDense(a) ? a : mgr.dup(type, a, 'c');
  }

  /**
   * {@code x [b, c, h, w]} (C order) convolved with {@code w [o, c, kh, kw]}, plus {@code bias [o]}
   * (or null), then the fused activation of {@code cap} ({@link ChannelKernels#NONE}); the result, {@code [b, o, oh, ow]}, is
   * allocated as {@code outType}.
   */
  public static INDArray forward(INDArray x, INDArray w, INDArray bias, float cap, Geometry g,
      LayerWorkspaceMgr mgr, ArrayType outType) {
    return forward(x, w, bias, cap, g, mgr, outType, null);
  }

  /**
   * {@link #forward(INDArray, INDArray, INDArray, float, Geometry, LayerWorkspaceMgr, ArrayType)},
   * with the layer's {@link WinogradWeights} when the weights are not being trained (null: none),
   * which keeps their transform across calls and widens {@link #winograd}'s rule.
   */
  public static INDArray forward(INDArray x, INDArray w, INDArray bias, float cap, Geometry g,
      LayerWorkspaceMgr mgr, ArrayType outType, WinogradWeights kept) {
    return forward(x, w, bias, cap, g, mgr, outType, kept, null, null);
  }

  /**
   * {@link #forward(INDArray, INDArray, INDArray, float, Geometry, LayerWorkspaceMgr, ArrayType, WinogradWeights)}
   * with a residual added before the activation: {@code act(conv(x) + bias + residual)}, for a
   * {@code residual} of the output's shape (null: none), rounded as the conv and a separate
   * {@code add} round it (ONNX Runtime's conv with a sum input). Where the product is laid out
   * by the pass that adds the bias (MKL's batched products), the residual is read in that pass;
   * elsewhere in one pass after the conv. On oneDNN's primitive, the weights in its layout come
   * from {@code primitiveWeights} where it keeps them (null: reordered at the call).
   */
  public static INDArray forward(INDArray x, INDArray w, INDArray bias, float cap, Geometry g,
      LayerWorkspaceMgr mgr, ArrayType outType, WinogradWeights kept, INDArray residual,
      OneDnnConv.KeptWeights primitiveWeights) {
    if (residual != null) {
      long[] shape = {x.size(0), w.size(0), g.outH(x.size(2)), g.outW(x.size(3))};
      if (!java.util.Arrays.equals(shape, residual.shape())) {
        throw new IllegalArgumentException("conv: residual of shape " + java.util.Arrays.toString(residual.shape())
            + " for an output of shape " + java.util.Arrays.toString(shape));
      }
      if (!ChannelKernels.direct(residual)) {
        INDArray out = forward(x, w, bias, ChannelKernels.NONE, g, mgr, outType, kept, null, primitiveWeights);
        return clamp(out.addi(residual), cap);
      }
    }
    long b = x.size(0);
    long o = w.size(0);
    long k = w.length() / o;
    long oh = g.outH(x.size(2));
    long ow = g.outW(x.size(3));
    long s = oh * ow;
    INDArray out = mgr.createUninitialized(outType, x.dataType(), new long[] {b, o, oh, ow}, 'c');
    if (kept != null && !KernelSettings.current().winogradKeep()) {
      kept = null;
    }
    // the activation comes after the residual: the paths below that apply it leave it to finish();
    // SiLU only finish() applies (MKL's batched products), the other paths after their own pass
    float pathCap = residual == null && cap != ChannelKernels.SILU ? cap : ChannelKernels.NONE;
    if (winograd(x, w, g, out, kept != null)
        && Winograd.forward(x, w, bias == null ? null : ChannelKernels.floats(bias), pathCap, g, out, mgr,
            ArrayType.FF_WORKING_MEM, kept)) {
      return addResidual(out, cap, residual);
    }
    if (DirectConv.takes(x, w, g, out)) {
      DirectConv.forward(x, w, bias == null ? null : ChannelKernels.floats(bias), residual == null ? cap : ChannelKernels.NONE,
          g, out);
      return residual == null ? out : addResidual(out, cap, residual);
    }
    if (OneDnn.takesForward(x, w, g, s) && ChannelKernels.direct(x, out)) {
      OneDnn.forward(x, w, bias, g, out, primitiveWeights);
      return finish(out, null, cap, residual);
    }
    float[] add = bias == null ? null : ChannelKernels.floats(bias);
    if (Gemm.library().batched() && ChannelKernels.direct(w)
        && (g.pointwise() ? KernelSettings.current().batched() && ChannelKernels.direct(x, out)
            : batched(x, out, b, k, s) && s >= KernelSettings.current().stridedMin())) {
      // MKL or cnnc's product: one call multiplies each sample's columns (the input itself for a
      // pointwise conv, at any batch; else rows of the batch's columns [k, b, s]) straight into
      // its output [o, s], then bias and ReLU in place (NiN's 1x1 192->160 at 32^2: 1.6 ms against
      // 3.1 through one GEMM and two transposes). The weights [o, c, kh, kw] are read as the matrix [o, k] they
      // are, and no view is made per sample: each view costs some 10-20 us of ND4J's native
      // calls, which at batch 1 was a 1x1 conv's main cost after its product.
      INDArray cols = x;
      long ldb = s;
      long strideB = k * s;
      if (!g.pointwise()) {
        cols = columns(x, b, k, s, mgr, ArrayType.FF_WORKING_MEM);
        Im2col.im2col(x, 0, (int) b, g, cols);
        ldb = b * s;
        strideB = s;
      }
      int band = finishBand(o, s, b, k);
      for (int n0 = 0; n0 < s; n0 += band) {
        int n = (int) Math.min(band, s - n0);
        Gemm.stridedBatch(false, false, (int) o, n, (int) k, w, (int) k, 0, cols, n0, (int) ldb, strideB, 0.0, out, n0,
            (int) s, o * s, (int) b);
        finish(out, add, cap, residual, n0, n);
      }
      return out;
    }
    INDArray w2 = w.reshape('c', o, k);
    if (batched(x, out, b, k, s)) {
      // one GEMM over the batch's columns [k, b*s], then the result [o, b, s] laid out as NCHW
      INDArray cols = columns(x, b, k, s, mgr, ArrayType.FF_WORKING_MEM);
      Im2col.im2col(x, 0, (int) b, g, cols);
      INDArray o2 = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      Gemm.gemm(w2, cols, o2.reshape('c', o, b * s), false, false, 1.0, 0.0);
      ChannelKernels.swapAxes(o2, out.reshape('c', b, o, s), add, pathCap);
      return addResidual(out, cap, residual);
    }
    if (ChannelKernels.direct(x, out)) {
      tiledForward(x, w2, add, pathCap, g, out, mgr);
      return addResidual(out, cap, residual);
    }
    INDArray col = g.pointwise() ? null : columns(x, 1, k, s, mgr, ArrayType.FF_WORKING_MEM);
    for (long n = 0; n < b; n++) {
      Gemm.gemm(w2, sampleColumns(x, n, g, col, s), sample(out, n, o, s), false, false, 1.0, 0.0);
    }
    if (bias != null) {
      Nd4j.getExecutioner().exec(new BroadcastAddOp(out, bias.reshape(o), out, 1));
    }
    return clamp(residual == null ? out : out.addi(residual), cap);
  }

  /**
   * Whether {@link Winograd} takes this conv's forward pass: on in {@link KernelSettings#current()},
   * the Vector API and MKL in use, a 3x3 kernel of stride 1 and dilation 1, float arrays in C
   * order, at least {@link KernelSettings#winogradMinChannels()} input and output channels, at
   * least {@link KernelSettings#winogradMinRowTiles()} 4x4 tiles in a row of the output map (the
   * transforms' lanes run along a row), and at least {@link KernelSettings#winogradMinTiles()} 4x4
   * tiles of output over the batch (the weights' transform, paid per call, must be spread over
   * enough of them), or {@link KernelSettings#winogradKeptMinTiles()} when the layer keeps the
   * transform across calls ({@code kept}, {@link WinogradWeights}). A conv oneDNN would
   * take forward (up to 56x56 at batch 2 and more) it takes only from
   * {@link KernelSettings#winogradOverOneDnn()} for {@code in*out/(in+out)}: oneDNN's kernels run
   * near the machine's peak, and the transforms (per channel) pay for the products they save (per
   * channel pair) only on wide layers. Measured by {@code WinogradBench} on the 3x3 convs of
   * VGG16, ResNet-50 and GoogLeNet at batch 8 and 1 (docs/performance-history.md): the rule
   * picks every shape where Winograd won and none where it lost.
   */
  static boolean winograd(INDArray x, INDArray w, Geometry g, INDArray out) {
    return winograd(x, w, g, out, false);
  }

  /** {@link #winograd(INDArray, INDArray, Geometry, INDArray)}, with the weights' transform {@code kept} across calls or not. */
  static boolean winograd(INDArray x, INDArray w, Geometry g, INDArray out, boolean kept) {
    KernelSettings k = KernelSettings.current();
    long c = x.size(1);
    long o = w.size(0);
    long oh = out.size(2);
    long ow = out.size(3);
    if (!k.winograd() || g.kh() != 3 || g.kw() != 3 || g.sh() != 1 || g.sw() != 1 || g.dh() != 1 || g.dw() != 1
        || c < k.winogradMinChannels() || o < k.winogradMinChannels() || w.size(1) != c
        // the transformed weights, and a block's V and M at its least (one tile row), int-indexed
        || 36L * o * c >= Integer.MAX_VALUE || 36L * (c + o) * ((ow + 3) / 4) >= Integer.MAX_VALUE
        || !ChannelKernels.direct(x, w, out)
        || (ow + 3) / 4 < k.winogradMinRowTiles()
        || x.size(0) * ((oh + 3) / 4) * ((ow + 3) / 4) < (kept ? k.winogradKeptMinTiles()
            : k.winogradMinTiles())) {
      return false;
    }
    if (OneDnn.takesForward(x, w, g, oh * ow) && c * o / (c + o) < k.winogradOverOneDnn()) {
      return false;
    }
    return Vectors.on() && Gemm.library().batched();
  }

  /**
   * {@code out} with the fused activation of {@code cap} applied in place, in a pass of its own:
   * SiLU by cnnc's kernel where it can address {@code out} (else DL4J's), a ReLU or clamp by
   * ND4J's ops (arrays the kernels cannot address).
   */
  static INDArray clamp(INDArray out, float cap) {
    if (cap == ChannelKernels.SILU) {
      if (ChannelKernels.direct(out)) {
        ChannelKernels.silu(out, out);
        return out;
      }
      return out.assign(org.nd4j.linalg.activations.Activation.SWISH.getActivationFunction().getActivation(out.dup(), false));
    }
    if (cap > 0) {
      Transforms.relu(out, false);
    }
    return cap > 0 && cap != ChannelKernels.RELU ? Transforms.min(out, cap, false) : out;
  }

  /**
   * {@code out}, or (with a residual) {@code act(out + residual)} in place: after a conv that
   * applied its bias, not its activation.
   */
  static INDArray addResidual(INDArray out, float cap, INDArray residual) {
    if (residual == null) {
      // the paths apply ReLU and relu6 themselves, not SiLU
      return cap == ChannelKernels.SILU ? clamp(out, cap) : out;
    }
    return ChannelKernels.direct(out, residual) ? finish(out, null, cap, residual) : clamp(out.addi(residual), cap);
  }

  /**
   * {@code out [b, o, oh, ow]} plus {@code add[o]} (when not null), plus {@code residual} (when
   * not null), then the fused activation of {@code cap}, in place, in one pass; no pass when
   * there is nothing to do. Returns {@code out}.
   */
  private static INDArray finish(INDArray out, float[] add, float cap, INDArray residual) {
    return finish(out, add, cap, residual, 0, (int) (out.size(2) * out.size(3)));
  }

  /** {@link #finish(INDArray, float[], float, INDArray)} on the band of columns {@code from .. from + len - 1} of each plane. */
  private static INDArray finish(INDArray out, float[] add, float cap, INDArray residual, int from, int len) {
    if (add != null || cap != ChannelKernels.NONE || residual != null) {
      // on the [b, o, oh, ow] arrays themselves: a reshape to [b, o, oh*ow] is an ND4J view a call
      ChannelKernels.affine(out, null, add, residual, cap, out, from, len);
    }
    return out;
  }

  /** The fewest columns of a band of MKL's batched products (below this the calls cost more than the cache saves). */
  static final int BAND_MIN_COLUMNS = 256;

  /**
   * A band's products, over the batch, fill about this many floats: 4 MB, within the last-level
   * cache. Bands of 1 MB (the cores' L2) made MobileNetV2's forward slower (50-64 ms against
   * 40-45 in one band: the calls and thread hand-offs cost more); 4 MB bands, 41-42 against 44-45,
   * and EfficientNet-B0's 72-73 against 76-86 (docs/performance-history.md, session 17).
   */
  static final long BAND_FLOATS = 1L << 20;

  /** The most products per output that {@link #finishBand} cuts into bands. */
  static final long BAND_MAX_K = 192;

  /**
   * The columns per band of MKL's batched products ({@code s}: one band) for {@code o} outputs of
   * {@code s} columns per sample, {@code b} samples, {@code k} products each. A product of few
   * terms per output ({@code k} up to {@link #BAND_MAX_K}: MobileNetV2's and EfficientNet's 1x1
   * expansions, K = 16 to 192) is written faster than it is made, so its bias and activation pass
   * would read it back from memory: in bands whose products stay in cache, that pass reads them
   * from there. Larger products, and outputs that fit in cache whole, stay one call.
   */
  static int finishBand(long o, long s, long b, long k) {
    if (k > BAND_MAX_K || o * s * b <= 2 * BAND_FLOATS) {
      return (int) s;
    }
    long band = Math.max(BAND_MIN_COLUMNS, BAND_FLOATS / (o * b) / 16 * 16);
    return (int) Math.min(s, band);
  }

  /**
   * Sample by sample, band of output rows by band: each band's columns (at most about
   * {@link KernelSettings#tileColumns()} floats) are built, multiplied and finished (bias, ReLU) while they are in
   * cache. A whole-map band needs no tile: the GEMM writes into the output, and a pointwise conv
   * multiplies the input itself.
   */
  private static void tiledForward(INDArray x, INDArray w2, float[] add, float cap, Geometry g, INDArray out,
      LayerWorkspaceMgr mgr) {
    long o = w2.size(0);
    long k = w2.size(1);
    int oh = (int) out.size(2);
    int ow = (int) out.size(3);
    long s = (long) oh * ow;
    Bands bands = Bands.of(x, o, k, oh, ow, g, mgr, ArrayType.FF_WORKING_MEM);
    int rows = bands.rows();
    INDArray col = bands.col();
    INDArray tile = bands.tile();
    for (long n = 0; n < out.size(0); n++) {
      for (int r0 = 0; r0 < oh; r0 += rows) {
        int r1 = Math.min(oh, r0 + rows);
        long len = (long) (r1 - r0) * ow;
        INDArray cols = bandColumns(x, n, g, col, r0, r1, len);
        INDArray dst = tile == null ? sample(out, n, o, s) : prefix(tile, o, len);
        Gemm.gemm(w2, cols, dst, false, false, 1.0, 0.0);
        if (tile != null || add != null || cap > 0) {
          ChannelKernels.copyRows(dst, 0, len, out, n * o * s + (long) r0 * ow, s, (int) o, (int) len, add, cap);
        }
      }
    }
  }

  /**
   * The gradients of {@link #forward} without a fused ReLU: {@code dW} into {@code wGrad} and
   * {@code db} into {@code bGrad} (overwritten; {@code bGrad} may be null), and {@code dx}
   * returned, allocated as an activation gradient; without {@code inputGradient}, {@code dx} is
   * not computed (its products and col2im are skipped) and null is returned. {@code delta} is the
   * gradient of the output, C-ordered.
   */
  public static INDArray backward(INDArray x, INDArray w, INDArray delta, INDArray wGrad, INDArray bGrad, Geometry g,
      boolean inputGradient, LayerWorkspaceMgr mgr) {
    long b = x.size(0);
    long c = x.size(1);
    long o = w.size(0);
    long k = w.length() / o;
    long s = delta.size(2) * delta.size(3);
    INDArray w2 = w.reshape('c', o, k);
    INDArray wGrad2 = wGrad.reshape('c', o, k);
    if (OneDnn.takesBackward(x, w, g) && ChannelKernels.direct(x, delta)) {
      INDArray dx = inputGradient ? mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, x.dataType(), x.shape(), 'c')
          : null;
      OneDnn.backward(x, w, delta, dx, wGrad, bGrad, g);
      return dx;
    }
    INDArray dx = inputGradient ? mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, x.dataType(), x.shape(), 'c')
        : null;
    if (bGrad != null && ChannelKernels.direct(delta)) {
      ChannelKernels.put(ChannelKernels.channelSums(delta, (int) o), bGrad);
    } else if (bGrad != null) {
      bGrad.assign(delta.sum(0, 2, 3).reshape(bGrad.shape()));
    }
    if (g.pointwise() && batched(x, delta, b, k, s) && Gemm.library().batched()) {
      // MKL or cnnc's product, pointwise: dW summed sample by sample, dx for every sample in one
      // call (NiN's 1x1 192->160 at 32^2: 1.5 ms against 3.3 sample by sample)
      Gemm.stridedSum(false, true, (int) o, (int) c, (int) s, delta, (int) s, o * s, x, (int) s, c * s, wGrad2,
          (int) c, (int) b);
      if (inputGradient) {
        Gemm.stridedBatch(true, false, (int) c, (int) s, (int) o, w2, (int) k, 0, delta, (int) s, o * s, 0.0, dx,
            (int) s, c * s, (int) b);
      }
      return dx;
    }
    // a pointwise conv's backward is faster sample by sample: its products need no columns then
    // (GoogLeNet's 1x1 convs: 5.3-8.4 ms against 5.3-9.5 for the batch at once)
    if (batched(x, delta, b, k, s) && !g.pointwise()) {
      INDArray d2 = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x.dataType(), new long[] {o, b, s}, 'c');
      ChannelKernels.swapAxes(delta.reshape('c', b, o, s), d2, null, ChannelKernels.NONE);
      INDArray d2m = d2.reshape('c', o, b * s);
      INDArray cols = columns(x, b, k, s, mgr, ArrayType.BP_WORKING_MEM);
      Im2col.im2col(x, 0, (int) b, g, cols);
      Gemm.gemm(d2m, cols, wGrad2, false, true, 1.0, 0.0);
      if (inputGradient) {
        // the columns' gradient, into the columns' buffer
        Gemm.gemm(w2, d2m, cols, true, false, 1.0, 0.0);
        Im2col.col2im(cols, (int) b, g, dx, 0);
      }
      return dx;
    }
    if (ChannelKernels.direct(x, delta)) {
      tiledBackward(x, w2, delta, wGrad2, g, dx, mgr);
      return dx;
    }
    INDArray col = g.pointwise() ? null : columns(x, 1, k, s, mgr, ArrayType.BP_WORKING_MEM);
    INDArray dcol = g.pointwise() ? null : columns(x, 1, k, s, mgr, ArrayType.BP_WORKING_MEM);
    for (long n = 0; n < b; n++) {
      INDArray dn = sample(delta, n, o, s);
      Gemm.gemm(dn, sampleColumns(x, n, g, col, s), wGrad2, false, true, 1.0, n == 0 ? 0.0 : 1.0);
      if (dx == null) {
        continue;
      }
      if (g.pointwise()) {
        Gemm.gemm(w2, dn, sample(dx, n, c, s), true, false, 1.0, 0.0);
      } else {
        Gemm.gemm(w2, dn, dcol, true, false, 1.0, 0.0);
        Im2col.col2im(dcol, 1, g, dx, n);
      }
    }
    return dx;
  }

  /**
   * {@link #backward} band by band, as {@link #tiledForward} runs: per band, the output
   * gradient's rows (gathered into a tile unless the band is the whole map) give
   * {@code dW += dOut x col^T} and the band's column gradient {@code W^T x dOut}, which col2im adds
   * into the input gradient (none when {@code dx} is null).
   */
  private static void tiledBackward(INDArray x, INDArray w2, INDArray delta, INDArray wGrad2, Geometry g,
      INDArray dx, LayerWorkspaceMgr mgr) {
    long o = w2.size(0);
    long k = w2.size(1);
    long c = x.size(1);
    int oh = (int) delta.size(2);
    int ow = (int) delta.size(3);
    long s = (long) oh * ow;
    Bands bands = Bands.of(x, o, k, oh, ow, g, mgr, ArrayType.BP_WORKING_MEM);
    int rows = bands.rows();
    INDArray col = bands.col();
    INDArray tile = bands.tile();
    boolean direct = col == null;
    for (long n = 0; n < x.size(0); n++) {
      for (int r0 = 0; r0 < oh; r0 += rows) {
        int r1 = Math.min(oh, r0 + rows);
        long len = (long) (r1 - r0) * ow;
        INDArray d = sample(delta, n, o, s);
        if (tile != null) {
          d = prefix(tile, o, len);
          ChannelKernels.copyRows(delta, n * o * s + (long) r0 * ow, s, d, 0, len, (int) o, (int) len, null,
              ChannelKernels.NONE);
        }
        INDArray cols = bandColumns(x, n, g, col, r0, r1, len);
        Gemm.gemm(d, cols, wGrad2, false, true, 1.0, n == 0 && r0 == 0 ? 0.0 : 1.0);
        if (dx == null) {
          continue;
        }
        if (direct) {
          Gemm.gemm(w2, d, sample(dx, n, c, s), true, false, 1.0, 0.0);
        } else {
          // the band's column gradient, into the columns' buffer
          Gemm.gemm(w2, d, cols, true, false, 1.0, 0.0);
          Im2col.col2im(cols, 1, g, dx, n, r0, r1, r0 > 0);
        }
      }
    }
  }

  /**
   * How the tiled layout cuts a sample's map: output rows per band, the band's column buffer (null
   * when the band is the whole map of a pointwise conv, which reads the input itself) and the
   * band's product tile (null when the band is the whole map, whose product goes straight into
   * the output).
   */
  private record Bands(int rows, INDArray col, INDArray tile) {
    static Bands of(INDArray x, long o, long k, int oh, int ow, Geometry g, LayerWorkspaceMgr mgr, ArrayType type) {
      int rows = bandRows(k, oh, ow);
      INDArray col = rows == oh && g.pointwise() ? null : columns(x, 1, k, (long) rows * ow, mgr, type);
      INDArray tile = rows == oh ? null
          : mgr.createUninitialized(type, x.dataType(), new long[] {o, (long) rows * ow}, 'c');
      return new Bands(rows, col, tile);
    }
  }

  /**
   * Output rows per band: as many as keep the band's columns within {@link KernelSettings#tileColumns()} floats,
   * at least one.
   */
  static int bandRows(long k, int oh, int ow) {
    return (int) Math.max(1, Math.min(oh, KernelSettings.current().tileColumns() / (k * ow)));
  }

  /** Sample n's columns for output rows r0 .. r1 - 1: the input itself for a whole-map pointwise conv. */
  private static INDArray bandColumns(INDArray x, long n, Geometry g, INDArray col, int r0, int r1, long len) {
    if (col == null) {
      return sample(x, n, x.size(1), len);
    }
    INDArray cols = prefix(col, col.size(0), len);
    Im2col.im2col(x, n, 1, g, cols, r0, r1);
    return cols;
  }

  /** The first {@code rows * len} elements of a C-ordered buffer as a {@code [rows, len]} matrix. */
  private static INDArray prefix(INDArray buffer, long rows, long len) {
    INDArray flat = buffer.reshape('c', new long[] {buffer.length()});
    INDArray head = rows * len == buffer.length() ? flat : flat.get(NDArrayIndex.interval(0, rows * len));
    return head.reshape('c', new long[] {rows, len});
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
