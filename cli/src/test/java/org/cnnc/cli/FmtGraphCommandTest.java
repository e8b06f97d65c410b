// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FmtGraphCommandTest {
  @TempDir Path dir;

  @Test
  void fmtChecksRewritesAndLeavesBrokenFilesAlone() throws Exception {
    Path spec = Files.writeString(dir.resolve("a.cnn"), "model M {\ninput [3, 8, 8]\n  conv( 8,3 )  // keep me\n}\n");
    MainTest.Run check = MainTest.run("fmt", "--check", spec.toString());
    assertEquals(1, check.code());
    assertTrue(check.out().contains("\n-  conv( 8,3 )  // keep me\n") && check.out().contains("\n+    conv(8, 3)  // keep me\n"),
        check.out());
    assertEquals("model M {\ninput [3, 8, 8]\n  conv( 8,3 )  // keep me\n}\n", Files.readString(spec), "--check changes nothing");

    MainTest.Run write = MainTest.run("fmt", spec.toString());
    assertEquals(0, write.code(), write.err());
    assertEquals("model M {\n    input [3, 8, 8]\n    conv(8, 3)  // keep me\n}\n", Files.readString(spec));
    assertEquals(0, MainTest.run("fmt", "--check", spec.toString()).code(), "formatted files pass --check");

    String broken = "model M {\n  conv(8,\n";
    Path bad = Files.writeString(dir.resolve("bad.cnn"), broken);
    MainTest.Run b = MainTest.run("fmt", bad.toString());
    assertEquals(1, b.code());
    assertTrue(b.err().contains("error[SYNTAX_ERROR]"), b.err());
    assertEquals(broken, Files.readString(bad), "a file that does not parse is not touched");
  }

  @Test
  void graphWritesEachFormat() throws Exception {
    for (String format : new String[] {"svg", "dot", "mermaid"}) {
      Path out = dir.resolve("g." + format);
      MainTest.Run r = MainTest.run("graph", MainTest.MODELS, "--model", "GoogLeNet", "--format", format, "--expand",
          "Inception", "--rankdir", "LR", "-o", out.toString());
      assertEquals(0, r.code(), r.err());
      String text = Files.readString(out);
      assertTrue(text.contains("inception4e"), format);
    }
    MainTest.Run bad = MainTest.run("graph", MainTest.MODELS, "--model", "GoogLeNet", "--expand", "Inceptoin");
    assertEquals(2, bad.code());
    assertEquals("cnnc: no block named `Inceptoin` to expand\n", bad.err());
  }

  /** SVG is laid out (seconds per ten thousand boxes), so its default bound is lower than DOT's. */
  @Test
  void graphBoundsSvgTighterThanDot() throws Exception {
    int layers = org.cnnc.compiler.graph.Renderers.DEFAULT_MAX_SVG_POINTS;  // and the input: one more box
    Path spec = Files.writeString(dir.resolve("deep.cnn"), "model M {\n    input [3, 8, 8]\n" + "    relu\n".repeat(layers) + "}\n");
    MainTest.Run svg = MainTest.run("graph", spec.toString(), "-o", dir.resolve("d.svg").toString());
    assertEquals(1, svg.code(), svg.err());
    assertTrue(svg.err().contains("would draw " + (layers + 1) + " boxes and bend points, more than the limit of " + layers),
        svg.err());
    assertTrue(Files.notExists(dir.resolve("d.svg")));
    MainTest.Run dot = MainTest.run("graph", spec.toString(), "--format", "dot", "-o", dir.resolve("d.dot").toString());
    assertEquals(0, dot.code(), dot.err());
    assertTrue(Files.readString(dir.resolve("d.dot")).contains("n" + layers + " ["));
    MainTest.Run raised = MainTest.run("graph", spec.toString(), "--max-nodes", "10", "--format", "dot");
    assertEquals(1, raised.code(), raised.err());
    assertTrue(raised.err().contains("more than the limit of 10"), raised.err());
  }
}
