// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.List;
import java.util.Map;

/**
 * A network as cnnc generates it from a {@code model} of a spec. The generated class describes
 * the network (its name, input and outputs, the figures the compiler computed) and builds it op by
 * op on a {@link NetBuilder}; {@link CnnNetwork#create} turns it into a DL4J graph.
 */
public interface CnnModel {
  /** The model's name in the spec. */
  String name();

  /**
   * The figures of this instance, with its arguments: parameters and buffers as PyTorch counts
   * them, weight multiply-accumulates per example, and the shape of each input, output and op
   * (by module path), as the registry's rules give them: the model is built into a
   * {@link NetBuilder#recorder}.
   */
  record Figures(long params, long buffers, long macs, List<long[]> inputs, Map<String, long[]> outputs,
      Map<String, long[]> shapes) {
    public Figures {
      inputs = inputs.stream().map(long[]::clone).toList();
      outputs = copy(outputs);
      shapes = copy(shapes);
    }

    @Override
    public List<long[]> inputs() {
      return inputs.stream().map(long[]::clone).toList();
    }

    @Override
    public Map<String, long[]> outputs() {
      return copy(outputs);
    }

    @Override
    public Map<String, long[]> shapes() {
      return copy(shapes);
    }

    /** The shape of an output, or of an op by its module path; null if there is none. */
    public long[] shape(String outputOrPath) {
      long[] s = outputs.containsKey(outputOrPath) ? outputs.get(outputOrPath) : shapes.get(outputOrPath);
      return s == null ? null : s.clone();
    }

    private static Map<String, long[]> copy(Map<String, long[]> m) {
      Map<String, long[]> out = new java.util.LinkedHashMap<>();
      m.forEach((k, v) -> out.put(k, v.clone()));
      return java.util.Collections.unmodifiableMap(out);
    }
  }

  /** This instance's figures (see {@link Figures}). */
  default Figures figures() {
    NetBuilder b = NetBuilder.recorder();
    build(b);
    return b.figures();
  }

  /** One example's input shape, {@code [C, H, W]} or {@code [F]}, with this instance's arguments. */
  default long[] inputShape() {
    return figures().inputs().get(0);
  }

  /** The outputs' names, in the order the graph produces them. */
  List<String> outputNames();

  /** Adds the network's ops to the builder. */
  void build(NetBuilder b);
}
