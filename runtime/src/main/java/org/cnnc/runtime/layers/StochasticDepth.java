// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * torchvision's {@code stochastic_depth(input, p, mode, training)}: the identity in inference
 * (and for p = 0); in training, {@code input * noise} with {@code noise} one Bernoulli draw of
 * survival rate {@code 1 - p} per example ({@code row}) or for the whole batch ({@code batch}),
 * divided by the survival rate when it is above 0 (p = 1 drops everything, unscaled). The draws
 * come from ND4J's generator, which the network's seed and {@code train}'s epoch seeds set, as
 * dropout's do. Backward, the output gradient times the same noise.
 */
public class StochasticDepth extends ParameterlessVertex {
  private static final long serialVersionUID = 1L;

  private double p;
  private boolean row;

  /** For DL4J's configuration serialization. */
  public StochasticDepth() {}

  public StochasticDepth(double p, boolean row) {
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException("stochastic_depth: p must be between 0 and 1, found " + p);
    }
    this.p = p;
    this.row = row;
  }

  public double getP() {
    return p;
  }

  public void setP(double p) {
    this.p = p;
  }

  public boolean isRow() {
    return row;
  }

  public void setRow(boolean row) {
    this.row = row;
  }

  @Override
  public StochasticDepth clone() {
    return new StochasticDepth(p, row);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StochasticDepth s && s.p == p && s.row == row;
  }

  @Override
  public int hashCode() {
    return Double.hashCode(p) * 31 + Boolean.hashCode(row);
  }

  @Override
  public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
      INDArray params, boolean initialize, DataType dataType) {
    return new Impl(graph, name, idx, dataType, p, row);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType... in) {
    return in[0];
  }

  /** The vertex. */
  public static class Impl extends ParameterlessVertex.Impl {
    private static final long serialVersionUID = 1L;
    private final double p;
    private final boolean row;
    /** The noise of the last training pass, one value per example (or one), or null: the identity. */
    private float[] noise;

    public Impl(ComputationGraph graph, String name, int idx, DataType dataType, double p, boolean row) {
      super(graph, name, idx, dataType);
      this.p = p;
      this.row = row;
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr mgr) {
      if (!canDoForward()) {
        throw new IllegalStateException("stochastic_depth " + vertexName + ": input not set");
      }
      INDArray x = inputs[0];
      noise = null;
      if (!training || p == 0) {
        return mgr.dup(ArrayType.ACTIVATIONS, x);
      }
      double survival = 1 - p;
      float[] n = new float[row ? (int) x.size(0) : 1];
      for (int i = 0; i < n.length; i++) {
        boolean keep = Nd4j.getRandom().nextDouble() < survival;
        n[i] = keep ? (float) (1 / survival) : 0f;
      }
      noise = n;
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(), x.shape(), 'c');
      Nd4j.exec(new MulOp(x, noiseArray(x), out));
      return out;
    }

    /** The noise as an array that broadcasts over {@code like}: {@code [N, 1, 1, 1]} or all ones. */
    private INDArray noiseArray(INDArray like) {
      long[] shape = new long[like.rank()];
      Arrays.fill(shape, 1);
      shape[0] = noise.length;
      return Nd4j.createFromArray(noise).castTo(like.dataType()).reshape(shape);
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr mgr) {
      if (!canDoBackward()) {
        throw new IllegalStateException("stochastic_depth " + vertexName + ": no gradient set");
      }
      INDArray g;
      if (noise == null) {
        g = mgr.dup(ArrayType.ACTIVATION_GRAD, epsilon);
      } else {
        g = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), epsilon.shape(), 'c');
        Nd4j.exec(new MulOp(epsilon, noiseArray(epsilon), g));
      }
      return new Pair<>(null, new INDArray[] {g});
    }

    /** The noise of the last training pass (for tests), or null. */
    float[] lastNoise() {
      return noise == null ? null : noise.clone();
    }

    @Override
    public String toString() {
      return "StochasticDepth(" + vertexName + ", p = " + p + (row ? ", row" : ", batch") + ")";
    }
  }
}
