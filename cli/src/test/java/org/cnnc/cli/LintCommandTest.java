// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `cnnc lint` as CI runs it: formats, exit codes, --max-warnings, configuration. */
class LintCommandTest {
  @TempDir Path dir;

  @Test
  void warningsPassUnlessTooMany() {
    MainTest.Run ok = MainTest.run("lint", MainTest.MODELS);
    assertEquals(0, ok.code(), ok.err());
    assertTrue(ok.out().endsWith("lint: 0 errors, 3 warnings, 2 notes\n"), ok.out());

    MainTest.Run strict = MainTest.run("lint", "--max-warnings", "2", "--format", "short", MainTest.MODELS);
    assertEquals(1, strict.code());
    assertEquals("cnnc: 3 warnings, more than the 2 allowed\n", strict.err());
    assertTrue(strict.out().startsWith(MainTest.MODELS + ":31:9: warning: softmax feeds the cross-entropy loss"), strict.out());
  }

  @Test
  void errorsFailAndEveryFormatIsWritten() throws Exception {
    Path spec = Files.writeString(dir.resolve("bad.cnn"), "model M {\n  input [3, 8, 8]\n  convv(8, 3)\n}\n");
    for (String format : new String[] {"human", "short", "json", "sarif", "github", "checkstyle"}) {
      Path out = dir.resolve("report." + format);
      MainTest.Run r = MainTest.run("lint", "--format", format, "--output", out.toString(), spec.toString());
      assertEquals(1, r.code(), format + ": " + r.err());
      assertTrue(Files.readString(out).contains("UNKNOWN_NAME"), format);
    }
    assertTrue(Files.readString(dir.resolve("report.github")).startsWith("::error file=" + spec + ",line=3,col=3,"));
  }

  @Test
  void configurationIsReadAndCheckedWithItsLine() throws Exception {
    Path cfg = Files.writeString(dir.resolve("cnnc.yaml"), "rules:\n  SOFTMAX_BEFORE_CROSS_ENTROPY: off\n  ACTIVATION_BEFORE_SOFTMAX: error\n");
    MainTest.Run r = MainTest.run("lint", "--config", cfg.toString(), "--format", "short", MainTest.MODELS);
    assertEquals(1, r.code());
    assertTrue(r.out().contains(":57:42: error: `relu` before `softmax`"), r.out());
    assertTrue(!r.out().contains("SOFTMAX_BEFORE_CROSS_ENTROPY"), r.out());

    Path bad = Files.writeString(dir.resolve("bad.yaml"), "rulez:\n  X: off\n");
    MainTest.Run b = MainTest.run("lint", "--config", bad.toString(), MainTest.MODELS);
    assertEquals(2, b.code());
    assertEquals("cnnc: " + bad + ":1: unknown key `rulez`; expected rules, overrides or max-warnings\n", b.err());
  }
}
