// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * A loss times a constant: the per-output loss weight (GoogLeNet's auxiliary heads count 0.3).
 * DL4J sums the scores of a graph's outputs; scaling each output's score and gradient gives
 * PyTorch's {@code loss = main + 0.3 * aux1 + 0.3 * aux2}.
 */
public final class ScaledLoss implements ILossFunction {
  private static final long serialVersionUID = 1L;

  @JsonProperty("inner")
  private ILossFunction inner;

  @JsonProperty("weight")
  private double weight;

  /** For JSON deserialization. */
  public ScaledLoss() {}

  public ScaledLoss(ILossFunction inner, double weight) {
    this.inner = inner;
    this.weight = weight;
  }

  public double weight() {
    return weight;
  }

  @Override
  public double computeScore(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask, boolean average) {
    return weight * inner.computeScore(labels, preOutput, fn, mask, average);
  }

  @Override
  public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask) {
    return inner.computeScoreArray(labels, preOutput, fn, mask).muli(weight);
  }

  @Override
  public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask) {
    return inner.computeGradient(labels, preOutput, fn, mask).muli(weight);
  }

  @Override
  public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation fn,
      INDArray mask, boolean average) {
    Pair<Double, INDArray> p = inner.computeGradientAndScore(labels, preOutput, fn, mask, average);
    return new Pair<>(weight * p.getFirst(), p.getSecond().muli(weight));
  }

  @Override
  public String name() {
    return weight + " * " + inner.name();
  }

  @Override
  public String toString() {
    return "ScaledLoss(" + weight + ", " + inner + ")";
  }
}
