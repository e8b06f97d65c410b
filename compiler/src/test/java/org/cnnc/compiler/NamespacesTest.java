// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.diag.Diagnostic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files given together are separate namespaces (each sees its own declarations and its imports),
 * and one file's errors, or one declaration's syntax error, hide nothing else.
 */
class NamespacesTest {
  @TempDir Path dir;

  private Compiler.Compilation compile(Path... files) {
    return Compiler.compile(new Compiler.Request(List.of(files), List.of(), Map.of()));
  }

  private static List<String> lines(Compiler.Compilation c) {
    return c.diagnostics().sorted().stream()
        .map(d -> d.span().file().path().getFileName() + ":" + d.span().line() + " " + d.id()).toList();
  }

  @Test
  void twoFilesMayEachDeclareTheSameModelAndBlock() throws Exception {
    Files.createDirectories(dir.resolve("a"));
    Files.createDirectories(dir.resolve("b"));
    Path a = Files.writeString(dir.resolve("a/net.cnn"),
        "block Conv(c: int) { conv(c, 3, padding = 1) relu }\nmodel Net { input [3, 8, 8] Conv(4) }\n");
    Path b = Files.writeString(dir.resolve("b/net.cnn"),
        "block Conv(c: int) { conv(c, 1) }\nmodel Net { input [3, 8, 8] Conv(6) Conv(2) }\n");
    var c = compile(a, b);
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    assertEquals(2, c.networks().size());
    // each Net uses its own file's Conv
    assertEquals("[4, 8, 8]", c.networks().get(0).nodes().get(c.networks().get(0).nodes().size() - 1).shape().toString());
    assertEquals("[2, 8, 8]", c.networks().get(1).nodes().get(c.networks().get(1).nodes().size() - 1).shape().toString());
    // generated together into one package they would be one file: a located error there only
    List<Diagnostic> clash = Generator.check(c.program(), c.networks(), null);
    assertEquals(1, clash.size());
    assertEquals("JAVA_NAME", clash.get(0).id());
    assertEquals(b, clash.get(0).span().file().path());
    assertEquals(List.of(), Generator.check(c.program(), c.networks().subList(0, 1), null));
  }

  @Test
  void modelsOfDifferentPackagesDoNotClash() throws Exception {
    Path a = Files.writeString(dir.resolve("a.cnn"), "package p.a\nmodel Net { input [3] dense(2) }\n");
    Path b = Files.writeString(dir.resolve("b.cnn"), "package p.b\nmodel Net { input [3] dense(2) }\n");
    var c = compile(a, b);
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    assertEquals(List.of(), Generator.check(c.program(), c.networks(), null));
    assertEquals(1, Generator.check(c.program(), c.networks(), "q").size());
  }

  @Test
  void clashesInOneFileStayErrorsOfCheck() throws Exception {
    Path a = Files.writeString(dir.resolve("a.cnn"), "model foo_bar { input [3] dense(2) }\nmodel FooBar { input [3] dense(2) }\n");
    assertEquals(List.of("a.cnn:2 JAVA_NAME"), lines(compile(a)));
  }

  @Test
  void aNameIsUniqueInAFileAndWhatItImports() throws Exception {
    Files.writeString(dir.resolve("lib1.cnn"), "block Conv(c: int) { conv(c, 1) }\n");
    Files.writeString(dir.resolve("lib2.cnn"), "block Conv(c: int) { conv(c, 3) }\n");
    Path own = Files.writeString(dir.resolve("own.cnn"),
        "import \"lib1.cnn\"\nblock Conv(c: int) { relu }\nmodel M { input [3, 8, 8] Conv(2) }\n");
    Path two = Files.writeString(dir.resolve("two.cnn"),
        "import \"lib1.cnn\"\nimport \"lib2.cnn\"\nmodel M { input [3, 8, 8] Conv(2) }\n");
    assertEquals(List.of("own.cnn:2 DUPLICATE_NAME"), lines(compile(own)));
    assertEquals(List.of("two.cnn:2 DUPLICATE_NAME"), lines(compile(two)));
    // the libraries themselves are fine, alone or together
    assertTrue(compile(dir.resolve("lib1.cnn"), dir.resolve("lib2.cnn")).ok());
  }

  /** The clash of two imports is found where the imported files are an editor's unsaved buffers too. */
  @Test
  void twoImportsClashAlsoFromBuffersNotOnDisk() throws Exception {
    Path own = Files.writeString(dir.resolve("buf.cnn"),
        "import \"blib1.cnn\"\nimport \"blib2.cnn\"\nmodel M { input [3, 8, 8] Conv(2) }\n");
    var c = Compiler.compile(Compiler.Request.of(own), java.util.Map.of(
        dir.resolve("blib1.cnn"), "block Conv(c: int) { conv(c, 1) }\n",
        dir.resolve("blib2.cnn"), "block Conv(c: int) { conv(c, 3) }\n"));
    assertEquals(List.of("buf.cnn:2 DUPLICATE_NAME"), lines(c));
  }

  @Test
  void cyclesAreFoundPerBlockNotPerName() throws Exception {
    // a.cnn's A calls its B; b.cnn's B calls its A: no cycle, though the names would make one
    Path a = Files.writeString(dir.resolve("a.cnn"),
        "block A(c: int) { B(c) }\nblock B(c: int) { conv(c, 1) }\nmodel M { input [3, 8, 8] A(2) }\n");
    Path b = Files.writeString(dir.resolve("b.cnn"),
        "block B(c: int) { A(c) }\nblock A(c: int) { conv(c, 1) }\nmodel M { input [3, 8, 8] B(2) }\n");
    var c = compile(a, b);
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    assertEquals(2, c.networks().size());
  }

  @Test
  void oneFilesErrorsHideNoFindingOfAnother() throws Exception {
    Path bad = Files.writeString(dir.resolve("bad.cnn"), "model Bad { input [3, 8, 8] conv(4, 30) }\n");
    Path good = Files.writeString(dir.resolve("good.cnn"), "model Good { input [3, 8, 8] conv(4, 3) : [4, 5, 5] }\n");
    Path ok = Files.writeString(dir.resolve("ok.cnn"), "model Ok { input [3, 8, 8] conv(4, 3) }\n");
    var c = compile(bad, good, ok);
    assertEquals(List.of("bad.cnn:1 KERNEL_TOO_LARGE", "good.cnn:1 SHAPE_ASSERTION"), lines(c));
    assertEquals(List.of("Ok"), c.networks().stream().map(n -> n.name()).toList());
  }

  @Test
  void aSyntaxErrorHidesNoOtherDeclarationOfItsFile() throws Exception {
    Path f = Files.writeString(dir.resolve("f.cnn"), String.join("\n",
        "block Broken(c: int) {",
        "    conv(c 3)",
        "}",
        "model UsesBroken { input [3, 8, 8] Broken(4) }",
        "model Other {",
        "    input [3, 8, 8]",
        "    conv(16, 30)",
        "    convv(3)",
        "}",
        "model Fine { input [3, 8, 8] conv(4, 3) }",
        ""));
    var c = compile(f);
    // one error for the syntax, none for the call of the broken block, and Other's are found
    assertEquals(List.of("f.cnn:2 SYNTAX_ERROR", "f.cnn:7 KERNEL_TOO_LARGE", "f.cnn:8 UNKNOWN_NAME"), lines(c));
    assertEquals(List.of("Fine"), c.networks().stream().map(n -> n.name()).toList());
    var shapes = compile(Files.writeString(dir.resolve("g.cnn"),
        "model A {\n    input [3, 8, 8]\n    conv(16, 3 padding = 1)\n    relu\n}\nmodel B {\n    input [3, 8, 8]\n    conv(16, 30)\n}\n"));
    assertEquals(List.of("g.cnn:3 SYNTAX_ERROR", "g.cnn:8 KERNEL_TOO_LARGE"), lines(shapes));
  }

  @Test
  void aMissingCommaIsOneError() {
    var c = Compiler.compileText("t.cnn", "model A {\n    input [3, 8, 8]\n    conv(16, 3 padding = 1)\n    relu\n}\n", Map.of());
    List<Diagnostic> d = c.diagnostics().sorted();
    assertEquals(1, d.size(), d::toString);
    assertEquals("expected `)`, found name `padding`", d.get(0).message());
  }

  @Test
  void aFailedImportGivesNoUnknownNames() throws Exception {
    Path f = Files.writeString(dir.resolve("f.cnn"),
        "import \"missing.cnn\"\nmodel M { input [3, 8, 8] Conv(4) }\nmodel N { input [3, 8, 8] conv(4, 30) }\n");
    assertEquals(List.of("f.cnn:1 IMPORT_NOT_FOUND", "f.cnn:3 KERNEL_TOO_LARGE"), lines(compile(f)));
  }

  /** UNUSED_BLOCK follows each file's own block of a name: neither hides nor invents the other's. */
  @Test
  void unusedBlocksAreFoundPerFileNotPerName() throws Exception {
    Path a = Files.writeString(dir.resolve("ua.cnn"),
        "block Y() { relu }\nblock X() { Y() }\nmodel A { input [3, 4, 4] X() }\n");
    Path b = Files.writeString(dir.resolve("ub.cnn"),
        "block W() { relu }\nblock X() { W() }\nblock Unused() { relu }\nmodel B { input [3, 4, 4] X() }\n");
    var c = Compiler.compile(Compiler.Request.of(a, b));
    assertTrue(c.ok(), c.diagnostics().sorted().toString());
    var unused = org.cnnc.compiler.lint.Linter.lint(c, org.cnnc.compiler.lint.LintConfig.defaults(), dir).diagnostics()
        .stream().filter(d -> d.id().equals("UNUSED_BLOCK")).map(d -> d.message()).toList();
    assertEquals(List.of("block `Unused` is never used"), unused);
  }
}
