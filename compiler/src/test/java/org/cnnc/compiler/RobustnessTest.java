// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.HumanRenderer;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import org.junit.jupiter.api.Test;

/** Extreme input gets a located error or a result, never a crash. (Times are printed, not asserted.) */
class RobustnessTest {
  static List<String> ids(Compiler.Compilation c) {
    return c.diagnostics().sorted().stream().map(Diagnostic::id).distinct().toList();
  }

  @Test
  void aHundredThousandLayers() {
    StringBuilder s = new StringBuilder("model Deep {\n    input [3, 16, 16]\n");
    for (int i = 0; i < 100_000; i++) {
      s.append(i % 2 == 0 ? "    conv(8, 3, padding = 1)\n" : "    relu\n");
    }
    s.append("    global_avgpool\n    flatten\n    dense(10)\n}\n");
    Runtime rt = Runtime.getRuntime();
    System.gc();
    long before = rt.totalMemory() - rt.freeMemory();
    long t0 = System.nanoTime();
    var c = Compiler.compileText("deep.cnn", s.toString(), Map.of());
    long t1 = System.nanoTime();
    Linter.Result lint = Linter.lint(c, LintConfig.defaults(), null);
    long t2 = System.nanoTime();
    long used = rt.totalMemory() - rt.freeMemory() - before;
    System.out.printf("100,000-layer spec (%d KB): check %.0f ms, lint %.0f ms, heap growth %d MB%n",
        s.length() / 1024, (t1 - t0) / 1e6, (t2 - t1) / 1e6, used >> 20);
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    assertEquals(100_000 + 4, c.networks().get(0).nodes().size());
    assertEquals(List.of(), lint.diagnostics());
  }

  @Test
  void aMegabyteLineIsShownAsAWindow() {
    String line = "relu ".repeat(200_000) + "convv(8, 3)";
    var c = Compiler.compileText("wide.cnn", "model Wide {\n  input [3, 8, 8]\n  " + line + "\n}\n", Map.of());
    assertEquals(List.of("UNKNOWN_NAME"), ids(c));
    String shown = new HumanRenderer(false).render(c.diagnostics().sorted().get(0));
    assertTrue(shown.length() < 1000, "rendered " + shown.length() + " characters");
    assertTrue(shown.contains("3 | ...relu relu") && shown.contains("relu relu convv(8, 3)\n"), shown);
  }

  @Test
  void aMegabyteNameIsClippedInTheMessage() {
    String name = "x".repeat(1_000_000);
    var c = Compiler.compileText("name.cnn", "model M {\n  input [3, 8, 8]\n  " + name + "\n}\n", Map.of());
    Diagnostic d = c.diagnostics().sorted().get(0);
    assertEquals("UNKNOWN_NAME", d.id());
    assertTrue(d.message().length() < 600, "message of " + d.message().length());
  }

  @Test
  void deepNestingHugeNumbersAndRecursion() {
    String deep = "model M { input [3, 8, 8] " + "(".repeat(100_000) + " }";
    assertEquals(List.of("NESTING_TOO_DEEP"), ids(Compiler.compileText("deep.cnn", deep, Map.of())));
    String minus = "model M { input [3, 8, 8] dense(" + "-".repeat(200_000) + "1) }";
    assertEquals(List.of("NESTING_TOO_DEEP"), ids(Compiler.compileText("minus.cnn", minus, Map.of())));
    String huge = "model M { input [3, 8, 8] dense(" + "9".repeat(100_000) + ") }";
    assertEquals(List.of("INT_OVERFLOW"), ids(Compiler.compileText("huge.cnn", huge, Map.of())));
    String big = "model M { input [3, 8, 8] repeat 999999999 { relu } }";
    assertEquals(List.of("INVALID_ARGUMENT"), ids(Compiler.compileText("big.cnn", big, Map.of())));
    String explode = "block B(n) { repeat 1000 { relu } }\nmodel M { input [3, 8, 8] repeat 1000 { repeat 1000 { B(1) } } }";
    assertEquals(List.of("NETWORK_TOO_LARGE"), ids(Compiler.compileText("explode.cnn", explode, Map.of())));
    String rec = "block A(x) { A(x) }\nmodel M { input [3, 8, 8] A(1) }";
    assertEquals(List.of("CYCLIC_BLOCK"), ids(Compiler.compileText("rec.cnn", rec, Map.of())));
    String open = "model M { input [3, 8, 8] /* " + "never closed ".repeat(10_000);
    assertTrue(ids(Compiler.compileText("open.cnn", open, Map.of())).contains("UNTERMINATED_COMMENT"));
  }
}
