// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.io.Npz;

/**
 * An ONNX graph recognised as cnnc ops, before it is written as a spec: one {@link Layer} per
 * cnnc op (a graph input is a layer of op {@code input}), in a topological order, with the module
 * path its ONNX names give it, its arguments as spec text, its tensors and its shape.
 */
final class ImportedNet {
  final List<Layer> layers = new ArrayList<>();
  /** The graph's outputs: name and the layer that computes it, in the graph's order. */
  final List<Map.Entry<String, Integer>> outputs = new ArrayList<>();

  Layer add(Layer l) {
    l.id = layers.size();
    layers.add(l);
    return l;
  }

  /** One cnnc op. */
  static final class Layer {
    int id;
    final String op;
    /** Arguments as spec text, in the op's parameter order; the first {@link #positional} are written by position. */
    final List<String[]> args = new ArrayList<>();
    int positional;
    final List<Integer> inputs = new ArrayList<>();
    /** The op's tensors by key (weight, bias, running_mean, running_var), in PyTorch's layout. */
    final Map<String, Npz.Array> tensors = new LinkedHashMap<>();
    /** The module path from the ONNX names (components), or null when they give none. */
    List<String> path;
    /** Whether {@link #path} comes from the initializers' names (a state_dict path). */
    boolean fromInitializers;
    /** A label to use when the layer needs one and its path gives none (from the ONNX node). */
    String hint;
    /** The output shape of one example. */
    int[] shape;
    /** The ONNX node it came from, for messages (escaped when shown). */
    final String onnxNode;
    final String onnxOp;
    /** A comment for the spec line ({@code identity} standing in for a node the export left out, ...). */
    String comment;

    Layer(String op, String onnxNode, String onnxOp) {
      this.op = op;
      this.onnxNode = onnxNode;
      this.onnxOp = onnxOp;
    }

    Layer arg(String name, String text) {
      args.add(new String[] {name, text});
      return this;
    }

    /** The call as spec text: {@code conv(64, 3, padding = 1)}, or the bare op without arguments. */
    String call() {
      if (args.isEmpty()) {
        return op;
      }
      StringBuilder b = new StringBuilder(op).append('(');
      for (int i = 0; i < args.size(); i++) {
        if (i > 0) {
          b.append(", ");
        }
        b.append(i < positional ? args.get(i)[1] : args.get(i)[0] + " = " + args.get(i)[1]);
      }
      return b.append(')').toString();
    }

    boolean isMerge() {
      return op.equals("concat") || op.equals("add") || op.equals("mul");
    }
  }
}
