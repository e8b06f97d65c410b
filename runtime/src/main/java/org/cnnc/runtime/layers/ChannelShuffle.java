// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * ShuffleNet's channel shuffle ({@code nn.ChannelShuffle(g)}, torchvision's
 * {@code channel_shuffle}): {@code [N, C, H, W]} viewed as {@code [N, g, C/g, H, W]}, the two
 * channel axes swapped, and flattened back, so channel {@code j * C/g + i} goes to
 * {@code i * g + j}. Backward, the inverse permutation: the same with {@code C/g} groups.
 */
public class ChannelShuffle extends ParameterlessVertex {
  private static final long serialVersionUID = 1L;

  private int groups;

  /** For DL4J's configuration serialization. */
  public ChannelShuffle() {}

  public ChannelShuffle(int groups) {
    this.groups = groups;
  }

  public int getGroups() {
    return groups;
  }

  public void setGroups(int groups) {
    this.groups = groups;
  }

  @Override
  public ChannelShuffle clone() {
    return new ChannelShuffle(groups);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ChannelShuffle c && c.groups == groups;
  }

  @Override
  public int hashCode() {
    return groups;
  }

  @Override
  public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
      INDArray params, boolean initialize, DataType dataType) {
    return new Impl(graph, name, idx, dataType, groups);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType... in) {
    return in[0];
  }

  /** {@code x} with its channels shuffled in {@code g} groups, into {@code out}. */
  static void shuffle(INDArray x, long g, INDArray out) {
    long n = x.size(0);
    long c = x.size(1);
    long plane = x.size(2) * x.size(3);
    out.reshape('c', n, c / g, g, plane).assign(x.reshape('c', n, g, c / g, plane).permute(0, 2, 1, 3));
  }

  /** The vertex. */
  public static class Impl extends ParameterlessVertex.Impl {
    private static final long serialVersionUID = 1L;
    private final int groups;

    public Impl(ComputationGraph graph, String name, int idx, DataType dataType, int groups) {
      super(graph, name, idx, dataType);
      this.groups = groups;
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr mgr) {
      if (!canDoForward()) {
        throw new IllegalStateException("channel_shuffle " + vertexName + ": input not set");
      }
      INDArray x = inputs[0].dup('c');
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(), x.shape(), 'c');
      shuffle(x, groups, out);
      return out;
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr mgr) {
      if (!canDoBackward()) {
        throw new IllegalStateException("channel_shuffle " + vertexName + ": no gradient set");
      }
      INDArray e = epsilon.dup('c');
      INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, e.dataType(), e.shape(), 'c');
      shuffle(e, e.size(1) / groups, dx); // the inverse: C/g groups
      return new Pair<>(null, new INDArray[] {dx});
    }

    @Override
    public String toString() {
      return "ChannelShuffle(" + vertexName + ", " + groups + ")";
    }
  }
}
