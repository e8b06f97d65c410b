// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import javax.xml.parsers.DocumentBuilderFactory;
import org.cnnc.compiler.graph.GraphModel;
import org.cnnc.compiler.graph.Renderers;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.w3c.dom.Document;
import org.w3c.dom.NodeList;

/** Pictures of the article's networks: well-formed, complete, and the README's copies up to date. */
class GraphTest {
  static Network network(String name) {
    var c = Compiler.compile(Compiler.Request.of(ReferenceTest.MODELS));
    return c.network(name).orElseThrow();
  }

  static Set<String> titles(String svg) throws Exception {
    Document doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new ByteArrayInputStream(svg.getBytes(StandardCharsets.UTF_8)));
    NodeList boxes = doc.getElementsByTagName("g");
    Set<String> out = new TreeSet<>();
    for (int i = 0; i < boxes.getLength(); i++) {
      var g = (org.w3c.dom.Element) boxes.item(i);
      if (g.getAttribute("class").startsWith("box ")) {
        out.add(g.getElementsByTagName("title").item(0).getTextContent());
      }
    }
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"VGG16", "NiN", "GoogLeNet"})
  void svgIsWellFormedAndShowsEveryNode(String name) throws Exception {
    Network n = network(name);
    // fully expanded: one box per layer, an activation inside the box of the layer it reads
    // (conv + relu), titled by the module path of its first layer
    GraphModel all = new GraphModel(n, Set.of("all"));
    Set<String> expected = new TreeSet<>();
    Set<Integer> seen = new HashSet<>();
    for (GraphModel.Box b : all.boxes()) {
      expected.add(n.node(b.nodes().get(0)).name());
      for (int id : b.nodes()) {
        assertTrue(seen.add(id), "layer in two boxes");
      }
      if (b.nodes().size() == 2) {
        Node act = n.node(b.nodes().get(1));
        assertEquals(List.of(b.nodes().get(0)), act.inputs(), b.title());
        assertTrue(b.title().endsWith(" + " + act.op()), b.title());
        assertEquals(act.shape().toString(), b.shape());
      } else {
        assertEquals(1, b.nodes().size(), b.title());
      }
    }
    assertEquals(n.nodes().size(), seen.size());
    assertEquals(expected, titles(Renderers.svg(all, false)));
    assertEquals(expected, titles(Renderers.svg(all, true)));
    // a relu that follows a conv or dense read by it alone is never a box of its own
    for (GraphModel.Box b : all.boxes()) {
      Node first = n.node(b.nodes().get(0));
      if (first.op().equals("relu")) {
        Node before = n.node(first.inputs().get(0));
        assertTrue(before.op().equals("input") || before.op().equals("relu")
            || n.nodes().stream().filter(x -> x.inputs().contains(before.id())).count() > 1, b.path());
      }
    }

    // collapsed (the default): every layer is in exactly one box, and every box is drawn
    GraphModel collapsed = new GraphModel(n, Set.of());
    Set<Integer> covered = new HashSet<>();
    for (GraphModel.Box b : collapsed.boxes()) {
      for (int id : b.nodes()) {
        assertTrue(covered.add(id), "layer in two boxes");
      }
    }
    assertEquals(n.nodes().size(), covered.size());
    Set<String> paths = new TreeSet<>();
    collapsed.boxes().forEach(b -> paths.add(b.path()));
    assertEquals(paths, titles(Renderers.svg(collapsed, false)));
    String svg = Renderers.svg(collapsed, false);
    for (var o : n.outputs()) {
      assertTrue(svg.contains("output " + o.name()), "output " + o.name() + " is marked");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"GoogLeNet"})
  void everyInceptionAndBothAuxHeadsAreLabelledWithShapes(String name) {
    String svg = Renderers.svg(new GraphModel(network(name), Set.of()), false);
    for (String b : List.of("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")) {
      assertTrue(svg.contains(">inception" + b + ": Inception("), b);
    }
    assertTrue(svg.contains(">aux1: AuxClf(1000)<") && svg.contains(">aux2: AuxClf(1000)<"));
    // a block box shows the arguments the call wrote: defaults left out, named ones by name
    assertTrue(svg.contains(">conv1: BasicConv(64, 7, stride = 2, padding = 3)<"), svg);
    assertTrue(svg.contains(">conv2: BasicConv(64, 1)<"), svg);
    assertTrue(svg.contains(">conv3: BasicConv(192, 3, padding = 1)<"), svg);
    String inception = Renderers.svg(new GraphModel(network(name), Set.of("Inception")), false);
    assertTrue(inception.contains(">0: BasicConv(96, 1)<") && inception.contains(">1: BasicConv(128, 3, padding = 1)<"),
        inception);
    assertTrue(svg.contains(">[832, 14, 14]<") && svg.contains(">output aux1, cross entropy x 0.3<"), svg);
  }

  /** Graphviz (installed by .ci/run) reads the DOT output and draws the same boxes. */
  @ParameterizedTest
  @ValueSource(strings = {"NiN", "GoogLeNet"})
  void dotParsesWithGraphviz(String name) throws Exception {
    GraphModel g = new GraphModel(network(name), Set.of("Inception"));
    Process p = new ProcessBuilder("dot", "-Tsvg").start();
    p.getOutputStream().write(Renderers.dot(g, false).getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), err);
    Set<String> drawn = new TreeSet<>();
    var m = java.util.regex.Pattern.compile("<title>(n\\d+)</title>").matcher(out);
    while (m.find()) {
      drawn.add(m.group(1));
    }
    Set<String> boxes = new TreeSet<>();
    g.boxes().forEach(b -> boxes.add("n" + b.id()));
    assertEquals(boxes, drawn);
  }

  @ParameterizedTest
  @ValueSource(strings = {"GoogLeNet"})
  void mermaidHasEveryBoxAndEdge(String name) {
    GraphModel g = new GraphModel(network(name), Set.of("Inception"));
    String text = Renderers.mermaid(g, false);
    assertTrue(text.startsWith("flowchart TB\n"));
    assertEquals(g.edges().size(), text.lines().filter(l -> l.contains(" --> ")).count());
    for (GraphModel.Box b : g.boxes()) {
      assertTrue(text.contains("  n" + b.id() + "[\"") || text.contains(" n" + b.id() + "[\""), "box " + b.id());
    }
    assertEquals(9, text.lines().filter(l -> l.trim().startsWith("subgraph c_inception") && l.endsWith(": Inception\"]")).count());
  }

  /** The pictures in the README are what `cnnc graph` draws now. */
  @ParameterizedTest
  @ValueSource(strings = {"VGG16", "NiN", "GoogLeNet"})
  void readmePicturesAreUpToDate(String name) throws Exception {
    Path file = Path.of("../docs/images/" + name + ".svg");
    String now = Renderers.svg(new GraphModel(network(name), Set.of()), false);
    if (GoldenTest.UPDATE) {
      Files.writeString(file, now);
    }
    assertEquals(Files.readString(file), now, file + ": run `./cnnc graph models.cnn --model " + name + " -o " + file + "`");
  }

  /** A collapsed block is one box even when it holds one layer: the activation after it keeps its own. */
  @org.junit.jupiter.api.Test
  void anActivationIsNotFoldedIntoABlockBox() {
    var c = Compiler.compileText("b.cnn", "block B() { conv(4, 3) }\nmodel M {\n    input [3, 8, 8]\n    b1: B()\n    relu\n}\n",
        java.util.Map.of());
    GraphModel g = new GraphModel(c.networks().get(0), Set.of());
    assertTrue(g.boxes().stream().anyMatch(b -> b.kind() == GraphModel.Kind.BLOCK && !b.title().contains("relu")),
        g.boxes().toString());
    assertTrue(g.boxes().stream().anyMatch(b -> b.title().equals("relu")), g.boxes().toString());
  }
}
