// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * cnnc's SameDiff layers, with the gradient they receive counted once. In ND4J 1.0.0-M2.1, DL4J's
 * SameDiff layer feeds the gradient of its output to SameDiff through an {@code
 * ExternalErrorsFunction}, whose {@code doDiff} both sets the output's gradient to the
 * placeholder and returns it, so SameDiff adds it twice: every gradient the layer computes, of
 * its parameters and of its input, is twice the true one (measured: each layer doubled, 64x after
 * six; {@code ConvNextParityTest} against PyTorch, {@code ConvNextTrainingTest} against central
 * differences). Gradients are linear in the received one, so halving it gives the true ones; the
 * tests fail if a DL4J version stops doubling.
 */
public final class SameDiffErrors {
  private SameDiffErrors() {}

  /** A SameDiff lambda layer (no parameters) whose layer is {@link Impl}: cnnc's lambda layers extend it. */
  public abstract static class LambdaLayer extends org.deeplearning4j.nn.conf.layers.samediff.SameDiffLambdaLayer {
    private static final long serialVersionUID = 1L;

    @Override
    public Layer instantiate(NeuralNetConfiguration conf,
        java.util.Collection<org.deeplearning4j.optimize.api.TrainingListener> listeners, int layerIndex,
        INDArray paramsView, boolean initializeParams, DataType dataType) {
      return SameDiffErrors.instantiate(this, conf, layerIndex, paramsView, initializeParams, dataType);
    }
  }

  /** DL4J's SameDiff layer, given half its output's gradient. */
  static final class Impl extends org.deeplearning4j.nn.layers.samediff.SameDiffLayer {
    private static final long serialVersionUID = 1L;

    Impl(NeuralNetConfiguration conf, DataType dataType) {
      super(conf, dataType);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
      return super.backpropGradient(epsilon.mul(0.5), workspaceMgr);
    }
  }

  /** The layer of {@code layer}'s configuration, as DL4J's {@code SameDiffLayer.instantiate} makes it, with {@link Impl}. */
  static Layer instantiate(org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer layer, NeuralNetConfiguration conf,
      int layerIndex, INDArray paramsView, boolean initializeParams, DataType dataType) {
    Impl ret = new Impl(conf, dataType);
    ret.setIndex(layerIndex);
    ret.setParamsViewArray(paramsView);
    Map<String, INDArray> params = layer.initializer().init(conf, paramsView, initializeParams);
    ret.setParamTable(params);
    ret.setConf(conf);
    return ret;
  }
}
