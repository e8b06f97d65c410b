// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.TensorProto;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The export of the article's three networks and of every model of {@code zoo/}, with PyTorch's
 * seeded weights (non-trivial BatchNorm statistics): the official ONNX checker accepts each with
 * {@code full_check=True} (shape inference included, which checks every declared shape against
 * ONNX's own rules), and ONNX Runtime's eval-mode output equals PyTorch's within 1e-4 of its
 * largest value, at the batch PyTorch ran and at another (the batch axis is dynamic).
 */
class OnnxExportTest {
  static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  @TempDir static Path dir;
  static Compiler.Compilation article;
  static Compiler.Compilation zoo;
  static final Map<String, Path> exported = new LinkedHashMap<>();

  static Stream<String> zooModels() throws Exception {
    try (Stream<Path> files = Files.list(ROOT.resolve("zoo"))) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cnn"))
          .map(n -> n.substring(0, n.length() - 4)).sorted().toList().stream();
    }
  }

  static Stream<String> articleModels() {
    return Stream.of("VGG16", "NiN", "GoogLeNet");
  }

  static Stream<String> models() throws Exception {
    return Stream.concat(articleModels(), zooModels());
  }

  static void python(String script, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", ROOT.resolve(script).toString()));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), script + " failed:\n" + log);
  }

  @BeforeAll
  static void exportAll() throws Exception {
    python("tools/pytorch/parity.py", "--out", dir.toString(), "--models", "VGG16,NiN,GoogLeNet");
    List<String> zooNames = zooModels().toList();
    python("tools/pytorch/zoo_parity.py", "--out", dir.toString(), "--models", String.join(",", zooNames));
    article = Compiler.compile(Compiler.Request.of(ROOT.resolve("models.cnn")));
    assertTrue(article.ok(), () -> article.diagnostics().sorted().toString());
    zoo = Compiler.compile(Compiler.Request.of(zooNames.stream().map(n -> ROOT.resolve("zoo/" + n + ".cnn")).toArray(Path[]::new)));
    assertTrue(zoo.ok(), () -> zoo.diagnostics().sorted().toString());
    for (String name : models().toList()) {
      Network net = network(name);
      long side = Npz.readNpy(dir.resolve(name + "_input.npy")).shape()[2];
      if (side != net.node(net.inputs().get(0)).shape().height()) {
        // a zoo model that takes any input size as `size` (fcn_resnet50), at the script's smaller input
        Compiler.Compilation c = Compiler.compile(new Compiler.Request(List.of(ROOT.resolve("zoo/" + name + ".cnn")),
            List.of(), Map.of("size", new org.cnnc.compiler.sema.Value.IntV(side))));
        assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
        net = c.network(name).orElseThrow();
        sized.put(name, net);
      }
      Map<String, Npz.Array> weights = Npz.readStateDict(dir.resolve(name + ".npz"), net.stateDictShapes(), Map.of());
      Path file = dir.resolve(name + ".onnx");
      OnnxExport.write(OnnxExport.export(net, weights, OnnxExport.Options.defaults("test")), file);
      exported.put(name, file);
    }
  }

  /** Zoo models compiled at the parity script's input size rather than their default. */
  static final Map<String, Network> sized = new java.util.HashMap<>();

  static Network network(String name) {
    if (sized.containsKey(name)) {
      return sized.get(name);
    }
    return article.network(name).or(() -> zoo.network(name)).orElseThrow();
  }

  @Test
  void everyOpOfTheRegistryHasALowering() {
    assertEquals(List.of(), OnnxExport.opsWithoutLowering());
  }

  @Test
  void theOfficialCheckerAcceptsEveryExport() throws Exception {
    Path script = dir.resolve("check.py");
    Files.writeString(script, String.join("\n",
        "import sys, onnx",
        "for f in sys.argv[1:]:",
        "    m = onnx.load(f)",
        "    onnx.checker.check_model(m, full_check=True)",
        "    onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)",
        "    print('ok', f)", ""));
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", script.toString()));
    exported.values().forEach(p -> cmd.add(p.toString()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), "onnx.checker refused:\n" + log);
    assertEquals(exported.size(), log.lines().filter(l -> l.startsWith("ok ")).count(), log);
  }

  @ParameterizedTest
  @MethodSource("models")
  void onnxRuntimeEqualsPyTorch(String name) throws Exception {
    Network net = network(name);
    Npz.Array x = Npz.readNpy(dir.resolve(name + "_input.npy"));
    var env = OrtEnvironment.getEnvironment();
    try (var opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(2);
      try (OrtSession s = env.createSession(exported.get(name).toString(), opts)) {
        assertEquals(List.of(net.node(net.inputs().get(0)).name()), List.copyOf(s.getInputNames()));
        assertEquals(net.outputs().stream().map(o -> o.name()).toList(), List.copyOf(s.getOutputNames()));
        for (int batch : new int[] {(int) x.shape()[0], 3}) {
          float[] data = batchOf(x, batch);
          long[] shape = x.shape().clone();
          shape[0] = batch;
          try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(data), shape);
              OrtSession.Result r = s.run(Map.of(s.getInputNames().iterator().next(), in))) {
            for (int o = 0; o < net.outputs().size(); o++) {
              String out = net.outputs().get(o).name();
              Path torch = dir.resolve(name + "_" + out + ".npy");
              if (!Files.exists(torch)) {
                torch = dir.resolve(name + "_output.npy"); // the zoo's one output
              }
              Npz.Array expected = Npz.readNpy(torch);
              OnnxTensor actual = (OnnxTensor) r.get(o);
              long[] want = expected.shape().clone();
              want[0] = batch;
              assertArrayEquals(want, actual.getInfo().getShape(), name + " " + out);
              float[] got = new float[Math.toIntExact(actual.getInfo().getNumElements())];
              actual.getFloatBuffer().get(got);
              double err = relErr(batchOf(expected, batch), got);
              System.out.printf("onnx %s %s batch %d: max |ort - torch| / max |torch| = %.2e%n", name, out, batch, err);
              assertTrue(err <= 1e-4, name + " " + out + ": " + err);
            }
          }
        }
      }
    }
  }

  /** The examples of {@code a} repeated (cyclically) to {@code batch} examples. */
  static float[] batchOf(Npz.Array a, int batch) {
    int per = a.data().length / (int) a.shape()[0];
    float[] out = new float[per * batch];
    for (int i = 0; i < batch; i++) {
      System.arraycopy(a.data(), (i % (int) a.shape()[0]) * per, out, i * per, per);
    }
    return out;
  }

  static double relErr(float[] expected, float[] actual) {
    assertEquals(expected.length, actual.length);
    double max = 0;
    double diff = 0;
    for (int i = 0; i < expected.length; i++) {
      max = Math.max(max, Math.abs(expected[i]));
      diff = Math.max(diff, Math.abs(expected[i] - actual[i]));
    }
    return diff / max;
  }

  @Test
  void namesAndMetadataAreTheSpecs() throws Exception {
    Network net = network("GoogLeNet");
    ModelProto m = ModelProto.parseFrom(Files.readAllBytes(exported.get("GoogLeNet")));
    assertEquals(net.stateDict().stream().map(Tensor::path).toList(),
        m.getGraph().getInitializerList().stream().map(TensorProto::getName).toList());
    assertEquals(net.outputs().stream().map(o -> o.name()).toList(),
        m.getGraph().getOutputList().stream().map(v -> v.getName()).toList());
    assertEquals(OnnxExport.BATCH, m.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
    Map<String, String> meta = new LinkedHashMap<>();
    m.getMetadataPropsList().forEach(e -> meta.put(e.getKey(), e.getValue()));
    assertEquals("GoogLeNet", meta.get("cnnc.model"));
    assertTrue(meta.get("cnnc.file").endsWith("models.cnn"), meta.toString());
    assertEquals("test", meta.get("cnnc.version"));
    assertEquals(8, m.getIrVersion());
    assertEquals(17, m.getOpsetImport(0).getVersion());
    // a conv's node is named by its module path, and reads the weights of that module
    var conv = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv")).findFirst().orElseThrow();
    assertEquals(conv.getName() + ".weight", conv.getInput(1));
  }

  @Test
  void seededWeightsAreReproducibleAndPyTorchLike() {
    Network net = network("NiN");
    byte[] a = OnnxExport.export(net, null, new OnnxExport.Options(17, "t", 5)).toByteArray();
    byte[] b = OnnxExport.export(net, null, new OnnxExport.Options(17, "t", 5)).toByteArray();
    byte[] c = OnnxExport.export(net, null, new OnnxExport.Options(17, "t", 6)).toByteArray();
    assertArrayEquals(a, b);
    assertTrue(!java.util.Arrays.equals(a, c), "another seed, other weights");
    Map<String, float[]> w = OnnxExport.seeded(net, 5);
    Tensor first = net.params().get(0);
    double bound = 1 / Math.sqrt((double) first.numel() / first.dims()[0]);
    float[] v = w.get(first.path());
    double max = 0;
    for (float f : v) {
      max = Math.max(max, Math.abs(f));
    }
    assertTrue(max <= bound && max > 0.9 * bound, max + " vs " + bound);
  }
}
