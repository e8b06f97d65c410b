// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import javax.xml.parsers.DocumentBuilderFactory;
import org.cnnc.compiler.graph.GraphModel;
import org.cnnc.compiler.graph.Renderers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * The geometry of SVG pictures, read back from the SVG itself: frames nest or stay apart, every box
 * sits inside its frames and outside the others, no edge runs through a box, and frame titles
 * stay inside their frames, clear of boxes and of each other.
 */
class GraphGeometryTest {
  /** The monospace font's advance at 11 px (DejaVu Sans Mono: 6.6 px), rounded up. */
  static final double CHAR = 6.8;

  record Rect(double x, double y, double w, double h) {
    boolean overlaps(Rect o) {
      return x < o.x + o.w && o.x < x + w && y < o.y + o.h && o.y < y + h;
    }

    boolean contains(Rect o) {
      return o.x >= x && o.y >= y && o.x + o.w <= x + w && o.y + o.h <= y + h;
    }

    Rect shrink(double d) {
      return new Rect(x + d, y + d, w - 2 * d, h - 2 * d);
    }

    /** Whether the segment from (x0, y0) to (x1, y1) passes through this rectangle (Liang-Barsky). */
    boolean crossedBy(double x0, double y0, double x1, double y1) {
      double t0 = 0;
      double t1 = 1;
      double dx = x1 - x0;
      double dy = y1 - y0;
      double[] p = {-dx, dx, -dy, dy};
      double[] q = {x0 - x, x + w - x0, y0 - y, y + h - y0};
      for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
          if (q[i] <= 0) {
            return false;
          }
        } else {
          double t = q[i] / p[i];
          if (p[i] < 0) {
            t0 = Math.max(t0, t);
          } else {
            t1 = Math.min(t1, t);
          }
        }
      }
      return t0 < t1;
    }
  }

  record Frame(String path, Rect rect, Rect title) {}

  record Picture(List<String> boxPaths, List<Rect> boxes, List<Frame> frames, List<double[]> edges) {}

  static Picture read(String svg) throws Exception {
    var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    List<String> paths = new ArrayList<>();
    List<Rect> boxes = new ArrayList<>();
    List<Frame> frames = new ArrayList<>();
    NodeList gs = doc.getElementsByTagName("g");
    for (int i = 0; i < gs.getLength(); i++) {
      Element g = (Element) gs.item(i);
      String cls = g.getAttribute("class");
      if (!cls.startsWith("box ") && !cls.equals("cluster")) {
        continue;
      }
      String title = g.getElementsByTagName("title").item(0).getTextContent();
      Element r = (Element) g.getElementsByTagName("rect").item(0);
      Rect rect = new Rect(num(r, "x"), num(r, "y"), num(r, "width"), num(r, "height"));
      if (cls.equals("cluster")) {
        Element t = (Element) g.getElementsByTagName("text").item(0);
        // the title's extent: its characters, and the font's ascent above the baseline
        Rect text = new Rect(num(t, "x"), num(t, "y") - 11, t.getTextContent().length() * CHAR, 13);
        frames.add(new Frame(title, rect, text));
      } else {
        paths.add(title);
        boxes.add(rect);
      }
    }
    List<double[]> edges = new ArrayList<>();
    NodeList ps = doc.getElementsByTagName("path");
    for (int i = 0; i < ps.getLength(); i++) {
      Element p = (Element) ps.item(i);
      if (p.getAttribute("marker-end").isEmpty()) {
        continue;  // the arrow head's shape
      }
      String[] t = p.getAttribute("d").replace("M", " ").replace("L", " ").trim().split("\\s+");
      double[] pts = new double[t.length];
      for (int k = 0; k < t.length; k++) {
        pts[k] = Double.parseDouble(t[k]);
      }
      edges.add(pts);
    }
    return new Picture(paths, boxes, frames, edges);
  }

  private static double num(Element e, String attr) {
    return Double.parseDouble(e.getAttribute(attr));
  }

  /** Whether the frame at {@code frame} holds what is at {@code path}. */
  static boolean holds(String frame, String path) {
    return path.startsWith(frame + ".");
  }

  static void check(Picture p, String what) {
    for (int i = 0; i < p.frames().size(); i++) {
      Frame a = p.frames().get(i);
      assertTrue(a.rect().contains(a.title()), what + ": title of " + a.path() + " runs out of its frame");
      for (int j = i + 1; j < p.frames().size(); j++) {
        Frame b = p.frames().get(j);
        if (holds(a.path(), b.path())) {
          assertTrue(a.rect().contains(b.rect()), what + ": " + b.path() + " pokes out of " + a.path());
        } else if (holds(b.path(), a.path())) {
          assertTrue(b.rect().contains(a.rect()), what + ": " + a.path() + " pokes out of " + b.path());
        } else {
          assertFalse(a.rect().overlaps(b.rect()), what + ": frames " + a.path() + " and " + b.path() + " overlap");
        }
        assertFalse(a.title().overlaps(b.title()), what + ": titles of " + a.path() + " and " + b.path() + " overlap");
      }
    }
    for (int i = 0; i < p.boxes().size(); i++) {
      Rect box = p.boxes().get(i);
      String path = p.boxPaths().get(i);
      for (Frame f : p.frames()) {
        if (holds(f.path(), path)) {
          assertTrue(f.rect().contains(box), what + ": " + path + " is outside its frame " + f.path());
        } else {
          assertFalse(f.rect().overlaps(box), what + ": " + path + " is inside " + f.path() + "'s frame");
        }
        assertFalse(f.title().overlaps(box), what + ": " + path + " covers the title of " + f.path());
      }
      for (int j = i + 1; j < p.boxes().size(); j++) {
        assertFalse(box.overlaps(p.boxes().get(j)), what + ": " + path + " overlaps " + p.boxPaths().get(j));
      }
    }
    // an edge touches its two boxes at their borders only, and no other box at all
    for (double[] e : p.edges()) {
      assertTrue(e.length >= 4, what + ": an edge without points");
      for (int k = 0; k + 3 < e.length; k += 2) {
        for (int i = 0; i < p.boxes().size(); i++) {
          Rect inner = p.boxes().get(i).shrink(0.5);
          assertFalse(inner.crossedBy(e[k], e[k + 1], e[k + 2], e[k + 3]),
              what + ": the edge segment (" + e[k] + ", " + e[k + 1] + ") - (" + e[k + 2] + ", " + e[k + 3] + ") crosses "
                  + p.boxPaths().get(i));
        }
      }
    }
  }

  @ParameterizedTest
  @CsvSource({
      "GoogLeNet, all, false", "GoogLeNet, Inception, false", "GoogLeNet, all, true", "GoogLeNet, Inception, true",
      "GoogLeNet, '', false", "VGG16, '', false", "NiN, '', false", "NiN, '', true"})
  void framesNestAndEdgesGoAroundBoxes(String model, String expand, boolean leftToRight) throws Exception {
    GraphModel g = new GraphModel(GraphTest.network(model), expand.isEmpty() ? Set.of() : Set.of(expand));
    Picture p = read(Renderers.svg(g, leftToRight));
    assertEquals(g.boxes().size(), p.boxes().size());
    assertEquals(g.edges().size(), p.edges().size());
    check(p, model + " --expand " + expand + (leftToRight ? " LR" : ""));
    if (!expand.isEmpty()) {
      // every Inception instance is framed, and (with all) every BasicConv inside it
      long inceptions = p.frames().stream().filter(f -> f.path().matches("inception\\d[a-e]")).count();
      assertEquals(9, inceptions);
    }
  }

  /**
   * Generated networks (seeded, so a failure repeats): chains, nested blocks, named groups and
   * branches of branches, drawn collapsed, with one block expanded and with all, both directions.
   */
  @Test
  void generatedNetworksKeepTheirGeometry() throws Exception {
    java.util.Random rnd = new java.util.Random(18);
    String blocks = """
        block Leaf(c: int, k: size = 3) {
            conv(c, k, padding = 1) relu
        }
        block Pair(c: int) {
            inner: { Leaf(c) -> Leaf(c, k = 3) }
            add({ Leaf(c) -> relu }, identity)
        }
        block Fork(c: int) {
            concat(left: Pair(c), right: { maxpool(3, stride = 1, padding = 1) -> Leaf(c) }, Leaf(c))
            conv(c, 1)
        }
        """;
    int frames = 0;
    int nested = 0;
    for (int i = 0; i < 12; i++) {
      StringBuilder body = new StringBuilder();
      int items = 2 + rnd.nextInt(6);
      int[] names = new int[1];
      for (int k = 0; k < items; k++) {
        body.append("    ").append(item(rnd, 2, names)).append('\n');
      }
      String spec = blocks + "model G" + i + " {\n    input [8, 8, 8]\n" + body + "}\n";
      var c = Compiler.compileText("gen.cnn", spec, java.util.Map.of());
      assertTrue(c.ok(), () -> spec + c.diagnostics().sorted());
      var net = c.networks().get(0);
      for (Set<String> expand : List.of(Set.<String>of(), Set.of("Pair"), Set.of("all"))) {
        for (boolean lr : new boolean[] {false, true}) {
          GraphModel g = new GraphModel(net, expand);
          Picture p = read(Renderers.svg(g, lr));
          assertEquals(g.boxes().size(), p.boxes().size());
          check(p, "G" + i + " --expand " + expand + (lr ? " LR" : "") + "\n" + spec);
          frames += p.frames().size();
          nested += (int) p.frames().stream().filter(f -> f.path().contains(".")).count();
        }
      }
    }
    // the generator does reach what the checks are about: frames, and frames inside frames
    assertTrue(frames > 100 && nested > 50, frames + " frames, " + nested + " nested");
  }

  /** One statement that keeps an [8, H, W] tensor [8, H, W]. */
  private static String item(java.util.Random rnd, int depth, int[] names) {
    int pick = rnd.nextInt(depth > 0 ? 8 : 4);
    return switch (pick) {
      case 0 -> "conv(8, 3, padding = 1)";
      case 1 -> "relu";
      case 2 -> "Leaf(8)";
      case 3 -> "Pair(8)";
      case 4 -> "Fork(8)";
      case 5 -> "g" + names[0]++ + ": { " + item(rnd, depth - 1, names) + " -> " + item(rnd, depth - 1, names) + " }";
      case 6 -> "add({ " + item(rnd, depth - 1, names) + " }, identity)";
      default -> "concat(a" + names[0]++ + ": { " + item(rnd, depth - 1, names) + " }, b" + names[0]++ + ": { " + item(rnd, depth - 1, names) + " }) -> conv(8, 1)";
    };
  }

  /** The checks themselves catch what issue 18 saw: overlapping frames, a box outside its frame. */
  @Test
  void theChecksCatchOverlapsAndStrayBoxes() {
    Rect big = new Rect(0, 0, 100, 100);
    Frame a = new Frame("a", big, new Rect(5, 2, 20, 13));
    Frame b = new Frame("b", new Rect(50, 50, 100, 100), new Rect(55, 52, 20, 13));
    var overlap = new Picture(List.of(), List.of(), List.of(a, b), List.of());
    assertThrowsAssertion(() -> check(overlap, "overlap"), "frames a and b overlap");
    var stray = new Picture(List.of("a.x"), List.of(new Rect(120, 120, 10, 10)), List.of(a), List.of());
    assertThrowsAssertion(() -> check(stray, "stray"), "a.x is outside its frame a");
    var intruder = new Picture(List.of("c.x"), List.of(new Rect(40, 40, 10, 10)), List.of(a), List.of());
    assertThrowsAssertion(() -> check(intruder, "intruder"), "c.x is inside a's frame");
    var through = new Picture(List.of("x", "y", "z"),
        List.of(new Rect(0, 0, 10, 10), new Rect(0, 20, 10, 10), new Rect(0, 40, 10, 10)), List.of(),
        List.of(new double[] {5, 10, 5, 40}));
    assertThrowsAssertion(() -> check(through, "through"), "crosses y");
    var ok = new Picture(List.of("x", "z"), List.of(new Rect(0, 0, 10, 10), new Rect(0, 40, 10, 10)), List.of(),
        List.of(new double[] {5, 10, 5, 40}));
    check(ok, "ok");
    Frame nested = new Frame("a.n", new Rect(10, 20, 40, 40), new Rect(15, 22, 20, 13));
    Frame titleClash = new Frame("a.m", new Rect(60, 3, 30, 30), new Rect(20, 5, 30, 13));
    var titles = new Picture(List.of(), List.of(), List.of(a, nested, titleClash), List.of());
    assertThrowsAssertion(() -> check(titles, "titles"), "title");
  }

  private static void assertThrowsAssertion(Runnable r, String message) {
    AssertionError e = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class, r::run);
    assertTrue(e.getMessage().contains(message), e.getMessage());
  }
}
