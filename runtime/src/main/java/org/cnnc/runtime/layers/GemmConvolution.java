// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * DL4J's convolution layer configuration (same parameters, same {@code W}/{@code b} layout, same
 * inferred types), computed by cnnc's kernel ({@link ConvGemm}) instead of DL4J's.
 *
 * <p>{@link #isInputGradient()} false (set by {@code NetBuilder} on the convs that read a network
 * input, when nothing else reads it) skips the gradient of the layer's input in backprop, as
 * PyTorch skips it for an input that does not require grad: nothing in training reads it, and
 * for a stem conv with few input channels it is a third of the layer's backward pass.
 */
public class GemmConvolution extends ConvolutionLayer {
  private static final long serialVersionUID = 1L;

  @JsonProperty private boolean inputGradient = true;

  /** For deserialization. */
  public GemmConvolution() {}

  public GemmConvolution(ConvolutionLayer.Builder builder) {
    super(builder);
  }

  /** Whether backprop computes the gradient of the layer's input (true unless turned off). */
  public boolean isInputGradient() {
    return inputGradient;
  }

  public void setInputGradient(boolean inputGradient) {
    this.inputGradient = inputGradient;
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new GemmConvolutionLayer(conf, dataType), conf, listeners, index, params, initialize);
  }
}
