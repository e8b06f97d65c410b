// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;

/** `-` as standard input, and the help every option owes its user. */
class StdinAndHelpTest {
  private final InputStream systemIn = System.in;

  @AfterEach
  void restore() {
    System.setIn(systemIn);
  }

  static MainTest.Run withStdin(String text, String... args) {
    System.setIn(new ByteArrayInputStream(text.getBytes(StandardCharsets.UTF_8)));
    return MainTest.run(args);
  }

  @Test
  void checkReadsStandardInputAndNamesItStdin() {
    MainTest.Run ok = withStdin("model M { input [3, 8, 8] conv(2, 3) }\n", "check", "-");
    assertEquals(0, ok.code(), ok.err());
    assertEquals("ok: 1 model in 1 file\n", ok.out());
    MainTest.Run bad = withStdin("model M {\n  input [3, 8, 8]\n  convv(2, 3)\n}\n", "check", "--error-format", "short", "-");
    assertEquals(1, bad.code());
    assertTrue(bad.err().startsWith("<stdin>:3:3: error: unknown op or block `convv`"), bad.err());
  }

  @Test
  void stdinAndFilesTogether() {
    MainTest.Run r = withStdin("model Other { input [3, 8, 8] conv(2, 3) }\n", "check", "-", MainTest.MODELS);
    assertEquals(0, r.code(), r.err());
    assertEquals("ok: 4 models in 2 files\n", r.out());
  }

  @Test
  void fmtOfStdinWritesTheFormattedTextToStandardOutput() {
    MainTest.Run r = withStdin("model   M {input [3, 8, 8]   conv(2, 3)}\n", "fmt", "-");
    assertEquals(0, r.code(), r.err());
    MainTest.Run again = withStdin(r.out(), "fmt", "--check", "-");
    assertEquals(0, again.code(), "the output is formatted: " + again.out());
    assertEquals("", again.out());
    assertTrue(r.out().contains("conv(2, 3)"), r.out());
    MainTest.Run check = withStdin("model   M {input [3, 8, 8]   conv(2, 3)}\n", "fmt", "--check", "-");
    assertEquals(1, check.code());
    assertTrue(check.out().startsWith("--- <stdin>"), check.out());
  }

  @Test
  void stdinThatIsNotUtf8IsAUsageError() {
    System.setIn(new ByteArrayInputStream(new byte[] {'m', (byte) 0xff, '\n'}));
    MainTest.Run r = MainTest.run("check", "-");
    assertEquals(2, r.code(), r.err());
    assertTrue(r.err().startsWith("cnnc: cannot read standard input: "), r.err());
  }

  @Test
  void everyOptionAndParameterHasADescriptionAndHelpShowsDefaults() {
    List<String> missing = new ArrayList<>();
    walk(Main.commandLine(), missing);
    assertEquals(List.of(), missing, "options without a description");
    StringBuilder help = new StringBuilder();
    MainTest.Run r = MainTest.run("lint", "--help");
    help.append(r.out());
    assertTrue(help.toString().contains("Default: human"), help.toString());
  }

  /**
   * No option's help says its default twice (its description's own words and picocli's
   * "Default: ..."), and none shows an empty list or map as its default.
   */
  @Test
  void everyDefaultIsShownOnceAndNeverAsAnEmptyCollection() {
    List<String> problems = new ArrayList<>();
    defaultsShownOnce(Main.commandLine(), problems);
    assertEquals(List.of(), problems);
  }

  static void defaultsShownOnce(CommandLine cmd, List<String> problems) {
    problems.addAll(helpDefaultProblems(cmd.getCommandSpec().qualifiedName(), cmd.getUsageMessage()));
    cmd.getSubcommands().values().forEach(c -> defaultsShownOnce(c, problems));
  }

  /** The option blocks of a --help text that say "default" twice, or show "Default: {}"/"[]". */
  public static List<String> helpDefaultProblems(String command, String help) {
    List<String> problems = new ArrayList<>();
    List<String> blocks = new ArrayList<>();
    for (String line : help.split("\n")) {
      if (line.matches("\\s{2,}(-\\w, )?--?\\w.*") || blocks.isEmpty()) {
        blocks.add(line);
      } else {
        blocks.set(blocks.size() - 1, blocks.get(blocks.size() - 1) + "\n" + line);
      }
    }
    for (String block : blocks) {
      int count = block.toLowerCase(java.util.Locale.ROOT).split("default", -1).length - 1;
      if (count > 1 || block.matches("(?s).*Default: (\\{}|\\[]|null)\\s.*")) {
        problems.add(command + ": " + block.strip());
      }
    }
    return problems;
  }

  static void walk(CommandLine cmd, List<String> missing) {
    CommandSpec spec = cmd.getCommandSpec();
    List<ArgSpec> args = new ArrayList<>(spec.options());
    args.addAll(spec.positionalParameters());
    for (ArgSpec a : args) {
      String text = String.join(" ", a.description()).trim();
      if (text.isEmpty()) {
        missing.add(spec.qualifiedName() + " " + (a.isOption() ? ((CommandLine.Model.OptionSpec) a).longestName()
            : a.paramLabel()));
      }
    }
    cmd.getSubcommands().values().forEach(c -> walk(c, missing));
  }
}
