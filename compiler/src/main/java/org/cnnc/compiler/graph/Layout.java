package org.cnnc.compiler.graph;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;

/**
 * A layered drawing of a {@link GraphModel} (Sugiyama's method, kept small): ranks by longest
 * path, dummy points for long edges, crossings reduced by barycenter sweeps, boxes pulled toward
 * their neighbours. Deterministic: the same graph gives the same coordinates.
 */
final class Layout {
  static final double CHAR = 6.8;
  static final double LINE = 15;
  static final double PAD = 10;
  static final double GAP_X = 26;
  static final double GAP_Y = 44;

  final double[] x;
  final double[] y;
  final double[] w;
  final double[] h;
  /** Per edge of the model, the points it passes (from the source's bottom to the target's top). */
  final List<double[][]> routes = new ArrayList<>();
  double width;
  double height;

  Layout(GraphModel g, boolean leftToRight) {
    int n = g.boxes().size();
    w = new double[n];
    h = new double[n];
    for (GraphModel.Box b : g.boxes()) {
      List<String> lines = lines(b);
      w[b.id()] = Math.max(90, lines.stream().mapToInt(String::length).max().orElse(4) * CHAR + 2 * PAD);
      h[b.id()] = lines.size() * LINE + PAD;
    }
    // ranks: longest path from the sources, in a topological order
    int[] rank = ranks(g);
    int ranks = Arrays.stream(rank).max().orElse(0) + 1;
    // vertices per rank: boxes, and dummies for edges that skip ranks
    List<List<Integer>> layers = new ArrayList<>();
    for (int r = 0; r < ranks; r++) {
      layers.add(new ArrayList<>());
    }
    List<Double> vw = new ArrayList<>();
    List<Integer> vrank = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      layers.get(rank[i]).add(i);
      vw.add(leftToRight ? h[i] : w[i]);
      vrank.add(rank[i]);
    }
    List<int[]> chains = new ArrayList<>();
    List<List<Integer>> pred = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      pred.add(new ArrayList<>());
    }
    for (GraphModel.Edge e : g.edges()) {
      int len = rank[e.to()] - rank[e.from()];
      int[] chain = new int[len + 1];
      chain[0] = e.from();
      for (int k = 1; k < len; k++) {
        int d = vw.size();
        vw.add(2.0);
        vrank.add(rank[e.from()] + k);
        layers.get(rank[e.from()] + k).add(d);
        pred.add(new ArrayList<>());
        chain[k] = d;
      }
      chain[len] = e.to();
      for (int k = 1; k <= len; k++) {
        pred.get(chain[k]).add(chain[k - 1]);
      }
      chains.add(chain);
    }
    int total = vw.size();
    List<List<Integer>> next = new ArrayList<>();
    for (int i = 0; i < total; i++) {
      next.add(new ArrayList<>());
    }
    for (int v = 0; v < total; v++) {
      for (int p : pred.get(v)) {
        next.get(p).add(v);
      }
    }
    // crossing reduction
    double[] pos = new double[total];
    for (List<Integer> layer : layers) {
      for (int i = 0; i < layer.size(); i++) {
        pos[layer.get(i)] = i;
      }
    }
    // One array for every sweep: allocating it per rank made 100,000 layers quadratic (38 s).
    double[] bary = new double[total];
    for (int sweep = 0; sweep < 12; sweep++) {
      boolean down = sweep % 2 == 0;
      for (int k = 0; k < ranks; k++) {
        int r = down ? k : ranks - 1 - k;
        List<Integer> layer = layers.get(r);
        List<List<Integer>> ref = down ? pred : next;
        for (int v : layer) {
          List<Integer> ns = ref.get(v);
          bary[v] = ns.isEmpty() ? pos[v] : mean(ns, pos);
        }
        layer.sort(Comparator.<Integer>comparingDouble(v -> bary[v]).thenComparingDouble(v -> pos[v]));
        for (int i = 0; i < layer.size(); i++) {
          pos[layer.get(i)] = i;
        }
      }
    }
    // coordinates across the rank axis: pack, then pull toward neighbours
    double[] c = new double[total];
    for (List<Integer> layer : layers) {
      double at = 0;
      for (int v : layer) {
        c[v] = at + vw.get(v) / 2;
        at += vw.get(v) + GAP_X;
      }
    }
    for (int iter = 0; iter < 24; iter++) {
      List<List<Integer>> ref = iter % 2 == 0 ? pred : next;
      for (List<Integer> layer : layers) {
        double[] want = new double[layer.size()];
        for (int i = 0; i < layer.size(); i++) {
          int v = layer.get(i);
          List<Integer> ns = ref.get(v);
          if (ns.isEmpty()) {
            ns = iter % 2 == 0 ? next.get(v) : pred.get(v);
          }
          want[i] = ns.isEmpty() ? c[v] : mean(ns, c);
        }
        // place in order, as close to the wanted centre as the gaps allow
        for (int i = 0; i < layer.size(); i++) {
          int v = layer.get(i);
          double min = i == 0 ? Double.NEGATIVE_INFINITY
              : c[layer.get(i - 1)] + vw.get(layer.get(i - 1)) / 2 + GAP_X + vw.get(v) / 2;
          c[v] = Math.max(want[i], min);
        }
        for (int i = layer.size() - 2; i >= 0; i--) {
          int v = layer.get(i);
          int r = layer.get(i + 1);
          double max = c[r] - vw.get(r) / 2 - GAP_X - vw.get(v) / 2;
          c[v] = Math.min(c[v], max);
        }
      }
    }
    double minC = Double.POSITIVE_INFINITY;
    double maxC = Double.NEGATIVE_INFINITY;
    for (int v = 0; v < total; v++) {
      minC = Math.min(minC, c[v] - vw.get(v) / 2);
      maxC = Math.max(maxC, c[v] + vw.get(v) / 2);
    }
    // positions along the rank axis
    double[] depth = new double[ranks];
    double[] thick = new double[ranks];
    for (int i = 0; i < n; i++) {
      thick[rank[i]] = Math.max(thick[rank[i]], leftToRight ? w[i] : h[i]);
    }
    double at = 30;
    for (int r = 0; r < ranks; r++) {
      depth[r] = at;
      at += Math.max(thick[r], 10) + GAP_Y;
    }
    double margin = 30;
    x = new double[n];
    y = new double[n];
    double[] vx = new double[total];
    double[] vy = new double[total];
    for (int v = 0; v < total; v++) {
      double across = c[v] - minC + margin;
      double along = depth[vrank.get(v)] + (v < n ? 0 : thick[vrank.get(v)] / 2);
      if (v < n) {
        along += (thick[vrank.get(v)] - (leftToRight ? w[v] : h[v])) / 2;
      }
      vx[v] = leftToRight ? along : across;
      vy[v] = leftToRight ? across : along;
    }
    for (int i = 0; i < n; i++) {
      x[i] = leftToRight ? vx[i] : vx[i] - w[i] / 2;
      y[i] = leftToRight ? vy[i] - h[i] / 2 : vy[i];
    }
    for (int[] chain : chains) {
      double[][] pts = new double[chain.length][];
      for (int k = 0; k < chain.length; k++) {
        int v = chain[k];
        if (v < n) {
          boolean start = k == 0;
          pts[k] = leftToRight
              ? new double[] {start ? x[v] + w[v] : x[v], y[v] + h[v] / 2}
              : new double[] {x[v] + w[v] / 2, start ? y[v] + h[v] : y[v]};
        } else {
          pts[k] = new double[] {vx[v], vy[v]};
        }
      }
      routes.add(pts);
    }
    double extent = maxC - minC + 2 * margin;
    width = leftToRight ? at + margin : extent;
    height = leftToRight ? extent : at + margin;
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
   * The points a layout places: the boxes and a bend point per rank an edge crosses (an edge
   * from the first layer to the last of 100,000 adds 99,999). Linear; counted before laying out.
   */
  static long points(GraphModel g) {
    int[] rank = ranks(g);
    long total = rank.length;
    for (GraphModel.Edge e : g.edges()) {
      total += Math.max(0, rank[e.to()] - rank[e.from()] - 1);
    }
    return total;
  }

  private static double mean(List<Integer> of, double[] values) {
    double sum = 0;
    for (int i = 0; i < of.size(); i++) {
      sum += values[of.get(i)];
    }
    return sum / of.size();
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
