// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.summary.Summary;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * models.cnn against PyTorch 1.13 running the article's code. The reference files are written by
 * tools/pytorch/reference.py; this test checks totals, every module's parameters and MACs, every
 * layer's output shape and every state_dict key and shape.
 */
class ReferenceTest {
  static final Path MODELS = Path.of("../models.cnn");
  static Compiler.Compilation compiled;

  @BeforeAll
  static void compile() {
    compiled = Compiler.compile(Compiler.Request.of(MODELS));
    assertTrue(compiled.ok(), () -> compiled.diagnostics().sorted().toString());
  }

  static JsonNode reference(String name) throws IOException {
    try (InputStream in = ReferenceTest.class.getResourceAsStream("/reference/" + name + ".json")) {
      return new ObjectMapper().readTree(in);
    }
  }

  static Network network(String model, Map<String, Value> args) {
    if (args.isEmpty()) {
      return compiled.network(model).orElseThrow();
    }
    var c = Compiler.compile(new Compiler.Request(java.util.List.of(MODELS), java.util.List.of(), args));
    assertTrue(c.ok());
    return c.network(model).orElseThrow();
  }

  @ParameterizedTest
  @CsvSource({"VGG16,VGG16,0", "NiN,NiN,0", "GoogLeNet,GoogLeNet,0", "GoogLeNet,GoogLeNet_classes10,10"})
  void matchesPyTorch(String model, String reference, int classes) throws IOException {
    JsonNode ref = reference(reference);
    Network n = network(model, classes == 0 ? Map.of() : Map.of("classes", new Value.IntV(classes)));
    Summary s = new Summary(n);

    assertEquals(ref.get("params").asLong(), s.params(), "params");
    assertEquals(ref.get("buffers").asLong(), s.buffers(), "BN running stats");
    assertEquals(ref.get("macs").asLong(), s.macs(), "MACs");

    Map<String, String> expected = new TreeMap<>();
    ref.get("state_dict").forEach(e -> expected.put(e.get(0).asText(), e.get(1).toString().replace(",", ", ")));
    Map<String, String> actual = new TreeMap<>();
    n.stateDict().forEach(t -> actual.put(t.path(), Arrays.toString(t.dims())));
    assertEquals(expected, actual, "state_dict keys and shapes");

    int modules = 0;
    for (JsonNode m : ref.get("modules")) {
      String path = m.get(0).asText();
      Summary.Row row = s.rows().stream().filter(r -> r.path().equals(path)).findFirst()
          .orElseThrow(() -> new AssertionError("no module " + path + " in the summary"));
      assertEquals(m.get(2).asLong(), row.params(), "params of " + path);
      assertEquals(m.get(3).asLong(), row.macs(), "MACs of " + path);
      modules++;
    }
    assertTrue(modules > 10);

    for (JsonNode layer : ref.get("layers")) {
      String path = layer.get(0).asText();
      Node node = n.nodes().stream().filter(x -> x.name().equals(path)).findFirst()
          .orElseThrow(() -> new AssertionError("no layer " + path));
      assertEquals(layer.get(2).toString().replace(",", ", "), node.shape().toString(), "shape of " + path);
    }
  }

  @ParameterizedTest
  @CsvSource({"VGG16", "NiN", "GoogLeNet"})
  void outputsMatchPyTorch(String model) throws IOException {
    JsonNode ref = reference(model);
    Network n = network(model, Map.of());
    Map<String, String> expected = new TreeMap<>();
    ref.get("outputs").forEach(o -> expected.put(o.get(0).asText(), o.get(1).toString().replace(",", ", ")));
    Map<String, String> actual = new TreeMap<>();
    n.outputs().forEach(o -> actual.put(o.name(), n.node(o.node()).shape().toString()));
    assertEquals(expected, actual);

    // The main output's MACs are its whole path; an auxiliary head's are its own layers.
    Summary s = new Summary(n);
    ref.get("macs_by_output").fields().forEachRemaining(e -> {
      Summary.OutputFigures f = s.outputs().stream().filter(o -> o.output().name().equals(e.getKey()))
          .findFirst().orElseThrow();
      long actualMacs = e.getKey().startsWith("aux") ? f.ownMacs() : f.pathMacs();
      assertEquals(e.getValue().asLong(), actualMacs, "MACs of output " + e.getKey());
    });
  }

  /** The figures the spine issue states, literally. */
  @org.junit.jupiter.api.Test
  void issueFigures() {
    Summary vgg = new Summary(network("VGG16", Map.of()));
    assertEquals(138_357_544L, vgg.params());
    assertEquals(15_470_264_320L, vgg.macs());
    assertEquals(14_714_688L, vgg.row("feature_part").params());
    assertEquals("[1000]", vgg.outputs().get(0).shape().toString());

    Summary nin = new Summary(network("NiN", Map.of()));
    assertEquals(966_986L, nin.params());
    assertEquals(200_357_760L, nin.macs());
    assertEquals("[10, 1, 1]", nin.outputs().get(0).shape().toString());
    assertEquals(60_928L, nin.row("block1").params());
    assertEquals(535_104L, nin.row("block2").params());
    assertEquals(370_954L, nin.row("block3").params());

    Network g = network("GoogLeNet", Map.of());
    Summary goog = new Summary(g);
    assertEquals(13_351_716L, goog.params());
    assertEquals(15_052L, goog.buffers());
    assertEquals(1_584_364_416L, goog.macs());
    var main = goog.outputs().stream().filter(o -> o.output().name().equals("main")).findFirst().orElseThrow();
    assertEquals(1_575_992_192L, main.pathMacs());
    long aux = goog.outputs().stream().filter(o -> o.output().name().startsWith("aux")).mapToLong(Summary.OutputFigures::ownMacs).sum();
    assertEquals(8_372_224L, aux);
    assertEquals(goog.macs(), main.pathMacs() + aux);
    for (String[] pool : new String[][] {{"maxpool1", "56"}, {"maxpool2", "28"}, {"maxpool3", "14"}, {"maxpool4", "7"}}) {
      Node p = g.nodes().stream().filter(x -> x.name().equals(pool[0])).findFirst().orElseThrow();
      assertEquals(Integer.parseInt(pool[1]), p.shape().height(), pool[0]);
    }
    assertEquals(112, g.nodes().stream().filter(x -> x.name().equals("conv1.conv.2")).findFirst().orElseThrow().shape().height());
    int[] channels = {256, 480, 512, 512, 512, 528, 832, 832, 1024};
    String[] blocks = {"3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"};
    for (int i = 0; i < blocks.length; i++) {
      assertEquals(channels[i], goog.row("inception" + blocks[i]).shape().channels(), "inception" + blocks[i]);
    }
    assertEquals(9_536L, goog.row("conv1").params());
    assertEquals(164_064L, goog.row("inception3a").params());
    assertEquals(835_276L, goog.row("inception4e").params());
    assertEquals(1_445_344L, goog.row("inception5b").params());
    assertEquals(3_188_968L, goog.row("aux1").params());
    assertEquals(3_191_016L, goog.row("aux2").params());
    assertEquals(1_025_000L, goog.row("fc").params());
    assertEquals(0.3, g.output("aux1").orElseThrow().weight());

    assertEquals(10_307_466L, new Summary(network("GoogLeNet", Map.of("classes", new Value.IntV(10)))).params());
  }

  @org.junit.jupiter.api.Test
  void parameterPathsFollowTheArticle() {
    Network g = network("GoogLeNet", Map.of());
    var paths = g.stateDict().stream().map(Tensor::path).toList();
    assertTrue(paths.contains("inception3a.branch2.1.conv.0.weight"));
    assertTrue(paths.contains("aux1.clf_.3.bias"));
    assertTrue(network("VGG16", Map.of()).stateDict().stream().anyMatch(t -> t.path().equals("feature_part.28.weight")));
  }
}
