// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * PyTorch's {@code x.permute(dims)} on a rank-4 array, the batch first. A channels-last map
 * {@code [N, H, W, C]} travels as a rank-4 array whose DL4J type says channels H, height W and
 * width C: the type names the array's dims, not their meaning (the builder keeps the checked
 * shapes). The gradient is the inverse permutation (SameDiff's).
 */
public final class Permute extends SameDiffErrors.LambdaLayer {
  private static final long serialVersionUID = 1L;

  @JsonProperty private int[] dims;

  public Permute() {}

  public Permute(int[] dims) {
    this.dims = dims.clone();
  }

  @Override
  public SDVariable defineLayer(SameDiff sd, SDVariable x) {
    return sd.permute(x, dims);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    InputType.InputTypeConvolutional in = (InputType.InputTypeConvolutional) inputType;
    long[] a = {0, in.getChannels(), in.getHeight(), in.getWidth()};
    return InputType.convolutional(a[dims[2]], a[dims[3]], a[dims[1]]);
  }
}
