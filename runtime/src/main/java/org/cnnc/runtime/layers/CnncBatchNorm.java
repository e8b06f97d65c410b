// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.ArrayList;
import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's BatchNormalization configuration (same {@code gamma}, {@code beta}, {@code mean},
 * {@code var} parameters) computed by {@link CnncBatchNormLayer}: PyTorch's batch norm, with the
 * running variance updated from the unbiased batch variance as PyTorch does (DL4J's own layer
 * uses the biased one).
 */
public class CnncBatchNorm extends BatchNormalization {
  private static final long serialVersionUID = 1L;

  /** For deserialization. */
  public CnncBatchNorm() {}

  /** {@code momentum} as PyTorch means it: the weight of the batch statistics in the running ones. */
  public CnncBatchNorm(double eps, double momentum) {
    this(eps, momentum, false);
  }

  /** With {@code relu}, a ReLU fused into the layer (its activation). */
  public CnncBatchNorm(double eps, double momentum, boolean relu) {
    this(eps, momentum, relu ? Activation.RELU : Activation.IDENTITY);
  }

  /** With {@code fused} {@link Activation#RELU} or {@link Activation#RELU6}, that activation fused into the layer. */
  public CnncBatchNorm(double eps, double momentum, Activation fused) {
    setEps(eps);
    setDecay(1 - momentum);
    setUseLogStd(false);
    setMinibatch(true);
    setGamma(1.0);
    setBeta(0.0);
    setLockGammaBeta(false);
    setCudnnAllowFallback(true);
    setCnn2DFormat(CNN2DFormat.NCHW);
    if (fused != Activation.RELU && fused != Activation.RELU6 && fused != Activation.IDENTITY) {
      throw new IllegalArgumentException("cnnc's batch norm fuses RELU or RELU6, not " + fused);
    }
    setActivationFn(fused.getActivationFunction());
    setRegularization(new ArrayList<>());
    setRegularizationBias(new ArrayList<>());
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new CnncBatchNormLayer(conf, dataType), conf, listeners, index, params, initialize);
  }
}
