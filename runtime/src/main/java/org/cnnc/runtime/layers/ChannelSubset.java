// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.inputs.InvalidInputTypeException;

/**
 * DL4J's subset vertex (channels {@code from..to}, inclusive) with the right output type for
 * feature maps: DL4J 1.0.0-M2.1 computes their channel count as {@code from - to + 1}.
 */
public class ChannelSubset extends SubsetVertex {
  private static final long serialVersionUID = 1L;

  /** For deserialization. */
  public ChannelSubset() {
    super(0, 0);
  }

  public ChannelSubset(int from, int to) {
    super(from, to);
  }

  @Override
  public ChannelSubset clone() {
    return new ChannelSubset(getFrom(), getTo());
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType... in) throws InvalidInputTypeException {
    if (in.length == 1 && in[0] instanceof InputType.InputTypeConvolutional c) {
      return InputType.convolutional(c.getHeight(), c.getWidth(), getTo() - getFrom() + 1, c.getFormat());
    }
    return super.getOutputType(layerIndex, in);
  }
}
