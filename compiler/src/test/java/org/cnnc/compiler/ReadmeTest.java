// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.ParamSig;
import org.junit.jupiter.api.Test;

/** README.md documents every diagnostic id and every op with all its arguments. */
class ReadmeTest {
  static String readme() throws Exception {
    return Files.readString(Path.of("../README.md"));
  }

  @Test
  void everyDiagnosticIdIsDocumented() throws Exception {
    String text = readme();
    for (Code c : Code.values()) {
      assertTrue(text.contains("| `" + c.name() + "` |"), "README lacks " + c.name());
    }
  }

  @Test
  void everyLintRuleIsDocumented() throws Exception {
    String text = readme();
    for (org.cnnc.compiler.lint.Rule r : org.cnnc.compiler.lint.Rules.ALL) {
      String row = text.lines().filter(l -> l.startsWith("| `" + r.id() + "` |")).findFirst()
          .orElseThrow(() -> new AssertionError("README lacks rule " + r.id()));
      assertTrue(row.contains("| " + r.category().word() + " | " + r.severity().word() + " |"), row);
    }
  }

  /** README's op table is the registry's reference ({@code cnnc ops}), to the character. */
  @Test
  void theOpTableIsTheRegistrys() throws Exception {
    String text = readme();
    String start = "<!-- ops: generated from the op registry (cnnc ops); a test keeps it in step -->\n";
    int from = text.indexOf(start);
    assertTrue(from >= 0, "README lacks the op table's marker");
    int to = text.indexOf("<!-- /ops -->", from);
    assertEquals(org.cnnc.compiler.shape.OpReference.markdown(), text.substring(from + start.length(), to),
        "README's op table differs from the registry's: paste the output of `cnnc ops`");
    for (OpDef op : Ops.all()) {
      for (ParamSig p : op.params()) {
        assertTrue(text.substring(from, to).contains("`" + p.name()), op.name() + " lacks argument " + p.name());
      }
    }
  }

  /**
   * The summary excerpt at README's top is cnnc's real output: every line shown (all but the
   * {@code ...} that stand for left-out lines) appears, in order, in what {@code cnnc summary
   * models.cnn --model GoogLeNet --depth 0} prints.
   */
  @Test
  void theSummaryExcerptIsWhatCnncPrints() throws Exception {
    String command = "$ ./cnnc summary models.cnn --model GoogLeNet --depth 0";
    String text = readme();
    int start = text.indexOf(command);
    assertTrue(start >= 0, "README lacks the excerpt of " + command);
    String excerpt = text.substring(start + command.length(), text.indexOf("```", start)).strip();
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(Path.of("../models.cnn")));
    String printed = org.cnnc.compiler.summary.SummaryRenderer.render(
        new org.cnnc.compiler.summary.Summary(c.network("GoogLeNet").orElseThrow()), 0, false)
        .replace("../models.cnn", "models.cnn");
    java.util.List<String> lines = printed.lines().toList();
    int at = 0;
    for (String line : excerpt.lines().toList()) {
      if (line.equals("...")) {
        continue;
      }
      int found = lines.subList(at, lines.size()).indexOf(line);
      assertTrue(found >= 0, "README's summary excerpt shows a line cnnc does not print (or not there):\n" + line
          + "\ncnnc prints:\n" + printed);
      at += found + 1;
    }
  }
}
