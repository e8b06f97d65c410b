// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImportTest {
  @TempDir Path dir;

  private Compiler.Compilation compile(Path file, Path... roots) {
    return Compiler.compile(new Compiler.Request(List.of(file), List.of(roots), Map.of()));
  }

  @Test
  void blocksOfImportedFilesAreVisibleTransitively() throws Exception {
    Files.createDirectories(dir.resolve("lib"));
    Files.writeString(dir.resolve("lib/a.cnn"), "import \"b.cnn\"\nblock A(c: int) { B(c) relu }\n");
    Files.writeString(dir.resolve("lib/b.cnn"), "import \"a.cnn\"\nblock B(c: int) { conv(c, 3, padding = 1) }\n");
    Path main = Files.writeString(dir.resolve("main.cnn"), "import \"lib/a.cnn\"\nmodel M { input [3, 8, 8] A(4) }\n");
    var c = compile(main);
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    assertEquals("[4, 8, 8]", c.network("M").orElseThrow().nodes().get(2).shape().toString());
    assertEquals(3, c.sources().size());
  }

  @Test
  void aFileSeesOnlyWhatItImports() throws Exception {
    Files.writeString(dir.resolve("other.cnn"), "block Hidden(c: int) { conv(c, 1) }\n");
    Path main = Files.writeString(dir.resolve("main.cnn"), "model M { input [3, 8, 8] Hidden(4) }\n");
    var c = Compiler.compile(new Compiler.Request(List.of(main, dir.resolve("other.cnn")), List.of(), Map.of()));
    assertEquals(List.of("UNKNOWN_NAME"), c.diagnostics().sorted().stream().map(Diagnostic::id).toList());
  }

  @Test
  void importsStayInsideTheSourceRoots() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src"));
    Files.writeString(dir.resolve("secret.cnn"), "block S(c: int) { conv(c, 1) }\n");
    Path main = Files.writeString(src.resolve("main.cnn"), "import \"../secret.cnn\"\nmodel M { input [3, 8, 8] S(4) }\n");
    var refused = compile(main);
    assertEquals(List.of("IMPORT_OUTSIDE_ROOT"), refused.diagnostics().sorted().stream().map(Diagnostic::id).toList());
    var widened = compile(main, dir);
    assertTrue(widened.ok(), () -> widened.diagnostics().sorted().toString());
  }

  @Test
  void aSymlinkCannotLeadOutOfTheRoot() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src"));
    Path secret = Files.writeString(dir.resolve("secret.cnn"), "block S(c: int) { conv(c, 1) }\n");
    Files.createSymbolicLink(src.resolve("link.cnn"), secret);
    Path main = Files.writeString(src.resolve("main.cnn"), "import \"link.cnn\"\nmodel M { input [3, 8, 8] S(4) }\n");
    assertEquals(List.of("IMPORT_OUTSIDE_ROOT"), compile(main).diagnostics().sorted().stream().map(Diagnostic::id).toList());
  }
}
