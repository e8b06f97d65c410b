// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.inputs.InvalidInputTypeException;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The {@code add} merge on cnnc's kernels: the element-wise sum of inputs of one shape, in one
 * pass (DL4J's vertex copies the first input, then adds each other in a pass of its own), and,
 * when the plan fuses the ReLU after it (a residual block's {@code relu(x + f(x))}), that ReLU in
 * the same pass. Backward, each input gets the output gradient (masked where the output is not
 * positive, with the ReLU), in an array of its own, as DL4J's vertex gives.
 */
public class CnncAdd extends ParameterlessVertex {
  private static final long serialVersionUID = 1L;

  @JsonProperty private boolean relu;

  /** For deserialization. */
  public CnncAdd() {}

  /** With {@code relu}, a ReLU fused into the sum. */
  public CnncAdd(boolean relu) {
    this.relu = relu;
  }

  public boolean isRelu() {
    return relu;
  }

  @Override
  public CnncAdd clone() {
    return new CnncAdd(relu);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof CnncAdd a && a.relu == relu;
  }

  @Override
  public int hashCode() {
    return Boolean.hashCode(relu) + 31 * CnncAdd.class.hashCode();
  }

  @Override
  protected boolean merge() {
    return true;
  }

  @Override
  public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
      INDArray params, boolean initialize, DataType dataType) {
    return new Impl(graph, name, idx, dataType, relu);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType... in) throws InvalidInputTypeException {
    for (InputType t : in) {
      if (!t.equals(in[0])) {
        throw new InvalidInputTypeException("add: inputs of different shapes: " + Arrays.toString(in));
      }
    }
    return in[0];
  }

  /** The vertex. */
  public static class Impl extends ParameterlessVertex.Impl {
    private static final long serialVersionUID = 1L;
    private final boolean relu;
    /** The output of the last training pass, whose sign masks the gradient of a fused ReLU. */
    private INDArray lastOutput;

    public Impl(ComputationGraph graph, String name, int idx, DataType dataType, boolean relu) {
      super(graph, name, idx, dataType);
      this.relu = relu;
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr mgr) {
      if (!canDoForward()) {
        throw new IllegalStateException("add " + vertexName + ": inputs not set");
      }
      for (INDArray x : inputs) {
        if (!Arrays.equals(x.shape(), inputs[0].shape())) {
          throw new IllegalStateException("add " + vertexName + ": shapes " + Arrays.toString(inputs[0].shape())
              + " and " + Arrays.toString(x.shape()));
        }
      }
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, inputs[0].dataType(), inputs[0].shape(), 'c');
      if (ChannelKernels.direct(inputs) && ChannelKernels.direct(out)) {
        ChannelKernels.sum(inputs, out, ChannelKernels.cap(relu));
      } else {
        out.assign(inputs[0]);
        for (int i = 1; i < inputs.length; i++) {
          out.addi(inputs[i]);
        }
        if (relu) {
          Transforms.relu(out, false);
        }
      }
      lastOutput = training && relu ? out : null;
      return out;
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr mgr) {
      if (!canDoBackward()) {
        throw new IllegalStateException("add " + vertexName + ": no gradient set");
      }
      INDArray[] grads = new INDArray[inputs.length];
      int from = 0;
      if (relu) {
        if (lastOutput == null) {
          throw new IllegalStateException("add " + vertexName + ": backprop before a training forward pass");
        }
        // a fresh array: the first input's gradient itself
        grads[0] = CnncRelu.reluBackprop(lastOutput, epsilon, mgr, ArrayType.ACTIVATION_GRAD);
        from = 1;
      }
      INDArray g = relu ? grads[0] : epsilon;
      for (int i = from; i < inputs.length; i++) {
        grads[i] = mgr.dup(ArrayType.ACTIVATION_GRAD, g);
      }
      return new Pair<>(new DefaultGradient(), grads);
    }

    @Override
    public String toString() {
      return "CnncAdd(" + vertexName + (relu ? ", relu" : "") + ")";
    }

    @Override
    public void clear() {
      super.clear();
      lastOutput = null;
    }
  }
}
