// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import org.cnnc.compiler.lint.Rule;
import org.cnnc.compiler.lint.Rules;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * One folder per lint rule (src/test/resources/lint/RULE_ID): triggers.cnn must give exactly the
 * (file, line, col, id) rows of expected.txt for that rule, and clean.cnn none.
 */
class LintRulesTest {
  static final Path DIR = Path.of("src/test/resources/lint");

  static List<String> rows(Path spec, String id) {
    var c = Compiler.compile(Compiler.Request.of(spec));
    Linter.Result r = Linter.lint(c, LintConfig.defaults(), spec.getParent());
    return r.diagnostics().stream().filter(d -> d.id().equals(id))
        .map(d -> spec.getFileName() + ":" + d.span().line() + ":" + d.span().column() + " " + d.id())
        .distinct().toList();
  }

  @Test
  void everyRuleHasAFolder() {
    Set<String> folders = new TreeSet<>();
    for (Rule r : Rules.ALL) {
      Path f = DIR.resolve(r.id());
      assertTrue(Files.isRegularFile(f.resolve("triggers.cnn")) && Files.isRegularFile(f.resolve("clean.cnn"))
          && Files.isRegularFile(f.resolve("expected.txt")), "no test folder for " + r.id());
      folders.add(r.id());
    }
    assertEquals(Rules.ALL.size(), folders.size());
  }

  /** The zoo's segmentation network (a 1x1 classifier upsampled to the input) is not taken for a forgotten pool. */
  @Test
  void aSegmentationMapIsNoMissingPool(@org.junit.jupiter.api.io.TempDir Path dir) throws java.io.IOException {
    Path zoo = Path.of("../zoo/fcn_resnet50.cnn");
    assertEquals(List.of(), rows(zoo, "OUTPUT_NOT_CLASSES"));
    // the same network without its upsampling: [21, 28, 28] scores for a 224 x 224 input are
    String spec = Files.readString(zoo);
    String upsampled = "output out = upsample(size = size, mode = \"bilinear\")";
    assertTrue(spec.contains(upsampled));
    Path coarse = dir.resolve("fcn_resnet50.cnn");
    Files.writeString(coarse, spec.replace(upsampled, "output out"));
    assertEquals(1, rows(coarse, "OUTPUT_NOT_CLASSES").size());
  }

  @TestFactory
  Stream<DynamicTest> rules() {
    return Rules.ALL.stream().map(rule -> DynamicTest.dynamicTest(rule.id(), () -> {
      Path f = DIR.resolve(rule.id());
      List<String> expected = Files.readAllLines(f.resolve("expected.txt")).stream().filter(l -> !l.isBlank()).toList();
      List<String> actual = rows(f.resolve("triggers.cnn"), rule.id());
      if (GoldenTest.UPDATE) {
        Files.writeString(f.resolve("expected.txt"), actual.stream().map(l -> l + "\n").collect(Collectors.joining()));
      } else {
        assertEquals(expected, actual, rule.id() + " on triggers.cnn");
      }
      assertTrue(!actual.isEmpty(), rule.id() + " triggers");
      assertEquals(List.of(), rows(f.resolve("clean.cnn"), rule.id()), rule.id() + " on clean.cnn");
      var clean = Compiler.compile(Compiler.Request.of(f.resolve("clean.cnn")));
      assertTrue(clean.ok(), () -> "clean.cnn compiles: " + clean.diagnostics().sorted());
    }));
  }
}
