// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.inputs.InvalidInputTypeException;
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
 * The {@code mul} merge: the element-wise product of its inputs, broadcast as PyTorch's {@code x * y}
 * broadcasts (squeeze-and-excitation's {@code [N, C, H, W] * [N, C, 1, 1]}); DL4J's product vertex
 * needs equal shapes. Backward, an input's gradient is the output gradient times the other
 * inputs, summed over the dimensions the input was repeated along (for the {@code [N, C, 1, 1]}
 * scale: over H and W), as autograd's reduction of a broadcast.
 */
public class BroadcastMul extends ParameterlessVertex {
  private static final long serialVersionUID = 1L;

  @Override
  public BroadcastMul clone() {
    return new BroadcastMul();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BroadcastMul;
  }

  @Override
  public int hashCode() {
    return BroadcastMul.class.hashCode();
  }

  @Override
  protected boolean merge() {
    return true;
  }

  @Override
  public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
      INDArray params, boolean initialize, DataType dataType) {
    return new Impl(graph, name, idx, dataType);
  }

  /** The broadcast type: in each dimension the size that is not 1. */
  @Override
  public InputType getOutputType(int layerIndex, InputType... in) throws InvalidInputTypeException {
    InputType first = in[0];
    if (first instanceof InputType.InputTypeConvolutional) {
      long c = 1;
      long h = 1;
      long w = 1;
      for (InputType t : in) {
        if (!(t instanceof InputType.InputTypeConvolutional m)) {
          throw new InvalidInputTypeException("mul: cannot multiply " + t + " with " + first);
        }
        c = join(c, m.getChannels(), in);
        h = join(h, m.getHeight(), in);
        w = join(w, m.getWidth(), in);
      }
      return InputType.convolutional(h, w, c);
    }
    long size = 1;
    for (InputType t : in) {
      if (!(t instanceof InputType.InputTypeFeedForward f)) {
        throw new InvalidInputTypeException("mul: cannot multiply " + t + " with " + first);
      }
      size = join(size, f.getSize(), in);
    }
    return InputType.feedForward(size);
  }

  private static long join(long a, long b, InputType[] in) {
    if (a != b && a != 1 && b != 1) {
      throw new InvalidInputTypeException("mul: sizes " + a + " and " + b + " do not broadcast: " + Arrays.toString(in));
    }
    return Math.max(a, b);
  }

  /** The product's shape: in each dimension the size that is not 1. */
  static long[] broadcast(INDArray[] in) {
    long[] out = in[0].shape().clone();
    for (INDArray a : in) {
      if (a.rank() != out.length) {
        throw new IllegalStateException("mul: ranks differ: " + Arrays.toString(a.shape()) + ", " + Arrays.toString(out));
      }
      for (int d = 0; d < out.length; d++) {
        long s = a.size(d);
        if (s != out[d] && s != 1 && out[d] != 1) {
          throw new IllegalStateException("mul: " + Arrays.toString(a.shape()) + " does not broadcast to "
              + Arrays.toString(out));
        }
        out[d] = Math.max(out[d], s);
      }
    }
    return out;
  }

  /** The vertex. */
  public static class Impl extends ParameterlessVertex.Impl {
    private static final long serialVersionUID = 1L;

    public Impl(ComputationGraph graph, String name, int idx, DataType dataType) {
      super(graph, name, idx, dataType);
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr mgr) {
      if (!canDoForward()) {
        throw new IllegalStateException("mul " + vertexName + ": inputs not set");
      }
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, inputs[0].dataType(), broadcast(inputs), 'c');
      int map = scaledMap(inputs, out);
      if (map >= 0) {
        INDArray x = inputs[map];
        INDArray s = inputs[1 - map];
        ChannelKernels.scalePlanes(x, s, out, (int) (x.size(0) * x.size(1)), (int) (x.size(2) * x.size(3)),
            (int) s.length());
      } else {
        product(inputs, out);
      }
      return out;
    }

    /**
     * Which input is the map when the two are a squeeze-and-excitation's map {@code [N, C, H, W]}
     * and scale ({@code [N, C, 1, 1]} or {@code [1, C, 1, 1]}), float and dense, and {@code out}
     * too: the planes scaled in one pass ({@link ChannelKernels#scalePlanes}), the same bits as
     * the broadcast product (one float product each); else -1.
     */
    static int scaledMap(INDArray[] in, INDArray out) {
      if (in.length != 2) {
        return -1;
      }
      int m = scaledMap(in[0].shape(), in[1].shape(), out.shape());
      return m >= 0 && ChannelKernels.direct(in[0], in[1], out) ? m : -1;
    }

    /**
     * Which of two inputs of shapes {@code a} and {@code b} is the map when they are a
     * squeeze-and-excitation's map {@code [N, C, H, W]} (not 1x1) and scale ({@code [N, C, 1, 1]}
     * or {@code [1, C, 1, 1]}) of the product of shape {@code out}: 0 or 1, else -1.
     */
    public static int scaledMap(long[] a, long[] b, long[] out) {
      if (out.length != 4 || out[2] * out[3] == 1) {
        return -1;
      }
      for (int m = 0; m < 2; m++) {
        long[] x = m == 0 ? a : b;
        long[] s = m == 0 ? b : a;
        if (Arrays.equals(x, out) && s.length == 4 && s[1] == x[1] && s[2] == 1 && s[3] == 1
            && (s[0] == x[0] || s[0] == 1)) {
          return m;
        }
      }
      return -1;
    }

    /**
     * {@code out} = the product of {@code factors}, in their order, each broadcast to {@code out}'s
     * shape (a first factor of another shape is multiplied into ones: {@code 1 * a} is {@code a}
     * exactly).
     */
    private static void product(INDArray[] factors, INDArray out) {
      if (Arrays.equals(factors[0].shape(), out.shape())) {
        out.assign(factors[0]);
      } else {
        out.assign(1);
        Nd4j.exec(new MulOp(out, factors[0], out));
      }
      for (int j = 1; j < factors.length; j++) {
        Nd4j.exec(new MulOp(out, factors[j], out));
      }
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr mgr) {
      if (!canDoBackward()) {
        throw new IllegalStateException("mul " + vertexName + ": no gradient set");
      }
      long[] outShape = epsilon.shape();
      INDArray[] grads = new INDArray[inputs.length];
      int map = scaledMap(inputs, epsilon);
      if (map >= 0 && ChannelKernels.direct(epsilon)) {
        // the map's gradient: dy scaled like the map; the scale's: each plane's sum of dy * x
        INDArray x = inputs[map];
        INDArray s = inputs[1 - map];
        int planes = (int) (x.size(0) * x.size(1));
        int plane = (int) (x.size(2) * x.size(3));
        grads[map] = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), outShape, 'c');
        ChannelKernels.scalePlanes(epsilon, s, grads[map], planes, plane, (int) s.length());
        grads[1 - map] = mgr.create(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), s.shape(), 'c');
        grads[1 - map].assign(Nd4j.createFromArray(ChannelKernels.planeDots(epsilon, x, planes, plane, (int) s.length()))
            .reshape(s.shape()));
        return new Pair<>(null, grads);
      }
      for (int i = 0; i < inputs.length; i++) {
        // the output gradient times every other input
        INDArray[] factors = new INDArray[inputs.length];
        factors[0] = epsilon;
        for (int j = 0, k = 1; j < inputs.length; j++) {
          if (j != i) {
            factors[k++] = inputs[j];
          }
        }
        List<Integer> repeated = new ArrayList<>();
        for (int d = 0; d < outShape.length; d++) {
          if (inputs[i].size(d) == 1 && outShape[d] != 1) {
            repeated.add(d);
          }
        }
        if (repeated.isEmpty()) {
          grads[i] = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), outShape, 'c');
          product(factors, grads[i]);
        } else {
          // the gradient of an input repeated along some dimensions: summed along them
          INDArray full = Nd4j.createUninitialized(epsilon.dataType(), outShape, 'c');
          product(factors, full);
          grads[i] = mgr.create(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), inputs[i].shape(), 'c');
          grads[i].assign(full.sum(true, repeated.stream().mapToInt(Integer::intValue).toArray()));
        }
      }
      return new Pair<>(null, grads);
    }

    @Override
    public String toString() {
      return "BroadcastMul(" + vertexName + ")";
    }
  }
}
