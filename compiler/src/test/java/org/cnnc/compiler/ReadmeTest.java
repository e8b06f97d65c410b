package org.cnnc.compiler;

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

  @Test
  void everyOpAndArgumentIsDocumented() throws Exception {
    String text = readme();
    for (OpDef op : Ops.all()) {
      String row = text.lines().filter(l -> l.startsWith("| `" + op.name() + "` |")).findFirst()
          .orElseThrow(() -> new AssertionError("README lacks op " + op.name()));
      for (ParamSig p : op.params()) {
        assertTrue(row.contains("`" + p.name()), "README's " + op.name() + " lacks argument " + p.name());
      }
    }
  }
}
