// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.onnx.OnnxExport;
import org.cnnc.onnx.proto.OnnxProto.AttributeProto;
import org.cnnc.onnx.proto.OnnxProto.GraphProto;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.NodeProto;
import org.cnnc.onnx.proto.OnnxProto.TensorProto;
import org.cnnc.onnx.proto.OnnxProto.TensorShapeProto;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cnnc import}: the spec and weights it writes load into each other and summarize as the
 * exported model did; hostile models (garbage, truncated, huge dimensions, a cycle, an unknown op,
 * names with quotes, newlines and escape sequences) end with a one-line error naming the node,
 * exit 1 or 2, and no stack trace.
 */
class ImportCommandTest {
  static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  @TempDir static Path dir;
  static Network nin;
  static ModelProto ninModel;

  @BeforeAll
  static void export() throws Exception {
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(ROOT.resolve("models.cnn")).withBackends(java.util.Set.of(Backend.ONNX)));
    nin = c.network("NiN").orElseThrow();
    ninModel = OnnxExport.export(nin, null, new OnnxExport.Options(17, "test", 1));
    Files.write(dir.resolve("nin.onnx"), ninModel.toByteArray());
  }

  @Test
  void writesASpecAndWeightsThatLoadByName() throws Exception {
    Path spec = dir.resolve("nin.cnn");
    MainTest.Run r = MainTest.run("import", dir.resolve("nin.onnx").toString(), "-o", spec.toString());
    assertEquals(0, r.code(), r.err());
    assertTrue(r.err().contains("imported NiN:") && r.err().contains("966,986 parameters"), r.err());
    Path npz = dir.resolve("nin.npz");
    assertTrue(Files.exists(npz));
    MainTest.Run original = MainTest.run("summary", ROOT.resolve("models.cnn").toString(), "--model", "NiN", "--params");
    MainTest.Run imported = MainTest.run("summary", spec.toString(), "--params");
    assertEquals(0, imported.code(), imported.err());
    // the same parameter table: every state_dict key and shape, and the totals
    assertEquals(tail(original.out(), "Total params"), tail(imported.out(), "Total params"));
    assertEquals(params(original.out()), params(imported.out()));
    // the weights load by the spec's names: every key of the network, float32 of its shape
    Network net = Compiler.compile(Compiler.Request.of(spec)).network("NiN").orElseThrow();
    Map<String, long[]> expected = new java.util.LinkedHashMap<>();
    net.stateDict().forEach(t -> expected.put(t.path(), Arrays.stream(t.dims()).mapToLong(i -> i).toArray()));
    Map<String, Npz.Array> w = Npz.readStateDict(npz, expected, Map.of());
    assertEquals(expected.keySet(), w.keySet());
    TensorProto first = ninModel.getGraph().getInitializer(0);
    assertEquals(first.getName(), w.keySet().iterator().next());
    // to standard output without -o, no weights
    MainTest.Run stdout = MainTest.run("import", dir.resolve("nin.onnx").toString(), "--name", "Other");
    assertEquals(0, stdout.code(), stdout.err());
    assertTrue(stdout.out().contains("model Other {"), stdout.out());
    assertTrue(stdout.err().contains("no weights written"), stdout.err());
  }

  static String tail(String summary, String from) {
    return summary.substring(summary.indexOf(from));
  }

  static List<String> params(String summary) {
    return summary.lines().filter(l -> l.matches("\\s*[a-z_0-9.]+\\.(weight|bias|running_mean|running_var)\\b.*")).toList();
  }

  // ---- hostile models ---------------------------------------------------------------------------

  MainTest.Run importBytes(byte[] bytes, String name) throws Exception {
    Path f = dir.resolve(name);
    Files.write(f, bytes);
    return MainTest.run("import", f.toString(), "-o", dir.resolve(name + ".cnn").toString());
  }

  static void clean(MainTest.Run r, int code, String... expected) {
    assertEquals(code, r.code(), r.err());
    assertFalse(r.err().contains("\tat "), "a stack trace: " + r.err());
    assertFalse(r.err().contains("internal error"), r.err());
    assertFalse(r.err().contains("\u001b"), "a raw escape reached the terminal: " + r.err());
    for (String e : expected) {
      assertTrue(r.err().contains(e), "expected `" + e + "` in: " + r.err());
    }
  }

  @Test
  void garbageAndTruncatedFilesAreNotModels() throws Exception {
    clean(importBytes("this is no onnx model\n".getBytes(), "garbage.onnx"), 1, "is not an ONNX model");
    byte[] all = ninModel.toByteArray();
    clean(importBytes(Arrays.copyOf(all, all.length / 2), "truncated.onnx"), 1, "is not an ONNX model");
    clean(importBytes(new byte[0], "empty.onnx"), 1, "no graph");
    clean(MainTest.run("import", dir.resolve("missing.onnx").toString()), 2, "no such file");
    assertFalse(Files.exists(dir.resolve("truncated.onnx.cnn")));
  }

  static ModelProto withGraph(GraphProto.Builder g) {
    return ninModel.toBuilder().setGraph(g).build();
  }

  @Test
  void hugeDimensionsAreRefusedBeforeAllocating() throws Exception {
    GraphProto.Builder g = ninModel.getGraph().toBuilder();
    // an initializer that declares 2^40 floats but holds a few
    g.setInitializer(0, g.getInitializer(0).toBuilder().clearDims().addDims(1L << 20).addDims(1L << 20));
    clean(importBytes(withGraph(g).toByteArray(), "huge_weight.onnx"), 1, "more than");
    GraphProto.Builder h = ninModel.getGraph().toBuilder();
    var dim = TensorShapeProto.Dimension.newBuilder().setDimValue(1L << 40);
    var in = h.getInput(0).toBuilder();
    in.getTypeBuilder().getTensorTypeBuilder().getShapeBuilder().setDim(2, dim);
    h.setInput(0, in);
    clean(importBytes(withGraph(h).toByteArray(), "huge_input.onnx"), 1, "dimension 2 is 1099511627776");
    GraphProto.Builder k = ninModel.getGraph().toBuilder();
    k.setInitializer(0, k.getInitializer(0).toBuilder().setRawData(ByteString.copyFrom(new byte[12])));
    clean(importBytes(withGraph(k).toByteArray(), "short_weight.onnx"), 1, "declares");
  }

  @Test
  void aCycleIsRefused() throws Exception {
    GraphProto.Builder g = ninModel.getGraph().toBuilder();
    // the first conv reads the output of the second relu
    NodeProto first = g.getNode(0);
    String later = g.getNode(3).getOutput(0);
    g.setNode(0, first.toBuilder().setInput(0, later));
    clean(importBytes(withGraph(g).toByteArray(), "cycle.onnx"), 1, "cycle", "(Conv)");
  }

  @Test
  void anUnknownOpOrAttributeNamesTheNode() throws Exception {
    GraphProto.Builder g = ninModel.getGraph().toBuilder();
    g.setNode(1, g.getNode(1).toBuilder().setOpType("Selu"));
    clean(importBytes(withGraph(g).toByteArray(), "selu.onnx"), 1, "node `block1.1` (Selu): op `Selu` is not supported");
    GraphProto.Builder h = ninModel.getGraph().toBuilder();
    h.setNode(0, h.getNode(0).toBuilder().addAttribute(AttributeProto.newBuilder().setName("auto_pad")
        .setType(AttributeProto.AttributeType.STRING).setS(ByteString.copyFromUtf8("WEIRD"))));
    clean(importBytes(withGraph(h).toByteArray(), "autopad.onnx"), 1, "node `block1.0` (Conv): auto_pad `WEIRD`");
    GraphProto.Builder s = ninModel.getGraph().toBuilder();
    NodeProto soft = s.getNodeList().stream().filter(n -> n.getOpType().equals("Softmax")).findFirst().orElseThrow();
    int at = s.getNodeList().indexOf(soft);
    s.setNode(at, soft.toBuilder().clearAttribute().addAttribute(AttributeProto.newBuilder().setName("axis")
        .setType(AttributeProto.AttributeType.INT).setI(3)));
    clean(importBytes(withGraph(s).toByteArray(), "softmax.onnx"), 1, "(Softmax): softmax over axis 3");
  }

  @Test
  void hostileNamesNeverReachTheSpecOrTheTerminalRaw() throws Exception {
    GraphProto.Builder g = ninModel.getGraph().toBuilder();
    String evil = "block1\"\n}\nmodel Evil {\u001b[31m";
    // rename the first conv's module: its node, output and tensors
    String old = "block1.0";
    String renamed = evil + ".0";
    for (int i = 0; i < g.getNodeCount(); i++) {
      NodeProto.Builder n = g.getNode(i).toBuilder();
      for (int k = 0; k < n.getInputCount(); k++) {
        n.setInput(k, n.getInput(k).replace(old, renamed));
      }
      for (int k = 0; k < n.getOutputCount(); k++) {
        n.setOutput(k, n.getOutput(k).replace(old, renamed));
      }
      n.setName(n.getName().replace(old, renamed));
      g.setNode(i, n);
    }
    for (int i = 0; i < g.getInitializerCount(); i++) {
      g.setInitializer(i, g.getInitializer(i).toBuilder().setName(g.getInitializer(i).getName().replace(old, renamed)));
    }
    for (int i = 0; i < g.getValueInfoCount(); i++) {
      g.setValueInfo(i, g.getValueInfo(i).toBuilder().setName(g.getValueInfo(i).getName().replace(old, renamed)));
    }
    ModelProto m = withGraph(g).toBuilder().setProducerName("evil\nmodel X {}\u001b]0;title\u0007").build();
    MainTest.Run r = importBytes(m.toByteArray(), "evil.onnx");
    clean(r, 0, "note: the name");
    String spec = Files.readString(dir.resolve("evil.onnx.cnn"));
    assertFalse(spec.contains("\u001b") || spec.contains("Evil") && spec.contains("model Evil"), spec);
    assertEquals(1, spec.lines().filter(l -> l.startsWith("model ")).count(), spec);
    // the spec compiles, and its first conv's tensors carry the rewritten name
    Network net = Compiler.compile(Compiler.Request.of(dir.resolve("evil.onnx.cnn"))).networks().get(0);
    assertTrue(net.stateDict().get(0).path().matches("[A-Za-z0-9_.]+"), net.stateDict().get(0).path());
    assertEquals(nin.paramCount(), net.paramCount());
    // a bad --name is a usage error
    clean(MainTest.run("import", dir.resolve("nin.onnx").toString(), "--name", "a b"), 2, "is not a cnnc name");
  }
}
