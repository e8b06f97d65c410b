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
  protected boolean cnncKernels() {
    return grouped().isCnncKernels();
  }

  /**
   * Depthwise convs only (one input channel per group: MobileNets', EfficientNet's): those run on
   * oneDNN's primitive in its layout. Groups of several channels (RegNet's, 8 wide) stay on the
   * group-by-group kernel: on the primitive, the zoo's RegNet-Y 400MF moved 4x further from
   * torchvision's output (1.6e-4 of the largest value against 4.1e-5: the same convs in another
   * order of sums, amplified by the network), and no speed-up was measured for them.
   */
  @Override
  public boolean laidOut() {
    return super.laidOut() && getParam(org.deeplearning4j.nn.params.ConvolutionParamInitializer.WEIGHT_KEY).size(1) == 1;
  }

  @Override
  protected int groups() {
    return grouped().getGroups();
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
