// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.summary;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.ir.Scope;
import org.cnnc.compiler.shape.Shape;

/**
 * The figures of a network, as torchinfo reports them for PyTorch: per layer and per module
 * (block instance, group), then totals. Counts follow PyTorch: parameters are trainable tensors;
 * BatchNorm running mean and variance are buffers, counted apart.
 */
public final class Summary {
  /**
   * One line of the table.
   *
   * @param depth 0 for the model's direct children
   * @param last whether it is the last child of its parent (for tree glyphs)
   * @param ancestorsLast for each ancestor level, whether that ancestor was a last child
   * @param path the module path ({@code inception3a.branch1})
   * @param type the op, or the block name, or {@code group}/{@code merge}
   */
  public record Row(int depth, boolean last, List<Boolean> ancestorsLast, String name, String path, String type,
      Shape shape, long params, long buffers, long macs, boolean module) {}

  /** Per output: MACs of everything it depends on, and of what only it depends on. */
  public record OutputFigures(Output output, Shape shape, long pathMacs, long ownMacs, long pathParams, long ownParams) {}

  private final Network network;
  private final List<Row> rows = new ArrayList<>();
  private final List<OutputFigures> outputs = new ArrayList<>();

  public Summary(Network network) {
    this.network = network;
    walk(network.root(), 0, new ArrayList<>());
    List<BitSet> paths = new ArrayList<>();
    for (Output o : network.outputs()) {
      paths.add(network.ancestors(o.node()));
    }
    for (int i = 0; i < paths.size(); i++) {
      BitSet own = (BitSet) paths.get(i).clone();
      for (int j = 0; j < paths.size(); j++) {
        if (j != i) {
          own.andNot(paths.get(j));
        }
      }
      Output o = network.outputs().get(i);
      outputs.add(new OutputFigures(o, network.node(o.node()).shape(), macs(paths.get(i)), macs(own),
          params(paths.get(i)), params(own)));
    }
  }

  private long macs(BitSet ids) {
    return ids.stream().mapToLong(id -> network.node(id).macs()).sum();
  }

  private long params(BitSet ids) {
    return ids.stream().mapToLong(id -> network.node(id).paramCount()).sum();
  }

  private void walk(Scope scope, int depth, List<Boolean> ancestors) {
    List<Object> children = scope.children();
    for (int i = 0; i < children.size(); i++) {
      boolean last = i == children.size() - 1;
      Object c = children.get(i);
      if (c instanceof Integer id) {
        Node n = network.node(id);
        // the node's path below its scope: `0` in `conv1.conv`, `0.1` for a transparent merge's branch
        String local = n.name().startsWith(scope.child("")) ? n.name().substring(scope.child("").length())
            : n.name().substring(n.name().lastIndexOf('.') + 1);
        rows.add(new Row(depth, last, List.copyOf(ancestors), local, n.name(), n.op(), n.shape(), n.paramCount(),
            n.bufferCount(), n.macs(), false));
      } else {
        Scope s = (Scope) c;
        List<Integer> ids = s.nodeIds();
        if (ids.isEmpty()) {
          continue;
        }
        long params = 0;
        long buffers = 0;
        long macs = 0;
        for (int id : ids) {
          Node n = network.node(id);
          params += n.paramCount();
          buffers += n.bufferCount();
          macs += n.macs();
        }
        String type = switch (s.kind()) {
          case BLOCK -> s.blockName();
          case MERGE -> "merge";
          case BRANCH -> "branch";
          default -> "group";
        };
        Shape shape = network.node(ids.stream().mapToInt(Integer::intValue).max().orElseThrow()).shape();
        rows.add(new Row(depth, last, List.copyOf(ancestors), s.name(), s.path(), type, shape, params, buffers, macs, true));
        List<Boolean> next = new ArrayList<>(ancestors);
        next.add(last);
        walk(s, depth + 1, next);
      }
    }
  }

  public Network network() {
    return network;
  }

  public List<Row> rows() {
    return rows;
  }

  public List<OutputFigures> outputs() {
    return outputs;
  }

  /** The row of a module or layer by its path, e.g. {@code inception4e}. */
  public Row row(String path) {
    return rows.stream().filter(r -> r.path().equals(path)).findFirst()
        .orElseThrow(() -> new IllegalArgumentException("no module " + path));
  }

  public long params() {
    return network.paramCount();
  }

  public long buffers() {
    return network.bufferCount();
  }

  public long macs() {
    return network.macs();
  }

  /** Float32 bytes of one example's input. */
  public long inputBytes() {
    return network.inputs().stream().mapToLong(id -> network.node(id).shape().numel() * 4).sum();
  }

  /** Float32 bytes of every layer's output for one example (the input excluded). */
  public long activationBytes() {
    return network.nodes().stream().filter(n -> !n.op().equals("input")).mapToLong(n -> n.shape().numel() * 4).sum();
  }

  public long paramBytes() {
    return (params() + buffers()) * 4;
  }
}
