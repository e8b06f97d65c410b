// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.inputs.InvalidInputTypeException;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * PyTorch's {@code nn.AdaptiveAvgPool2d((h, w))}, which DL4J lacks: output row {@code i} averages
 * input rows {@code floor(i * H / h)} to {@code ceil((i + 1) * H / h)} (exclusive), and so for
 * columns; the windows may overlap and differ in size. To the input's own size it is the
 * identity. Backward, each output gradient is spread evenly over its window, overlaps adding up.
 */
public class AdaptiveAvgPool extends ParameterlessVertex {
  private static final long serialVersionUID = 1L;

  private int height;
  private int width;

  /** For DL4J's configuration serialization. */
  public AdaptiveAvgPool() {}

  public AdaptiveAvgPool(int height, int width) {
    this.height = height;
    this.width = width;
  }

  public int getHeight() {
    return height;
  }

  public void setHeight(int height) {
    this.height = height;
  }

  public int getWidth() {
    return width;
  }

  public void setWidth(int width) {
    this.width = width;
  }

  @Override
  public AdaptiveAvgPool clone() {
    return new AdaptiveAvgPool(height, width);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AdaptiveAvgPool a && a.height == height && a.width == width;
  }

  @Override
  public int hashCode() {
    return height * 31 + width;
  }

  @Override
  public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
      INDArray params, boolean initialize, DataType dataType) {
    return new Impl(graph, name, idx, dataType, height, width);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType... in) throws InvalidInputTypeException {
    if (!(in[0] instanceof InputType.InputTypeConvolutional c)) {
      throw new InvalidInputTypeException("adaptive_avgpool needs a feature map, found " + in[0]);
    }
    return InputType.convolutional(height, width, c.getChannels());
  }

  /** PyTorch's window of output cell {@code i} of {@code out} over {@code in}: {@code [start, end)}. */
  static long[] window(long i, long in, long out) {
    return new long[] {Math.floorDiv(i * in, out), Math.floorDiv((i + 1) * in + out - 1, out)};
  }

  /** The vertex. */
  public static class Impl extends ParameterlessVertex.Impl {
    private static final long serialVersionUID = 1L;
    private final int height;
    private final int width;

    public Impl(ComputationGraph graph, String name, int idx, DataType dataType, int height, int width) {
      super(graph, name, idx, dataType);
      this.height = height;
      this.width = width;
    }

    private INDArrayIndex[] cell(long i, long j, long ih, long iw) {
      long[] r = window(i, ih, height);
      long[] c = window(j, iw, width);
      return new INDArrayIndex[] {NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(r[0], r[1]),
          NDArrayIndex.interval(c[0], c[1])};
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr mgr) {
      if (!canDoForward()) {
        throw new IllegalStateException("adaptive_avgpool " + vertexName + ": input not set");
      }
      INDArray x = inputs[0];
      long ih = x.size(2);
      long iw = x.size(3);
      if (ih == height && iw == width) {
        return mgr.dup(ArrayType.ACTIVATIONS, x);
      }
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(),
          new long[] {x.size(0), x.size(1), height, width}, 'c');
      for (long i = 0; i < height; i++) {
        for (long j = 0; j < width; j++) {
          out.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.point(j))
              .assign(x.get(cell(i, j, ih, iw)).mean(2, 3));
        }
      }
      return out;
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr mgr) {
      if (!canDoBackward()) {
        throw new IllegalStateException("adaptive_avgpool " + vertexName + ": no gradient set");
      }
      INDArray x = inputs[0];
      long ih = x.size(2);
      long iw = x.size(3);
      if (ih == height && iw == width) {
        return new Pair<>(null, new INDArray[] {mgr.dup(ArrayType.ACTIVATION_GRAD, epsilon)});
      }
      INDArray dx = mgr.create(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), x.shape(), 'c');
      for (long i = 0; i < height; i++) {
        for (long j = 0; j < width; j++) {
          INDArray window = dx.get(cell(i, j, ih, iw));
          INDArray g = epsilon.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(i, i + 1),
              NDArrayIndex.interval(j, j + 1));
          window.addi(g.div(window.size(2) * window.size(3)).broadcast(window.shape()));
        }
      }
      return new Pair<>(null, new INDArray[] {dx});
    }

    @Override
    public String toString() {
      return "AdaptiveAvgPool(" + vertexName + ", " + height + "x" + width + ")";
    }
  }
}
