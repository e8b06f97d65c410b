// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.PadMode;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Pooling2DConfig;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * PyTorch's ceil-mode average pooling where no DL4J mode gives its divisor: the window sum over
 * the input padded with zeros, divided by the count of what PyTorch counts in each window (the
 * input, plus the explicit padding when {@code count_include_pad}, never the ceil overhang).
 */
public final class CeilAvgPooling extends SameDiffErrors.LambdaLayer {
  private static final long serialVersionUID = 1L;

  @JsonProperty private int[] kernel;
  @JsonProperty private int[] stride;
  @JsonProperty private int[] padding;
  @JsonProperty private int[] extra;
  @JsonProperty private boolean includePad;

  public CeilAvgPooling() {}

  /** {@code extra}: the ceil overhang past the explicit padding, bottom and right. */
  public CeilAvgPooling(int[] kernel, int[] stride, int[] padding, int[] extra, boolean includePad) {
    this.kernel = kernel.clone();
    this.stride = stride.clone();
    this.padding = padding.clone();
    this.extra = extra.clone();
    this.includePad = includePad;
  }

  @Override
  public SDVariable defineLayer(SameDiff sd, SDVariable x) {
    SDVariable all = sd.constant(Nd4j.createFromArray(new int[][] {
        {0, 0}, {0, 0}, {padding[0], padding[0] + extra[0]}, {padding[1], padding[1] + extra[1]}}));
    SDVariable explicit = sd.constant(Nd4j.createFromArray(new int[][] {
        {0, 0}, {0, 0}, {padding[0], padding[0]}, {padding[1], padding[1]}}));
    SDVariable overhang = sd.constant(Nd4j.createFromArray(new int[][] {
        {0, 0}, {0, 0}, {0, extra[0]}, {0, extra[1]}}));
    Pooling2DConfig cfg = Pooling2DConfig.builder()
        .kH(kernel[0]).kW(kernel[1]).sH(stride[0]).sW(stride[1]).pH(0).pW(0)
        .paddingMode(PaddingMode.VALID).isNHWC(false).build();
    SDVariable sum = sd.cnn().avgPooling2d(sd.nn().pad(x, all, PadMode.CONSTANT, 0.0), cfg);
    SDVariable ones = sd.onesLike(x);
    SDVariable counted = sd.nn().pad(sd.nn().pad(ones, explicit, PadMode.CONSTANT, includePad ? 1.0 : 0.0),
        overhang, PadMode.CONSTANT, 0.0);
    SDVariable count = sd.cnn().avgPooling2d(counted, cfg);
    return sum.div(count);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    InputType.InputTypeConvolutional in = (InputType.InputTypeConvolutional) inputType;
    long h = (in.getHeight() + 2L * padding[0] + extra[0] - kernel[0]) / stride[0] + 1;
    long w = (in.getWidth() + 2L * padding[1] + extra[1] - kernel[1]) / stride[1] + 1;
    return InputType.convolutional(h, w, in.getChannels());
  }
}
