// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.sema.Capabilities;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.compiler.shape.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Backend capabilities checked at compile time: located, with the backend named; none when asked for none. */
class CapabilitiesTest {
  @TempDir Path dir;

  private List<Diagnostic> check(String spec, Set<Backend> backends) throws Exception {
    Path f = Files.writeString(dir.resolve("m.cnn"), spec);
    return Compiler.compile(Compiler.Request.of(f).withBackends(backends)).diagnostics().sorted();
  }

  @Test
  void anOpABackendCannotRunIsALocatedErrorNamingTheBackend() throws Exception {
    String spec = "block B() {\n    lrn(size = 2)\n}\nmodel M {\n    input [4, 5, 5]\n    conv(4, 3)\n    b1: B\n    global_avgpool\n}\n";
    List<Diagnostic> ds = check(spec, Set.of(Backend.CPU, Backend.CUDA));
    assertEquals(2, ds.size(), ds.toString());
    for (Diagnostic d : ds) {
      assertEquals("UNSUPPORTED_ON_BACKEND", d.id());
      assertEquals(Severity.ERROR, d.severity());
      assertEquals(2, d.span().line(), "at the op, inside the block");
      assertTrue(d.label().equals("size = 2"), d.label());
      assertTrue(d.notes().stream().anyMatch(n -> n.message().contains("in block `B` called at")), d.notes().toString());
    }
    assertTrue(ds.get(0).message().contains("`lrn` (b1.0) cannot run on backend cpu: an even size (2)"), ds.get(0).message());
    assertTrue(ds.get(1).message().contains("backend cuda"), ds.get(1).message());
    assertEquals(List.of(), check(spec, Set.of()), "--backend none checks no backend");
  }

  @Test
  void theDefaultBackendIsTheCpu() throws Exception {
    Path f = Files.writeString(dir.resolve("g.cnn"), "model G {\n    input [4, 5, 5]\n    lrn(2)\n}\n");
    List<Diagnostic> ds = Compiler.compile(Compiler.Request.of(f)).diagnostics().sorted();
    assertTrue(ds.stream().anyMatch(d -> d.id().equals("UNSUPPORTED_ON_BACKEND") && d.message().contains("backend cpu")
        && d.span().line() == 3), ds.toString());
  }

  @Test
  void backendNamesParse() {
    assertEquals(Set.of(Backend.CPU, Backend.CUDA, Backend.ONNX), Capabilities.parse("all").orElseThrow());
    assertEquals(Set.of(), Capabilities.parse("none").orElseThrow());
    assertEquals(Set.of(Backend.CUDA), Capabilities.parse("cuda").orElseThrow());
    assertEquals(Set.of(Backend.CPU, Backend.CUDA), Capabilities.parse("cpu, cuda").orElseThrow());
    assertEquals(Set.of(Backend.ONNX), Capabilities.parse("onnx").orElseThrow());
    assertTrue(Capabilities.parse("tpu").isEmpty());
  }

  /** What `cnnc train` trains from which labels: the one rule, both ways. */
  @Test
  void trainTrainsMapsFromMasksAndScoresFromImageLabels() {
    Shape map = Shape.of(21, 32, 32);
    Shape scores = Shape.of(10);
    Shape pooled = Shape.of(10, 1, 1);
    var perImage = Capabilities.Labels.PER_IMAGE;
    var perPixel = Capabilities.Labels.PER_PIXEL;
    assertTrue(Capabilities.untrainableFrom(perPixel, "cross_entropy", map).isEmpty());
    assertTrue(Capabilities.untrainableFrom(perImage, "cross_entropy", scores).isEmpty());
    assertTrue(Capabilities.untrainableFrom(perImage, "cross_entropy", pooled).isEmpty());
    assertTrue(Capabilities.untrainableFrom(perImage, "cross_entropy", map).orElseThrow().contains("--masks"));
    assertTrue(Capabilities.untrainableFrom(perPixel, "cross_entropy", scores).orElseThrow()
        .contains("one result per image"));
    assertTrue(Capabilities.untrainableFrom(perPixel, "cross_entropy", pooled).isPresent());
    // a map with another loss is refused for both, with untrainable's reason
    assertEquals(Capabilities.untrainable("mse", map), Capabilities.untrainableFrom(perPixel, "mse", map));
    assertTrue(Capabilities.untrainableFrom(perPixel, "mse", map).orElseThrow().contains("cross_entropy only"));
    assertTrue(Capabilities.untrainableFrom(perPixel, "none", scores).isEmpty());
  }
}
