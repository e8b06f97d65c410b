// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

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
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.cnnc.compiler.io.Npz;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code torch.onnx.export} of the article's networks and of every zoo network (eval mode,
 * non-trivial BatchNorm statistics; {@code tools/pytorch/onnx_export.py}), through the command
 * line a user has: {@code cnnc import} writes a spec and its weights, {@code cnnc run} runs them
 * on Deeplearning4j (cnnc's kernels), and every output equals ONNX Runtime's on the original
 * torch export within 1e-4 of its largest value.
 */
class ImportedTorchRunTest {
  static final Path ROOT = Path.of(System.getProperty("cnnc.root", "..")).toAbsolutePath().normalize();
  @TempDir static Path dir;

  static Stream<String> models() throws Exception {
    try (Stream<Path> files = Files.list(ROOT.resolve("zoo"))) {
      List<String> zoo = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cnn"))
          .map(n -> n.substring(0, n.length() - 4)).sorted().toList();
      return Stream.concat(Stream.of("VGG16", "NiN", "GoogLeNet"), zoo.stream());
    }
  }

  @BeforeAll
  static void exportFromTorch() throws Exception {
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/python3", ROOT.resolve("tools/pytorch/onnx_export.py").toString(),
        "--out", dir.toString(), "--models", String.join(",", models().toList())));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertEquals(0, p.waitFor(), "onnx_export.py failed:\n" + log);
  }

  @ParameterizedTest
  @MethodSource("models")
  void importedSpecRunsOnDl4jAsOnnxRuntimeRunsTheOriginal(String name) throws Exception {
    Path onnx = dir.resolve(name + ".onnx");
    Path spec = dir.resolve(name + ".cnn");
    RunCommandsTest.Run imported = RunCommandsTest.cnnc("import", onnx.toString(), "-o", spec.toString());
    assertEquals(0, imported.code(), imported.err());
    Path weights = dir.resolve(name + ".npz");
    assertTrue(Files.isRegularFile(weights), imported.err());
    Path input = dir.resolve(name + "_input.npy");
    Path out = dir.resolve(name + "_dl4j");
    RunCommandsTest.Run run = RunCommandsTest.cnnc("run", spec.toString(), "--weights", weights.toString(),
        "--input", input.toString(), "--output", out.toString(), "--repeat", "1");
    assertEquals(0, run.code(), run.err());
    Npz.Array x = Npz.readNpy(input);
    var env = OrtEnvironment.getEnvironment();
    try (var opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(2);
      try (OrtSession s = env.createSession(onnx.toString(), opts);
          OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data()), x.shape());
          OrtSession.Result result = s.run(Map.of(s.getInputNames().iterator().next(), in))) {
        List<String> names = List.copyOf(s.getOutputNames());
        for (int o = 0; o < names.size(); o++) {
          OnnxTensor expected = (OnnxTensor) result.get(o);
          float[] want = new float[Math.toIntExact(expected.getInfo().getNumElements())];
          expected.getFloatBuffer().get(want);
          Npz.Array got = Npz.readNpy(out.resolve(names.get(o) + ".npy"));
          assertArrayEquals(expected.getInfo().getShape(), got.shape(), name + " " + names.get(o));
          double max = 0;
          double diff = 0;
          for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(want[i]));
            diff = Math.max(diff, Math.abs(want[i] - got.data()[i]));
          }
          System.out.printf("imported %s %s on DL4J: max |dl4j - ort| / max |ort| = %.2e%n", name, names.get(o), diff / max);
          assertTrue(diff / max <= 1e-4, name + " " + names.get(o) + ": " + diff / max);
        }
      }
    }
  }
}
