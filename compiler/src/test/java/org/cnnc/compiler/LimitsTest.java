// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.source.SourceFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The limits of {@link Limits}: each checked before the work it bounds, each with a located message. */
class LimitsTest {
  @TempDir Path dir;

  static final Duration FAST = Duration.ofSeconds(20);

  private static Compiler.Compilation compile(Path file, Limits limits) {
    return Compiler.compile(new Compiler.Request(List.of(file), List.of(), Map.of(), limits));
  }

  private static List<String> ids(Compiler.Compilation c) {
    return c.diagnostics().sorted().stream().map(Diagnostic::id).distinct().toList();
  }

  @Test
  void aFileOverTheSizeLimitIsNotReadPastIt() throws Exception {
    Path big = Files.writeString(dir.resolve("big.cnn"), "// " + "x".repeat(2000) + "\n");
    var e = assertThrows(UncheckedIOException.class, () -> compile(big, Limits.defaults().withMaxFileBytes(1000)));
    assertEquals("cannot read " + big + ": larger than the limit of 1000 bytes", e.getMessage());
    assertTrue(compile(big, Limits.defaults().withMaxFileBytes(5000)).diagnostics().sorted().isEmpty());
  }

  @Test
  void anEndlessFileIsReadOnlyToTheLimit() {
    Path zero = Path.of("/dev/zero");
    if (!Files.isReadable(zero)) {
      return;
    }
    var e = assertTimeoutPreemptively(FAST, () -> assertThrows(UncheckedIOException.class,
        () -> compile(zero, Limits.defaults())));
    assertTrue(e.getMessage().endsWith("larger than the limit of " + Limits.DEFAULT_MAX_FILE_BYTES + " bytes"), e.getMessage());
  }

  @Test
  void anImportOverTheSizeLimitIsAnErrorAtTheImport() throws Exception {
    Files.writeString(dir.resolve("huge.cnn"), "// " + "x".repeat(5000) + "\n");
    Path main = Files.writeString(dir.resolve("main.cnn"), "import \"huge.cnn\"\nmodel M { input [3, 8, 8] relu }\n");
    var c = compile(main, Limits.defaults().withMaxFileBytes(1000));
    Diagnostic d = c.diagnostics().sorted().get(0);
    assertEquals("IMPORT_NOT_FOUND", d.id());
    assertEquals("main.cnn:1:8", d.span().file().name().replaceAll(".*/", "") + ":" + d.span().line() + ":" + d.span().column());
    assertEquals("larger than the limit of 1000 bytes", d.label());
  }

  @Test
  void aNulInAnImportPathIsAnErrorAtTheImport() throws Exception {
    Path main = Files.writeString(dir.resolve("main.cnn"), "import \"a\u0000b.cnn\"\nmodel M { input [3, 8, 8] relu }\n");
    var c = compile(main, Limits.defaults());
    assertEquals(List.of("IMPORT_NOT_FOUND"), ids(c));
    assertEquals(1, c.diagnostics().sorted().get(0).span().line());
  }

  @Test
  void errorsPastTheLimitPerFileAreCountedNotKept() {
    String text = "\u0001".repeat(2_000_000);
    var c = assertTimeoutPreemptively(FAST, () -> Compiler.compileText("ctl.cnn", text, Map.of()));
    assertEquals(Limits.DEFAULT_MAX_ERRORS_PER_FILE, c.diagnostics().sorted().size());
    assertEquals(2_000_000, c.diagnostics().errorCount());
    assertEquals(Map.of("ctl.cnn", 2_000_000L - Limits.DEFAULT_MAX_ERRORS_PER_FILE), c.diagnostics().hidden());
  }

  @Test
  void theLimitOfErrorsIsAnOption() throws Exception {
    Path f = Files.writeString(dir.resolve("bad.cnn"), "\u0001".repeat(50));
    var c = compile(f, Limits.defaults().withMaxErrorsPerFile(7));
    assertEquals(7, c.diagnostics().sorted().size());
    assertEquals(Map.of(f.toString(), 43L), c.diagnostics().hidden());
  }

  static String doubling(int levels) {
    StringBuilder s = new StringBuilder("block B0() { relu }\n");
    for (int i = 1; i <= levels; i++) {
      s.append("block B").append(i).append("() { B").append(i - 1).append("() -> B").append(i - 1).append("() }\n");
    }
    return s.toString();
  }

  @Test
  void blocksThatDoubleFortyTimesFailAtTheCallBeforeExpanding() {
    String spec = doubling(39) + "block Wrap() { relu\n B39() }\nmodel M {\n input [3, 8, 8]\n Wrap()\n}\n";
    var c = assertTimeoutPreemptively(FAST, () -> Compiler.compileText("double.cnn", spec, Map.of()));
    assertEquals(List.of("NETWORK_TOO_LARGE"), ids(c));
    Diagnostic d = c.diagnostics().sorted().get(0);
    // refused at the outermost call whose expansion would pass the budget, before expanding anything
    assertEquals(spec.lines().toList().indexOf(" Wrap()") + 1, d.span().line());
    assertTrue(d.message().startsWith("this call of `Wrap` would expand to 549755813889 layers, after 1 already"), d.message());
  }

  @Test
  void aRepeatOverTheBudgetFailsAtItsCount() {
    String spec = "model M { input [3, 8, 8]\n repeat 600000 { relu relu } }";
    var c = assertTimeoutPreemptively(FAST, () -> Compiler.compileText("rep.cnn", spec, Map.of()));
    assertEquals(List.of("NETWORK_TOO_LARGE"), ids(c));
    Diagnostic d = c.diagnostics().sorted().get(0);
    assertEquals(2, d.span().line());
    assertTrue(d.message().contains("would expand to 1200000 layers"), d.message());
  }

  @Test
  void theLayerBudgetIsAnOption(@TempDir Path tmp) throws Exception {
    Path f = Files.writeString(tmp.resolve("m.cnn"), doubling(4) + "model M { input [3, 8, 8]\n B4() }\n");
    assertTrue(compile(f, Limits.defaults()).ok());
    var c = compile(f, Limits.defaults().withMaxLayers(10));
    assertEquals(List.of("NETWORK_TOO_LARGE"), ids(c));
    assertTrue(c.diagnostics().sorted().get(0).message().contains("would expand to 16 layers, after 1 already, more than the limit of 10"));
    assertTrue(compile(f, Limits.defaults().withMaxLayers(17)).ok());
  }

  @Test
  void readTextRejectsWhatIsNotUtf8() throws Exception {
    Path f = Files.write(dir.resolve("latin1.cnn"), new byte[] {'/', '/', (byte) 0xe9, '\n'});
    assertThrows(java.nio.charset.CharacterCodingException.class, () -> SourceFile.readText(f, 100));
  }

  @Test
  void fmtIsLinearOnALongChain() {
    String spec = "model M {\n    input [3, 8, 8]\n    " + String.join(" -> ", java.util.Collections.nCopies(100_000, "relu")) + "\n}\n";
    SourceFile src = SourceFile.of("chain.cnn", spec);
    var ast = org.cnnc.compiler.syntax.Parsing.parse(src, new org.cnnc.compiler.diag.Diagnostics());
    String out = assertTimeoutPreemptively(Duration.ofSeconds(30), () -> org.cnnc.compiler.fmt.Formatter.format(src, ast));
    assertEquals(spec, out, "a chain too long for a line stays one chain");
  }

  @Test
  void graphLayoutIsLinearInTheLayers() {
    // as deep as an SVG drawing goes by default (ELK lays it out; its layering recurses per layer)
    int layers = org.cnnc.compiler.graph.Renderers.DEFAULT_MAX_SVG_POINTS - 1;
    String spec = "model M {\n    input [3, 8, 8]\n" + "    relu\n".repeat(layers) + "}\n";
    var c = Compiler.compileText("deep.cnn", spec, Map.of());
    var g = new org.cnnc.compiler.graph.GraphModel(c.networks().get(0), java.util.Set.of());
    assertEquals(layers + 1, org.cnnc.compiler.graph.Renderers.svgPoints(g));
    String svg = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> org.cnnc.compiler.graph.Renderers.svg(g, false));
    assertTrue(svg.endsWith("</svg>\n"), svg.substring(svg.length() - 20));
  }

  @Test
  void longEdgesCountTheirBendPoints() {
    String spec = "model M {\n    input [3, 8, 8]\n    relu\n    add({ relu -> relu -> relu }, identity)\n}\n";
    var c = Compiler.compileText("skip.cnn", spec, Map.of());
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    var g = new org.cnnc.compiler.graph.GraphModel(c.networks().get(0), java.util.Set.of());
    // identity (rank 2) to add (rank 5) bends at ranks 3 and 4
    assertEquals(g.boxes().size() + 2, org.cnnc.compiler.graph.Renderers.svgPoints(g));
  }
}
