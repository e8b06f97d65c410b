// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layer behind {@link GroupedConvolution}; like {@link GemmConvolutionLayer}, its backward
 * pass does not recompute the forward pass (identity activation, or a fused ReLU through the
 * kept output), and it skips its input's gradient when the configuration says so.
 */
public class GroupedConvolutionLayer extends ConvolutionLayer {
  private static final long serialVersionUID = 1L;

  /** The output of the last training forward pass, when a ReLU is fused in (its backward needs it). */
  private INDArray lastOutput;

  public GroupedConvolutionLayer(NeuralNetConfiguration conf, DataType dataType) {
    super(conf, dataType);
  }

  private GroupedConvolution grouped() {
    return (GroupedConvolution) layerConf();
  }

  private ConvGemm.Geometry geometry() {
    var c = layerConf();
    return new ConvGemm.Geometry(c.getKernelSize(), c.getStride(), c.getPadding(), c.getDilation());
  }

  @Override
  protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr mgr) {
    return new Pair<>(convolve(training, false, mgr), null);
  }

  private INDArray convolve(boolean training, boolean relu, LayerWorkspaceMgr mgr) {
    assertInputSet(false);
    validateInputRank();
    INDArray w = getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, training, mgr);
    int groups = grouped().getGroups();
    if (input.size(1) != w.size(1) * groups) {
      throw new DL4JInvalidInputException(layerId() + ": input has " + input.size(1) + " channels, expected "
          + w.size(1) * groups + " (" + groups + " groups of " + w.size(1) + ")");
    }
    INDArray b = hasBias() ? getParamWithNoise(ConvolutionParamInitializer.BIAS_KEY, training, mgr) : null;
    INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.FF_WORKING_MEM);
    return GroupedConv.forward(x, w, b, relu, geometry(), groups, grouped().isCnncKernels(), mgr,
        ArrayType.ACTIVATIONS);
  }

  @Override
  public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
    assertInputSet(false);
    applyDropOutIfNecessary(training, mgr);
    IActivation fn = layerConf().getActivationFn();
    boolean relu = CnncRelu.plain(fn);
    INDArray z = convolve(training, relu, mgr);
    INDArray a = relu ? z : fn.getActivation(z, training);
    lastOutput = training && relu ? a : null;
    return a;
  }

  @Override
  public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
    assertInputSet(true);
    INDArray w = getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, true, mgr);
    IActivation fn = layerConf().getActivationFn();
    INDArray delta;
    if (fn instanceof ActivationIdentity) {
      delta = ConvGemm.contiguous(epsilon, mgr, ArrayType.BP_WORKING_MEM);
    } else if (CnncRelu.plain(fn) && lastOutput != null) {
      delta = CnncRelu.reluBackprop(lastOutput, epsilon, mgr, ArrayType.BP_WORKING_MEM);
    } else {
      delta = ConvGemm.contiguous(fn.backprop(preOutput(true, true, mgr).getFirst(), epsilon).getFirst(), mgr,
          ArrayType.BP_WORKING_MEM);
    }
    INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.BP_WORKING_MEM);
    INDArray wGrad = gradientViews.get(ConvolutionParamInitializer.WEIGHT_KEY);
    INDArray bGrad = hasBias() ? gradientViews.get(ConvolutionParamInitializer.BIAS_KEY) : null;
    INDArray dx = GroupedConv.backward(x, w, delta, wGrad, bGrad, geometry(), grouped().getGroups(),
        grouped().isCnncKernels(), grouped().isInputGradient(), mgr);
    Gradient gradient = new DefaultGradient();
    if (bGrad != null) {
      gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, bGrad);
    }
    gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, wGrad, 'c');
    weightNoiseParams.clear();
    return new Pair<>(gradient, dx == null ? null : backpropDropOutIfPresent(dx));
  }
}
