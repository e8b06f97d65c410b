// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Map;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.samediff.SDLayerParams;
import org.deeplearning4j.nn.conf.layers.samediff.SameDiffLayer;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * ConvNeXt's layers with trainable tensors, on SameDiff (its automatic gradients): what each
 * computes is PyTorch's, on one axis of the array as it travels (rank 2 for vectors, 4 for maps,
 * channels-first or channels-last).
 *
 * <ul>
 *   <li>{@link Kind#LINEAR}: {@code nn.Linear} on the last axis, {@code x W^T + b}; W is
 *       {@code [out, in]} as PyTorch's.
 *   <li>{@link Kind#NORM}: {@code nn.LayerNorm} over {@code axis} (the last for {@code layernorm},
 *       the channels for {@code layernorm2d}): {@code (x - mean) / sqrt(var + eps) * w + b}, the
 *       biased variance.
 *   <li>{@link Kind#SCALE}: {@code x * p}, a free parameter of shape {@code shape} broadcast.
 * </ul>
 * Parameters are stored in the shape that broadcasts against the array (ones at the other axes);
 * the builder's manifest gives PyTorch's shape to load and save them.
 */
public final class LastAxisLayer extends SameDiffLayer {
  private static final long serialVersionUID = 1L;

  /** What the layer computes. */
  public enum Kind { LINEAR, NORM, SCALE }

  @JsonProperty private Kind kind;
  @JsonProperty private int rank;
  @JsonProperty private int axis;
  @JsonProperty private long in;
  @JsonProperty private long out;
  @JsonProperty private boolean bias;
  @JsonProperty private double eps;
  @JsonProperty private double init;
  @JsonProperty private long[] shape;

  public LastAxisLayer() {}

  private LastAxisLayer(Kind kind, int rank) {
    this.kind = kind;
    this.rank = rank;
    this.axis = rank - 1;
  }

  public static LastAxisLayer linear(int rank, long in, long out, boolean bias) {
    LastAxisLayer l = new LastAxisLayer(Kind.LINEAR, rank);
    l.in = in;
    l.out = out;
    l.bias = bias;
    return l;
  }

  public static LastAxisLayer norm(int rank, int axis, long size, double eps) {
    LastAxisLayer l = new LastAxisLayer(Kind.NORM, rank);
    l.axis = axis;
    l.in = size;
    l.out = size;
    l.eps = eps;
    return l;
  }

  /** {@code shape} is the parameter's PyTorch shape, aligned to the array's last axes. */
  public static LastAxisLayer scale(int rank, int[] shape, double init) {
    LastAxisLayer l = new LastAxisLayer(Kind.SCALE, rank);
    l.shape = new long[rank];
    java.util.Arrays.fill(l.shape, 1);
    for (int i = 0; i < shape.length; i++) {
      l.shape[rank - shape.length + i] = shape[i];
    }
    l.init = init;
    return l;
  }

  /** A shape of ones but {@code size} at the layer's axis. */
  private long[] along(long size) {
    long[] s = new long[rank];
    java.util.Arrays.fill(s, 1);
    s[axis] = size;
    return s;
  }

  @Override
  public void defineParameters(SDLayerParams params) {
    switch (kind) {
      case LINEAR -> {
        params.addWeightParam("W", out, in);
        if (bias) {
          params.addBiasParam("b", along(out));
        }
      }
      case NORM -> {
        params.addWeightParam("W", along(in));
        params.addBiasParam("b", along(in));
      }
      case SCALE -> params.addWeightParam("W", shape);
    }
  }

  @Override
  public void initializeParameters(Map<String, INDArray> params) {
    switch (kind) {
      case LINEAR -> {
        // nn.Linear's default: uniform in +-1/sqrt(in) for weight and bias
        double bound = 1 / Math.sqrt(in);
        params.get("W").assign(org.nd4j.linalg.factory.Nd4j.rand(params.get("W").shape()).muli(2 * bound).subi(bound));
        if (bias) {
          params.get("b").assign(org.nd4j.linalg.factory.Nd4j.rand(params.get("b").shape()).muli(2 * bound).subi(bound));
        }
      }
      case NORM -> {
        params.get("W").assign(1);
        params.get("b").assign(0);
      }
      case SCALE -> params.get("W").assign(init);
    }
  }

  @Override
  public SDVariable defineLayer(SameDiff sd, SDVariable x, Map<String, SDVariable> p, SDVariable mask) {
    return switch (kind) {
      case LINEAR -> {
        // [N, ..., in] as rows [N * ..., in] times W^T, then back to [N, ..., out] (a plain matrix
        // product: ND4J's tensormmul_bp refuses these axes)
        SDVariable rows = rank == 2 ? x : sd.reshape(x, sd.constant(org.nd4j.linalg.factory.Nd4j.createFromArray(-1L, in)));
        SDVariable y = sd.mmul(rows, p.get("W"), false, true, false);
        if (rank > 2) {
          SDVariable lead = x.shape().get(org.nd4j.autodiff.samediff.SDIndex.interval(0, rank - 1));
          y = sd.reshape(y, sd.concat(0, lead, sd.constant(org.nd4j.linalg.factory.Nd4j.createFromArray(out))));
        }
        yield bias ? y.add(p.get("b")) : y;
      }
      case NORM -> {
        SDVariable centred = x.sub(x.mean(true, axis));
        SDVariable var = centred.mul(centred).mean(true, axis);
        yield centred.div(sd.math().sqrt(var.add(eps))).mul(p.get("W")).add(p.get("b"));
      }
      case SCALE -> x.mul(p.get("W"));
    };
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    if (kind != Kind.LINEAR) {
      return inputType;
    }
    if (inputType instanceof InputType.InputTypeConvolutional c) {
      return InputType.convolutional(c.getHeight(), out, c.getChannels());
    }
    return InputType.feedForward(out);
  }

  @Override
  public void setNIn(InputType inputType, boolean override) {}

  /** DL4J's SameDiff layer with its output's gradient counted once ({@link SameDiffErrors}). */
  @Override
  public org.deeplearning4j.nn.api.Layer instantiate(org.deeplearning4j.nn.conf.NeuralNetConfiguration conf,
      java.util.Collection<org.deeplearning4j.optimize.api.TrainingListener> listeners, int layerIndex,
      org.nd4j.linalg.api.ndarray.INDArray paramsView, boolean initializeParams,
      org.nd4j.linalg.api.buffer.DataType dataType) {
    return SameDiffErrors.instantiate(this, conf, layerIndex, paramsView, initializeParams, dataType);
  }
}
