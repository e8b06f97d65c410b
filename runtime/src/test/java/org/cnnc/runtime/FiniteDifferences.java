// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.function.ToDoubleFunction;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

/** A parameter's gradient, as a training step computes it, against central differences of the score. */
final class FiniteDifferences {
  private FiniteDifferences() {}

  /** The largest difference between the two and the largest numeric gradient, over the elements checked. */
  record Result(double worst, double largest) {}

  /**
   * The first {@code count} elements of parameter {@code key}: DL4J's gradient (of the batch's
   * summed loss, its updater divides by the batch; the score is the mean) against
   * {@code (score(p + h) - score(p - h)) / 2h}. {@code score} computes gradient and score with the
   * same random draws every time; each element is restored.
   */
  static Result check(ComputationGraph g, String key, int batch, int count, double h, ToDoubleFunction<ComputationGraph> score) {
    score.applyAsDouble(g);
    INDArray grad = g.gradient().getGradientFor(key).div(batch);
    INDArray param = g.getParam(key);
    INDArray flat = param.reshape(param.length());
    INDArray gflat = grad.reshape(grad.length());
    double worst = 0;
    double largest = 0;
    for (long i = 0; i < Math.min(count, flat.length()); i++) {
      double v = flat.getDouble(i);
      flat.putScalar(i, v + h);
      double up = score.applyAsDouble(g);
      flat.putScalar(i, v - h);
      double down = score.applyAsDouble(g);
      flat.putScalar(i, v);
      double numeric = (up - down) / (2 * h);
      worst = Math.max(worst, Math.abs(numeric - gflat.getDouble(i)));
      largest = Math.max(largest, Math.abs(numeric));
    }
    return new Result(worst, largest);
  }
}
