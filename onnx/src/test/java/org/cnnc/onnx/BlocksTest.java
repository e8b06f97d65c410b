// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Blocks}: groups equal up to integer literals become a block with a parameter per difference. */
class BlocksTest {
  static final String TWO = """
      // header

      model M {
          input [3, 8, 8]
          a: {
              c: conv(8, 3, padding = 1)
              relu
          }
          b: {
              c: conv(16, 3, padding = 1)
              relu
          }
          {
              c: conv(16, 3, padding = 1)
              relu
          }
          {
              c: conv(16, 3, padding = 1)
              relu
          }
      }
      """;

  @Test
  void groupsEqualUpToIntegersBecomeCallsOfOneBlockAndEqualCallsARepeat() {
    String out = Blocks.extract(TWO);
    assertTrue(out.contains("block Block1(channels: int) {\n    c: conv(channels, 3, padding = 1)\n    relu\n}\n"), out);
    assertTrue(out.contains("    a: Block1(8)\n    b: Block1(16)\n    repeat 2 { Block1(16) }\n}"), out);
    assertTrue(out.indexOf("block Block1") < out.indexOf("model M"), out);
    assertTrue(out.startsWith("// header\n"), out);
  }

  @Test
  void aGroupReadingALabelOutsideItOrDifferingOtherwiseStaysAsWritten() {
    String outside = """
        model M {
            input [3, 8, 8]
            a: {
                c: conv(8, 3, padding = 1)
                batchnorm
                relu
            }
            b: {
                c: conv(8, 3, padding = 1)
                batchnorm
                relu
            }
            d: {
                c: conv(8, 3, padding = 1)
                batchnorm
                add(from c, from a)
            }
            e: {
                c: conv(8, 3, padding = 1)
                batchnorm
                add(from c, from a)
            }
        }
        """;
    String out = Blocks.extract(outside);
    // `a` and `b` are one block; the groups reading `a`, outside them, are left as written
    assertTrue(out.contains("    a: Block1\n    b: Block1\n    d: {\n"), out);
    assertEquals(2, out.split("add\\(from c, from a\\)", -1).length - 1, out);
    String floats = "model M {\n    input [3]\n    a: {\n        leaky_relu(0.1)\n        relu\n    }\n"
        + "    b: {\n        leaky_relu(0.2)\n        relu\n    }\n}\n";
    assertEquals(floats, Blocks.extract(floats));
  }

  @Test
  void integersInsideQuotesAndNamesAreNotParameters() {
    List<String> ints = new ArrayList<>();
    String shape = Blocks.abstractInts("\"block1-0\": conv2(64, 3) x_1 0.5\n", ints);
    assertEquals("\"block1-0\": conv2(#, #) x_1 0.5\n", shape);
    assertEquals(List.of("64", "3"), ints);
    assertFalse(Blocks.extract("no model here").contains("block"));
  }
}
