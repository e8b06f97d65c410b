// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.BaseActivationFunction;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.strict.Erf;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * PyTorch's activations that Deeplearning4j computes differently or lacks: its
 * {@code ActivationHardSigmoid} is {@code 0.2x + 0.5} (PyTorch's is {@code x/6 + 1/2}), its GELU an
 * approximation (PyTorch's default is exact, with erf), and it has no hardswish. Each is written
 * with ND4J ops, so it runs on every backend; the gradients are PyTorch's, boundaries included.
 */
public final class TorchActivations {
  private TorchActivations() {}

  /** 1 where {@code lo < x < hi}, else 0. */
  private static INDArray inside(INDArray x, double lo, double hi) {
    return x.gt(lo).castTo(x.dataType()).muli(x.lt(hi).castTo(x.dataType()));
  }

  /** {@code nn.Hardsigmoid}: {@code clamp(x / 6 + 1/2, 0, 1)}. */
  public static final class HardSigmoid extends BaseActivationFunction {
    private static final long serialVersionUID = 1L;

    @Override
    public INDArray getActivation(INDArray in, boolean training) {
      INDArray y = Transforms.min(Transforms.max(in.div(6.0).addi(0.5), 0.0, false), 1.0, false);
      return in.assign(y);
    }

    @Override
    public Pair<INDArray, INDArray> backprop(INDArray in, INDArray epsilon) {
      assertShape(in, epsilon);
      INDArray dx = inside(in, -3, 3).divi(6.0).muli(epsilon);
      return new Pair<>(dx, null);
    }

    @Override
    public String toString() {
      return "hardsigmoid";
    }
  }

  /** {@code nn.Hardswish}: {@code x * clamp(x + 3, 0, 6) / 6}. */
  public static final class HardSwish extends BaseActivationFunction {
    private static final long serialVersionUID = 1L;

    @Override
    public INDArray getActivation(INDArray in, boolean training) {
      INDArray gate = Transforms.min(Transforms.max(in.add(3.0), 0.0, false), 6.0, false).divi(6.0);
      return in.muli(gate);
    }

    @Override
    public Pair<INDArray, INDArray> backprop(INDArray in, INDArray epsilon) {
      assertShape(in, epsilon);
      // PyTorch: 0 below -3, x / 3 + 1/2 on [-3, 3], 1 above 3
      INDArray mid = in.gte(-3.0).castTo(in.dataType()).muli(in.lte(3.0).castTo(in.dataType()));
      INDArray above = in.gt(3.0).castTo(in.dataType());
      INDArray dx = in.div(3.0).addi(0.5).muli(mid).addi(above).muli(epsilon);
      return new Pair<>(dx, null);
    }

    @Override
    public String toString() {
      return "hardswish";
    }
  }

  /** {@code nn.GELU()}: {@code x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2))}, exact. */
  public static final class Gelu extends BaseActivationFunction {
    private static final long serialVersionUID = 1L;

    @Override
    public INDArray getActivation(INDArray in, boolean training) {
      INDArray cdf = Nd4j.getExecutioner().exec(new Erf(in.div(Math.sqrt(2.0)))).addi(1.0).muli(0.5);
      return in.muli(cdf);
    }

    @Override
    public Pair<INDArray, INDArray> backprop(INDArray in, INDArray epsilon) {
      assertShape(in, epsilon);
      INDArray cdf = Nd4j.getExecutioner().exec(new Erf(in.div(Math.sqrt(2.0)))).addi(1.0).muli(0.5);
      INDArray pdf = Transforms.exp(in.mul(in).muli(-0.5), false).muli(1.0 / Math.sqrt(2 * Math.PI));
      INDArray dx = pdf.muli(in).addi(cdf).muli(epsilon);
      return new Pair<>(dx, null);
    }

    @Override
    public String toString() {
      return "gelu";
    }
  }
}
