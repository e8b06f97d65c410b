// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli.lsp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.source.SourceFile;
import org.junit.jupiter.api.Test;

/** Hover on a label, where it is declared and where it is used, says what it labels. */
class LabelHoverTest {
  static final String TEXT = """
      block Stem(c: int) { conv(c, 3, padding = 1) relu }
      model Net {
          input [3, 16, 16]
          first: Stem(8)
          pool: maxpool(2)
          body: { conv(16, 3, padding = 1) relu  conv(16, 1) }
          conv(4, 1) from first
          conv(2, 1) from body
      }
      """;

  static String hover(String before) {
    return hover(TEXT, before);
  }

  static String hover(String text, String before) {
    Path file = Path.of("label-hover-test.cnn").toAbsolutePath();
    Compiler.Compilation c = Compiler.compile(new Compiler.Request(List.of(file), List.of(), Map.of()), Map.of(file, text));
    SourceFile f = c.sources().stream().filter(s -> file.equals(s.path())).findFirst().orElseThrow();
    int at = text.indexOf(before) + 1;
    return Features.hover(c, f, at);
  }

  @Test
  void aQuotedLabelHoversAsAnyOther() {
    String text = """
        model Net {
            input [3, 16, 16]
            "block1-0": maxpool(2)
            relu from "block1-0"
        }
        """;
    String declared = hover(text, "\"block1-0\": maxpool");
    assertEquals("label `block1-0`: **maxpool** `Net.block1-0` → [3, 8, 8]", declared);
    // at its use, `from "block1-0"`, the same
    assertEquals(declared, hover(text, "\"block1-0\"\n"));
  }

  @Test
  void aLabelOfAnOpIsThatLayer() {
    assertEquals("label `pool`: **maxpool** `Net.pool` → [8, 8, 8]", hover("pool: maxpool"));
  }

  @Test
  void aLabelOfABlockCallIsThatInstance() {
    String text = hover("first: Stem");
    assertNotNull(text);
    assertEquals("label `first`: **Stem** `Net.first` → [8, 16, 16] · 224 params · 55,296 MACs", text);
    // a use of the label (`from first`) hovers the same
    assertEquals(text, hover("first\n"));
  }

  @Test
  void aLabelOfAGroupSumsWhatItHolds() {
    // conv 8->16 3x3 on 8x8: 16*8*9 + 16 = 1,168 params; conv 16->16 1x1: 272; relu
    String text = hover("body: {");
    assertEquals("label `body`: **group** in `Net` → [16, 8, 8] · 3 layers · 1,440 params · 90,112 MACs", text);
    assertEquals(text, hover("body\n"));
  }

  @Test
  void aLabelInABlockShowsEachInstanceOnItsOwn() {
    String text = """
        block Pair(c: int) { inner: { conv(c, 1) relu } }
        model Two {
            input [3, 4, 4]
            a: Pair(2)
            b: Pair(5)
        }
        """;
    // conv 3->2 1x1: 8 params, 96 MACs; conv 2->5 1x1: 15 params, 160 MACs
    assertEquals("label `inner`: **group** in `Two` (`a.inner`) → [2, 4, 4] · 2 layers · 8 params · 96 MACs\n\n"
        + "label `inner`: **group** in `Two` (`b.inner`) → [5, 4, 4] · 2 layers · 15 params · 160 MACs",
        hover(text, "inner: {"));
  }
}
