// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: outputs, messages and exit codes. */
class MainTest {
  static final String MODELS = "../models.cnn";

  record Run(int code, String out, String err) {}

  static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(args, new PrintWriter(out), new PrintWriter(err));
    return new Run(code, out.toString(), err.toString());
  }

  @TempDir Path dir;

  @Test
  void checkAcceptsTheArticlesModels() {
    Run r = run("check", MODELS);
    assertEquals(0, r.code(), r.err());
    assertEquals("ok: 3 models in 1 file\n", r.out());
    assertEquals("", r.err());
  }

  @Test
  void summaryPrintsPyTorchsTotals() {
    Run r = run("summary", MODELS, "--model", "GoogLeNet");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("Total params: 13,351,716\n"), r.out());
    assertTrue(r.out().contains("Buffers (BatchNorm running mean and var, not trained): 15,052\n"));
    assertTrue(r.out().contains("Total MACs: 1,584,364,416 (1.58 G)\n"));
    assertTrue(r.out().contains("inception4e (Inception)"));
    assertTrue(r.out().matches("(?s).*main +\\[1000\\] +cross_entropy +1\\.00 +1,575,992,192 .*"), r.out());
  }

  @Test
  void summaryTakesModelArguments() {
    Run r = run("summary", MODELS, "--model", "GoogLeNet", "--arg", "classes=10", "--depth", "0");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("Total params: 10,307,466\n"), r.out());
    assertFalse(r.out().contains("branch1"), "depth 0 shows only the model's direct children");
  }

  @Test
  void summaryListsParameterPaths() {
    Run r = run("summary", MODELS, "--model", "VGG16", "--params");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().matches("(?s).*\nfeature_part\\.28\\.weight +\\[512, 512, 3, 3\\] +2,359,296  param\n.*"), r.out());
  }

  @Test
  void summaryWithoutModelShowsEveryModel() {
    Run r = run("summary", MODELS, "--depth", "0");
    assertEquals(0, r.code(), r.err());
    for (String m : new String[] {"VGG16(classes = 1000)", "NiN  ", "GoogLeNet(classes = 1000)"}) {
      assertTrue(r.out().contains(m), m);
    }
  }

  @Test
  void errorsGiveExitCodeOneAndLocatedMessages() throws Exception {
    Path spec = Files.writeString(dir.resolve("bad.cnn"), "model M {\n  input [3, 8, 8]\n  convv(8, 3)\n  relu\n}\n");
    Run human = run("check", spec.toString());
    assertEquals(1, human.code());
    assertEquals("", human.out());
    assertTrue(human.err().startsWith("error[UNKNOWN_NAME]: unknown op or block `convv`\n --> " + spec + ":3:3\n"), human.err());
    assertTrue(human.err().endsWith("error: 1 error\n"), human.err());
    assertFalse(human.err().contains("\u001b["), "no colour when not on a terminal");

    Run short_ = run("check", "--error-format=short", spec.toString());
    assertEquals(1, short_.code());
    assertEquals(spec + ":3:3: error: unknown op or block `convv` [UNKNOWN_NAME]\n", short_.err());

    Run colored = run("check", "--color=always", spec.toString());
    assertTrue(colored.err().contains("\u001b[1;31merror[UNKNOWN_NAME]"), colored.err());
  }

  @Test
  void usageAndIoErrorsGiveExitCodeTwoWithoutAStackTrace() {
    Run missing = run("check", dir.resolve("nope.cnn").toString());
    assertEquals(2, missing.code());
    assertEquals("cnnc: cannot read " + dir.resolve("nope.cnn") + ": no such file\n", missing.err());

    Run badOption = run("check", "--frobnicate", MODELS);
    assertEquals(2, badOption.code());
    assertTrue(badOption.err().contains("Unknown option: '--frobnicate'"), badOption.err());

    Run unknownModel = run("summary", MODELS, "--model", "ResNet");
    assertEquals(2, unknownModel.code());
    assertEquals("cnnc: no model named `ResNet`; models: VGG16, NiN, GoogLeNet\n", unknownModel.err());

    Run noCommand = run();
    assertEquals(2, noCommand.code());
    for (Run r : new Run[] {missing, badOption, unknownModel, noCommand}) {
      assertFalse(r.err().contains("\tat "), r.err());
    }
  }

  /** `--model` may be left out when the file has one model; with several, the usage error names them. */
  @Test
  void theOnlyModelNeedsNoModelOption(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path one = java.nio.file.Files.writeString(dir.resolve("one.cnn"),
        "model Tiny {\n    input [3, 8, 8]\n    conv(4, 3)\n    relu\n}\n");
    Run graph = run("graph", one.toString(), "--format", "dot");
    assertEquals(0, graph.code(), graph.err());
    assertTrue(graph.out().startsWith("digraph"), graph.out());
    Run several = run("graph", MODELS, "--format", "dot");
    assertEquals(2, several.code());
    assertEquals("cnnc: --model NAME chooses one of 3 models: VGG16, NiN, GoogLeNet\n", several.err());
  }

  @Test
  void helpAndVersion() {
    Run help = run("--help");
    assertEquals(0, help.code());
    assertTrue(help.out().contains("check") && help.out().contains("summary"), help.out());
    assertTrue(help.out().contains("Exit codes:"), help.out());
    Run version = run("--version");
    assertEquals(0, version.code());
    assertTrue(version.out().matches("cnnc \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?\n"), version.out());
  }

  @Test
  void binaryGarbageIsAnErrorNotACrash() throws Exception {
    byte[] junk = new byte[4096];
    new java.util.Random(7).nextBytes(junk);
    Path spec = Files.write(dir.resolve("junk.cnn"), junk);
    Run r = run("check", spec.toString());
    assertTrue(r.code() == 1 || r.code() == 2, r.err());
    assertFalse(r.err().contains("internal error"), r.err());
  }

  @Test
  void deepNestingIsALocatedError() throws Exception {
    String deep = "model M { input [3, 8, 8] " + "{".repeat(5000) + "relu" + "}".repeat(5000) + " }";
    Path spec = Files.writeString(dir.resolve("deep.cnn"), deep);
    Run r = run("check", "--error-format=short", spec.toString());
    assertEquals(1, r.code());
    assertTrue(r.err().contains("[NESTING_TOO_DEEP]"), r.err());
  }

  @Test
  void generateRefusesABadPackageAndClassesThatWouldBeOneFile() throws Exception {
    String tiny = " {\n    input [3]\n    dense(2)\n}\n";
    Path a = Files.writeString(dir.resolve("a.cnn"), "package x.a\nmodel foo_bar" + tiny);
    Path b = Files.writeString(dir.resolve("b.cnn"), "package x.b\nmodel FooBar" + tiny);
    Path out = dir.resolve("out");
    Run bad = run("generate", "-d", out.toString(), "--package", "org.class", a.toString());
    assertEquals(2, bad.code(), bad.err());
    assertEquals("cnnc: --package: `org.class` is not a Java package name: `class` is a Java keyword\n", bad.err());
    Run clash = run("generate", "-d", out.toString(), "--package", "p", a.toString(), b.toString());
    assertEquals(1, clash.code(), clash.err());
    assertTrue(clash.err().contains("error[JAVA_NAME]: models `foo_bar` and `FooBar` both generate p/FooBar.java"), clash.err());
    assertTrue(clash.err().contains("b.cnn:2:7") && clash.err().contains("`foo_bar` is declared at "), clash.err());
    assertFalse(Files.exists(out), "nothing is written");
    Run ok = run("generate", "-d", out.toString(), a.toString(), b.toString());
    assertEquals(0, ok.code(), ok.err());
    assertTrue(Files.exists(out.resolve("x/a/FooBar.java")) && Files.exists(out.resolve("x/b/FooBar.java")));
  }

  @Test
  void dl4jCommandsSayWhatIsMissingWithoutDl4j() {
    for (String command : new String[] {"run", "train", "bench"}) {
      Run r = run(command, MODELS, "--random");
      assertEquals(Main.USAGE, r.code(), command);
      assertEquals("", r.out());
      assertTrue(r.err().startsWith("cnnc: '" + command + "' computes on Deeplearning4j, which this cnnc leaves out"), r.err());
      assertTrue(r.err().contains("cnnc-full-" + new Main.Version().versionText() + ".tar.gz"), r.err());
    }
    // An unknown command is still picocli's usage error, not the DL4J message.
    Run other = run("frobnicate");
    assertEquals(Main.USAGE, other.code());
    assertFalse(other.err().contains("Deeplearning4j"), other.err());
  }

  /** A line break in what the user gave (a file name) cannot start a line of its own on the terminal. */
  @Test
  void usageErrorsStayOnOneLine() {
    Run r = run("check", "no-such\ncnnc: all good\r\u001b[2J.cnn");
    assertEquals(Main.USAGE, r.code(), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
    assertFalse(r.err().contains("\u001b"), r.err());
    assertTrue(r.err().contains("no-such\\u000acnnc: all good"), r.err());
  }
}
