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
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * PyTorch's SiLU ({@code x * sigmoid(x)}, EfficientNet's activation) in one pass each way over
 * every core, on vectors when the JVM has the Vector API ({@link VectorSilu}): DL4J's swish
 * activation copies its input first and runs ND4J's op (EfficientNet-B0 at batch 8: 143 ms of its
 * 260 in SiLU layers that way). Arrays that are not float, or not dense, take DL4J's activation.
 */
public class CnncSilu extends ActivationLayer {
  private static final long serialVersionUID = 1L;

  public CnncSilu() {
    super(Activation.SWISH);
  }

  @Override
  public CnncSilu clone() {
    return (CnncSilu) super.clone();
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new Impl(conf, dataType), conf, listeners, index, params, initialize);
  }

  /** The layer itself. */
  public static class Impl extends org.deeplearning4j.nn.layers.ActivationLayer {
    private static final long serialVersionUID = 1L;

    public Impl(NeuralNetConfiguration conf, DataType dataType) {
      super(conf, dataType);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
      assertInputSet(false);
      applyDropOutIfNecessary(training, mgr);
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, input.dataType(), input.shape(), 'c');
      if (ChannelKernels.direct(input, out)) {
        ChannelKernels.silu(input, out);
      } else {
        out.assign(layerConf().getActivationFn().getActivation(input.dup(), training));
      }
      return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
      assertInputSet(true);
      INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), epsilon.shape(), 'c');
      if (ChannelKernels.direct(input, epsilon, dx)) {
        ChannelKernels.siluBackward(input, epsilon, dx);
      } else {
        dx.assign(layerConf().getActivationFn().backprop(input.dup(), epsilon.dup()).getFirst());
      }
      return new Pair<>(new DefaultGradient(), backpropDropOutIfPresent(dx));
    }
  }
}
