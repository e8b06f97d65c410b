// SPDX-License-Identifier: Apache-2.0
package org.cnnc.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.io.Npz;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin's ONNX exports: written beside the generated classes' build, with the weights found, kept up to date. */
class OnnxBuildTest {
  @TempDir Path dir;

  CnnBuild.Request request() {
    return new CnnBuild.Request(dir.resolve("src/main/cnn"), dir.resolve("target/generated-sources/cnn"),
        dir.resolve("target/cnnc/generate.state"), List.of(), List.of(), null, true, dir.resolve("cnnc.yaml"), false,
        dir.resolve("target/generated-resources/cnn"));
  }

  static float bias(Path onnx) throws Exception {
    var t = ModelProto.parseFrom(Files.readAllBytes(onnx)).getGraph().getInitializerList().stream()
        .filter(i -> i.getName().equals("0.bias")).findFirst().orElseThrow();
    return t.getRawData().asReadOnlyByteBuffer().order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(0);
  }

  @Test
  void eachModelIsExportedWithItsWeightsAndKeptUpToDate() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("a.cnn"), "package p\nmodel A { input [3, 8, 8] conv(2, 3) global_avgpool flatten }\n");
    Files.writeString(src.resolve("b.cnn"), "package p\nmodel B { input [3, 8, 8] conv(2, 1) }\n");
    CnnBuild.Request r = request();
    CnnBuild.Result first = CnnBuild.run(r);
    assertEquals(0, first.errors(), first.diagnostics().toString());
    Path a = r.onnxDirectory().resolve("A.onnx");
    Path b = r.onnxDirectory().resolve("B.onnx");
    assertTrue(first.written().contains(a) && first.written().contains(b), first.written().toString());
    assertEquals("A", ModelProto.parseFrom(Files.readAllBytes(a)).getGraph().getName());
    assertTrue(CnnBuild.run(r).upToDate());

    // weights beside the spec: the export is redone with them
    Map<String, Npz.Array> w = new LinkedHashMap<>();
    w.put("0.weight", Npz.Array.of(new long[] {2, 3, 3, 3}, new float[54]));
    w.put("0.bias", Npz.Array.of(new long[] {2}, new float[] {7, 8}));
    Npz.write(src.resolve("A.npz"), w);
    CnnBuild.Result second = CnnBuild.run(r);
    assertFalse(second.upToDate());
    assertTrue(second.written().contains(a), second.written().toString());
    assertTrue(second.unchanged().contains(b), "B's export is the same bytes");
    assertEquals(7f, bias(a));

    // a deleted spec's export goes; an .onnx cnnc did not write stays
    Path foreign = r.onnxDirectory().resolve("Other.onnx");
    Files.write(foreign, new byte[] {1, 2, 3});
    Files.delete(src.resolve("b.cnn"));
    CnnBuild.Result third = CnnBuild.run(r);
    assertTrue(third.deleted().contains(b.toAbsolutePath().normalize()), third.deleted().toString());
    assertFalse(Files.exists(b));
    assertTrue(Files.exists(foreign));
  }

  @Test
  void whatOnnxCannotExpressFailsTheBuildAtItsPlace() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("m.cnn"), "model M {\n  input [4, 8, 8]\n  lrn(2)\n}\n");
    CnnBuild.Result r = CnnBuild.run(request());
    assertTrue(r.errors() > 0, r.diagnostics().toString());
    assertTrue(r.diagnostics().stream().anyMatch(d -> d.message().contains("cannot run on backend onnx")
        && d.span().line() == 3), r.diagnostics().toString());
    assertFalse(Files.exists(dir.resolve("target/generated-resources/cnn/M.onnx")));
  }

  @Test
  void weightsOfAnotherNetworkAreAPlainFailure() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("a.cnn"), "model A { input [3, 8, 8] conv(2, 3) }\n");
    Npz.write(src.resolve("A.npz"), Map.of("x", Npz.Array.of(new long[] {1}, new float[] {0})));
    java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
        () -> CnnBuild.run(request()));
    assertTrue(e.getMessage().contains("the weights do not fit model A"), e.getMessage());
    assertTrue(e.getMessage().contains("unexpected tensor x"), e.getMessage());
  }
}
