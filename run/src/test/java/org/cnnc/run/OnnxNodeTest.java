// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.onnx.ImportException;
import org.cnnc.onnx.OnnxImport;
import org.cnnc.onnx.proto.OnnxProto.GraphProto;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.NodeProto;
import org.cnnc.onnx.proto.OnnxProto.OperatorSetIdProto;
import org.cnnc.onnx.proto.OnnxProto.TensorProto;
import org.cnnc.onnx.proto.OnnxProto.ValueInfoProto;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.NdNpz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The ONNX project's own node tests ({@code libonnx-testdata}: one small model per operator and
 * attribute, with inputs and expected outputs) through {@code cnnc import} and DL4J. A test is in
 * scope when its ops are ones cnnc imports, its tensors float32 and its data inputs [N, C, H, W]
 * or [N, F]; the node's other inputs (Conv's W and B, BatchNormalization's statistics, Gemm's B
 * and C, Clip's bounds, Pad's pads, ...) are given as graph inputs by the tests and become
 * initializers here, as an exported model has them. Each in-scope model is imported (spec and
 * weights), all the specs are compiled together, generated as Java, compiled by javac and loaded,
 * built on DL4J with the imported weights loaded from an .npz, run on the test's inputs and
 * compared with its expected outputs (|a - e| at most 1e-4 of max |e|, or 1e-5). An import the
 * importer refuses with a message saying cnnc lacks the feature is out of scope; any other import
 * error, a spec that does not compile, or a mismatch is a failure.
 */
class OnnxNodeTest {
  static final Path DATA = Path.of(System.getProperty("cnnc.onnx.testdata", "/usr/share/libonnx-testdata/data/node"));

  /** At least this many in-scope tests pass: all that pass today (libonnx-testdata 1.12, Resize and ConvTranspose in). */
  static final int MIN_PASSED = 52;

  /** The ops cnnc's importer maps, and for each the node inputs that are data (the rest become initializers). */
  static final Map<String, Set<Integer>> SUPPORTED = new TreeMap<>();

  static {
    for (String op : List.of("Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "BatchNormalization",
        "LRN", "Relu", "Clip", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh", "Softmax", "LeakyRelu", "Gelu", "Gemm", "MatMul",
        "Flatten", "Reshape", "Pad", "Dropout", "Identity", "Div", "Resize", "ConvTranspose", "Split")) {
      SUPPORTED.put(op, Set.of(0));
    }
    for (String op : List.of("Concat", "Add", "Sum", "Mul")) {
      SUPPORTED.put(op, null); // every input is data
    }
  }

  @TempDir Path dir;

  /** One node test: its name, the operator(s) it tests, its outcome. */
  static final class Case {
    final String name;
    String op;
    String outOfScope;
    String detail;
    String failure;
    ModelProto model;
    OnnxImport.Result imported;
    List<float[]> inputs = new ArrayList<>();
    List<long[]> inputShapes = new ArrayList<>();
    List<float[]> expected = new ArrayList<>();
    List<long[]> expectedShapes = new ArrayList<>();

    Case(String name) {
      this.name = name;
    }
  }

  @Test
  void nodeTestsOfEverySupportedOperator() throws Exception {
    assertTrue(Files.isDirectory(DATA), DATA + " is missing: install the Debian package libonnx-testdata");
    List<Path> dirs;
    try (Stream<Path> s = Files.list(DATA)) {
      dirs = s.filter(d -> Files.isRegularFile(d.resolve("model.onnx"))).sorted().toList();
    }
    List<Case> cases = new ArrayList<>();
    for (Path d : dirs) {
      Case c = new Case(d.getFileName().toString());
      cases.add(c);
      try {
        prepare(c, d);
      } catch (ImportException e) {
        String m = e.getMessage();
        if (lacks(m)) {
          c.outOfScope = "unsupported";
          c.detail = m;
        } else {
          c.failure = "import: " + m;
        }
      } catch (RuntimeException e) {
        c.failure = "import: " + e;
      }
    }
    List<Case> run = cases.stream().filter(c -> c.outOfScope == null && c.failure == null).toList();
    runOnDl4j(run);
    report(cases);
    List<String> failures = cases.stream().filter(c -> c.failure != null).map(c -> c.name + ": " + c.failure).toList();
    assertTrue(failures.isEmpty(), failures.size() + " node tests failed:\n" + String.join("\n", failures));
    long passed = cases.stream().filter(c -> c.outOfScope == null && c.failure == null).count();
    assertTrue(passed >= MIN_PASSED, passed + " node tests passed, fewer than " + MIN_PASSED);
  }

  /** Whether an import error says that cnnc lacks what the model uses (not that the model or the importer is wrong). */
  static boolean lacks(String message) {
    return message.contains("cnnc") || message.contains("not supported");
  }

  /** Reads a test, decides its scope, moves the weights into initializers and imports it. */
  private static void prepare(Case c, Path d) throws Exception {
    ModelProto m = OnnxImport.parse(Files.readAllBytes(d.resolve("model.onnx")), c.name);
    GraphProto g = m.getGraph();
    Set<String> ops = new LinkedHashSet<>();
    for (NodeProto n : g.getNodeList()) {
      ops.add(n.getOpType() + (n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx") ? "" : "@" + n.getDomain()));
    }
    c.op = String.join("+", ops);
    if (!SUPPORTED.keySet().containsAll(ops)) {
      c.outOfScope = "op";
      return;
    }
    long opset = -1;
    for (OperatorSetIdProto o : m.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        opset = o.getVersion();
      }
    }
    if (opset < 13) {
      // cnnc imports opsets 13 to 21; a model of an older opset whose ops are the same versions at
      // 13 is stamped 13 (what onnx.version_converter does to it), any other is out of scope
      for (String op : ops) {
        if (version(op, opset) != version(op, 13)) {
          c.outOfScope = "opset";
          c.detail = "opset " + opset + ": " + op + "-" + version(op, opset) + " differs from " + op + "-" + version(op, 13);
          return;
        }
      }
      List<OperatorSetIdProto> imports = new ArrayList<>();
      for (OperatorSetIdProto o : m.getOpsetImportList()) {
        imports.add(o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx") ? o.toBuilder().setVersion(13).build() : o);
      }
      m = m.toBuilder().clearOpsetImport().addAllOpsetImport(imports).build();
    }
    Path set = d.resolve("test_data_set_0");
    // the values of the graph's inputs, by position
    List<TensorProto> values = new ArrayList<>();
    for (int i = 0; i < g.getInputCount(); i++) {
      Path f = set.resolve("input_" + i + ".pb");
      if (!Files.isRegularFile(f)) {
        c.outOfScope = "input"; // optional or sequence inputs
        return;
      }
      values.add(TensorProto.parseFrom(Files.readAllBytes(f)));
    }
    for (ValueInfoProto v : g.getOutputList()) {
      if (!v.getType().hasTensorType() || v.getType().getTensorType().getElemType() != TensorProto.DataType.FLOAT_VALUE) {
        c.outOfScope = "dtype";
        return;
      }
    }
    // which graph inputs are data: those a node reads at a data position
    Set<String> data = new LinkedHashSet<>();
    for (NodeProto n : g.getNodeList()) {
      Set<Integer> at = SUPPORTED.get(n.getOpType());
      for (int i = 0; i < n.getInputCount(); i++) {
        if (at == null || at.contains(i)) {
          data.add(n.getInput(i));
        }
      }
    }
    GraphProto.Builder gb = g.toBuilder().clearInput();
    for (int i = 0; i < g.getInputCount(); i++) {
      ValueInfoProto v = g.getInput(i);
      TensorProto t = values.get(i);
      if (!v.getType().hasTensorType()) {
        c.outOfScope = "type";
        return;
      }
      if (data.contains(v.getName())) {
        if (t.getDataType() != TensorProto.DataType.FLOAT_VALUE) {
          c.outOfScope = "dtype";
          return;
        }
        int rank = t.getDimsCount();
        if (rank != 4 && rank != 2) {
          c.outOfScope = "rank"; // cnnc takes [N, C, H, W] or [N, F]
          c.detail = "input " + v.getName() + " of rank " + rank;
          return;
        }
        gb.addInput(v);
        c.inputs.add(floats(t));
        c.inputShapes.add(t.getDimsList().stream().mapToLong(Long::longValue).toArray());
      } else {
        if (t.getDataType() == TensorProto.DataType.BOOL_VALUE) {
          // Dropout's training_mode: true is training, out of scope; false is inference
          boolean training = t.getRawData().size() > 0 ? t.getRawData().byteAt(0) != 0 : t.getInt32Data(0) != 0;
          if (training) {
            c.outOfScope = "training";
            return;
          }
          t = TensorProto.newBuilder().setDataType(TensorProto.DataType.INT64_VALUE).addInt64Data(0).build();
        }
        gb.addInitializer(t.toBuilder().setName(v.getName()));
      }
    }
    for (int i = 0; i < g.getOutputCount(); i++) {
      TensorProto t = TensorProto.parseFrom(Files.readAllBytes(set.resolve("output_" + i + ".pb")));
      c.expected.add(floats(t));
      c.expectedShapes.add(t.getDimsList().stream().mapToLong(Long::longValue).toArray());
    }
    c.model = m.toBuilder().setGraph(gb).build();
    c.imported = OnnxImport.importModel(c.model, modelName(c.name), null, c.name + "/model.onnx", null);
  }

  /** The versions of the supported ops (ONNX's Operators.md, "since version"), for opsets up to 21. */
  static final Map<String, int[]> VERSIONS = Map.ofEntries(
      Map.entry("Conv", new int[] {1, 11}), Map.entry("MaxPool", new int[] {1, 8, 10, 11, 12}),
      Map.entry("AveragePool", new int[] {1, 7, 10, 11, 19}), Map.entry("GlobalAveragePool", new int[] {1}),
      Map.entry("GlobalMaxPool", new int[] {1}), Map.entry("BatchNormalization", new int[] {1, 6, 7, 9, 14, 15}),
      Map.entry("LRN", new int[] {1, 13}), Map.entry("Relu", new int[] {1, 6, 13, 14}),
      Map.entry("Clip", new int[] {1, 6, 11, 12, 13}), Map.entry("HardSigmoid", new int[] {1, 6}),
      Map.entry("HardSwish", new int[] {14}), Map.entry("Sigmoid", new int[] {1, 6, 13}), Map.entry("Tanh", new int[] {1, 6, 13}),
      Map.entry("Softmax", new int[] {1, 11, 13}), Map.entry("LeakyRelu", new int[] {1, 6, 16}), Map.entry("Gelu", new int[] {20}),
      Map.entry("Gemm", new int[] {1, 6, 7, 9, 11, 13}), Map.entry("MatMul", new int[] {1, 9, 13}),
      Map.entry("Flatten", new int[] {1, 9, 11, 13, 21}), Map.entry("Reshape", new int[] {1, 5, 13, 14, 19, 21}),
      Map.entry("Pad", new int[] {1, 2, 11, 13, 18, 19, 21}), Map.entry("Dropout", new int[] {1, 6, 7, 10, 12, 13}),
      Map.entry("Identity", new int[] {1, 13, 14, 16, 19, 21}), Map.entry("Concat", new int[] {1, 4, 11, 13}),
      Map.entry("Add", new int[] {1, 6, 7, 13, 14}), Map.entry("Sum", new int[] {1, 6, 8, 13}),
      Map.entry("Mul", new int[] {1, 6, 7, 13, 14}), Map.entry("Div", new int[] {1, 6, 7, 13, 14}),
      Map.entry("Resize", new int[] {10, 11, 13, 18, 19}), Map.entry("ConvTranspose", new int[] {1, 11}),
      Map.entry("Split", new int[] {1, 2, 11, 13, 18}));

  /** The version of an op in effect at an opset, or 0 when it does not exist there yet. */
  static int version(String op, long opset) {
    int v = 0;
    for (int since : VERSIONS.get(op)) {
      if (since <= opset) {
        v = since;
      }
    }
    return v;
  }

  static String modelName(String test) {
    StringBuilder b = new StringBuilder("N");
    for (String part : test.replaceFirst("^test_", "").split("_")) {
      if (!part.isEmpty()) {
        b.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
      }
    }
    return b.toString();
  }

  static float[] floats(TensorProto t) {
    int n = (int) t.getDimsList().stream().mapToLong(Long::longValue).reduce(1, (a, b) -> a * b);
    float[] v = new float[n];
    if (t.hasRawData()) {
      t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
    } else {
      for (int i = 0; i < n; i++) {
        v[i] = t.getFloatData(i);
      }
    }
    return v;
  }

  /** All the in-scope specs compiled together, generated, compiled by javac, loaded and run on their inputs. */
  private void runOnDl4j(List<Case> run) throws Exception {
    StringBuilder all = new StringBuilder();
    for (Case c : run) {
      all.append(c.imported.spec()).append('\n');
    }
    Path file = dir.resolve("node-tests.cnn");
    Files.writeString(file, all);
    long t0 = System.nanoTime();
    Compiler.Compilation comp = Compiler.compile(Compiler.Request.of(file));
    assertTrue(comp.ok(), () -> "the imported specs do not compile together:\n" + comp.diagnostics().sorted());
    List<Network> nets = new ArrayList<>();
    for (Case c : run) {
      nets.add(comp.network(c.imported.modelName()).orElseThrow());
    }
    Path src = dir.resolve("src");
    Path classes = Files.createDirectories(dir.resolve("classes"));
    List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", System.getProperty("java.class.path"), "-nowarn"));
    for (Generator.Output o : Generator.generate(comp, nets, "cnnc.nodetests")) {
      Generator.write(src, o);
      args.add(src.resolve(o.relativePath()).toString());
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    java.io.ByteArrayOutputStream log = new java.io.ByteArrayOutputStream();
    int rc = javac.run(null, log, log, args.toArray(new String[0]));
    assertTrue(rc == 0, () -> "the generated sources do not compile:\n" + log);
    System.out.printf(Locale.ROOT, "%d imported specs compiled, generated and built by javac in %.1f s%n", run.size(),
        (System.nanoTime() - t0) / 1e9);
    try (URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
      for (Case c : run) {
        try {
          check(c, (CnnModel) loader.loadClass("cnnc.nodetests." + c.imported.modelName()).getConstructor().newInstance());
        } catch (Exception | AssertionError e) {
          c.failure = "run: " + e;
        }
      }
    }
  }

  private void check(Case c, CnnModel model) throws Exception {
    CnnNetwork net = CnnNetwork.create(model, 0);
    if (!c.imported.weights().isEmpty()) {
      Path npz = dir.resolve(c.name + ".npz");
      Npz.write(npz, c.imported.weights());
      net.loadWeights(npz);
    }
    INDArray[] xs = new INDArray[c.inputs.size()];
    for (int i = 0; i < xs.length; i++) {
      xs[i] = NdNpz.toNd4j(Npz.Array.of(c.inputShapes.get(i), c.inputs.get(i)));
    }
    Map<String, INDArray> outs = net.predict(xs);
    List<String> names = model.outputNames();
    if (names.size() != c.expected.size()) {
      c.failure = names.size() + " outputs, expected " + c.expected.size();
      return;
    }
    for (int k = 0; k < names.size(); k++) {
      INDArray a = outs.get(names.get(k));
      long[] want = c.expectedShapes.get(k);
      if (!Arrays.equals(a.shape(), want)) {
        c.failure = "output " + k + " has shape " + Arrays.toString(a.shape()) + ", expected " + Arrays.toString(want);
        return;
      }
      float[] got = a.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c').data().asFloat();
      float[] e = c.expected.get(k);
      double max = 0;
      for (float f : e) {
        max = Math.max(max, Math.abs(f));
      }
      double tol = Math.max(1e-4 * max, 1e-5);
      double worst = 0;
      int at = -1;
      for (int i = 0; i < e.length; i++) {
        double diff = Math.abs((double) got[i] - e[i]);
        if (!(diff <= worst)) {
          worst = diff;
          at = i;
        }
      }
      if (!(worst <= tol)) {
        c.failure = String.format(Locale.ROOT, "output %d differs by %.3g at %d (%g, expected %g; tolerance %.3g)", k, worst,
            at, got[at], e[at], tol);
        return;
      }
    }
  }

  /** The table by operator: passed, failed, out of scope with the reasons' counts; then the reasons in full. */
  private static void report(List<Case> cases) {
    Map<String, int[]> rows = new TreeMap<>();
    Map<String, Map<String, Integer>> reasons = new TreeMap<>();
    int otherOps = 0;
    for (Case c : cases) {
      String op = c.op == null ? "(unreadable)" : c.op;
      if ("op".equals(c.outOfScope)) {
        otherOps++;
        continue;
      }
      int[] r = rows.computeIfAbsent(op, k -> new int[3]);
      if (c.failure != null) {
        r[1]++;
      } else if (c.outOfScope != null) {
        r[2]++;
        reasons.computeIfAbsent(op, k -> new TreeMap<>()).merge(c.outOfScope, 1, Integer::sum);
      } else {
        r[0]++;
      }
    }
    StringBuilder b = new StringBuilder("\nONNX node tests (libonnx-testdata) through cnnc import and DL4J\n");
    b.append(String.format(Locale.ROOT, "%-28s %6s %6s %6s  %s%n", "operator", "passed", "failed", "out", "reasons out of scope"));
    int[] total = new int[3];
    for (var e : rows.entrySet()) {
      int[] r = e.getValue();
      for (int i = 0; i < 3; i++) {
        total[i] += r[i];
      }
      b.append(String.format(Locale.ROOT, "%-28s %6d %6d %6d  %s%n", e.getKey(), r[0], r[1], r[2],
          reasons.getOrDefault(e.getKey(), Map.of()).toString().replaceAll("[{}]", "")));
    }
    b.append(String.format(Locale.ROOT, "%-28s %6d %6d %6d%n", "total", total[0], total[1], total[2]));
    b.append(String.format(Locale.ROOT, "%d tests of other operators out of scope (op)%n", otherOps));
    for (Case c : cases) {
      if (c.failure != null) {
        b.append("FAILED ").append(c.name).append(": ").append(c.failure).append('\n');
      } else if (c.outOfScope != null && !c.outOfScope.equals("op")) {
        b.append("out of scope ").append(c.name).append(": ").append(c.outOfScope)
            .append(c.detail == null ? "" : ": " + c.detail).append('\n');
      }
    }
    System.out.println(b);
  }
}
