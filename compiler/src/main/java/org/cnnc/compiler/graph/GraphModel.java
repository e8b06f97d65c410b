// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.graph;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.ir.Scope;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.Category;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.Trait;
import org.cnnc.compiler.summary.SummaryRenderer;

/**
 * What a picture of a network shows: boxes (a layer, or a block instance collapsed into one box)
 * and the edges between them, plus clusters for expanded block instances. Built from the IR;
 * every renderer (SVG, DOT, Mermaid) draws this.
 */
public final class GraphModel {
  /** Kinds decide the colour. */
  public enum Kind { INPUT, CONV, POOL, NORM, ACTIVATION, DENSE, MERGE, SHAPE, BLOCK, OTHER }

  /**
   * One box. {@code nodes} are the IR nodes it stands for (one, or a block instance's many);
   * {@code output} is the output name and weight when an output reads it.
   */
  public record Box(int id, String title, String detail, String shape, Kind kind, List<Integer> nodes, String path,
      String cluster, String output) {}

  public record Edge(int from, int to) {}

  /** An expanded block instance: drawn as a frame around its boxes. */
  public record Cluster(String path, String label, String parent) {}

  private final Network network;
  private final List<Box> boxes = new ArrayList<>();
  private final List<Edge> edges = new ArrayList<>();
  private final Map<String, Cluster> clusters = new LinkedHashMap<>();
  private boolean expanded;
  /** Per IR node, how many layers read it. */
  private final int[] readers;

  /**
   * @param expand block names whose instances are drawn layer by layer ("all" for every block);
   *     other block instances are one box each
   */
  public GraphModel(Network network, Set<String> expand) {
    this.network = network;
    readers = new int[network.nodes().size()];
    for (Node n : network.nodes()) {
      for (int in : n.inputs()) {
        readers[in]++;
      }
    }
    int[] boxOf = new int[network.nodes().size()];
    walk(network.root(), expand, null, boxOf);
    Set<Edge> seen = new LinkedHashSet<>();
    for (Node n : network.nodes()) {
      for (int in : n.inputs()) {
        int a = boxOf[in];
        int b = boxOf[n.id()];
        if (a != b && seen.add(new Edge(a, b))) {
          edges.add(new Edge(a, b));
        }
      }
    }
  }

  private void walk(Scope scope, Set<String> expand, String cluster, int[] boxOf) {
    for (Object child : scope.children()) {
      if (child instanceof Integer id) {
        Node n = network.node(id);
        Box folded = foldInto(n, cluster);
        if (folded != null) {
          boxOf[id] = folded.id();
          continue;
        }
        boxOf[id] = boxes.size();
        boxes.add(new Box(boxes.size(), title(n), detail(n), n.shape().toString(), kind(n.op()), List.of(id), n.name(),
            cluster, outputOf(List.of(id))));
        continue;
      }
      Scope s = (Scope) child;
      boolean collapse = s.kind() == Scope.Kind.BLOCK && !expand.contains("all") && !expand.contains(s.blockName());
      if (collapse) {
        List<Integer> ids = s.nodeIds();
        if (ids.isEmpty()) {
          continue;
        }
        int last = ids.stream().mapToInt(Integer::intValue).max().orElseThrow();
        long params = ids.stream().mapToLong(i -> network.node(i).paramCount()).sum();
        String args = s.given().entrySet().stream()
            .map(a -> (a.getValue() ? a.getKey() + " = " : "") + compact(s.args().get(a.getKey())))
            .collect(Collectors.joining(", "));
        for (int i : ids) {
          boxOf[i] = boxes.size();
        }
        boxes.add(new Box(boxes.size(), s.name() + ": " + s.blockName() + "(" + args + ")",
            params == 0 ? "" : SummaryRenderer.num(params) + " params", network.node(last).shape().toString(),
            Kind.BLOCK, ids, s.path(), cluster, outputOf(List.of(last))));
      } else if (s.kind() == Scope.Kind.BLOCK) {
        expanded = true;
        clusters.put(s.path(), new Cluster(s.path(), s.name() + ": " + s.blockName(), cluster));
        walk(s, expand, s.path(), boxOf);
      } else if (s.kind() != Scope.Kind.BRANCH && !s.name().isEmpty() && !Character.isDigit(s.name().charAt(0))) {
        // a named group (NiN's block1, VGG16's feature_part): a frame too
        clusters.put(s.path(), new Cluster(s.path(), s.name(), cluster));
        walk(s, expand, s.path(), boxOf);
      } else {
        walk(s, expand, cluster, boxOf);
      }
    }
  }

  /**
   * Folds an activation into the box before it ({@code conv + relu}) when that box is one layer of
   * the same frame, read by this activation alone and not an output; returns the box, or null.
   */
  private Box foldInto(Node n, String cluster) {
    if (boxes.isEmpty() || !isActivation(n.op()) || n.inputs().size() != 1) {
      return null;
    }
    Box prev = boxes.get(boxes.size() - 1);
    if (prev.nodes().size() != 1 || prev.kind() == Kind.BLOCK || !java.util.Objects.equals(prev.cluster(), cluster)
        || prev.output() != null) {
      return null;
    }
    int from = prev.nodes().get(0);
    Node before = network.node(from);
    if (n.inputs().get(0) != from || readers[from] != 1 || kind(before.op()) == Kind.INPUT || isActivation(before.op())) {
      return null;
    }
    List<Integer> ids = List.of(from, n.id());
    Box folded = new Box(prev.id(), prev.title() + " + " + title(n), prev.detail(), n.shape().toString(), prev.kind(),
        ids, prev.path(), cluster, outputOf(ids));
    boxes.set(prev.id(), folded);
    return folded;
  }

  /**
   * Whether a layer of this op is drawn inside the box of the layer before it: an activation
   * that changes values (relu, softmax), not one that passes them (identity).
   */
  private static boolean isActivation(String op) {
    OpDef def = Ops.get(op);
    return def != null && def.category() == Category.ACTIVATION && !def.has(Trait.PASSES_VALUES);
  }

  private String outputOf(List<Integer> ids) {
    for (Output o : network.outputs()) {
      if (ids.contains(o.node())) {
        return o.name() + (o.loss().equals("none") ? "" : ", " + o.loss().replace('_', ' '))
            + (o.weight() != 1.0 ? " x " + Value.formatFloat(o.weight()) : "");
      }
    }
    return null;
  }

  private static String title(Node n) {
    String name = n.name();
    String local = name.substring(name.lastIndexOf('.') + 1);
    boolean positional = !local.isEmpty() && Character.isDigit(local.charAt(0));
    String label = positional ? n.op() : local + ": " + n.op();
    return n.op().equals("input") ? (name.equals("input") ? "input" : "input " + name) : label;
  }

  /** The arguments worth reading in a picture: kernels, strides, widths. */
  private static String detail(Node n) {
    List<String> parts = new ArrayList<>();
    switch (n.op()) {
      case "conv" -> {
        parts.add(show(n.arg("out")) + " ch");
        parts.add(pair(n.arg("kernel")) + (isOne(n.arg("stride")) ? "" : " /" + compact(n.arg("stride"))));
        if (!isZero(n.arg("padding"))) {
          parts.add("pad " + compact(n.arg("padding")));
        }
      }
      case "maxpool", "avgpool" -> {
        parts.add(pair(n.arg("kernel")) + " /" + compact(n.arg("stride")));
        if (!isZero(n.arg("padding"))) {
          parts.add("pad " + compact(n.arg("padding")));
        }
        if (n.arg("ceil") instanceof Value.BoolV b && b.value()) {
          parts.add("ceil");
        }
      }
      case "dense" -> parts.add(show(n.arg("out")));
      case "dropout" -> parts.add("p " + show(n.arg("p")));
      default -> { }
    }
    long params = n.paramCount();
    if (params > 0) {
      parts.add(SummaryRenderer.num(params) + " params");
    }
    return String.join(", ", parts);
  }

  /** A value as a picture shows it: a square size {@code [3, 3]} as {@code 3}. */
  static String compact(Value v) {
    if (v instanceof Value.ListV l && l.items().size() == 2 && l.items().get(0).equals(l.items().get(1))) {
      return l.items().get(0).show();
    }
    return v.show();
  }

  private static String show(Value v) {
    return v == null ? "" : v.show();
  }

  private static String pair(Value v) {
    if (v instanceof Value.ListV l && l.items().size() == 2 && l.items().get(0).equals(l.items().get(1))) {
      String k = l.items().get(0).show();
      return k + "x" + k;
    }
    return v instanceof Value.ListV l ? l.items().stream().map(Value::show).collect(Collectors.joining("x")) : show(v);
  }

  private static boolean isOne(Value v) {
    return v instanceof Value.ListV l && l.items().stream().allMatch(x -> x instanceof Value.IntV i && i.value() == 1);
  }

  private static boolean isZero(Value v) {
    return v == null || v instanceof Value.ListV l && l.items().stream().allMatch(x -> x instanceof Value.IntV i && i.value() == 0);
  }

  /** A node's kind in pictures: its op's family in the registry. */
  static Kind kind(String op) {
    if (op.equals("input")) {
      return Kind.INPUT;
    }
    OpDef def = Ops.get(op);
    if (def == null) {
      return Kind.OTHER;
    }
    return switch (def.category()) {
      case INPUT -> Kind.INPUT;
      case CONV -> Kind.CONV;
      case POOL -> Kind.POOL;
      case NORM -> Kind.NORM;
      case ACTIVATION -> Kind.ACTIVATION;
      case DENSE -> Kind.DENSE;
      case MERGE -> Kind.MERGE;
      case SHAPE -> Kind.SHAPE;
      case OTHER -> Kind.OTHER;
    };
  }

  /** Whether a block instance is drawn layer by layer (in a frame) rather than as one box. */
  public boolean expanded() {
    return expanded;
  }

  public Network network() {
    return network;
  }

  public List<Box> boxes() {
    return boxes;
  }

  public List<Edge> edges() {
    return edges;
  }

  public Map<String, Cluster> clusters() {
    return clusters;
  }

  static String lower(Kind k) {
    return k.name().toLowerCase(Locale.ROOT);
  }
}
