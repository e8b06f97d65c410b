// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.cnnc.run.RunCommandsTest.cnnc;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cnnc run --engine ort} against {@code --engine dl4j} on one network that uses every op of
 * the registry, with the same seeded weights (BatchNorm statistics non-trivial) and input: the
 * ONNX export, run by ONNX Runtime, computes what cnnc's kernels on DL4J compute, op for op.
 */
class OrtEngineTest {
  @TempDir Path dir;

  /** Every op but the refused even LRN (onnx/src/test/resources/every-op.cnn, which OnnxOpsetsTest also runs). */
  static final Path SPEC = Path.of(System.getProperty("cnnc.root", "..")).resolve("onnx/src/test/resources/every-op.cnn");


  @Test
  void onnxRuntimeComputesWhatDl4jComputes() throws Exception {
    Path spec = SPEC;
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    Network net = c.network("Every").orElseThrow();
    Map<String, Npz.Array> w = new LinkedHashMap<>();
    SplittableRandom r = new SplittableRandom(11);
    net.stateDictShapes().forEach((path, shape) -> {
      float[] v = new float[(int) java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
      for (int i = 0; i < v.length; i++) {
        v[i] = path.endsWith("running_var") ? (float) (0.5 + r.nextDouble()) : (float) (r.nextDouble() * 2 - 1);
      }
      w.put(path, Npz.Array.of(shape, v));
    });
    Path npz = dir.resolve("w.npz");
    Npz.write(npz, w);
    float[] x = new float[2 * 4 * 12 * 12];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextGaussian() * 4);
    }
    Path input = dir.resolve("x.npy");
    org.cnnc.compiler.io.SafeFiles.write(input, Npz.npyBytes(new long[] {2, 4, 12, 12}, x));
    Map<String, float[]> outs = new LinkedHashMap<>();
    for (String engine : new String[] {"dl4j", "ort"}) {
      Path out = dir.resolve(engine);
      RunCommandsTest.Run run = cnnc("run", spec.toString(), "--engine", engine, "--weights", npz.toString(),
          "--input", input.toString(), "--output", out.toString(), "--repeat", "1");
      assertEquals(0, run.code(), run.err());
      assertTrue(run.out().contains("output [2, 10]:"), run.out());
      Npz.Array a = Npz.readNpy(out.resolve("output.npy"));
      assertArrayEquals(new long[] {2, 10}, a.shape());
      outs.put(engine, a.data());
    }
    double diff = 0;
    double max = 0;
    for (int i = 0; i < outs.get("dl4j").length; i++) {
      diff = Math.max(diff, Math.abs(outs.get("dl4j")[i] - outs.get("ort")[i]));
      max = Math.max(max, Math.abs(outs.get("dl4j")[i]));
    }
    System.out.printf("every op, ort against dl4j: max |a - b| / max |a| = %.2e%n", diff / max);
    assertTrue(diff / max <= 1e-4, "relative difference " + diff / max);
  }

  @Test
  void ortRefusesWhatOnnxCannotExpressAtItsPlace() throws Exception {
    Path spec = dir.resolve("lrn.cnn");
    Files.writeString(spec, "model M {\n  input [4, 8, 8]\n  lrn(2)\n  global_avgpool\n  flatten\n}\n");
    RunCommandsTest.Run run = cnnc("run", spec.toString(), "--engine", "ort", "--random");
    assertEquals(1, run.code(), run.err());
    assertTrue(run.err().contains("cannot run on backend onnx"), run.err());
    assertTrue(run.err().contains("lrn.cnn:3:3"), run.err());
  }
}
