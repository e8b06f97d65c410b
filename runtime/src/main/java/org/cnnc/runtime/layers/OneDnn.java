// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;

/**
 * Convolutions and matrix products on oneDNN, through {@code org.bytedeco:dnnl}'s binding to the
 * {@code libdnnl} that ND4J's {@code linux-x86_64-onednn} build loads: convolution primitives cnnc
 * makes once per shape ({@link OneDnnConv}) and oneDNN's {@code sgemm} ({@link #sgemm}, for
 * {@link Gemm}). cnnc uses the convolutions where they beat its own GEMM layout
 * ({@link ConvGemm}): float NCHW convolutions, not 1x1, not dilated, from
 * {@link KernelSettings#oneDnnMinChannels()} channels; forward at any batch up to maps of
 * {@link KernelSettings#oneDnnMaxForwardMap()}, backward at batches of more than one.
 *
 * <p>Measured (batch 8, forward / backward, ms; README, "Performance"): NiN's 5x5 conv 96->192
 * at 15^2 4.4 / 9.6 on oneDNN against 8.8 / 14.7 as im2col + MKL GEMM; 3x3 96->128 at 28^2
 * 4.5 / 9.4 against 5.8 / 12.1; but 1x1 convs (3.1 / 5.2 against 1.9 / 3.7) and convs from few
 * channels (3->192, 5x5: 2.5 / 6.6 against 1.5 / 3.8) stay on GEMM. (Those were ND4J's
 * {@code conv2d} ops; cnnc's own primitives are faster still, docs/performance-history.md,
 * session 25.)
 *
 * <p><b>ND4J's oneDNN helpers stay off.</b> In that build every ND4J op and DL4J layer with a
 * oneDNN helper uses it, and two of them are wrong here: softmax along the channels of a 4-d
 * array (relative error 0.59 against PyTorch) and DL4J's dilated max pooling. So when this class
 * loads (before any cnnc layer runs) it turns ND4J's helpers off, which makes every op compute as
 * in ND4J's plain build; cnnc's own oneDNN calls need no helper. {@code -Dcnnc.conv.onednn=off}
 * keeps every conv on GEMM.
 */
public final class OneDnn {
  private OneDnn() {}

  /** Whether ND4J was built with oneDNN (its build information says HAVE_ONEDNN). */
  static final boolean BUILT_IN = builtIn();

  /** Whether oneDNN's own binding loaded ({@link #bindingFailure}): the forward convs run on it. */
  static final boolean BINDING = bindingFailure() == null;

  /** Whether oneDNN takes convolutions: built in, and on in {@link KernelSettings#current()} (unless {@code cnnc.conv.onednn=off}). */
  static boolean enabled() {
    return enabled(KernelSettings.current());
  }

  /** Whether oneDNN takes convolutions under the settings {@code s}: built in, and on in them. */
  static boolean enabled(KernelSettings s) {
    return BUILT_IN && s.oneDnn();
  }

  static {
    if (BUILT_IN) {
      Nd4j.getEnvironment().allowHelpers(false);
    }
  }

  private static boolean builtIn() {
    try {
      Nd4j.getExecutioner();
      return NativeOpsHolder.getInstance().getDeviceNativeOps().buildInfo().contains("HAVE_ONEDNN");
    } catch (Throwable t) {
      return false;
    }
  }

  /**
   * Loads this class, so that ND4J's helpers are settled before a network runs: every cnnc layer
   * and {@code NetBuilder} call it.
   */
  public static void init() {
    // the static initializer does the work
  }

  /**
   * Whether oneDNN takes this conv's backward pass: {@link #suits}, and a batch of more than one
   * (at batch 1 it lost backward, 8.9 against 6.7 ms for 3x3 512->512 at 14^2 on a 2-core Intel
   * Xeon).
   */
  static boolean takesBackward(INDArray x, INDArray w, ConvGemm.Geometry g) {
    return suits(x, w, g) && x.size(0) > 1;
  }

  /**
   * Whether oneDNN takes this conv's forward pass, at any batch: {@link #suits}, and a map of at
   * most {@link KernelSettings#oneDnnMaxForwardMap()}.
   *
   * <p>At batch 1 too: on a 2-core AMD EPYC (Zen 5), where MKL multiplies on its slow non-Intel
   * path, {@code predict} at batch 1 took, alternating runs (ms; docs/performance-history.md,
   * session 20), GoogLeNet 31.7-35.1 against 40.3-44.9 through im2col and MKL, ResNet-50 72.4-72.5
   * against 78.0-87.6, NiN 6.4-7.6 against 8.2-9.4; on the Intel Xeon of earlier sessions it was even
   * (NiN's 5x5 conv 1.03 against 1.11 ms).
   */
  static boolean takesForward(INDArray x, INDArray w, ConvGemm.Geometry g, long map) {
    return suits(x, w, g) && map <= KernelSettings.current().oneDnnMaxForwardMap();
  }

  /**
   * Whether oneDNN can run this conv well: ND4J has it, float input and weights, a kernel larger
   * than 1x1, not dilated (ND4J's op fails to create a dilated oneDNN primitive), and at least
   * {@link KernelSettings#oneDnnMinChannels()} input channels.
   *
   * <p>A 1x1 conv is one product already; a strided one (ResNet's downsampling) is a product of the
   * subsampled input, which im2col reads only where the taps do, while oneDNN converts the input,
   * the output and their gradients between layouts. Measured (docs/performance-history.md, session
   * 19): in ResNet-50's predict at batch 8, 5.3-6.7 ms a downsampling conv against 6.6-8.6 on
   * oneDNN; backward, 256->512 from 56^2 22.1 ms against 36.8, 512->1024 from 28^2 14.0 against
   * 18.7, 1024->2048 from 14^2 10.9 against 15.1.
   */
  private static boolean suits(INDArray x, INDArray w, ConvGemm.Geometry g) {
    KernelSettings k = KernelSettings.current();
    return convolutions() && x.dataType() == DataType.FLOAT && w.dataType() == DataType.FLOAT
        && (g.kh() > 1 || g.kw() > 1) && g.dh() == 1 && g.dw() == 1 && x.size(1) >= k.oneDnnMinChannels();
  }

  static int[] args(ConvGemm.Geometry g) {
    // kH, kW, sH, sW, pH, pW, dH, dW, explicit padding, NCHW, weights [oC, iC, kH, kW]
    return new int[] {g.kh(), g.kw(), g.sh(), g.sw(), g.ph(), g.pw(), g.dh(), g.dw(), 0, 0, 1};
  }

  /**
   * {@code out = x * w + bias} ({@code bias} may be null), written into {@code out}: on a
   * primitive of cnnc's own ({@link OneDnnConv}), the weights from {@code kept} (or null).
   */
  static void forward(INDArray x, INDArray w, INDArray bias, ConvGemm.Geometry g, INDArray out,
      OneDnnConv.KeptWeights kept) {
    forwardLaid(x, x.shape(), ConvLayout.NCHW, w, 1, bias, g, out, ConvLayout.NCHW, kept, false);
  }

  /**
   * Whether convs may run on cnnc's oneDNN primitives ({@link OneDnnConv}) under the current
   * settings: oneDNN built in, its binding loaded, and on in {@link KernelSettings#current()}.
   */
  static boolean convolutions() {
    return BUILT_IN && BINDING && KernelSettings.current().oneDnn();
  }

  /**
   * {@link #forward} with the input of shape {@code xShape} in layout {@code inLayout} and the
   * output in layout {@code outLayout} ({@link ConvLayout}'s codes), the weights {@code [o, c/groups,
   * kh, kw]} of {@code groups} groups; the weights in the primitive's layout from {@code kept}
   * where it has them (null: reordered at the call); with {@code silu}, SiLU applied to the
   * output inside the primitive.
   */
  static void forwardLaid(INDArray x, long[] xShape, int inLayout, INDArray w, int groups, INDArray bias,
      ConvGemm.Geometry g, INDArray out, int outLayout, OneDnnConv.KeptWeights kept, boolean silu) {
    INDArray b = bias == null ? null : bias.reshape(bias.length());
    boolean dense = ChannelKernels.direct(w);
    // kept weights are compared with the array the layer holds: a copy made per call is not it
    OneDnnConv.forward(x, xShape, inLayout, dense ? w : w.dup('c'), groups,
        b == null || ChannelKernels.direct(b) ? b : b.dup('c'), g, out, outLayout, dense ? kept : null, silu);
  }

  /**
   * The gradients for output gradient {@code delta}: {@code dx} (skipped when null), {@code dW}
   * into {@code wGrad} and, when {@code bGrad} is not null, {@code db} into it, each overwritten:
   * on primitives of cnnc's own ({@link OneDnnConv}).
   */
  static void backward(INDArray x, INDArray w, INDArray delta, INDArray dx, INDArray wGrad, INDArray bGrad,
      ConvGemm.Geometry g) {
    INDArray dw = ChannelKernels.direct(wGrad) ? wGrad : Nd4j.createUninitialized(DataType.FLOAT, wGrad.shape(), 'c');
    INDArray db = bGrad == null || ChannelKernels.direct(bGrad) ? bGrad
        : Nd4j.createUninitialized(DataType.FLOAT, bGrad.shape(), 'c');
    OneDnnConv.backward(x, ChannelKernels.direct(w) ? w : w.dup('c'), delta, dx, dw, db, g);
    if (dw != wGrad) {
      wGrad.assign(dw);
    }
    if (db != bGrad) {
      bGrad.assign(db);
    }
  }

  /**
   * oneDNN's own product, {@code dnnl_sgemm}, through {@code org.bytedeco:dnnl}'s binding: null
   * when it loaded, else why not. That binding's JNI library links against OpenCL's binding
   * ({@code org.bytedeco:opencl} with its {@code linux-x86_64} jar: the OpenCL loader, no
   * driver). It calls the {@code libdnnl} ND4J's oneDNN build has already loaded, on ND4J's
   * OpenMP runtime ({@code libgomp}), so one thread pool serves ND4J, its oneDNN ops and these
   * products; and it needs no helper switch, so products run concurrently.
   */
  static final class Binding {
    static final Throwable FAILURE = load();

    private static Throwable load() {
      try {
        // ND4J's native libraries (its libgomp and libdnnl) first, so that the binding shares them
        Nd4j.getExecutioner();
        Loader.load(dnnl.class);
        return null;
      } catch (Throwable t) {
        return t;
      }
    }
  }

  /** Why {@link #sgemm} and {@link OneDnnConv} cannot run here, or null when they can. */
  static Throwable bindingFailure() {
    try {
      return Binding.FAILURE;
    } catch (Throwable t) { // the binding's classes are missing: NoClassDefFoundError
      return t;
    }
  }

  /**
   * {@code c = alpha op(a) op(b) + beta c} on oneDNN's {@code dnnl_sgemm}, for row-major float
   * matrices at the given pointers with the given leading dimensions: {@code op(a)} is
   * {@code m x k}, {@code op(b)} {@code k x n}. oneDNN picks its kernel by the CPU's instruction
   * sets, not its vendor, and threads it on OpenMP; for a fixed shape and thread count its sums
   * are the same from call to call.
   */
  static void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatPointer a, int lda, FloatPointer b,
      int ldb, float beta, FloatPointer c, int ldc) {
    int status = dnnl.dnnl_sgemm(ta ? (byte) 'T' : (byte) 'N', tb ? (byte) 'T' : (byte) 'N', m, n, k, alpha, a, lda, b,
        ldb, beta, c, ldc);
    if (status != dnnl.dnnl_success) {
      throw new IllegalStateException("oneDNN's sgemm failed (status " + status + ") on a " + m + " x " + n + " x " + k
          + " product" + (ta ? ", A transposed" : "") + (tb ? ", B transposed" : "") + ", leading dimensions " + lda
          + ", " + ldb + ", " + ldc);
    }
  }
}
