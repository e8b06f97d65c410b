// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;

/**
 * Softmax over channels (dimension 1) of an NCHW map, as PyTorch's {@code nn.Softmax(dim=1)}.
 * DL4J's softmax activation normalizes the last dimension, which on NiN's [N, 10, 1, 1] output
 * would turn every value into 1.
 */
public final class ChannelSoftmax extends SameDiffErrors.LambdaLayer {
  private static final long serialVersionUID = 1L;

  @Override
  public SDVariable defineLayer(SameDiff sd, SDVariable x) {
    return sd.nn().softmax(x, 1);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    return inputType;
  }
}
