// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.PadMode;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Pads an NCHW map with -infinity, possibly more on one side than the other: the padding that
 * PyTorch's ceil-mode max pooling implies and DL4J's pooling cannot express. (Zero padding would
 * be exact only for non-negative inputs.)
 */
public final class NegInfPadding extends SameDiffErrors.LambdaLayer {
  private static final long serialVersionUID = 1L;

  @JsonProperty private int top;
  @JsonProperty private int bottom;
  @JsonProperty private int left;
  @JsonProperty private int right;

  public NegInfPadding() {}

  public NegInfPadding(int top, int bottom, int left, int right) {
    this.top = top;
    this.bottom = bottom;
    this.left = left;
    this.right = right;
  }

  @Override
  public SDVariable defineLayer(SameDiff sd, SDVariable x) {
    SDVariable pads = sd.constant(Nd4j.createFromArray(new int[][] {{0, 0}, {0, 0}, {top, bottom}, {left, right}}));
    return sd.nn().pad(x, pads, PadMode.CONSTANT, Double.NEGATIVE_INFINITY);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    InputType.InputTypeConvolutional in = (InputType.InputTypeConvolutional) inputType;
    return InputType.convolutional(in.getHeight() + top + bottom, in.getWidth() + left + right, in.getChannels());
  }
}
