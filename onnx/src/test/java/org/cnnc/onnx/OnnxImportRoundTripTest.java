// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.onnx.proto.OnnxProto.GraphProto;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.NodeProto;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Export, import, export again: for the article's networks and every model of {@code zoo/}, the
 * spec {@code cnnc import} writes from cnnc's own export compiles to the same parameters, buffers,
 * MACs and {@code state_dict} (keys, shapes, order and values), and its export is the same ONNX
 * graph: the same nodes in the same order (name, op type, inputs, outputs, attributes), the same
 * initializers (names, shapes, bytes), inputs and outputs.
 */
class OnnxImportRoundTripTest {
  static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  static Compiler.Compilation article;
  static Compiler.Compilation zoo;

  static Stream<String> models() throws Exception {
    return OnnxExportTest.models();
  }

  @BeforeAll
  static void compile() throws Exception {
    article = Compiler.compile(Compiler.Request.of(ROOT.resolve("models.cnn")).withBackends(java.util.Set.of(Backend.ONNX)));
    assertTrue(article.ok(), () -> article.diagnostics().sorted().toString());
    List<Path> files = OnnxExportTest.zooModels().map(n -> ROOT.resolve("zoo/" + n + ".cnn")).toList();
    zoo = Compiler.compile(Compiler.Request.of(files.toArray(Path[]::new)).withBackends(java.util.Set.of(Backend.ONNX)));
    assertTrue(zoo.ok(), () -> zoo.diagnostics().sorted().toString());
  }

  static Network network(String name) {
    return article.network(name).or(() -> zoo.network(name)).orElseThrow();
  }

  @ParameterizedTest
  @MethodSource("models")
  void exportImportExportGivesTheSameGraph(String name) throws Exception {
    roundTrip(network(name), name);
  }

  /** every-op.cnn, a network of every op of the registry: each op's import is the inverse of its export. */
  @org.junit.jupiter.api.Test
  void everyOpRoundTrips() throws Exception {
    roundTrip(OnnxOpsetsTest.network(), "Every");
  }

  /**
   * ResNet-50's bottlenecks, equal up to their widths, are written as a block; a stage, once its
   * bottlenecks are calls, is a block too, with the repeated bottlenecks as a {@code repeat}
   * (how zoo/resnet50.cnn is written); the round trip above proves the network is the same.
   */
  @org.junit.jupiter.api.Test
  void repeatedSubgraphsAreWrittenAsBlocks() throws Exception {
    ModelProto m = OnnxExport.export(network("resnet50"), null, new OnnxExport.Options(17, "test", 3));
    String spec = OnnxImport.importModel(m, null, null, "resnet50.onnx", "test").spec();
    // the bottleneck: groups at positions of `layer1`..`layer4`; its second width feeds `conv3`
    assertTrue(spec.contains("block LayerBlock(channels: int, conv3_channels: int) {\n    x: identity\n    conv1: conv(channels, 1, bias = false)\n"), spec);
    // the first bottleneck of a stage: its stride a parameter, 1 (conv's default, not written) in layer1
    assertTrue(spec.contains("    conv2: conv(channels, 3, stride = stride, padding = 1, bias = false)\n"), spec);
    // the stage: instances `layer1`..`layer4`, its parameters named after the bottlenecks'
    assertTrue(spec.contains("block Layer(channels: int, stride: int, conv3_channels: int, count: int) {\n"
        + "    LayerBlock2(channels, stride, conv3_channels)\n    repeat count { LayerBlock(channels, conv3_channels) }\n"), spec);
    assertTrue(spec.contains("    layer1: Layer(64, 1, 256, 2)\n    layer2: Layer(128, 2, 512, 3)\n"
        + "    layer3: Layer(256, 2, 1024, 5)\n    layer4: Layer(512, 2, 2048, 2)\n"), spec);
    assertTrue(spec.lines().count() < 70, spec);
  }

  static void roundTrip(Network original, String name) throws Exception {
    OnnxExport.Options opts = new OnnxExport.Options(17, "test", 3);
    ModelProto first = OnnxExport.export(original, null, opts);
    OnnxImport.Result r = OnnxImport.importModel(OnnxImport.parse(first.toByteArray(), name), null, null, name + ".onnx", "test");
    Network imported = r.network();
    if (System.getProperty("dev.dump") != null) {
      Files.writeString(Path.of("/tmp/imp/rt_" + name + ".cnn"), r.spec());
    }
    assertEquals(name, r.modelName());
    assertEquals(original.paramCount(), imported.paramCount(), name + " params");
    assertEquals(original.bufferCount(), imported.bufferCount(), name + " buffers");
    assertEquals(original.macs(), imported.macs(), name + " MACs");
    assertEquals(keys(original), keys(imported), name + " state_dict");
    assertEquals(List.of(), r.notes(), name + " notes");
    // the weights are the exported ones, by the same keys
    assertEquals(first.getGraph().getInitializerList().stream().map(t -> t.getName()).toList(), List.copyOf(r.weights().keySet()));
    ModelProto second = OnnxExport.export(imported, r.weights(), opts);
    assertSameGraph(first.getGraph(), second.getGraph(), name);
    System.out.printf("round trip %s: %d nodes, %d initializers, %,d params, %,d MACs, spec %d lines%n", name,
        second.getGraph().getNodeCount(), second.getGraph().getInitializerCount(), imported.paramCount(), imported.macs(),
        r.spec().lines().count());
  }

  static List<String> keys(Network n) {
    List<String> out = new ArrayList<>();
    for (Tensor t : n.stateDict()) {
      out.add(t.path() + " " + java.util.Arrays.toString(t.dims()));
    }
    return out;
  }

  static void assertSameGraph(GraphProto a, GraphProto b, String name) {
    assertEquals(a.getInputList(), b.getInputList(), name + " inputs");
    assertEquals(a.getOutputList(), b.getOutputList(), name + " outputs");
    assertEquals(a.getInitializerList(), b.getInitializerList(), name + " initializers");
    List<String> na = a.getNodeList().stream().map(OnnxImportRoundTripTest::show).toList();
    List<String> nb = b.getNodeList().stream().map(OnnxImportRoundTripTest::show).toList();
    if (!na.equals(nb) && System.getProperty("dev.dump") != null) {
      try {
        Files.writeString(Path.of("/tmp/imp/rt_" + name + "_a.txt"), String.join("\n", na));
        Files.writeString(Path.of("/tmp/imp/rt_" + name + "_b.txt"), String.join("\n", nb));
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
    assertEquals(String.join("\n", na), String.join("\n", nb), name + " nodes");
    for (int i = 0; i < a.getNodeCount(); i++) {
      NodeProto x = a.getNode(i);
      NodeProto y = b.getNode(i);
      assertEquals(x, y, name + " node " + x.getName());
    }
    assertEquals(a.getValueInfoList(), b.getValueInfoList(), name + " value infos");
  }

  static String show(NodeProto n) {
    StringBuilder s = new StringBuilder(n.getOpType()).append(' ').append(n.getName()).append(' ')
        .append(n.getInputList()).append(" -> ").append(n.getOutputList());
    n.getAttributeList().forEach(a -> s.append(' ').append(a.getName()).append('=')
        .append(a.hasT() ? "tensor" : a.getIntsCount() > 0 ? a.getIntsList() : a.hasF() ? a.getF() : a.getI()));
    return s.toString();
  }

}
