// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * README's CI recipe, {@code cnnc lint --format short --max-warnings 0 $(git ls-files '*.cnn')},
 * on this repository: it runs, and it reports every finding of every file, as each file linted
 * alone (with the same source roots) reports it.
 */
class RepositoryLintTest {
  private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

  /** The repository's specs, as git ls-files lists them (a file walk when git is not there). */
  static List<String> specs() throws IOException, InterruptedException {
    List<String> out = new ArrayList<>();
    try {
      Process p = new ProcessBuilder("git", "ls-files", "*.cnn").directory(ROOT.toFile()).redirectErrorStream(true).start();
      String text = new String(p.getInputStream().readAllBytes());
      if (p.waitFor() == 0) {
        text.lines().filter(l -> !l.isBlank()).forEach(out::add);
      }
    } catch (IOException e) {
      // no git: walk below
    }
    if (out.isEmpty()) {
      try (Stream<Path> walk = Files.walk(ROOT)) {
        walk.filter(f -> f.toString().endsWith(".cnn") && !f.toString().contains("/target/"))
            .forEach(f -> out.add(ROOT.relativize(f).toString()));
      }
    }
    assertTrue(out.size() > 50, "found only " + out);
    return out.stream().map(s -> "../" + s).sorted().toList();
  }

  @Test
  void theRecipeReportsEveryFindingOfEveryFile() throws Exception {
    List<String> files = specs();
    List<String> args = new ArrayList<>(List.of("lint", "--format", "short", "--max-warnings", "0"));
    args.addAll(files);
    MainTest.Run all = MainTest.run(args.toArray(String[]::new));
    assertEquals(1, all.code(), all.err());
    Set<String> together = new LinkedHashSet<>(all.out().lines().toList());

    List<String> roots = new ArrayList<>();
    for (String f : files) {
      String parent = Path.of(f).getParent().toString();
      if (!roots.contains(parent)) {
        roots.add("--source-root");
        roots.add(parent);
      }
    }
    Set<String> alone = new LinkedHashSet<>();
    for (String f : files) {
      List<String> one = new ArrayList<>(List.of("lint", "--format", "short"));
      one.addAll(roots);
      one.add(f);
      MainTest.Run r = MainTest.run(one.toArray(String[]::new));
      assertTrue(r.code() <= 1, f + ": " + r.err());
      alone.addAll(r.out().lines().toList());
    }
    // Every finding of each file alone is reported together, and no other: only a block that a
    // file alone does not use may be used by another file given with it (its UNUSED_BLOCK goes).
    assertEquals(List.of(), together.stream().filter(l -> !alone.contains(l)).toList());
    List<String> missing = alone.stream().filter(l -> !together.contains(l)).toList();
    assertTrue(missing.stream().allMatch(l -> l.endsWith("[UNUSED_BLOCK]")), missing::toString);
    // README's examples: models.cnn's five findings beside another file's error
    assertEquals(5, together.stream().filter(l -> l.startsWith("../models.cnn:")).count(), all.out());
    assertTrue(together.stream().anyMatch(l -> l.startsWith("../grammar/examples/errors/shape_assertion.cnn:7:9: error")));
    // and no file's duplicate of another's names is an error any more
    assertTrue(together.stream().noneMatch(l -> l.contains("is defined twice") && !l.contains("duplicates.cnn")), all.out());
  }

  @Test
  void readmesExampleOfTwoFiles() {
    MainTest.Run r = MainTest.run("lint", "-f", "short", MainTest.MODELS, "../grammar/examples/errors/shape_assertion.cnn");
    assertEquals(1, r.code());
    List<String> lines = r.out().lines().toList();
    assertEquals(6, lines.size(), r.out());
    assertTrue(lines.get(0).startsWith("../grammar/examples/errors/shape_assertion.cnn:7:9: error: shape assertion failed"));
    assertTrue(lines.stream().skip(1).allMatch(l -> l.startsWith("../models.cnn:")), r.out());
  }
}
