// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.graph;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.cnnc.compiler.io.Escape;

/**
 * The picture of a network as SVG (laid out by Eclipse ELK's layered algorithm, no external program), Graphviz DOT, or Mermaid.
 * Every name and label is escaped for its format ({@link Escape#xml}, {@link Escape#dot}, {@link Escape#mermaid}).
 */
public final class Renderers {
  private Renderers() {}

  private static final Map<GraphModel.Kind, String[]> COLORS = new LinkedHashMap<>();

  static {
    // fill, stroke
    COLORS.put(GraphModel.Kind.INPUT, new String[] {"#eeeeee", "#555555"});
    COLORS.put(GraphModel.Kind.CONV, new String[] {"#dbe9f9", "#3b6ea8"});
    COLORS.put(GraphModel.Kind.POOL, new String[] {"#dff3e0", "#3c8c40"});
    COLORS.put(GraphModel.Kind.NORM, new String[] {"#fff5cc", "#b08d00"});
    COLORS.put(GraphModel.Kind.ACTIVATION, new String[] {"#f3f3f3", "#8a8a8a"});
    COLORS.put(GraphModel.Kind.DENSE, new String[] {"#eadcf6", "#7444a0"});
    COLORS.put(GraphModel.Kind.MERGE, new String[] {"#fde3cf", "#c0661d"});
    COLORS.put(GraphModel.Kind.SHAPE, new String[] {"#f3f3f3", "#8a8a8a"});
    COLORS.put(GraphModel.Kind.BLOCK, new String[] {"#d6f0f0", "#1f7a7a"});
    COLORS.put(GraphModel.Kind.OTHER, new String[] {"#ffffff", "#555555"});
  }

  /**
   * The most points ({@link #svgPoints}) an SVG drawing lays out by default: ELK's layout of 20,000
   * takes some 7 s and 1 GB; of 200,000, 75 s and 6 GB (docs/pictures.md). DOT and Mermaid, which
   * lay out nothing, draw up to {@link org.cnnc.compiler.Limits#DEFAULT_MAX_GRAPH_NODES} boxes.
   */
  public static final int DEFAULT_MAX_SVG_POINTS = 20_000;

  /**
   * The points an SVG drawing of {@code g} lays out: its boxes and a bend point per layer a long
   * edge crosses. Layout time and memory grow with it; callers bound it before {@link #svg}.
   */
  public static long svgPoints(GraphModel g) {
    return Layout.points(g);
  }

  public static String svg(GraphModel g, boolean leftToRight) {
    Layout l = new Layout(g, leftToRight);
    StringBuilder s = new StringBuilder();
    double titleH = 34;
    String heading = g.network().name() + "  " + g.network().node(g.network().inputs().get(0)).shape() + "  "
        + String.format(Locale.ROOT, "%,d params", g.network().paramCount());
    double width = Math.max(l.width, heading.length() * 9.2 + 32);
    s.append(String.format(Locale.ROOT,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            + "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\" font-size=\"11\">%n",
        width, l.height + titleH, width, l.height + titleH));
    s.append("  <title>").append(Escape.xml(g.network().name())).append("</title>\n");
    s.append("  <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" "
        + "orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#666\"/></marker></defs>\n");
    s.append("  <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    s.append(String.format(Locale.ROOT, "  <text x=\"16\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>%n",
        Escape.xml(heading)));
    s.append(String.format(Locale.ROOT, "  <g transform=\"translate(0 %.0f)\">%n", titleH));
    // frames of expanded blocks and named groups, outermost first: laid out with their boxes, so
    // a frame holds its boxes and nested frames, its title in the band the layout left at its top
    for (GraphModel.Cluster c : g.clusters().values()) {
      double[] r = l.frames.get(c.path());
      if (r == null) {
        continue;
      }
      s.append(String.format(Locale.ROOT,
          "    <g class=\"cluster\"><title>%s</title><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"8\" "
              + "fill=\"#1f7a7a\" fill-opacity=\"0.05\" stroke=\"#1f7a7a\" stroke-dasharray=\"4 3\"/>"
              + "<text x=\"%.1f\" y=\"%.1f\" fill=\"#1f7a7a\" font-weight=\"bold\">%s</text></g>%n",
          Escape.xml(c.path()), r[0], r[1], r[2], r[3], r[0] + Layout.FRAME_PAD, r[1] + Layout.TITLE - 2,
          Escape.xml(c.label())));
    }
    for (double[][] pts : l.routes) {
      StringBuilder d = new StringBuilder();
      for (int i = 0; i < pts.length; i++) {
        d.append(i == 0 ? "M " : " L ").append(String.format(Locale.ROOT, "%.1f %.1f", pts[i][0], pts[i][1]));
      }
      s.append("    <path d=\"").append(d).append("\" fill=\"none\" stroke=\"#666\" stroke-width=\"1.2\" "
          + "marker-end=\"url(#arrow)\"/>\n");
    }
    for (GraphModel.Box b : g.boxes()) {
      String[] col = COLORS.get(b.kind());
      double bx = l.x[b.id()];
      double by = l.y[b.id()];
      s.append("    <g class=\"box ").append(GraphModel.lower(b.kind())).append("\"><title>").append(Escape.xml(b.path()))
          .append("</title>");
      s.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"6\" fill=\"%s\" "
              + "stroke=\"%s\" stroke-width=\"%s\"/>", bx, by, l.w[b.id()], l.h[b.id()], col[0],
          b.output() != null ? "#b03030" : col[1], b.kind() == GraphModel.Kind.BLOCK || b.output() != null ? "2" : "1"));
      List<String> lines = Layout.lines(b);
      for (int i = 0; i < lines.size(); i++) {
        boolean title = i == 0;
        boolean out = b.output() != null && i == lines.size() - 1;
        s.append(String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\"%s>%s</text>",
            bx + l.w[b.id()] / 2, by + Layout.PAD / 2 + (i + 1) * Layout.LINE - 4,
            title ? " font-weight=\"bold\"" : out ? " fill=\"#b03030\"" : " fill=\"#333\"", Escape.xml(lines.get(i))));
      }
      s.append("</g>\n");
    }
    s.append("  </g>\n</svg>\n");
    return s.toString();
  }

  public static String dot(GraphModel g, boolean leftToRight) {
    StringBuilder s = new StringBuilder();
    s.append("digraph ").append(Escape.dot(g.network().name())).append(" {\n");
    s.append("  rankdir=").append(leftToRight ? "LR" : "TB").append(";\n");
    s.append("  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10];\n");
    s.append("  edge [color=\"#666666\"];\n");
    Map<String, List<GraphModel.Box>> byCluster = new LinkedHashMap<>();
    for (GraphModel.Box b : g.boxes()) {
      byCluster.computeIfAbsent(b.cluster(), k -> new ArrayList<>()).add(b);
    }
    dotCluster(g, null, byCluster, children(g), s, "  ");
    for (GraphModel.Edge e : g.edges()) {
      s.append("  n").append(e.from()).append(" -> n").append(e.to()).append(";\n");
    }
    return s.append("}\n").toString();
  }

  /** The clusters by their parent's path (null for the top), in the model's order. */
  private static Map<String, List<GraphModel.Cluster>> children(GraphModel g) {
    Map<String, List<GraphModel.Cluster>> out = new java.util.HashMap<>();
    for (GraphModel.Cluster c : g.clusters().values()) {
      out.computeIfAbsent(c.parent(), k -> new ArrayList<>()).add(c);
    }
    return out;
  }

  private static void dotCluster(GraphModel g, String cluster, Map<String, List<GraphModel.Box>> byCluster,
      Map<String, List<GraphModel.Cluster>> children, StringBuilder s, String indent) {
    for (GraphModel.Box b : byCluster.getOrDefault(cluster, List.of())) {
      String[] col = COLORS.get(b.kind());
      s.append(indent).append("n").append(b.id()).append(" [label=").append(Escape.dot(Layout.lines(b)))
          .append(", fillcolor=\"").append(col[0]).append("\", color=\"").append(b.output() != null ? "#b03030" : col[1])
          .append("\", tooltip=").append(Escape.dot(b.path())).append("];\n");
    }
    for (GraphModel.Cluster c : children.getOrDefault(cluster, List.of())) {
      s.append(indent).append("subgraph ").append(Escape.dot("cluster_" + c.path())).append(" {\n");
      s.append(indent).append("  label=").append(Escape.dot(c.label())).append("; style=dashed; color=\"#1f7a7a\";\n");
      dotCluster(g, c.path(), byCluster, children, s, indent + "  ");
      s.append(indent).append("}\n");
    }
  }

  public static String mermaid(GraphModel g, boolean leftToRight) {
    StringBuilder s = new StringBuilder("flowchart ").append(leftToRight ? "LR" : "TB").append('\n');
    Map<String, List<GraphModel.Box>> byCluster = new LinkedHashMap<>();
    for (GraphModel.Box b : g.boxes()) {
      byCluster.computeIfAbsent(b.cluster(), k -> new ArrayList<>()).add(b);
    }
    mermaidCluster(g, null, byCluster, children(g), s, "  ");
    for (GraphModel.Edge e : g.edges()) {
      s.append("  n").append(e.from()).append(" --> n").append(e.to()).append('\n');
    }
    for (Map.Entry<GraphModel.Kind, String[]> c : COLORS.entrySet()) {
      s.append("  classDef ").append(GraphModel.lower(c.getKey())).append(" fill:").append(c.getValue()[0])
          .append(",stroke:").append(c.getValue()[1]).append('\n');
    }
    return s.toString();
  }

  private static void mermaidCluster(GraphModel g, String cluster, Map<String, List<GraphModel.Box>> byCluster,
      Map<String, List<GraphModel.Cluster>> children, StringBuilder s, String indent) {
    for (GraphModel.Box b : byCluster.getOrDefault(cluster, List.of())) {
      s.append(indent).append("n").append(b.id()).append("[\"")
          .append(String.join("<br/>", Layout.lines(b).stream().map(Escape::mermaid).toList()))
          .append("\"]:::").append(GraphModel.lower(b.kind())).append('\n');
    }
    for (GraphModel.Cluster c : children.getOrDefault(cluster, List.of())) {
      s.append(indent).append("subgraph c_").append(c.path().replaceAll("[^A-Za-z0-9_]", "_")).append("[\"")
          .append(Escape.mermaid(c.label())).append("\"]\n");
      mermaidCluster(g, c.path(), byCluster, children, s, indent + "  ");
      s.append(indent).append("end\n");
    }
  }

  /** A graph the SVG layout ran out of stack or memory on: the user asked for more than it can draw. */
  public static final class TooLarge extends RuntimeException {
    private static final long serialVersionUID = 1L;

    TooLarge(String message) {
      super(message);
    }
  }
}
