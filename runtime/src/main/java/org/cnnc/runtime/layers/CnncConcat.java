// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * DL4J's merge vertex (concatenation along the channels), without its needless copies for float
 * feature maps: forward, each input sample's block of channels is one native memory copy into the
 * output (DL4J's {@code hstack} took 17-22 ms of GoogLeNet's 180-200 ms forward), and backward
 * each input's gradient is copied out of the output gradient the same way (DL4J assigns strided
 * views). The gradients stay copies: DL4J requires each to be a new array in the vertex's own
 * gradient workspace, since the output gradient's is reused. Other inputs (not rank 4, not float,
 * not C-ordered with default strides, or another axis) take DL4J's own code.
 */
public class CnncConcat extends MergeVertex {
  private static final long serialVersionUID = 1L;

  @Override
  public CnncConcat clone() {
    return new CnncConcat();
  }

  @Override
  public GraphVertex instantiate(ComputationGraph graph, String name, int idx, INDArray params, boolean initialize,
      DataType dataType) {
    return new Impl(graph, name, idx, dataType, mergeAxis);
  }

  /** The vertex. */
  public static class Impl extends org.deeplearning4j.nn.graph.vertex.impl.MergeVertex {
    private static final long serialVersionUID = 1L;
    /** Each input's channel count in the last forward pass through {@link #doForward}'s own path, else null. */
    private long[] channels;
    private final int axis;

    public Impl(ComputationGraph graph, String name, int idx, DataType dataType, int mergeAxis) {
      super(graph, name, idx, null, null, dataType, mergeAxis);
      this.axis = mergeAxis;
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr mgr) {
      channels = null;
      if (axis != 1 || !canDoForward() || !takes(inputs)) {
        return super.doForward(training, mgr);
      }
      long b = inputs[0].size(0);
      long plane = inputs[0].size(2) * inputs[0].size(3);
      long[] c = new long[inputs.length];
      long total = 0;
      for (int i = 0; i < inputs.length; i++) {
        c[i] = inputs[i].size(1);
        total += c[i];
      }
      if (b * total * plane > Integer.MAX_VALUE) {
        return super.doForward(training, mgr);
      }
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT,
          new long[] {b, total, inputs[0].size(2), inputs[0].size(3)}, 'c');
      channels = c;
      copy(out, inputs, b, plane, true);
      return out;
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr mgr) {
      if (channels == null || !canDoBackward()) {
        return super.doBackward(tbptt, mgr);
      }
      // each input's gradient must be a new array in this vertex's gradient workspace (DL4J
      // checks: the output gradient's workspace is reused after this), so it is a copy
      long b = epsilon.size(0);
      long plane = epsilon.size(2) * epsilon.size(3);
      INDArray[] out = new INDArray[channels.length];
      for (int i = 0; i < channels.length; i++) {
        out[i] = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(),
            new long[] {b, channels[i], epsilon.size(2), epsilon.size(3)}, 'c');
      }
      if (ChannelKernels.direct(epsilon)) {
        copy(epsilon, out, b, plane, false);
      } else {
        long from = 0;
        for (int i = 0; i < channels.length; i++) {
          out[i].assign(epsilon.get(NDArrayIndex.all(), NDArrayIndex.interval(from, from + channels[i]),
              NDArrayIndex.all(), NDArrayIndex.all()));
          from += channels[i];
        }
      }
      return new Pair<>(null, out);
    }

    /**
     * Copies between {@code whole [b, sum(channels), h, w]} and {@code parts[i] [b, channels[i], h, w]}
     * (all C-ordered, default strides): into {@code whole} when {@code gather}, else out of it. One
     * task per (sample, part): a block of whole planes, buffer to buffer.
     */
    private void copy(INDArray whole, INDArray[] parts, long b, long plane, boolean gather) {
      long total = whole.size(1);
      long[] offset = new long[parts.length];
      for (int i = 1; i < parts.length; i++) {
        offset[i] = offset[i - 1] + channels[i - 1];
      }
      FloatBuffer wb = whole.data().asNioFloat();
      FloatBuffer[] pb = new FloatBuffer[parts.length];
      for (int i = 0; i < parts.length; i++) {
        pb[i] = parts[i].data().asNioFloat();
      }
      long wBase = whole.offset();
      Parallel.forEach((int) b * parts.length, task -> {
        int n = task / parts.length;
        int i = task % parts.length;
        int len = (int) (channels[i] * plane);
        int partAt = (int) (parts[i].offset() + (long) n * len);
        int wholeAt = (int) (wBase + (n * total + offset[i]) * plane);
        FloatBuffer src = (gather ? pb[i] : wb).duplicate();
        int from = gather ? partAt : wholeAt;
        src.limit(from + len).position(from);
        FloatBuffer dst = (gather ? wb : pb[i]).duplicate();
        dst.position(gather ? wholeAt : partAt);
        dst.put(src);
      });
      Reference.reachabilityFence(whole);
      Reference.reachabilityFence(parts);
    }

    /** Whether the last forward pass took this vertex's own path (for tests). */
    boolean copiedLast() {
      return channels != null;
    }

    /** Float NCHW maps, C-ordered with default strides, of one batch and map size: what the copies take. */
    private static boolean takes(INDArray[] in) {
      if (in.length < 2 || in[0].rank() != 4 || !ChannelKernels.direct(in)) {
        return false;
      }
      for (INDArray a : in) {
        if (a.rank() != 4 || a.size(0) != in[0].size(0) || a.size(2) != in[0].size(2) || a.size(3) != in[0].size(3)) {
          return false;
        }
      }
      return true;
    }
  }
}
