// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Collection;
import org.cnnc.compiler.shape.Ops;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * PyTorch's {@code nn.ConvTranspose2d}: DL4J's deconvolution configuration holds the parameters
 * ({@code nIn} one group's input channels, so that {@code W} has the
 * {@code in * out/groups * kh * kw} values of PyTorch's {@code [in, out/groups, kh, kw]}, read in
 * that order, and {@code b} is {@code [out]}); the output size is PyTorch's
 * ({@link Ops#transposedSize}, with {@code output_padding}) and {@link ConvTransposeLayer}
 * computes it, as DL4J's deconvolution has neither groups nor output padding.
 */
public class ConvTranspose extends Deconvolution2D {
  private static final long serialVersionUID = 1L;

  @JsonProperty private int groups = 1;
  @JsonProperty private int[] outputPadding = {0, 0};

  /** For deserialization. */
  public ConvTranspose() {}

  public ConvTranspose(Deconvolution2D.Builder builder, int groups, int[] outputPadding) {
    super(builder);
    this.groups = groups;
    this.outputPadding = outputPadding.clone();
  }

  public int getGroups() {
    return groups;
  }

  public int[] getOutputPadding() {
    return outputPadding.clone();
  }

  /** {@code nIn} is one group's input channels. */
  @Override
  public void setNIn(InputType inputType, boolean override) {
    if (nIn > 0 && !override) {
      return;
    }
    long c = ((InputType.InputTypeConvolutional) inputType).getChannels();
    if (c % groups != 0 || nOut % groups != 0) {
      throw new IllegalArgumentException(getLayerName() + ": " + c + " input and " + nOut
          + " output channels do not split into " + groups + " groups");
    }
    nIn = c / groups;
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    InputType.InputTypeConvolutional c = (InputType.InputTypeConvolutional) inputType;
    int[] k = getKernelSize();
    int[] s = getStride();
    int[] p = getPadding();
    int[] d = getDilation();
    return InputType.convolutional(Ops.transposedSize(c.getHeight(), k[0], s[0], p[0], outputPadding[0], d[0]),
        Ops.transposedSize(c.getWidth(), k[1], s[1], p[1], outputPadding[1], d[1]), nOut);
  }

  @Override
  public ConvTranspose clone() {
    ConvTranspose c = (ConvTranspose) super.clone();
    c.outputPadding = outputPadding.clone();
    return c;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ConvTranspose t && super.equals(o) && t.groups == groups
        && java.util.Arrays.equals(t.outputPadding, outputPadding);
  }

  @Override
  public int hashCode() {
    return super.hashCode() * 31 + groups * 7 + java.util.Arrays.hashCode(outputPadding);
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new ConvTransposeLayer(conf, dataType), conf, listeners, index, params, initialize);
  }
}
