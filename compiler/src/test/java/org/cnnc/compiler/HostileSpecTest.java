// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.summary.Summary;
import org.cnnc.compiler.summary.SummaryRenderer;
import org.junit.jupiter.api.Test;

/** Specs that used to be accepted with a wrong meaning: each now gets a located error or exact figures. */
class HostileSpecTest {
  static List<String> errors(Compiler.Compilation c) {
    return c.diagnostics().sorted().stream()
        .map(d -> d.id() + " " + d.span().line() + ":" + d.span().column() + " " + d.message()).toList();
  }

  @Test
  void layersBeforeTheInputAreAnErrorNotDropped() {
    var c = Compiler.compileText("pre.cnn", "model Pre {\n    conv(8, 3)\n    relu\n    input [3, 8, 8]\n    conv(4, 3)\n}\n",
        Map.of());
    assertEquals(List.of("MISPLACED_STATEMENT 2:5 layers before `input` have nothing to read"), errors(c));
    var o = Compiler.compileText("pre.cnn", "model Pre {\n    output early = dense(3)\n    input [3]\n}\n", Map.of());
    assertEquals(List.of("MISPLACED_STATEMENT 2:5 layers before `input` have nothing to read"), errors(o));
    var bare = Compiler.compileText("pre.cnn", "model Pre {\n    output early\n    input [3]\n    dense(2)\n}\n", Map.of());
    assertEquals(List.of("MISPLACED_STATEMENT 2:5 layers before `input` have nothing to read"), errors(bare));
  }

  @Test
  void totalsThatWouldOverflowAreAnErrorAtTheLayer() {
    var c = Compiler.compileText("big.cnn", "model Big {\n    input [2]\n    dense(2147483647)\n    dense(2147483647)\n"
        + "    dense(2147483647)\n    expect params <= 1000\n}\n", Map.of());
    assertEquals(List.of("NETWORK_TOO_LARGE 4:5 the network has more than 2^60 parameters with this layer"), errors(c));
  }

  @Test
  void totalsUpToTheLimitAreExact() {
    String spec = "model Edge {\n    input [1073741824]\n    dense(1073741824, bias = false)\n}\n";
    var c = Compiler.compileText("edge.cnn", spec, Map.of());
    assertTrue(c.ok(), () -> errors(c).toString());
    Summary s = new Summary(c.networks().get(0));
    assertEquals(1L << 60, s.params());
    assertEquals(1L << 60, s.macs());
    assertEquals(4L << 60, s.paramBytes());
    assertTrue(SummaryRenderer.render(s, Integer.MAX_VALUE, false).contains("Total params: 1,152,921,504,606,846,976"));
    var over = Compiler.compileText("edge.cnn", spec.replace("bias = false", "bias = true"), Map.of());
    assertEquals(List.of("NETWORK_TOO_LARGE 3:5 the network has more than 2^60 parameters with this layer"), errors(over));
  }

  @Test
  void aModelWhoseErrorWasAlreadyReportedGivesNoNetwork() {
    // The resolver reports the constant's error; expansion meets it again (a duplicate, dropped):
    // the model used to come out as a network without outputs.
    var c = Compiler.compileText("d.cnn", "block B(n) {\n    conv(10 / 0, 1)\n}\nmodel M {\n    input [1, 2, 2]\n    B(1)\n}\n",
        Map.of());
    assertEquals(List.of("DIVISION_BY_ZERO 2:15 division by zero"), errors(c));
    assertEquals(List.of(), c.networks());
  }
}
