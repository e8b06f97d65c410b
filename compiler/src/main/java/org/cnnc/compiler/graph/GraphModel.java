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
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
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

  /**
   * @param expand block names whose instances are drawn layer by layer ("all" for every block);
   *     other block instances are one box each
   */
  public GraphModel(Network network, Set<String> expand) {
    this.network = network;
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
        String args = s.args().values().stream().map(GraphModel::compact).collect(Collectors.joining(", "));
        for (int i : ids) {
          boxOf[i] = boxes.size();
        }
        boxes.add(new Box(boxes.size(), s.name() + ": " + s.blockName() + "(" + args + ")",
            params == 0 ? "" : SummaryRenderer.num(params) + " params", network.node(last).shape().toString(),
            Kind.BLOCK, ids, s.path(), cluster, outputOf(List.of(last))));
      } else if (s.kind() == Scope.Kind.BLOCK) {
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
    return def == null ? Kind.OTHER : Kind.valueOf(def.category().name());
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
