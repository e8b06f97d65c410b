// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ir;

import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Note;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.Shape;
import org.cnnc.compiler.source.Span;

/**
 * One operation of the expanded network, with its inferred output shape.
 *
 * @param id index in {@link Network#nodes()}, which is a topological order
 * @param op the op name ({@code conv}, {@code concat}, {@code input}, ...)
 * @param name unique dotted path, the PyTorch module path of the op ({@code inception3a.branch1.conv.0})
 * @param args every argument of the op, defaults filled in, in the op's parameter order
 * @param inputs ids of the nodes this one reads
 * @param shape the output shape of one example
 * @param params trainable tensors
 * @param buffers non-trainable state (BatchNorm running mean and variance)
 * @param macs multiply-accumulates of weights for one example
 * @param span where the op is written
 * @param callChain the block calls that produced this node, innermost first
 */
public record Node(
    int id,
    String op,
    String name,
    Map<String, Value> args,
    List<Integer> inputs,
    Shape shape,
    List<Tensor> params,
    List<Tensor> buffers,
    long macs,
    Span span,
    List<Note> callChain) {

  public Node {
    args = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(args));
    inputs = List.copyOf(inputs);
    params = List.copyOf(params);
    buffers = List.copyOf(buffers);
    callChain = List.copyOf(callChain);
  }

  public long paramCount() {
    return params.stream().mapToLong(Tensor::numel).reduce(0, Math::addExact);
  }

  public long bufferCount() {
    return buffers.stream().mapToLong(Tensor::numel).reduce(0, Math::addExact);
  }

  public Value arg(String name) {
    return args.get(name);
  }
}
