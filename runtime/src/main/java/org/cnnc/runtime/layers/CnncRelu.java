// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationSwish;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.RectifiedLinear;
import org.nd4j.linalg.api.ops.impl.transforms.gradient.ThresholdReluBp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A ReLU layer in one pass each way: {@code max(x, 0)} written straight into the output, and the
 * gradient passed where the input is positive; or, configured with {@link Activation#RELU6},
 * PyTorch's ReLU6 ({@code min(max(x, 0), 6)}, the gradient passed where {@code 0 < x < 6}); or,
 * with {@link Activation#SWISH}, PyTorch's SiLU ({@link ChannelKernels#silu(INDArray, INDArray)},
 * on vectors: {@link VectorSilu}). DL4J's activation layer copies its input before applying the
 * function, forward and again backward (EfficientNet-B0 at batch 8 spent 143 of its 260 ms of
 * layers in SiLU that way).
 */
public class CnncRelu extends ActivationLayer {
  private static final long serialVersionUID = 1L;

  public CnncRelu() {
    super(Activation.RELU);
  }

  /** {@link Activation#RELU}, {@link Activation#RELU6} or {@link Activation#SWISH} (SiLU). */
  public CnncRelu(Activation fn) {
    super(fn);
    if (fn != Activation.RELU && fn != Activation.RELU6 && fn != Activation.SWISH) {
      throw new IllegalArgumentException("cnnc's ReLU layer computes RELU, RELU6 or SWISH, not " + fn);
    }
  }

  @Override
  public CnncRelu clone() {
    return (CnncRelu) super.clone();
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new Impl(conf, dataType), conf, listeners, index, params, initialize);
  }

  /**
   * Whether {@code fn} is the plain ReLU {@code max(x, 0)} (no cap, threshold or leak): the one
   * cnnc's layers apply in their own last pass.
   */
  static boolean plain(IActivation fn) {
    return fn instanceof ActivationReLU r && r.getMax() == null && zeroOrNull(r.getThreshold())
        && zeroOrNull(r.getNegativeSlope());
  }

  /**
   * The cap ({@link ChannelKernels#NONE}) with which a layer computes {@code fn} in its own last
   * pass: {@link ChannelKernels#RELU} for the plain ReLU, 6 for relu6 (an inference plan fuses it
   * into a conv), {@link ChannelKernels#NONE} for any other activation, which the layer then
   * applies after its own pass.
   */
  static float cap(IActivation fn) {
    if (plain(fn)) {
      return ChannelKernels.RELU;
    }
    return fn instanceof ActivationReLU6 ? 6f : ChannelKernels.NONE;
  }

  private static boolean zeroOrNull(Double v) {
    return v == null || v == 0.0;
  }

  /**
   * A ReLU's backward pass: {@code epsilon} where {@code positive} (the ReLU's input, or its output)
   * is above zero, zero elsewhere, allocated as {@code type}. Layers with a fused ReLU call it with
   * their kept output.
   */
  static INDArray reluBackprop(INDArray positive, INDArray epsilon, LayerWorkspaceMgr mgr, ArrayType type) {
    INDArray g = mgr.createUninitialized(type, epsilon.dataType(), epsilon.shape(), 'c');
    if (ChannelKernels.direct(positive, epsilon)) {
      ChannelKernels.reluBackward(positive, epsilon, g);
    } else {
      Nd4j.getExecutioner().exec(new ThresholdReluBp(positive, epsilon, g, 0.0));
    }
    return g;
  }

  /** The layer itself. */
  public static class Impl extends org.deeplearning4j.nn.layers.ActivationLayer {
    private static final long serialVersionUID = 1L;

    public Impl(NeuralNetConfiguration conf, DataType dataType) {
      super(conf, dataType);
    }

    /** What this layer computes. */
    private enum Fn {
      RELU,
      RELU6,
      SILU
    }

    private Fn fn() {
      IActivation fn = layerConf().getActivationFn();
      return fn instanceof ActivationSwish ? Fn.SILU : fn instanceof ActivationReLU6 ? Fn.RELU6 : Fn.RELU;
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
      assertInputSet(false);
      applyDropOutIfNecessary(training, mgr);
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, input.dataType(), input.shape(), 'c');
      boolean direct = ChannelKernels.direct(input, out);
      switch (fn()) {
        case RELU -> Nd4j.getExecutioner().exec(new RectifiedLinear(input, out, 0.0));
        case RELU6 -> {
          if (direct) {
            ChannelKernels.clamp(input, out, 6f);
          } else {
            out.assign(layerConf().getActivationFn().getActivation(input.dup(), training));
          }
        }
        case SILU -> {
          if (direct) {
            ChannelKernels.silu(input, out);
          } else {
            out.assign(layerConf().getActivationFn().getActivation(input.dup(), training));
          }
        }
      }
      return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
      assertInputSet(true);
      Fn fn = fn();
      if (fn == Fn.RELU) {
        return new Pair<>(new DefaultGradient(),
            backpropDropOutIfPresent(reluBackprop(input, epsilon, mgr, ArrayType.ACTIVATION_GRAD)));
      }
      INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), epsilon.shape(), 'c');
      if (fn == Fn.SILU && ChannelKernels.direct(input, epsilon, dx)) {
        ChannelKernels.siluBackward(input, epsilon, dx);
      } else if (fn == Fn.RELU6 && ChannelKernels.direct(input, epsilon)) {
        ChannelKernels.clampBackward(input, epsilon, dx, 6f);
      } else {
        dx.assign(layerConf().getActivationFn().backprop(input.dup(), epsilon.dup()).getFirst());
      }
      return new Pair<>(new DefaultGradient(), backpropDropOutIfPresent(dx));
    }
  }
}
