// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An activation layer that never writes into an array another layer reads. DL4J's own activation
 * layer applies its function in place on its input in inference: when that input is also read by
 * another layer (two activations on one value, an activation beside a shortcut), or is the
 * network's input or one of its outputs, the other reader then sees the activated values
 * (OrtEngineTest found it: {@code concat(from x -> hardsigmoid, from x -> hardswish)} gave
 * hardswish(hardsigmoid(x)) twice). This one copies its input first, in inference as in training.
 * Working in place where the input has no other reader would save the copy, but views (flatten,
 * dropout, identity) make "no other reader" a question about storage, not vertices.
 */
public class SafeActivation extends ActivationLayer {
  private static final long serialVersionUID = 1L;

  public SafeActivation() {
    super();
  }

  public SafeActivation(IActivation fn) {
    super(fn);
  }

  @Override
  public SafeActivation clone() {
    return (SafeActivation) super.clone();
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
      INDArray in = mgr.dup(ArrayType.ACTIVATIONS, input, input.ordering());
      return layerConf().getActivationFn().getActivation(in, training);
    }
  }
}
