// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layer behind {@link GroupedConvolution}: {@link GemmConvolutionLayer}'s passes (no forward
 * recomputed in backward, the fused ReLU, the skipped input gradient), with the products made
 * group by group ({@link GroupedConv}).
 */
public class GroupedConvolutionLayer extends GemmConvolutionLayer {
  private static final long serialVersionUID = 1L;

  public GroupedConvolutionLayer(NeuralNetConfiguration conf, DataType dataType) {
    super(conf, dataType);
  }

  private GroupedConvolution grouped() {
    return (GroupedConvolution) layerConf();
  }

  /** The weights {@code [out, in/groups, kh, kw]} read {@code groups} times their channels. */
  @Override
  protected void validateInputDepth(long weightInputChannels) {
    int groups = grouped().getGroups();
    if (input.size(1) != weightInputChannels * groups) {
      throw new DL4JInvalidInputException(layerId() + ": input has " + input.size(1) + " channels, expected "
          + weightInputChannels * groups + " (" + groups + " groups of " + weightInputChannels + ")");
    }
  }

  @Override
  protected INDArray forward(INDArray x, INDArray w, INDArray b, float cap, boolean training, LayerWorkspaceMgr mgr,
      INDArray residual) {
    INDArray out = GroupedConv.forward(x, w, b, residual == null ? cap : ChannelKernels.NONE, geometry(),
        grouped().getGroups(), grouped().isCnncKernels(), mgr, ArrayType.ACTIVATIONS);
    return residual == null ? out : ConvGemm.addResidual(out, cap, residual);
  }

  @Override
  protected INDArray backward(INDArray x, INDArray w, INDArray delta, INDArray wGrad, INDArray bGrad,
      LayerWorkspaceMgr mgr) {
    return GroupedConv.backward(x, w, delta, wGrad, bGrad, geometry(), grouped().getGroups(), grouped().isCnncKernels(),
        grouped().isInputGradient(), mgr);
  }
}
