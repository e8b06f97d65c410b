// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.junit.jupiter.api.Test;

/** Every error of a file is reported, in source order, not only the first. */
class ManyErrorsTest {

  @Test
  void fiftyIndependentErrorsGiveFiftyDiagnosticsInSourceOrder() {
    StringBuilder spec = new StringBuilder();
    List<String> expected = new ArrayList<>();
    int line = 1;
    // Ten kinds, five of each: some found by name resolution, some only by shape inference.
    String[][] kinds = {
        {"convv(8, 3)", "UNKNOWN_NAME"},
        {"conv(8, 3, strid = 1)", "UNKNOWN_ARGUMENT"},
        {"conv(8)", "MISSING_ARGUMENT"},
        {"conv(8, 1.5)", "ARGUMENT_TYPE"},
        {"dropout(2)", "INVALID_ARGUMENT"},
        {"dense(classes)", "UNKNOWN_NAME"},
        {"conv(8, 9)", "KERNEL_TOO_LARGE"},
        {"conv(5 -> 8, 1)", "CHANNEL_MISMATCH"},
        {"conv(8, 1) : [9, 4, 4]", "SHAPE_ASSERTION"},
        {"maxpool(3, padding = 2)", "PADDING_TOO_LARGE"},
    };
    for (int i = 0; i < 50; i++) {
      String[] k = kinds[i % kinds.length];
      spec.append("model M").append(i).append(" {\n");
      spec.append("    input [3, 4, 4]\n");
      spec.append("    ").append(k[0]).append('\n');
      spec.append("}\n");
      expected.add((line + 2) + " " + k[1]);
      line += 4;
    }
    var c = Compiler.compileText("many.cnn", spec.toString(), Map.of());
    List<String> actual = c.diagnostics().sorted().stream().map(ManyErrorsTest::row).toList();
    assertEquals(expected, actual);
  }

  private static String row(Diagnostic d) {
    return d.span().line() + " " + d.id();
  }
}
