// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * PyTorch's {@code nn.NLLLoss} on one-hot labels: the output holds log-probabilities, and an
 * example's loss is minus its true class's entry, {@code -sum(labels * x)}; the gradient is
 * {@code -labels}. (DL4J's {@code LossNegativeLogLikelihood} takes probabilities and applies the
 * log itself: a different loss.)
 */
public final class NllLoss implements ILossFunction {
  private static final long serialVersionUID = 1L;

  private static INDArray output(INDArray preOutput, IActivation fn) {
    return fn.getActivation(preOutput.dup(), true);
  }

  @Override
  public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask) {
    INDArray perExample = labels.mul(output(preOutput, fn)).sum(true, 1).negi();
    return mask == null ? perExample : perExample.muli(mask.reshape(mask.length(), 1));
  }

  @Override
  public double computeScore(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask, boolean average) {
    double sum = computeScoreArray(labels, preOutput, fn, mask).sumNumber().doubleValue();
    return average ? sum / labels.size(0) : sum;
  }

  @Override
  public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask) {
    INDArray dLdOut = labels.neg();
    if (mask != null) {
      dLdOut.muliColumnVector(mask.reshape(mask.length(), 1).castTo(dLdOut.dataType()));
    }
    return fn.backprop(preOutput.dup(), dLdOut).getFirst();
  }

  @Override
  public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation fn,
      INDArray mask, boolean average) {
    return new Pair<>(computeScore(labels, preOutput, fn, mask, average), computeGradient(labels, preOutput, fn, mask));
  }

  @Override
  public String name() {
    return "nll";
  }

  @Override
  public String toString() {
    return "NllLoss()";
  }
}
