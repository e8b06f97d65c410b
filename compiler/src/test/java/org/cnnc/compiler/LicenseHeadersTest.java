// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Java and ANTLR source of the repository carries the license header. The convention (the
 * line and which files) lives in tools/license-headers.sh; this test runs its --check, and checks
 * on a tree of its own that the script finds a missing header and adds it.
 */
class LicenseHeadersTest {
  static final Path SCRIPT = Path.of("../tools/license-headers.sh").toAbsolutePath().normalize();
  static final String HEADER = "// SPDX-License-Identifier: Apache-2.0";

  record Result(int code, String output) {}

  static Result script(String... args) throws IOException, InterruptedException {
    List<String> command = new java.util.ArrayList<>(List.of("bash", SCRIPT.toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return new Result(p.waitFor(), output);
  }

  @Test
  void everySourceOfTheRepositoryHasTheHeader() throws Exception {
    Result r = script("--check", SCRIPT.getParent().getParent().toString());
    assertEquals(0, r.code(), r.output());
  }

  @Test
  void theScriptFindsAndAddsAMissingHeader(@TempDir Path root) throws Exception {
    Path lacking = root.resolve("m/src/main/java/A.java");
    Path grammar = root.resolve("g/src/main/antlr4/G.g4");
    Path done = root.resolve("m/src/test/java/B.java");
    Path golden = root.resolve("m/src/test/resources/golden/Out.java");  // generated output: left alone
    Path built = root.resolve("m/target/generated-sources/C.java");
    for (Path p : List.of(lacking, grammar, done, golden, built)) {
      Files.createDirectories(p.getParent());
    }
    Files.writeString(lacking, "package a;\nclass A {}\n");
    Files.writeString(grammar, "lexer grammar G;\nA : 'a' ;\n");
    Files.writeString(done, HEADER + "\npackage a;\nclass B {}\n");
    Files.writeString(golden, "class Out {}\n");
    Files.writeString(built, "class C {}\n");

    Result check = script("--check", root.toString());
    assertEquals(1, check.code(), check.output());
    assertTrue(check.output().contains("no license header: m/src/main/java/A.java"), check.output());
    assertTrue(check.output().contains("no license header: g/src/main/antlr4/G.g4"), check.output());
    assertTrue(check.output().contains("2 sources lack the header"), check.output());

    Result add = script(root.toString());
    assertEquals(0, add.code(), add.output());
    assertEquals(HEADER + "\npackage a;\nclass A {}\n", Files.readString(lacking));
    assertEquals(HEADER + "\nlexer grammar G;\nA : 'a' ;\n", Files.readString(grammar));
    assertEquals(HEADER + "\npackage a;\nclass B {}\n", Files.readString(done), "never added twice");
    assertEquals("class Out {}\n", Files.readString(golden));
    assertEquals("class C {}\n", Files.readString(built));
    assertEquals(0, script("--check", root.toString()).code());
  }
}
