// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.HumanRenderer;
import org.cnnc.compiler.diag.ShortRenderer;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.lint.Formats;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import org.cnnc.compiler.summary.Summary;
import org.cnnc.compiler.summary.SummaryRenderer;

/**
 * The whole front end on arbitrary text: lexer, parser, names, blocks, shapes, summary, lint and
 * every output format. Any exception is a crash. Without JAZZER_FUZZ the inputs under
 * FrontEndFuzzTestInputs/ run as a regression test; with JAZZER_FUZZ=1 Jazzer mutates them for
 * maxDuration (.ci/run does this for a bounded time).
 */
class FrontEndFuzzTest {

  @FuzzTest(maxDuration = "60s")
  void frontEnd(FuzzedDataProvider data) {
    String text = data.consumeRemainingAsString();
    check(text);
  }

  static void check(String text) {
    var c = Compiler.compileText("fuzz.cnn", text, Map.of());
    HumanRenderer human = new HumanRenderer(false);
    ShortRenderer shortForm = new ShortRenderer();
    for (Diagnostic d : c.diagnostics().sorted()) {
      assertTrue(d.span().start() >= 0 && d.span().end() <= text.length(), "span inside the file");
      human.render(d);
      shortForm.render(d);
    }
    for (Network n : c.networks()) {
      SummaryRenderer.render(new Summary(n), Integer.MAX_VALUE, true);
    }
    Linter.Result r = Linter.lint(c, LintConfig.defaults(), null);
    Formats.sarif(r, "fuzz");
    Formats.github(r);
    Formats.checkstyle(r);
    Formats.json(r, "fuzz");
  }
}
