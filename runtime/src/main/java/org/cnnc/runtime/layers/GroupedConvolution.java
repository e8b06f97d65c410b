// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * A grouped convolution (depthwise when {@code groups} is the input channels): DL4J's convolution
 * configuration with {@code nIn} the channels of one group, so that its weights {@code W} are
 * {@code [out, in/groups, kh, kw]} as PyTorch keeps them, computed by {@link GroupedConv}: with
 * cnnc's kernels when {@link #isCnncKernels()}, else with ND4J's ops only (any backend).
 */
public class GroupedConvolution extends GemmConvolution {
  private static final long serialVersionUID = 1L;

  @JsonProperty private int groups = 1;
  @JsonProperty private boolean cnncKernels = true;

  /** For deserialization. */
  public GroupedConvolution() {}

  public GroupedConvolution(ConvolutionLayer.Builder builder, int groups, boolean cnncKernels) {
    super(builder);
    if (groups < 1) {
      throw new IllegalArgumentException("groups must be at least 1, not " + groups);
    }
    this.groups = groups;
    this.cnncKernels = cnncKernels;
  }

  public int getGroups() {
    return groups;
  }

  /** Whether cnnc's Java kernels compute the layer (else ND4J's ops). */
  public boolean isCnncKernels() {
    return cnncKernels;
  }

  /** {@code nIn} is one group's input channels. */
  @Override
  public void setNIn(InputType inputType, boolean override) {
    if (nIn > 0 && !override) {
      return;
    }
    super.setNIn(inputType, true);
    long c = ((InputType.InputTypeConvolutional) inputType).getChannels();
    if (c % groups != 0 || nOut % groups != 0) {
      throw new IllegalArgumentException(getLayerName() + ": " + c + " input and " + nOut
          + " output channels do not split into " + groups + " groups");
    }
    nIn = c / groups;
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new GroupedConvolutionLayer(conf, dataType), conf, listeners, index, params, initialize);
  }
}
