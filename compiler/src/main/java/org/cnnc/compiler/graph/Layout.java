// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.graph;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.eclipse.elk.alg.layered.options.LayeredMetaDataProvider;
import org.eclipse.elk.alg.layered.options.LayeredOptions;
import org.eclipse.elk.alg.layered.options.WrappingStrategy;
import org.eclipse.elk.alg.layered.options.FixedAlignment;
import org.eclipse.elk.core.RecursiveGraphLayoutEngine;
import org.eclipse.elk.core.data.LayoutMetaDataService;
import org.eclipse.elk.core.math.ElkPadding;
import org.eclipse.elk.core.math.KVector;
import org.eclipse.elk.core.options.CoreOptions;
import org.eclipse.elk.core.options.Direction;
import org.eclipse.elk.core.options.EdgeRouting;
import org.eclipse.elk.core.options.HierarchyHandling;
import org.eclipse.elk.core.options.SizeConstraint;
import org.eclipse.elk.core.util.BasicProgressMonitor;
import org.eclipse.elk.graph.ElkEdge;
import org.eclipse.elk.graph.ElkEdgeSection;
import org.eclipse.elk.graph.ElkNode;
import org.eclipse.elk.graph.ElkBendPoint;
import org.eclipse.elk.graph.util.ElkGraphUtil;

/**
 * A drawing of a {@link GraphModel}, laid out by Eclipse ELK's layered algorithm (Sugiyama's
 * method for compound graphs): frames of expanded blocks and named groups are compound nodes laid
 * out together with their contents ({@code hierarchyHandling INCLUDE_CHILDREN}), so a frame holds
 * exactly its boxes and no other frame's; edges are routed orthogonally around the boxes.
 * Deterministic: the same graph gives the same coordinates. All coordinates are absolute.
 */
final class Layout {
  static final double CHAR = 6.8;
  static final double LINE = 15;
  static final double PAD = 10;
  /** The band at the top of a frame that holds its title. */
  static final double TITLE = 18;
  static final double FRAME_PAD = 10;
  static final double MARGIN = 20;

  final double[] x;
  final double[] y;
  final double[] w;
  final double[] h;
  /** Per frame (cluster path) drawn, its rectangle {x, y, width, height}; outermost first. */
  final Map<String, double[]> frames = new LinkedHashMap<>();
  /** Per edge of the model, the points it passes (from the source's border to the target's). */
  final List<double[][]> routes = new ArrayList<>();
  double width;
  double height;

  private static volatile boolean registered;

  private static void register() {
    if (!registered) {
      synchronized (Layout.class) {
        if (!registered) {
          LayoutMetaDataService.getInstance().registerLayoutMetaDataProviders(new LayeredMetaDataProvider());
          registered = true;
        }
      }
    }
  }

  Layout(GraphModel g, boolean leftToRight) {
    register();
    int n = g.boxes().size();
    w = new double[n];
    h = new double[n];
    x = new double[n];
    y = new double[n];
    ElkNode root = ElkGraphUtil.createGraph();
    configure(root, leftToRight, !g.expanded());
    root.setProperty(CoreOptions.HIERARCHY_HANDLING, HierarchyHandling.INCLUDE_CHILDREN);
    root.setProperty(CoreOptions.PADDING, new ElkPadding(MARGIN));
    // A frame's node is made with the first box in it, so that the nodes of each frame come in
    // the spec's order (boxes and frames interleaved), the order ELK keeps (branch1 left of branch2).
    Map<String, ElkNode> frameNodes = new HashMap<>();
    ElkNode[] boxNodes = new ElkNode[n];
    for (GraphModel.Box b : g.boxes()) {
      List<String> lines = lines(b);
      w[b.id()] = Math.max(90, lines.stream().mapToInt(String::length).max().orElse(4) * CHAR + 2 * PAD);
      h[b.id()] = lines.size() * LINE + PAD;
      ElkNode node = ElkGraphUtil.createNode(frame(g, b.cluster(), root, frameNodes, leftToRight));
      node.setDimensions(w[b.id()], h[b.id()]);
      boxNodes[b.id()] = node;
    }
    List<ElkEdge> elkEdges = new ArrayList<>();
    for (GraphModel.Edge e : g.edges()) {
      ElkEdge edge = ElkGraphUtil.createSimpleEdge(boxNodes[e.from()], boxNodes[e.to()]);
      ElkGraphUtil.updateContainment(edge);
      elkEdges.add(edge);
    }
    run(root);

    for (GraphModel.Cluster c : g.clusters().values()) {
      ElkNode f = frameNodes.get(c.path());
      if (f != null) {
        double[] at = absolute(f);
        frames.put(c.path(), new double[] {at[0], at[1], f.getWidth(), f.getHeight()});
      }
    }
    for (int i = 0; i < n; i++) {
      double[] at = absolute(boxNodes[i]);
      x[i] = at[0];
      y[i] = at[1];
    }
    for (ElkEdge edge : elkEdges) {
      ElkNode container = edge.getContainingNode();
      double[] off = container == root ? new double[2] : absolute(container);
      List<double[]> pts = new ArrayList<>();
      for (ElkEdgeSection s : edge.getSections()) {
        pts.add(new double[] {off[0] + s.getStartX(), off[1] + s.getStartY()});
        for (ElkBendPoint p : s.getBendPoints()) {
          pts.add(new double[] {off[0] + p.getX(), off[1] + p.getY()});
        }
        pts.add(new double[] {off[0] + s.getEndX(), off[1] + s.getEndY()});
      }
      routes.add(pts.toArray(new double[0][]));
    }
    width = root.getWidth();
    height = root.getHeight();
  }

  /**
   * Lays out on a thread of its own with a deep stack: ELK's layering walks a chain of layers
   * recursively (a chain of 200,000 layers overflowed the default stack).
   */
  private static void run(ElkNode root) {
    Throwable[] failed = new Throwable[1];
    Thread t = new Thread(null, () -> {
      try {
        new RecursiveGraphLayoutEngine().layout(root, new BasicProgressMonitor());
      } catch (Throwable e) {
        // every failure goes back to the caller: a picture with every box at (0, 0) is no picture
        failed[0] = e;
      }
    }, "cnnc-graph-layout", 512L << 20);
    t.start();
    try {
      t.join();
    } catch (InterruptedException e) {
      t.interrupt();
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while laying out", e);
    }
    if (failed[0] instanceof StackOverflowError || failed[0] instanceof OutOfMemoryError) {
      throw new Renderers.TooLarge("the picture is too large to lay out (" + failed[0].getClass().getSimpleName()
          + "): draw fewer boxes (a lower --max-nodes, fewer --expand), or use --format dot");
    }
    if (failed[0] instanceof RuntimeException e) {
      throw e;
    }
    if (failed[0] != null) {
      throw (Error) failed[0];
    }
  }


  /** The node of a frame (null: the root), made with its ancestors' the first time it is asked for. */
  private static ElkNode frame(GraphModel g, String path, ElkNode root, Map<String, ElkNode> made, boolean leftToRight) {
    if (path == null) {
      return root;
    }
    ElkNode f = made.get(path);
    if (f != null) {
      return f;
    }
    GraphModel.Cluster c = g.clusters().get(path);
    f = ElkGraphUtil.createNode(frame(g, c.parent(), root, made, leftToRight));
    configure(f, leftToRight, !g.expanded());
    f.setProperty(CoreOptions.PADDING, new ElkPadding(TITLE + FRAME_PAD, FRAME_PAD, FRAME_PAD, FRAME_PAD));
    // wide enough for its title, so titles never run into a neighbour
    f.setProperty(CoreOptions.NODE_SIZE_CONSTRAINTS, EnumSet.of(SizeConstraint.MINIMUM_SIZE));
    f.setProperty(CoreOptions.NODE_SIZE_MINIMUM, new KVector(titleWidth(c.label()), TITLE + 2 * FRAME_PAD));
    f.setIdentifier(path);
    made.put(path, f);
    return f;
  }

  private static void configure(ElkNode graph, boolean leftToRight, boolean wrap) {
    if (wrap) {
      // A collapsed picture is mostly one chain: wrapped into columns (rows, left to right) it
      // reads on one screen instead of a strip (VGG16: 400 x 2245 unwrapped, 1125 x 1060 wrapped).
      // Not with expanded blocks: their frames' wide rows leave the columns mostly empty.
      graph.setProperty(LayeredOptions.WRAPPING_STRATEGY, WrappingStrategy.SINGLE_EDGE);
      graph.setProperty(CoreOptions.ASPECT_RATIO, 1.0);
    }
    graph.setProperty(CoreOptions.ALGORITHM, LayeredOptions.ALGORITHM_ID);
    graph.setProperty(CoreOptions.DIRECTION, leftToRight ? Direction.RIGHT : Direction.DOWN);
    graph.setProperty(CoreOptions.EDGE_ROUTING, EdgeRouting.ORTHOGONAL);
    graph.setProperty(CoreOptions.SPACING_NODE_NODE, 24.0);
    graph.setProperty(LayeredOptions.SPACING_NODE_NODE_BETWEEN_LAYERS, 30.0);
    graph.setProperty(LayeredOptions.SPACING_EDGE_NODE_BETWEEN_LAYERS, 12.0);
    graph.setProperty(CoreOptions.SPACING_EDGE_NODE, 12.0);
    // Branches keep the order the spec wrote them in, left to right. (ELK 0.10's
    // considerModelOrder.strategy fails with a NullPointerException on compound graphs.)
    graph.setProperty(LayeredOptions.CROSSING_MINIMIZATION_FORCE_NODE_MODEL_ORDER, true);
    // one balanced alignment rather than the leftmost: consecutive frames stay under each other
    // instead of forming a staircase
    graph.setProperty(LayeredOptions.NODE_PLACEMENT_BK_FIXED_ALIGNMENT, FixedAlignment.BALANCED);
  }

  /** A frame's least width: its title and the frame's padding. */
  static double titleWidth(String label) {
    return label.length() * CHAR + 2 * FRAME_PAD + 8;
  }

  private static double[] absolute(ElkNode node) {
    double ax = 0;
    double ay = 0;
    for (ElkNode v = node; v.getParent() != null; v = v.getParent()) {
      ax += v.getX();
      ay += v.getY();
    }
    return new double[] {ax, ay};
  }

  /** Each box's rank: the longest path to it from a box without inputs. */
  static int[] ranks(GraphModel g) {
    int n = g.boxes().size();
    List<List<Integer>> succ = new ArrayList<>();
    int[] indeg = new int[n];
    for (int i = 0; i < n; i++) {
      succ.add(new ArrayList<>());
    }
    for (GraphModel.Edge e : g.edges()) {
      succ.get(e.from()).add(e.to());
      indeg[e.to()]++;
    }
    int[] rank = new int[n];
    Deque<Integer> ready = new ArrayDeque<>();
    for (int i = 0; i < n; i++) {
      if (indeg[i] == 0) {
        ready.add(i);
      }
    }
    while (!ready.isEmpty()) {
      int v = ready.removeFirst();
      for (int s : succ.get(v)) {
        rank[s] = Math.max(rank[s], rank[v] + 1);
        if (--indeg[s] == 0) {
          ready.add(s);
        }
      }
    }
    return rank;
  }

  /**
   * The points a layered layout places: the boxes and a bend point per rank an edge crosses (an
   * edge from the first layer to the last of 100,000 adds 99,999). Linear; counted before laying
   * out, since the layout's time and memory grow with it.
   */
  static long points(GraphModel g) {
    int[] rank = ranks(g);
    long total = rank.length;
    for (GraphModel.Edge e : g.edges()) {
      total += Math.max(0, rank[e.to()] - rank[e.from()] - 1);
    }
    return total;
  }

  static List<String> lines(GraphModel.Box b) {
    List<String> lines = new ArrayList<>();
    lines.add(b.title());
    if (!b.detail().isEmpty()) {
      lines.add(b.detail());
    }
    lines.add(b.shape());
    if (b.output() != null) {
      lines.add("output " + b.output());
    }
    return lines;
  }
}
