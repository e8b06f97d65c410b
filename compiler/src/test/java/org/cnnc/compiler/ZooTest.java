// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.summary.Summary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every spec of the zoo ({@code zoo/<name>.cnn}, model {@code <name>}) against torchvision 0.14's
 * model of that name, as tools/pytorch/zoo_reference.py records it in
 * {@code reference/zoo/<name>.json}: totals, every state_dict key and shape, every module's
 * parameters and MACs, every module's output shape and op, batch norm and dropout options, the
 * output and that {@code classes} sets it. A new spec is covered by adding the spec and its
 * reference file.
 */
class ZooTest {
  static final Path ZOO = Path.of("../zoo");
  static final Path REFERENCES = Path.of("src/test/resources/reference/zoo");

  /** The zoo's specs, by model name (the file name without {@code .cnn}). */
  static List<String> specs() throws IOException {
    try (Stream<Path> files = Files.list(ZOO)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cnn"))
          .map(n -> n.substring(0, n.length() - ".cnn".length())).sorted().toList();
    }
  }

  static JsonNode reference(String name) throws IOException {
    try (InputStream in = ZooTest.class.getResourceAsStream("/reference/zoo/" + name + ".json")) {
      return in == null ? null : new ObjectMapper().readTree(in);
    }
  }

  static String shape(JsonNode dims) {
    return dims.toString().replace(",", ", ");
  }

  /** A spec without reference figures would be tested by nothing. */
  @Test
  void everySpecHasReferenceFigures() throws IOException {
    List<String> specs = specs();
    assertFalse(specs.isEmpty(), "no zoo/*.cnn");
    for (String name : specs) {
      assertNotNull(reference(name), "zoo/" + name + ".cnn has no reference/zoo/" + name
          + ".json: run tools/pytorch/zoo_reference.py " + name);
    }
  }

  /**
   * zoo/README.md's table holds every reference file's figures, and calls a model exact exactly
   * when its spec is here (and so is tested above).
   */
  @Test
  void readmeTableMatchesTheReferences() throws IOException {
    List<String> lines = Files.readAllLines(ZOO.resolve("README.md"));
    int start = lines.indexOf("<!-- zoo table: ZooTest checks it against reference/zoo/*.json -->");
    int end = lines.indexOf("<!-- /zoo table -->");
    assertTrue(start >= 0 && end > start, "zoo/README.md has no zoo table between its markers");
    Map<String, List<String>> table = new TreeMap<>();
    for (String line : lines.subList(start + 3, end)) {
      List<String> cells = Arrays.stream(line.substring(1, line.length() - 1).split("\\|")).map(String::trim).toList();
      assertEquals(6, cells.size(), line);
      assertEquals(null, table.put(cells.get(0), cells), "twice in the table: " + cells.get(0));
    }
    List<String> references;
    try (Stream<Path> files = Files.list(REFERENCES)) {
      references = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json"))
          .map(n -> n.substring(0, n.length() - ".json".length())).sorted().toList();
    }
    assertEquals(references, List.copyOf(table.keySet()), "models in the table");
    List<String> specs = specs();
    for (String name : references) {
      JsonNode ref = reference(name);
      List<String> row = table.get(name);
      assertEquals(String.format(Locale.ROOT, "%,d", ref.get("params").asLong()), row.get(1), "params of " + name);
      assertEquals(String.format(Locale.ROOT, "%,d", ref.get("buffers").asLong()), row.get(2), "buffers of " + name);
      assertEquals(String.format(Locale.ROOT, "%,d", ref.get("macs").asLong()), row.get(3), "MACs of " + name);
      // the bound ZooParityTest (runtime/) holds the model's output to; the is 1e-4
      java.util.regex.Matcher parity = Pattern.compile("≤ ([1-9])e-(\\d+)").matcher(row.get(4));
      assertTrue(parity.matches(), "parity of " + name + ": " + row.get(4));
      assertTrue(Double.parseDouble(parity.group(1) + "e-" + parity.group(2)) <= 1e-4, "parity of " + name + ": " + row.get(4));
      assertEquals(specs.contains(name), row.get(5).startsWith("exact"), "status of " + name + ": " + row.get(5));
    }
  }

  /** PyTorch classes an op's PyTorch name mentions: {@code nn.BatchNorm2d, or nn.BatchNorm1d on vectors}. */
  static final Pattern CLASS = Pattern.compile("\\b[A-Z]\\w*");

  /** Whether the node computes what torchvision's module of that class does. */
  static boolean standsFor(Node node, String torchClass, Network n) {
    OpDef op = Ops.get(node.op());
    return op != null && CLASS.matcher(op.torch()).results().anyMatch(m -> m.group().equals(torchClass));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("specs")
  void matchesTorchvision(String name) throws IOException {
    JsonNode ref = reference(name);
    assertNotNull(ref, "no reference for " + name);
    assertEquals(name, ref.get("model").asText());
    var compiled = Compiler.compile(Compiler.Request.of(ZOO.resolve(name + ".cnn")));
    assertTrue(compiled.ok(), () -> compiled.diagnostics().sorted().toString());
    Network n = compiled.network(name).orElseThrow(() -> new AssertionError("zoo/" + name + ".cnn has no model " + name));
    Summary s = new Summary(n);

    // model <name>(classes: int = ...): the default is torchvision's number of classes.
    JsonNode firstOutput = ref.get("outputs").get(0).get(1);
    assertEquals(new Value.IntV(firstOutput.get(0).asLong()), n.modelArgs().get("classes"), "default of `classes`");
    // ... and it is what sets the output's classes.
    var seven = Compiler.compile(new Compiler.Request(List.of(ZOO.resolve(name + ".cnn")), List.of(),
        Map.of("classes", new Value.IntV(7))));
    assertTrue(seven.ok(), () -> seven.diagnostics().sorted().toString());
    Network n7 = seven.network(name).orElseThrow();
    String expected7 = shape(firstOutput).replaceFirst("^\\[\\d+", "[7");
    assertEquals(expected7, n7.node(n7.outputs().get(0).node()).shape().toString(), "output with classes = 7");
    assertEquals(1, n.inputs().size());
    assertEquals(shape(ref.get("input")), n.node(n.inputs().get(0)).shape().toString(), "input");

    assertEquals(ref.get("params").asLong(), s.params(), "params");
    assertEquals(ref.get("buffers").asLong(), s.buffers(), "BN running stats");
    assertEquals(ref.get("macs").asLong(), s.macs(), "MACs");

    Map<String, String> expected = new TreeMap<>();
    ref.get("state_dict").forEach(e -> expected.put(e.get(0).asText(), shape(e.get(1))));
    Map<String, String> actual = new TreeMap<>();
    n.stateDict().forEach(t -> actual.put(t.path(), Arrays.toString(t.dims())));
    assertEquals(expected, actual, "state_dict keys and shapes");

    Map<String, Summary.Row> rows = new LinkedHashMap<>();
    s.rows().forEach(r -> rows.put(r.path(), r));
    for (JsonNode m : ref.get("modules")) {
      String path = m.get(0).asText();
      Summary.Row row = rows.get(path);
      assertNotNull(row, () -> "no module " + path + " (" + m.get(1).asText() + ") in the summary");
      assertEquals(m.get(2).asLong(), row.params(), "params of " + path);
      assertEquals(m.get(3).asLong(), row.macs(), "MACs of " + path);
    }

    // Every module's output; a module torchvision calls twice (ResNet's relu) is the node
    // labeled with its name, its first call. Where cnnc has an op, it is the op that stands for
    // torchvision's class (the class is named in the op's PyTorch name: nn.ReLU is not nn.ReLU6).
    Map<String, Node> nodes = new LinkedHashMap<>();
    n.nodes().forEach(x -> nodes.put(x.name(), x));
    Set<String> seen = new HashSet<>();
    int layers = 0;
    for (JsonNode layer : ref.get("layers")) {
      String path = layer.get(0).asText();
      String type = layer.get(1).asText();
      if (!seen.add(path)) {
        continue;
      }
      Summary.Row row = rows.get(path);
      assertNotNull(row, () -> "no module " + path + " (" + type + ") in the summary");
      assertEquals(shape(layer.get(2)), row.shape().toString(), "output shape of " + path);
      Node node = nodes.get(path);
      if (node != null && !row.module()) {
        assertTrue(standsFor(node, type, n), () -> path + " is `" + node.op() + "` (" + Ops.get(node.op()).torch()
            + "), torchvision's is " + type);
      }
      layers++;
    }
    assertTrue(layers >= ref.get("modules").size(), "layers");

    // What a module computes with beyond shapes: batch norm's eps and momentum, dropout's p.
    for (JsonNode o : ref.get("options")) {
      String path = o.get(0).asText();
      Node node = nodes.get(path);
      assertNotNull(node, () -> "no layer " + path);
      o.get(1).fields().forEachRemaining(e -> assertEquals(new Value.FloatV(e.getValue().asDouble()),
          node.args().get(e.getKey()), e.getKey() + " of " + path));
    }

    Map<String, String> outputs = new TreeMap<>();
    ref.get("outputs").forEach(o -> outputs.put(o.get(0).asText(), shape(o.get(1))));
    Map<String, String> actualOutputs = new TreeMap<>();
    n.outputs().forEach(o -> actualOutputs.put(o.name(), n.node(o.node()).shape().toString()));
    assertEquals(outputs, actualOutputs, "outputs");
    ref.get("macs_by_output").fields().forEachRemaining(e -> assertEquals(e.getValue().asLong(),
        s.outputs().stream().filter(o -> o.output().name().equals(e.getKey())).findFirst().orElseThrow().pathMacs(),
        "MACs of output " + e.getKey()));
  }
}
