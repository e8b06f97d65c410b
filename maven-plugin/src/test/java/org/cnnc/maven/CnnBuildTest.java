// SPDX-License-Identifier: Apache-2.0
package org.cnnc.maven;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The plugin's incremental engine, without Maven: what is regenerated, kept and removed. */
class CnnBuildTest {
  @TempDir Path dir;

  CnnBuild.Request request(List<String> excludes) {
    return new CnnBuild.Request(dir.resolve("src/main/cnn"), dir.resolve("target/generated-sources/cnn"),
        dir.resolve("target/cnnc/generate.state"), List.of(), excludes, null, true, dir.resolve("cnnc.yaml"), false);
  }

  @Test
  void unchangedInputsRegenerateNothingAndImportsAreTracked() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn/lib"));
    Files.writeString(src.resolve("blocks.cnn"), "block Stem(c: int) { conv(c, 3) }\n");
    Path a = Files.writeString(src.getParent().resolve("a.cnn"),
        "package p\nimport \"lib/blocks.cnn\"\nmodel A { input [3, 8, 8] Stem(4) }\n");
    Files.writeString(src.getParent().resolve("b.cnn"), "package p\nmodel B { input [3, 8, 8] conv(2, 1) }\n");
    CnnBuild.Request r = request(List.of("lib/**"));

    CnnBuild.Result first = CnnBuild.run(r);
    assertFalse(first.upToDate());
    assertEquals(2, first.written().size());
    Path aOut = r.outputDirectory().resolve("p/A.java");
    Path bOut = r.outputDirectory().resolve("p/B.java");
    Files.setLastModifiedTime(aOut, FileTime.fromMillis(1_000_000));
    Files.setLastModifiedTime(bOut, FileTime.fromMillis(1_000_000));

    CnnBuild.Result second = CnnBuild.run(r);
    assertTrue(second.upToDate(), "nothing changed, nothing compiled");
    assertEquals(1_000_000, Files.getLastModifiedTime(aOut).toMillis());

    // A change in the imported file regenerates the model that uses it, and only that one.
    Files.writeString(src.resolve("blocks.cnn"), "block Stem(c: int) { conv(c, 3, padding = 1) }\n");
    CnnBuild.Result third = CnnBuild.run(r);
    assertFalse(third.upToDate());
    assertEquals(List.of(aOut), third.written());
    assertEquals(List.of(bOut), third.unchanged());
    assertEquals(1_000_000, Files.getLastModifiedTime(bOut).toMillis(), "B untouched");

    // A deleted spec's class is removed.
    Files.delete(src.getParent().resolve("b.cnn"));
    CnnBuild.Result fourth = CnnBuild.run(r);
    assertEquals(List.of(bOut.toAbsolutePath().normalize()), fourth.deleted());
    assertFalse(Files.exists(bOut));
    assertTrue(Files.exists(aOut));
    assertTrue(Files.exists(a));
  }

  @Test
  void lintWarningsAreReportedAndConfigurable() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("m.cnn"), "package p\nmodel M { input [3, 8, 8] conv(2, 3) dense(4) }\n");
    CnnBuild.Result r = CnnBuild.run(request(List.of()));
    assertEquals(0, r.errors());
    assertEquals(1, r.warnings());
    assertEquals("DENSE_ON_MAP", r.diagnostics().get(0).id());
    Files.writeString(dir.resolve("cnnc.yaml"), "rules:\n  DENSE_ON_MAP: off\n");
    Files.writeString(src.resolve("m.cnn"), "package p\nmodel M { input [3, 8, 8] conv(2, 3) dense(5) }\n");
    assertEquals(0, CnnBuild.run(request(List.of())).warnings());
  }

  @Test
  void failOnWarningIsPartOfTheIncrementalState() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("m.cnn"), "package p\nmodel M { input [3, 8, 8] conv(2, 3) dense(4) }\n");
    assertEquals(1, CnnBuild.run(request(List.of())).warnings());
    CnnBuild.Result same = CnnBuild.run(request(List.of()));
    assertTrue(same.upToDate());
    assertEquals(1, same.earlierWarnings(), "an up-to-date build says the warnings exist");
    // The same inputs with -Dcnnc.failOnWarning=true: compiled again, so the warning fails it.
    CnnBuild.Request strict = new CnnBuild.Request(dir.resolve("src/main/cnn"), dir.resolve("target/generated-sources/cnn"),
        dir.resolve("target/cnnc/generate.state"), List.of(), List.of(), null, true, dir.resolve("cnnc.yaml"), true);
    CnnBuild.Result again = CnnBuild.run(strict);
    assertFalse(again.upToDate());
    assertEquals(1, again.warnings());
    assertEquals(List.of(), again.written(), "the unchanged class is not rewritten");
    // A build that failed is not "up to date" for the next one: it fails again, with its warning.
    CnnBuild.Result rerun = CnnBuild.run(strict);
    assertFalse(rerun.upToDate(), "a failed build is never up to date");
    assertEquals(1, rerun.warnings());
  }

  @Test
  void aLintErrorFailsEveryBuildNotOnlyTheFirst() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("m.cnn"), "package p\nmodel M { input [3, 8, 8] conv(2, 3) dense(4) }\n");
    Files.writeString(dir.resolve("cnnc.yaml"), "rules:\n  DENSE_ON_MAP: error\n");
    assertEquals(1, CnnBuild.run(request(List.of())).errors());
    CnnBuild.Result again = CnnBuild.run(request(List.of()));
    assertFalse(again.upToDate());
    assertEquals(1, again.errors());
  }

  @Test
  void theLintConfigurationIsAnInputOfTheIncrementalState() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("m.cnn"), "package p\nmodel M { input [3, 8, 8] conv(2, 3) dense(4) }\n");
    Files.writeString(dir.resolve("cnnc.yaml"), "rules:\n  DENSE_ON_MAP: off\n");
    assertEquals(0, CnnBuild.run(request(List.of())).warnings());
    assertTrue(CnnBuild.run(request(List.of())).upToDate());
    // Turning the rule back on, spec unchanged: the warning appears, not "up to date".
    Files.writeString(dir.resolve("cnnc.yaml"), "rules:\n  DENSE_ON_MAP: warning\n");
    CnnBuild.Result on = CnnBuild.run(request(List.of()));
    assertFalse(on.upToDate());
    assertEquals(1, on.warnings());
    // Deleting the configuration is a change too.
    Files.writeString(dir.resolve("cnnc.yaml"), "rules:\n  DENSE_ON_MAP: off\n");
    assertEquals(0, CnnBuild.run(request(List.of())).warnings());
    Files.delete(dir.resolve("cnnc.yaml"));
    assertEquals(1, CnnBuild.run(request(List.of())).warnings());
  }

  @Test
  void theLogShowsADiagnosticWithItsNotesAndHelpAndTheCommandLineContextGetsNone() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("m.cnn"), "package p\nmodel M { input [3, 8, 8] conv(2, 3) dense(4) }\n");
    var d = CnnBuild.run(request(List.of())).diagnostics().get(0);
    List<String> lines = CnnBuild.logLines(d);
    assertTrue(lines.get(0).endsWith(": warning: " + d.message() + " [DENSE_ON_MAP]"), lines.get(0));
    assertEquals(1 + d.notes().size() + (d.help().isEmpty() ? 0 : 1), lines.size());
    assertFalse(d.help().isEmpty(), "this rule has help");
    assertEquals("  help: " + d.help(), lines.get(lines.size() - 1));
    // On the command line both contexts are the defaults (which log what they are given).
    assertFalse(CnnBuild.isIde(org.codehaus.plexus.build.DefaultBuildContext.class,
        org.sonatype.plexus.build.incremental.DefaultBuildContext.class));
    assertTrue(CnnBuild.isIde(org.codehaus.plexus.build.DefaultBuildContext.class,
        org.sonatype.plexus.build.incremental.ThreadBuildContext.class));
    assertTrue(CnnBuild.isIde(org.codehaus.plexus.build.BuildContext.class,
        org.sonatype.plexus.build.incremental.DefaultBuildContext.class));
  }

  @Test
  void errorsWriteNothingAndAUsersFileIsNeverReplaced() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("bad.cnn"), "model Bad { input [3, 8, 8] convv(2, 1) }\n");
    CnnBuild.Result bad = CnnBuild.run(request(List.of()));
    assertEquals(1, bad.errors());
    assertFalse(Files.exists(dir.resolve("target/generated-sources/cnn")));

    Files.writeString(src.resolve("bad.cnn"), "package p\nmodel Bad { input [3, 8, 8] conv(2, 1) }\n");
    Path mine = dir.resolve("target/generated-sources/cnn/p/Bad.java");
    Files.createDirectories(mine.getParent());
    Files.writeString(mine, "// hand-written\n");
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> CnnBuild.run(request(List.of())));
    assertTrue(e.getMessage().contains("not generated by cnnc"));
    assertEquals("// hand-written\n", Files.readString(mine));
  }

  @Test
  void aMalformedGlobIsAnErrorNamingItsList() throws Exception {
    Files.createDirectories(dir.resolve("src/main/cnn"));
    for (String glob : new String[] {"a[", "{a,{b,c}}"}) {
      java.io.IOException e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
          () -> CnnBuild.run(request(List.of(glob))));
      assertTrue(e.getMessage().startsWith("<excludes>: invalid glob `" + glob + "`"), e.getMessage());
    }
  }

  @Test
  void aBadPackageIsRefusedAndClassesThatWouldBeOneFileAreErrors() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("a.cnn"), "package x.a\nmodel foo_bar { input [3] dense(2) }\n");
    Files.writeString(src.resolve("b.cnn"), "package x.b\nmodel FooBar { input [3] dense(2) }\n");
    CnnBuild.Request ok = request(List.of());
    CnnBuild.Request bad = new CnnBuild.Request(ok.sourceDirectory(), ok.outputDirectory(), ok.stateFile(), List.of(),
        List.of(), "org.class", true, ok.lintConfig(), false);
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> CnnBuild.run(bad));
    assertEquals("packageName: `org.class` is not a Java package name: `class` is a Java keyword", e.getMessage());
    CnnBuild.Request merged = new CnnBuild.Request(ok.sourceDirectory(), ok.outputDirectory(), ok.stateFile(), List.of(),
        List.of(), "p", true, ok.lintConfig(), false);
    CnnBuild.Result clash = CnnBuild.run(merged);
    assertEquals(1, clash.errors());
    assertEquals("JAVA_NAME", clash.diagnostics().get(0).id());
    assertEquals(List.of(), clash.written());
    assertFalse(Files.exists(ok.outputDirectory().resolve("p/FooBar.java")));
    assertEquals(2, CnnBuild.run(ok).written().size());
  }

  /** Text from a spec (here an import's path with a newline and an escape sequence) reaches Maven's log and the IDE escaped. */
  @Test
  void messagesFromSpecsAreEscapedForTheLogAndTheIde() throws Exception {
    Path src = Files.createDirectories(dir.resolve("src/main/cnn"));
    Files.writeString(src.resolve("a.cnn"), "import \"x\\n::error::injected\u001b[31m.cnn\"\nmodel A { input [3] dense(2) }\n");
    CnnBuild.Result r = CnnBuild.run(request(List.of()));
    assertTrue(r.errors() > 0, r.diagnostics().toString());
    boolean sawNewline = false;
    for (var d : r.diagnostics()) {
      sawNewline |= d.message().contains("\n");
      String shown = CnnBuild.ideMessage(d);
      assertFalse(shown.contains("\n") || shown.contains("\u001b"), shown);
      assertTrue(shown.endsWith("[" + d.id() + "]"), shown);
    }
    assertTrue(sawNewline, "the case must put a newline into a message: " + r.diagnostics());
    String failure = CnnBuild.failure(new java.io.IOException("bad\n::error::x\u001b"));
    assertEquals("cnnc: bad\\u000a::error::x\\u001b", failure);
  }
}
