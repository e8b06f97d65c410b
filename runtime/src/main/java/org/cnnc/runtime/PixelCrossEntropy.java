// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Per-pixel cross-entropy with unlabeled pixels: PyTorch's {@code nn.CrossEntropyLoss(ignore_index=...)}
 * on {@code [N, C, H, W]} logits, as DL4J's CNN loss layer hands it over, one row per pixel
 * ({@code [N * H * W, C]}). A labeled pixel's row of labels is one-hot; an ignored pixel's is all
 * zeros ({@link Trainer#pixelLabels(INDArray, int, long)}) and adds neither loss nor gradient.
 * PyTorch averages over the labeled pixels of the batch, not all of them: the sum over labeled
 * rows is scaled by {@code rows / labeled}, so that with every pixel labeled this is DL4J's
 * {@code LossMCXENT} exactly (the layer's 1 / (H * W) and DL4J's 1 / N then give PyTorch's mean).
 * A batch with no labeled pixel has loss 0 and no gradient (PyTorch: NaN). The log-softmax is
 * computed stably from the logits (no clipping of probabilities).
 */
public final class PixelCrossEntropy implements ILossFunction {
  private static final long serialVersionUID = 1L;

  /** Per row: minus the labels' weighted log-probabilities, {@code [rows, 1]}, before the scale. */
  private static INDArray logSoftmax(INDArray preOutput, IActivation fn) {
    if (!(fn instanceof ActivationSoftmax)) {
      throw new IllegalStateException("per-pixel cross-entropy reads logits through softmax, not " + fn);
    }
    INDArray shifted = preOutput.subColumnVector(preOutput.max(true, 1));
    INDArray lse = Transforms.log(Transforms.exp(shifted, true).sum(true, 1), false);
    return shifted.subiColumnVector(lse);
  }

  /** {@code rows / labeled}: the labeled pixels' mean in place of all pixels' (0 with none labeled). */
  private static double scale(INDArray labels, INDArray mask) {
    INDArray w = labels.sum(true, 1);
    if (mask != null) {
      w.muli(mask.reshape(mask.length(), 1).castTo(w.dataType()));
    }
    double labeled = w.sumNumber().doubleValue();
    return labeled > 0 ? labels.size(0) / labeled : 0;
  }

  @Override
  public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask) {
    INDArray rows = labels.mul(logSoftmax(preOutput, fn)).sum(true, 1).negi();
    if (mask != null) {
      rows.muli(mask.reshape(mask.length(), 1).castTo(rows.dataType()));
    }
    return rows.muli(scale(labels, mask));
  }

  @Override
  public double computeScore(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask, boolean average) {
    double sum = computeScoreArray(labels, preOutput, fn, mask).sumNumber().doubleValue();
    return average ? sum / labels.size(0) : sum;
  }

  /** {@code softmax * sum(labels) - labels} per row (0 for an ignored pixel), times the scale. */
  @Override
  public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation fn, INDArray mask) {
    INDArray p = Transforms.exp(logSoftmax(preOutput, fn), false);
    INDArray grad = p.muliColumnVector(labels.sum(true, 1)).subi(labels);
    if (mask != null) {
      grad.muliColumnVector(mask.reshape(mask.length(), 1).castTo(grad.dataType()));
    }
    return grad.muli(scale(labels, mask));
  }

  @Override
  public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation fn,
      INDArray mask, boolean average) {
    return new Pair<>(computeScore(labels, preOutput, fn, mask, average), computeGradient(labels, preOutput, fn, mask));
  }

  @Override
  public String name() {
    return "pixel_cross_entropy";
  }

  @Override
  public String toString() {
    return "PixelCrossEntropy()";
  }
}
