// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ir;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.source.Span;

/**
 * A model after expansion and shape inference: a DAG of shaped nodes in topological order, its
 * outputs, and its module tree. The single input of every back end.
 */
public record Network(
    String name,
    Optional<String> javaPackage,
    Map<String, Value> modelArgs,
    List<Node> nodes,
    List<Integer> inputs,
    List<Output> outputs,
    Scope root,
    Span span) {

  public Network {
    modelArgs = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(modelArgs));
    nodes = List.copyOf(nodes);
    inputs = List.copyOf(inputs);
    outputs = List.copyOf(outputs);
  }

  public Node node(int id) {
    return nodes.get(id);
  }

  // Totals are exact: the expander keeps them below 2^60 (Expander.MAX_TOTAL), so addExact never throws here.
  public long paramCount() {
    return nodes.stream().mapToLong(Node::paramCount).reduce(0, Math::addExact);
  }

  public long bufferCount() {
    return nodes.stream().mapToLong(Node::bufferCount).reduce(0, Math::addExact);
  }

  public long macs() {
    return nodes.stream().mapToLong(Node::macs).reduce(0, Math::addExact);
  }

  /** Every trainable tensor, in module order. */
  public List<Tensor> params() {
    List<Tensor> out = new ArrayList<>();
    nodes.forEach(n -> out.addAll(n.params()));
    return out;
  }

  /** Every tensor as PyTorch's {@code state_dict} lists it: per module, parameters then buffers. */
  public List<Tensor> stateDict() {
    List<Tensor> out = new ArrayList<>();
    for (Node n : nodes) {
      out.addAll(n.params());
      out.addAll(n.buffers());
    }
    return out;
  }

  /** Every tensor's shape by its {@code state_dict} path, in {@link #stateDict()}'s order (what a weights file must hold). */
  public Map<String, long[]> stateDictShapes() {
    Map<String, long[]> out = new java.util.LinkedHashMap<>();
    for (Tensor t : stateDict()) {
      out.put(t.path(), java.util.Arrays.stream(t.dims()).asLongStream().toArray());
    }
    return out;
  }

  /** The nodes an output depends on, itself included. */
  public BitSet ancestors(int node) {
    BitSet seen = new BitSet(nodes.size());
    List<Integer> stack = new ArrayList<>(List.of(node));
    while (!stack.isEmpty()) {
      int id = stack.remove(stack.size() - 1);
      if (!seen.get(id)) {
        seen.set(id);
        stack.addAll(nodes.get(id).inputs());
      }
    }
    return seen;
  }

  public Optional<Output> output(String name) {
    return outputs.stream().filter(o -> o.name().equals(name)).findFirst();
  }
}
