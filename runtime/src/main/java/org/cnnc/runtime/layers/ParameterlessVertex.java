// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.BaseGraphVertex;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A graph vertex without parameters: the DL4J plumbing cnnc's own vertices share (broadcasting
 * multiply, stochastic depth, channel shuffle, adaptive pooling), each of which adds its shape rule,
 * its inputs' count and its passes.
 */
public abstract class ParameterlessVertex extends GraphVertex {
  private static final long serialVersionUID = 1L;

  @Override
  public long numParams(boolean backprop) {
    return 0;
  }

  /** Whether it takes any number of inputs (a merge: add, mul), not one. */
  protected boolean merge() {
    return false;
  }

  @Override
  public int minVertexInputs() {
    return 1;
  }

  @Override
  public int maxVertexInputs() {
    return merge() ? Integer.MAX_VALUE : 1;
  }

  @Override
  public MemoryReport getMemoryReport(InputType... in) {
    return new LayerMemoryReport.Builder(null, getClass(), in[0], getOutputType(-1, in))
        .standardMemory(0, 0).workingMemory(0, 0, 0, 0).cacheMemory(0, 0).build();
  }

  /** The vertex at run time: no layer, no parameters, masks passed through. */
  public abstract static class Impl extends BaseGraphVertex {
    private static final long serialVersionUID = 1L;

    protected Impl(ComputationGraph graph, String name, int idx, DataType dataType) {
      super(graph, name, idx, null, null, dataType);
    }

    @Override
    public boolean hasLayer() {
      return false;
    }

    @Override
    public Layer getLayer() {
      return null;
    }

    @Override
    public void setBackpropGradientsViewArray(INDArray view) {
      if (view != null) {
        throw new IllegalArgumentException(this + " has no parameters");
      }
    }

    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArrays(INDArray[] masks, MaskState state, int minibatch) {
      return new Pair<>(masks == null || masks.length == 0 ? null : masks[0], state);
    }
  }
}
