// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationSwish;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layer behind {@link GemmConvolution}. Unlike DL4J's, its backward pass does not recompute
 * the forward pass: with the identity activation the gradient of the output is that of the
 * pre-activation, and with a fused ReLU it passes where the kept output is positive. Without
 * {@link GemmConvolution#isInputGradient()} it returns no input gradient (null), as DL4J's graph
 * accepts for a vertex that reads only network inputs.
 */
public class GemmConvolutionLayer extends ConvolutionLayer {
  private static final long serialVersionUID = 1L;

  /** The output of the last training forward pass, when a ReLU is fused in (its backward needs it). */
  private INDArray lastOutput;

  /** A residual to add before the activation in the next forward pass outside training (see {@link #residual}). */
  private transient INDArray residual;
  private transient float residualCap;

  /** The weights' Winograd transform, kept across forward passes outside training (made on first use). */
  private transient volatile WinogradWeights kept;

  /** The weights in oneDNN's primitives' layouts, kept once {@link #keepWeights} says they are fixed (else null). */
  private transient volatile OneDnnConv.KeptWeights primitiveWeights;

  /**
   * Says that this layer's weights are fixed from now on (a network {@code CnnNetwork.forInference}
   * made): its forward passes outside training keep the weights in the layout of oneDNN's
   * primitives instead of reordering them at every call. {@link #weightsChanged} drops them.
   */
  public void keepWeights() {
    if (primitiveWeights == null) {
      primitiveWeights = new OneDnnConv.KeptWeights();
    }
  }

  /** Whether {@link #keepWeights} was called: oneDNN's primitives then reorder the weights once, not at every call. */
  public boolean keepsWeights() {
    return primitiveWeights != null;
  }

  /** Says that the weights changed: what {@link #keepWeights} kept is reordered again at the next call. */
  public void weightsChanged() {
    OneDnnConv.KeptWeights k = primitiveWeights;
    if (k != null) {
      k.clear();
    }
  }

  /** The reorders of the weights made for oneDNN's primitives while they were kept (for tests); 0 when not kept. */
  public int weightReorders() {
    OneDnnConv.KeptWeights k = primitiveWeights;
    return k == null ? 0 : k.reorders();
  }

  public GemmConvolutionLayer(NeuralNetConfiguration conf, DataType dataType) {
    super(conf, dataType);
  }

  /** The geometry of the convolution's windows. */
  protected ConvGemm.Geometry geometry() {
    var c = layerConf();
    return new ConvGemm.Geometry(c.getKernelSize(), c.getStride(), c.getPadding(), c.getDilation());
  }

  /**
   * Makes the forward passes outside training compute {@code act(conv(x) + bias + r)}, where act
   * is a ReLU with {@code relu}, else none, in place of the layer's own activation, which must be
   * the identity: a residual {@code add} (and the ReLU it computes) fused into the conv before
   * it, as ONNX Runtime's conv takes a sum input. Set by the inference executor for one call and
   * cleared ({@code r} null) after it; the sum is rounded as the conv and the add round it apart.
   */
  public void residual(INDArray r, boolean relu) {
    if (r != null && !(layerConf().getActivationFn() instanceof ActivationIdentity)) {
      throw new IllegalStateException(layerId() + ": a residual needs the identity activation, not "
          + layerConf().getActivationFn());
    }
    this.residual = r;
    this.residualCap = ChannelKernels.cap(relu);
  }

  /**
   * Whether {@link #forwardLaid} can run this layer: oneDNN's convolutions are on, the layer on
   * cnnc's kernels ({@link #cnncKernels()}), of float weights, not dilated, whose activation the
   * pass can apply (none, ReLU, relu6, SiLU).
   */
  public boolean laidOut() {
    IActivation fn = layerConf().getActivationFn();
    ConvGemm.Geometry g = geometry();
    return cnncKernels() && OneDnn.convolutions() && g.dh() == 1 && g.dw() == 1
        && getParam(ConvolutionParamInitializer.WEIGHT_KEY).dataType() == DataType.FLOAT
        && (fn instanceof ActivationIdentity || inferenceCap(fn) != ChannelKernels.NONE);
  }

  /** Whether the layer runs on cnnc's kernels (not ND4J's ops only, as a grouped conv may for CUDA). */
  protected boolean cnncKernels() {
    return getClass() == GemmConvolutionLayer.class;
  }

  /** The conv's groups: group {@code i}'s outputs read only group {@code i}'s inputs (1: a plain conv). */
  protected int groups() {
    return 1;
  }

  /**
   * Whether the kernel is 1x1: outside oneDNN's layouts the conv is then a product over NCHW,
   * which converts nothing.
   */
  public boolean pointwise() {
    ConvGemm.Geometry g = geometry();
    return g.kh() == 1 && g.kw() == 1;
  }

  /**
   * Whether this conv's own forward pass from {@code x} to {@code out} (NCHW) converts no
   * layout: a product ({@link #pointwise()}), Winograd's, which keeps its transformed weights
   * ({@link ConvGemm#winograd}), or a grouped conv's (cnnc's depthwise kernel, or products group
   * by group). oneDNN's primitive then pays for the conv only when both its input and its output
   * stay in oneDNN's layout.
   */
  public boolean convertsNothing(INDArray x, INDArray out) {
    return pointwise() || groups() > 1 || ConvGemm.winograd(x, getParam(ConvolutionParamInitializer.WEIGHT_KEY), geometry(), out, true);
  }

  /**
   * The least {@code in*out/(in+out)} from which Winograd's kernel over NCHW, its transform kept,
   * outruns oneDNN's primitive even with both the conv's input and output in oneDNN's layout:
   * measured on a 2-core AMD EPYC (AVX-512) in VGG16's {@code predict} at batch 8, each conv as
   * the plan runs it, in oneDNN's layouts against on Winograd (ms): 256 -> 256 at 56^2 (128)
   * 75.8 against 91.8; 256 -> 512 at 28^2 (171) 38.8 against 37.5; 512 -> 512 at 28^2 (256) 78.1
   * against 57.8 (docs/performance-history.md, session 28). Below it Winograd still beats the
   * primitive when the primitive would convert a side ({@link KernelSettings#winogradOverOneDnn}).
   */
  static final int WINOGRAD_OVER_LAID = 160;

  /**
   * Whether this conv, from {@code x} to {@code out} (NCHW), runs faster on Winograd's kernel over
   * NCHW than on oneDNN's primitive in oneDNN's layouts ({@link #WINOGRAD_OVER_LAID}): the
   * inference executor then keeps neither of its sides in oneDNN's layout for it.
   */
  public boolean winogradOverLaid(INDArray x, INDArray out) {
    long c = x.size(1);
    long o = out.size(1);
    return c * o / (c + o) >= WINOGRAD_OVER_LAID
        && ConvGemm.winograd(x, getParam(ConvolutionParamInitializer.WEIGHT_KEY), geometry(), out, true);
  }

  /**
   * The inference executor's forward pass over activations in oneDNN's layouts
   * ({@link ConvLayout}'s codes): {@code act(conv(x) + bias + residual)} from {@code x} of shape
   * {@code xShape} in layout {@code xLayout} into {@code out} in layout {@code outLayout}, on
   * oneDNN's primitive. The activation is the add's ReLU with a residual ({@code residualRelu}),
   * else the layer's own; it and the residual are applied in one pass over the output, whatever
   * its layout (both are elementwise, and zero stays zero in a blocked layout's padded channels).
   * A residual in oneDNN's layout of an NCHW output is added in its layout, and the sum
   * converted; an NCHW residual of an output in oneDNN's layout is reordered first. Only for a
   * layer that is {@link #laidOut()}.
   *
   * @param x a float array: NCHW of shape {@code xShape}, or in another layout dense, of the
   *     shape {@link ConvLayout#rows} gives
   * @param out likewise, for the output
   * @param activated whether the layer's own activation is applied (false: a max pooling that
   *     only reads the output applies it to its own, {@link #poolableCap})
   */
  public void forwardLaid(INDArray x, long[] xShape, int xLayout, INDArray out, int outLayout, INDArray residual,
      int residualLayout, boolean residualRelu, boolean activated, LayerWorkspaceMgr mgr) {
    INDArray w = getParam(ConvolutionParamInitializer.WEIGHT_KEY);
    INDArray b = hasBias() ? getParam(ConvolutionParamInitializer.BIAS_KEY) : null;
    ConvGemm.Geometry g = geometry();
    float cap = residual != null ? ChannelKernels.cap(residualRelu)
        : activated ? inferenceCap(layerConf().getActivationFn()) : ChannelKernels.NONE;
    long[] outShape = {xShape[0], w.size(0), g.outH(xShape[2]), g.outW(xShape[3])};
    INDArray r = residual;
    if (r != null && residualLayout != ConvLayout.NCHW && outLayout == ConvLayout.NCHW) {
      // a kept residual of an NCHW output: the sum computed in the residual's layout, then
      // converted once (not the residual to NCHW, then the primitive's output too)
      INDArray sum = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, DataType.FLOAT,
          ConvLayout.rows(outShape, residualLayout), 'c');
      forwardLaid(x, xShape, xLayout, sum, residualLayout, r, residualLayout, residualRelu, true, mgr);
      ChannelKernels.intoDense(out, mgr, target -> OneDnnConv.reorder(sum, residualLayout, target, ConvLayout.NCHW,
          outShape));
      lastOutput = null;
      return;
    }
    if (r != null && residualLayout != outLayout) {
      INDArray converted = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, DataType.FLOAT,
          ConvLayout.rows(outShape, outLayout), 'c');
      OneDnnConv.reorder(r, residualLayout, converted, outLayout, outShape);
      r = outLayout == ConvLayout.NCHW ? converted.reshape('c', outShape) : converted;
    }
    INDArray in = xLayout == ConvLayout.NCHW ? ConvGemm.contiguous(x, mgr, ArrayType.FF_WORKING_MEM) : x;
    INDArray res = r != null && !ChannelKernels.direct(r) ? r.dup('c') : r;
    // an NCHW output that is a strided slice (of a concatenation's output) is computed apart, then copied in
    // SiLU without a residual in the primitive (its post-op keeps NaN; EfficientNet-B0 at batch 8,
    // one process alternating plans: 86.9 ms against 90.0 with a pass after it); a ReLU or relu6
    // in a pass after it (oneDNN's turn NaN into 0)
    boolean silu = cap == ChannelKernels.SILU && res == null;
    ChannelKernels.intoDense(out, mgr, target -> {
      OneDnn.forwardLaid(in, xShape, xLayout, w, groups(), b, g, target, outLayout, primitiveWeights, silu);
      if (!silu && (cap != ChannelKernels.NONE || res != null)) {
        ChannelKernels.affine(target, null, null, res, cap, target);
      }
    });
    lastOutput = null;
  }

  /**
   * The layer's own activation when a max pooling may apply it instead, to the pooled values: a
   * ReLU ({@link ChannelKernels#RELU}) or relu6 (its cap), which commute with max (both are
   * nondecreasing: {@code max(relu(a), relu(b)) = relu(max(a, b))}, NaN and -0.0 alike), so that
   * the pass over the conv's output runs over the pooling's, a quarter of it or less; else 0
   * (none: the identity, or SiLU, which does not commute).
   */
  public float poolableCap() {
    float cap = inferenceCap(layerConf().getActivationFn());
    return cap > 0 ? cap : ChannelKernels.NONE;
  }

  /**
   * The activation {@code fn} as the conv's own pass applies it outside training: SiLU, a ReLU or
   * relu6 ({@link CnncRelu#cap}), else {@link ChannelKernels#NONE} (the identity, or one the
   * layer applies apart).
   */
  private static float inferenceCap(IActivation fn) {
    return fn instanceof ActivationSwish ? ChannelKernels.SILU : CnncRelu.cap(fn);
  }

  @Override
  protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr mgr) {
    return new Pair<>(convolve(training, ChannelKernels.NONE, mgr, null), null);
  }

  /**
   * The conv's output, with {@code r} added (null: nothing) and then the fused activation of
   * {@code cap} ({@link ChannelKernels#NONE}, a clamp, or {@link ChannelKernels#SILU}) applied, in
   * its own last pass.
   */
  private INDArray convolve(boolean training, float cap, LayerWorkspaceMgr mgr, INDArray r) {
    assertInputSet(false);
    validateInputRank();
    INDArray w = getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, training, mgr);
    validateInputDepth(w.size(1));
    INDArray b = hasBias() ? getParamWithNoise(ConvolutionParamInitializer.BIAS_KEY, training, mgr) : null;
    INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.FF_WORKING_MEM);
    return forward(x, w, b, cap, training, mgr, r);
  }

  /**
   * The convolution's output plus {@code residual} (null: none), its last pass applying the fused
   * activation of {@code cap}, in the activations workspace.
   */
  protected INDArray forward(INDArray x, INDArray w, INDArray b, float cap, boolean training, LayerWorkspaceMgr mgr,
      INDArray residual) {
    return ConvGemm.forward(x, w, b, cap, geometry(), mgr, ArrayType.ACTIVATIONS, training ? null : kept(), residual,
        training ? null : primitiveWeights);
  }

  /** This layer's kept Winograd weights, made on first use. */
  private WinogradWeights kept() {
    WinogradWeights k = kept;
    if (k == null) {
      synchronized (this) {
        k = kept;
        if (k == null) {
          k = new WinogradWeights();
          kept = k;
        }
      }
    }
    return k;
  }

  /** Fills the weight and bias gradients; returns the input's gradient (null when it is not asked for). */
  protected INDArray backward(INDArray x, INDArray w, INDArray delta, INDArray wGrad, INDArray bGrad,
      LayerWorkspaceMgr mgr) {
    return ConvGemm.backward(x, w, delta, wGrad, bGrad, geometry(), ((GemmConvolution) layerConf()).isInputGradient(), mgr);
  }

  @Override
  public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
    assertInputSet(false);
    applyDropOutIfNecessary(training, mgr);
    IActivation fn = layerConf().getActivationFn();
    if (residual != null) {
      if (training) {
        throw new IllegalStateException(layerId() + ": a residual is fused in inference only");
      }
      lastOutput = null;
      return convolve(false, residualCap, mgr, residual);
    }
    if (!training && inferenceCap(fn) == ChannelKernels.SILU) {
      // a SiLU fused in inference: cnnc's SiLU kernel (the bits of its own layer), in the pass
      // that finishes the output where there is one, else on the output in place
      lastOutput = null;
      return convolve(false, ChannelKernels.SILU, mgr, null);
    }
    float cap = CnncRelu.cap(fn);
    INDArray z = convolve(training, cap, mgr, null);
    INDArray a = cap > 0 ? z : fn.getActivation(z, training);
    // the backward pass masks by the kept output for the plain ReLU (relu6 is fused in inference only)
    lastOutput = training && cap == ChannelKernels.RELU ? a : null;
    return a;
  }

  @Override
  public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
    assertInputSet(true);
    INDArray w = getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, true, mgr);
    IActivation fn = layerConf().getActivationFn();
    INDArray delta;
    if (fn instanceof ActivationIdentity) {
      delta = ConvGemm.contiguous(epsilon, mgr, ArrayType.BP_WORKING_MEM);
    } else if (CnncRelu.plain(fn) && lastOutput != null) {
      delta = CnncRelu.reluBackprop(lastOutput, epsilon, mgr, ArrayType.BP_WORKING_MEM);
    } else {
      delta = ConvGemm.contiguous(fn.backprop(preOutput(true, true, mgr).getFirst(), epsilon).getFirst(), mgr,
          ArrayType.BP_WORKING_MEM);
    }
    INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.BP_WORKING_MEM);
    INDArray wGrad = gradientViews.get(ConvolutionParamInitializer.WEIGHT_KEY);
    INDArray bGrad = hasBias() ? gradientViews.get(ConvolutionParamInitializer.BIAS_KEY) : null;
    INDArray dx = backward(x, w, delta, wGrad, bGrad, mgr);
    Gradient gradient = new DefaultGradient();
    if (bGrad != null) {
      gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, bGrad);
    }
    gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, wGrad, 'c');
    weightNoiseParams.clear();
    return new Pair<>(gradient, dx == null ? null : backpropDropOutIfPresent(dx));
  }
}
