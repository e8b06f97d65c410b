// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.cnnc.run.RunCommandsTest.cnnc;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.onnx.OnnxExport;
import org.cnnc.onnx.OrtModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * cnnc bench's columns beyond cnnc's own: PyTorch (the article's networks, torchvision's of the
 * spec's name, else n/a with the reason), ONNX Runtime on cnnc's export, GFLOP/s, and the
 * profile's per-layer ONNX Runtime times read from ONNX Runtime's own profiler. Never on timings.
 */
class BenchColumnsTest {
  @TempDir Path dir;

  /** A small network with what ONNX Runtime fuses (batch norm, ReLU) and a depthwise conv. */
  static final String TINY = """
      model Tiny {
        input [3, 16, 16]
        stem: { conv(8, 3, padding = 1) batchnorm relu }
        dw: { conv(8, 3, padding = 1, groups = 8, bias = false) batchnorm relu }
        pw: conv(16, 1)
        relu
        global_avgpool
        flatten
        fc: dense(10)
      }
      """;

  private Network compile(String name, String text) throws Exception {
    Path spec = dir.resolve(name + ".cnn");
    Files.writeString(spec, text);
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec));
    assertTrue(c.ok(), c.toString());
    return c.network(name).orElseThrow();
  }

  /** A real profile: ONNX Runtime's, of three runs of the tiny network, each node read and given to its layer. */
  @Test
  void readsOnnxRuntimesProfileAndGivesEachNodeItsLayer() throws Exception {
    Network n = compile("Tiny", TINY);
    Path file;
    try (OrtModel m = OrtModel.of(n, null, OnnxExport.Options.defaults("test"), 1, dir.resolve("ort"))) {
      var feed = BenchCommand.ortFeed(n, 2);
      for (int i = 0; i < 3; i++) {
        m.predict(feed);
      }
      file = m.endProfiling();
    }
    OrtProfile p = OrtProfile.read(file);
    List<String> layers = n.nodes().stream().map(Node::name).toList();
    assertFalse(p.nodes().isEmpty());
    for (OrtProfile.NodeTimes t : p.nodes()) {
      assertEquals(3, t.micros().size(), t.name() + " ran three times");
      assertTrue(t.micros().stream().allMatch(d -> d >= 0), t.toString());
    }
    Map<String, String> layerOf = OrtProfile.layers(p.nodes().stream().map(OrtProfile.NodeTimes::name).toList(), layers);
    // every node of cnnc's export is named after its layer's module path, fused or not; the others are
    // the layout conversions ONNX Runtime adds itself (to and from its blocked NCHWc layout)
    Map<String, String> opOf = p.nodes().stream().collect(Collectors.toMap(OrtProfile.NodeTimes::name,
        OrtProfile.NodeTimes::op));
    layerOf.forEach((node, layer) -> assertTrue(layer != null || opOf.get(node).startsWith("Reorder"),
        node + " (" + opOf.get(node) + ") has no layer in " + layers));
    Map<String, Double> ms = p.msByLayer(n, 3);
    // the convs and the dense layer have their nodes (a conv fused with its ReLU, named after the ReLU,
    // is the conv's); the batch norms fold into the convs before them
    for (String l : List.of("stem.0", "dw.0", "pw", "fc")) {
      assertTrue(ms.containsKey(l), l + " in " + ms);
    }
    assertFalse(ms.containsKey("stem.1"), ms.toString());
    assertFalse(ms.containsKey("dw.1"), ms.toString());
  }

  /** The longest module path that begins a node's name at a boundary; "features.1" is not "features.10"'s. */
  @Test
  void attributesANodeToTheLongestModulePathItsNameCarries() {
    Map<String, String> l = OrtProfile.layers(List.of("features.10", "features.1/Pad", "features.1_1", "block.0.conv_relu",
        "head", "Reshape_3"), List.of("features.1", "features.10", "block.0", "block.0.conv", "head", ""));
    assertEquals("features.10", l.get("features.10"));
    assertEquals("features.1", l.get("features.1/Pad"));
    assertEquals("features.1", l.get("features.1_1"));
    assertEquals("block.0.conv", l.get("block.0.conv_relu"));
    assertEquals("head", l.get("head"));
    assertNull(l.get("Reshape_3"));
  }

  /** A profile is untrusted: anything but ONNX Runtime's shape is an error, never a crash or a wrong number. */
  @Test
  void refusesAProfileThatIsNotOnnxRuntimes() throws Exception {
    String good = "[{\"cat\":\"Node\",\"name\":\"conv_kernel_time\",\"dur\":12,\"args\":{\"op_name\":\"Conv\"}},"
        + "{\"cat\":\"Session\",\"name\":\"model_run\",\"dur\":20,\"args\":{}}]";
    OrtProfile ok = OrtProfile.parse(new StringReader(good));
    assertEquals(1, ok.nodes().size());
    assertEquals(0.012, ok.nodes().iterator().next().medianMs(1), 1e-12);
    for (String bad : List.of("{}", "[1]", "[{\"cat\":\"Node\",\"name\":\"a_kernel_time\",\"dur\":\"12\"}]",
        "[{\"cat\":\"Node\",\"name\":\"a_kernel_time\"}]", "[{\"cat\":\"Node\",\"name\":\"a_kernel_time\",\"dur\":-1}]",
        "[{\"cat\":\"Node\",\"name\":7,\"dur\":1}]", "[{\"cat\":\"Node\"", "[] []", "[{\"cat\":\"Node\",\"name\":\"a_kernel_time\",\"dur\":NaN}]",
        "[{\"cat\":\"Node\",\"name\":\"" + "x".repeat(OrtProfile.MAX_NAME + 1) + "_kernel_time\",\"dur\":1}]")) {
      assertThrows(OrtProfile.ProfileException.class, () -> OrtProfile.parse(new StringReader(bad)), bad);
    }
  }

  /** What tools/pytorch/bench.py prints, for a torchvision model, a name it lacks and one of another size. */
  @Test
  void readsPyTorchsOutputForTorchvisionModelsAndSaysWhyNot() throws Exception {
    // PyTorch is part of the test environment (.ci/run installs it), as for every parity test: no skip
    assertTrue(Files.exists(Path.of(BenchCommand.PYTHON)), "the tests need " + BenchCommand.PYTHON + " with torch");
    Path zoo = Path.of(System.getProperty("cnnc.root", "..")).resolve("zoo/squeezenet1_0.cnn");
    Network squeeze = Compiler.compile(Compiler.Request.of(zoo)).network("squeezenet1_0").orElseThrow();
    BenchCommand.Column c = pytorch(squeeze);
    assertNull(c.unavailable(), String.valueOf(c.unavailable()));
    assertTrue(c.times().forward() > 0 && c.times().train() > 0 && c.times().latency() > 0, c.toString());

    BenchCommand.Column tiny = pytorch(compile("Tiny", TINY));
    assertEquals("torchvision has no model named Tiny", tiny.unavailable());
    // a spec that takes torchvision's name but is another network
    BenchCommand.Column other = pytorch(compile("resnet18", TINY.replace("Tiny", "resnet18")));
    assertTrue(other.unavailable().matches("torchvision's resnet18 has \\d+ parameters, the spec "
        + compile("resnet18", TINY.replace("Tiny", "resnet18")).paramCount() + ": not the same network"), other.unavailable());

    assertTrue(BenchCommand.parsePytorch("Traceback ...\nRuntimeError: out of memory\n", 1).unavailable()
        .equals("PyTorch failed (exit 1): RuntimeError: out of memory"));
    assertNotNull(BenchCommand.parsePytorch("forward_ms 1.0 train_ms x latency_ms 1.0 threads 2", 0).unavailable());
  }

  private static BenchCommand.Column pytorch(Network n) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(BenchCommand.PYTHON,
        Path.of(System.getProperty("cnnc.root", "..")).resolve("tools/pytorch/bench.py").toString()));
    assertNull(BenchCommand.pytorchArgs(n, cmd));
    cmd.addAll(List.of("--batch", "1", "--iters", "1", "--warmup", "0"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String text = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    return BenchCommand.parsePytorch(text, p.waitFor());
  }

  /** Every column of a spec that is not the article's: ONNX Runtime's times and speed-ups, PyTorch n/a and why. */
  @Test
  void benchPrintsEveryColumnForAnySpec() throws Exception {
    Path spec = dir.resolve("tiny.cnn");
    Files.writeString(spec, TINY);
    RunCommandsTest.Run bench = cnnc("bench", spec.toString(), "--batch", "2", "--iters", "1", "--warmup", "0");
    assertEquals(0, bench.code(), bench.err());
    String out = bench.out();
    assertTrue(out.matches("(?s).*SGEMM on this machine \\((MKL|ND4J's OpenBLAS|oneDNN's sgemm)\\): \\d+\\.\\d GFLOP/s\\n.*"), out);
    String cell = "\\d+\\.\\d \\(\\d+(\\.\\d+)?\\)";
    assertTrue(out.matches("(?s).*\\nTiny +forward +" + cell + " +" + cell + " +n/a +n/a +" + cell
        + " +- +\\d+\\.\\d\\dx +-\\n.*"), out);
    assertTrue(out.matches("(?s).*\\n +train +" + cell + " +" + cell + " +n/a +n/a +- +-\\n.*"), out);
    assertTrue(out.matches("(?s).*\\n +latency +" + cell + " +" + cell + " +n/a +n/a +" + cell
        + " +- +\\d+\\.\\d\\dx +-\\n.*"), out);
    assertTrue(out.contains("\n  PyTorch: n/a: torchvision has no model named Tiny\n"), out);
  }

  /**
   * A network whose output is a feature map (a loss per pixel) is timed in training too: the
   * benchmark's labels take each output's own shape (it once built [batch, channels] labels and
   * stopped with an internal error).
   */
  @Test
  void benchTrainsANetworkWithAFeatureMapOutput() throws Exception {
    Path spec = dir.resolve("map.cnn");
    Files.writeString(spec, """
        model Map {
            input [6, 10, 10]
            conv(6, 5, padding = 2, groups = 6)
            relu
            conv(3, 1)
        }
        """);
    RunCommandsTest.Run bench = cnnc("bench", spec.toString(), "--batch", "2", "--iters", "1", "--warmup", "0",
        "--no-ort");
    assertEquals(0, bench.code(), bench.err());
    String cell = "\\d+\\.\\d \\(\\d+(\\.\\d+)?\\)";
    assertTrue(bench.out().matches("(?s).*\\n +train +" + cell + " +" + cell + " .*"), bench.out());
  }

  /** The profile puts ONNX Runtime's time beside each layer, "fused" where it has none, and depthwise convs apart. */
  @Test
  void profileShowsOnnxRuntimeBesideEachLayer() throws Exception {
    Path spec = dir.resolve("tiny.cnn");
    Files.writeString(spec, TINY);
    RunCommandsTest.Run profile = cnnc("bench", spec.toString(), "--batch", "2", "--iters", "1", "--warmup", "0",
        "--profile");
    assertEquals(0, profile.code(), profile.err());
    String out = profile.out();
    String ms = "\\d+\\.\\d\\d";
    assertTrue(out.matches("(?s).*\\ndw\\.0 +conv dw +\\[8, 16, 16\\] +" + ms + " .* " + ms + " +\\d+\\.\\d\\dx\\n.*"), out);
    assertTrue(out.matches("(?s).*\\npw +conv +\\[16, 16, 16\\] +" + ms + " .* " + ms + " +\\d+\\.\\d\\dx\\n.*"), out);
    assertTrue(out.matches("(?s).*\\ndw\\.1 +batchnorm +\\[8, 16, 16\\] .* fused +-\\n.*"), out);
    // the plan's own time beside the layer's alone: the conv has one, the folded BatchNorm none
    assertTrue(out.contains("plan ms: the layer's step as predict runs it"), out);
    assertTrue(out.matches("(?s).*\\npw +conv +\\[16, 16, 16\\] +" + ms + " +\\S+ +\\S+ +\\S+ +" + ms + " .*"), out);
    assertTrue(out.matches("(?s).*\\ndw\\.1 +batchnorm +\\[8, 16, 16\\] +" + ms + " +\\S+ +- +- +fused .*"), out);
    assertTrue(out.matches("(?s).*\\nplan: \\d+\\.\\d ms over its steps.*"), out);
    assertTrue(out.matches("(?s).*\\n  conv dw +\\d+\\.\\d ms .*\\n.*"), out);
    assertTrue(out.contains("ONNX Runtime: "), out);
  }

  /**
   * A vertex that is not a layer (add, concat, a softmax over channels) is timed as a layer is, its
   * forward and its backward in the workspace: both its inference and its training columns have a
   * time.
   */
  @Test
  void profileTimesVerticesForwardAndBackward() throws Exception {
    // softmax on [4, 1, 1] is a preprocessor vertex, which reads the batch size from the graph's inputs
    assertProfileRows("""
        model Merges {
          input [8, 32, 32]
          x: identity
          a: conv(8, 3, padding = 1)
          sum: add(from a, from x)
          b: conv(8, 1)
          both: concat(from sum, from b)
          conv(4, 1)
          global_avgpool
          sm: softmax
          flatten
        }
        """, " +\\S+ +- +- +(\\d+\\.\\d\\d|fused) +\\S+ +\\d+\\.\\d\\d +-\\n", "sum +add +\\[8, 32, 32\\]", "both +concat +\\[16, 32, 32\\]",
        "sm +softmax +\\[4, 1, 1\\]");
  }

  /**
   * A layer on a channels-last map (ConvNeXt's, between its permutes) is built alone on that map as
   * it was checked: its row is timed (the profile was an internal error on it).
   */
  @Test
  void profileTimesLayersOnChannelsLastMaps() throws Exception {
    assertProfileRows("""
        model Last {
          input [8, 6, 6]
          to: permute([0, 2, 3, 1])
          norm: layernorm
          wide: linear(16)
          back: permute([0, 3, 1, 2])
          global_avgpool
          flatten
        }
        """, " ", "to +permute +\\[6, 6, 8\\]", "norm +layernorm +\\[6, 6, 8\\]", "wide +linear +\\[6, 6, 16\\]",
        "back +permute +\\[16, 6, 6\\]");
  }

  /**
   * Profiles the one model of {@code text} (batch 2, no ONNX Runtime) and asserts that it exits 0
   * and that each row (a regex of its name, op and shape) has an inference time followed by
   * {@code rest}.
   */
  private void assertProfileRows(String text, String rest, String... rows) throws Exception {
    Path spec = dir.resolve("profiled.cnn");
    Files.writeString(spec, text);
    RunCommandsTest.Run profile = cnnc("bench", spec.toString(), "--batch", "2", "--iters", "3", "--warmup", "0",
        "--profile", "--no-ort");
    assertEquals(0, profile.code(), profile.err());
    String out = profile.out();
    for (String row : rows) {
      assertTrue(java.util.regex.Pattern.compile("\\n" + row + " +\\d+\\.\\d\\d" + rest).matcher(out).find(),
          row + ":\n" + out);
    }
  }

  /** A plan's step goes to the layer it computes: its own name, or the layer's name and a lowering's part. */
  @Test
  void planStepsGoToTheirLayers() {
    java.util.Set<String> layers = java.util.Set.of("sm", "a/b", "x");
    assertEquals("sm", Profile.layerOf("sm", layers));
    assertEquals("sm", Profile.layerOf("sm/flat", layers));
    assertEquals("a/b", Profile.layerOf("a/b/c", layers));
    assertEquals(null, Profile.layerOf("x" + org.cnnc.runtime.InferencePlan.MERGED, layers), "a merged conv is no layer's");
    assertEquals(null, Profile.layerOf("7", layers));
    assertEquals(null, Profile.layerOf("/sm", layers));
  }
}
