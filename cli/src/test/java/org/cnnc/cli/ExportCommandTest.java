// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.cnnc.cli.MainTest.MODELS;
import static org.cnnc.cli.MainTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.cnnc.compiler.io.Npz;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cnnc export} as a user meets it: the file it writes, and every refusal located and plain. */
class ExportCommandTest {
  @TempDir Path dir;

  @Test
  void writesTheModelWithSeededWeights() throws Exception {
    Path out = dir.resolve("nin.onnx");
    MainTest.Run r = run("export", MODELS, "--model", "NiN", "-o", out.toString(), "--seed", "3");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().startsWith("wrote " + out + ": model NiN, "), r.out());
    ModelProto m = ModelProto.parseFrom(Files.readAllBytes(out));
    assertEquals("NiN", m.getGraph().getName());
    assertEquals(17, m.getOpsetImport(0).getVersion());
    assertEquals("cnnc", m.getProducerName());
    // the same seed gives the same file
    Path again = dir.resolve("again.onnx");
    assertEquals(0, run("export", MODELS, "--model", "NiN", "-o", again.toString(), "--seed", "3").code());
    assertArrayEquals(Files.readAllBytes(out), Files.readAllBytes(again));
  }

  @Test
  void weightsFromAStateDictBecomeTheInitializers() throws Exception {
    String spec = "model Tiny {\n  input [2, 4, 4]\n  conv(2 -> 3, 3)\n  global_avgpool\n  flatten\n}\n";
    Path file = dir.resolve("tiny.cnn");
    Files.writeString(file, spec);
    Map<String, Npz.Array> w = new LinkedHashMap<>();
    float[] weight = new float[3 * 2 * 3 * 3];
    for (int i = 0; i < weight.length; i++) {
      weight[i] = i / 10f;
    }
    w.put("0.weight", Npz.Array.of(new long[] {3, 2, 3, 3}, weight));
    w.put("0.bias", Npz.Array.of(new long[] {3}, new float[] {1, 2, 3}));
    Path npz = dir.resolve("tiny.npz");
    Npz.write(npz, w);
    Path out = dir.resolve("tiny.onnx");
    MainTest.Run r = run("export", file.toString(), "--weights", npz.toString(), "-o", out.toString(), "--opset", "18");
    assertEquals(0, r.code(), r.err());
    ModelProto m = ModelProto.parseFrom(Files.readAllBytes(out));
    assertEquals(18, m.getOpsetImport(0).getVersion());
    var bias = m.getGraph().getInitializerList().stream().filter(t -> t.getName().equals("0.bias")).findFirst().orElseThrow();
    var b = bias.getRawData().asReadOnlyByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
    assertEquals(2f, b.get(1));

    // a state dict of another network: every problem at once, exit 2, nothing written
    w.put("0.bias", Npz.Array.of(new long[] {4}, new float[] {1, 2, 3, 4}));
    w.put("extra", Npz.Array.of(new long[] {1}, new float[] {0}));
    Npz.write(npz, w);
    Path none = dir.resolve("none.onnx");
    r = run("export", file.toString(), "--weights", npz.toString(), "-o", none.toString());
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().contains("tensor 0.bias has shape [4], expected [3]"), r.err());
    assertTrue(r.err().contains("unexpected tensor extra [1]"), r.err());
    assertFalse(Files.exists(none));
  }

  @Test
  void whatOnnxCannotExpressIsALocatedError() throws Exception {
    Path file = dir.resolve("lrn.cnn");
    Files.writeString(file, "model M {\n  input [4, 8, 8]\n  lrn(2)\n  global_avgpool\n  flatten\n}\n");
    MainTest.Run r = run("export", file.toString(), "-o", dir.resolve("m.onnx").toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("cannot run on backend onnx: an even size (2)"), r.err());
    assertTrue(r.err().contains("lrn.cnn:3:3"), r.err());
    assertFalse(Files.exists(dir.resolve("m.onnx")));
  }

  @Test
  void usageErrorsArePlain() throws Exception {
    assertEquals(2, run("export", MODELS, "-o", dir.resolve("a.onnx").toString()).code(), "three models, none chosen");
    MainTest.Run r = run("export", MODELS, "--model", "NiN", "--opset", "9", "-o", dir.resolve("a.onnx").toString());
    assertEquals(2, r.code());
    assertEquals("cnnc: --opset 9: choose 14 to 18\n", r.err());
    // never through a link
    Path target = dir.resolve("target.txt");
    Files.writeString(target, "keep");
    Path link = Files.createSymbolicLink(dir.resolve("link.onnx"), target);
    r = run("export", MODELS, "--model", "NiN", "-o", link.toString());
    assertEquals(2, r.code(), r.err());
    assertEquals("keep", Files.readString(target));
  }
}
