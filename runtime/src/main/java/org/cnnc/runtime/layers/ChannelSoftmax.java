// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLambdaLayer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * Softmax over channels (dimension 1) of an NCHW map, as PyTorch's {@code nn.Softmax(dim=1)}.
 * DL4J's softmax activation normalizes the last dimension, which on NiN's [N, 10, 1, 1] output
 * would turn every value into 1.
 */
public final class ChannelSoftmax extends SameDiffLambdaLayer {
  private static final long serialVersionUID = 1L;

  @Override
  public SDVariable defineLayer(SameDiff sd, SDVariable x) {
    return sd.nn().softmax(x, 1);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    return inputType;
  }

  /** DL4J's SameDiff layer with its output's gradient counted once ({@link SameDiffErrors}). */
  @Override
  public org.deeplearning4j.nn.api.Layer instantiate(org.deeplearning4j.nn.conf.NeuralNetConfiguration conf,
      java.util.Collection<org.deeplearning4j.optimize.api.TrainingListener> listeners, int layerIndex,
      org.nd4j.linalg.api.ndarray.INDArray paramsView, boolean initializeParams,
      org.nd4j.linalg.api.buffer.DataType dataType) {
    return SameDiffErrors.instantiate(this, conf, layerIndex, paramsView, initializeParams, dataType);
  }
}
