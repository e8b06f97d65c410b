// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
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
    // the instances a, b and two positions of the model share no name: the block is `Block`
    assertTrue(out.contains("block Block(channels: int) {\n    c: conv(channels, 3, padding = 1)\n    relu\n}\n"), out);
    assertTrue(out.contains("    a: Block(8)\n    b: Block(16)\n    repeat 2 { Block(16) }\n}"), out);
    assertTrue(out.indexOf("block Block") < out.indexOf("model M"), out);
    assertTrue(out.startsWith("// header\n"), out);
  }

  @Test
  void aDefaultLeftOutAndTheSameParameterWrittenAreOneShape() {
    String spec = """
        model M {
            input [3, 32, 32]
            a: {
                c: conv(8, 3, padding = 1)
                p: maxpool(2)
            }
            b: {
                c: conv(8, 3, stride = 2, padding = 2, dilation = 2)
                p: maxpool(2)
            }
            d: {
                c: conv(8, 3, stride = 2, padding = 1, groups = 1)
                p: maxpool(2)
            }
        }
        """;
    String out = Blocks.extract(spec);
    // stride and padding are parameters (one per distinct vector of values: dilation's is
    // padding's); groups, written once, is 1 in each: not written, in the block nor in the calls
    assertTrue(out.contains("block Block(stride: int, padding: int) {\n"
        + "    c: conv(8, 3, stride = stride, padding = padding, dilation = padding)\n    p: maxpool(2)\n}\n"), out);
    assertTrue(out.contains("    a: Block(1, 1)\n    b: Block(2, 2)\n    d: Block(2, 1)\n"), out);
    // a line that is no op call is left as written
    assertEquals("    x: identity  // the input", Blocks.defaults("    x: identity  // the input", true));
    assertEquals("    c: conv(8, 3, stride = 1, padding = 1, dilation = 1, groups = 1, bias = false)",
        Blocks.defaults("    c: conv(8, 3, padding = 1, bias = false)", true));
    assertEquals("    c: conv(8, 3, padding = 1, bias = false)  // note",
        Blocks.defaults("    c: conv(8, 3, stride = 1, padding = 1, dilation = 1, groups = 1, bias = false)  // note", false));
    // arguments it cannot split, or names the op does not have: as written
    assertEquals("    conv(8, [3, 3)", Blocks.defaults("    conv(8, [3, 3)", true));
    assertEquals("    conv(8, 3, size = 1)", Blocks.defaults("    conv(8, 3, size = 1)", true));
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
    assertTrue(out.contains("block Block() {\n"), out);
    assertTrue(out.contains("    a: Block\n    b: Block\n    d: {\n"), out);
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

  /** Stages {@code layer1..3} of two residual groups at positions, the first of stride 2; the model named {@code Layer}. */
  static String stages() {
    StringBuilder b = new StringBuilder("model Layer {\n    input [3, 8, 8]\n");
    for (int stage = 1; stage <= 3; stage++) {
      b.append("    layer").append(stage).append(": {\n");
      for (int stride = 2; stride >= 1; stride--) {
        b.append("        {\n            x: identity  // the input, for the reads below\n")
            .append("            conv1: conv(").append(4 << stage).append(", 3, stride = ").append(stride).append(", padding = 1)\n")
            .append("            add(from conv1, from x)\n        }\n");
      }
      b.append("    }\n");
    }
    return b.append("}\n").toString();
  }

  @Test
  void blocksAreNamedByTheirInstancesModulesAndParametersByWhatTheyFeed() {
    String out = Blocks.extract(stages());
    // the groups at positions of the stages are `LayerBlock`, innermost first; the stages, `Layer`, are the
    // model's name: `Layer2`; the writer's comment is part of the body, its digits no parameter
    assertTrue(out.contains("block LayerBlock(channels: int, stride: int) {\n    x: identity  // the input, for the reads below\n"
        + "    conv1: conv(channels, 3, stride = stride, padding = 1)\n"), out);
    // the stage's parameter is named by the block parameter it is passed to
    assertTrue(out.contains("block Layer2(channels: int) {\n    LayerBlock(channels, 2)\n    LayerBlock(channels, 1)\n}\n"), out);
    assertTrue(out.contains("    layer1: Layer2(8)\n    layer2: Layer2(16)\n    layer3: Layer2(32)\n"), out);
  }

  @Test
  void aBlockNameIsAnAsciiIdentifierNoKeywordAndNoClash() {
    assertEquals("Layer", Blocks.blockName(List.of("layer1: ", "layer2: ", "layer3: "), Set.of()));
    assertEquals("DenseLayer", Blocks.blockName(List.of("dense_layer1: ", "dense_layer12: "), Set.of()));
    assertEquals("FeaturesBlock", Blocks.blockName(List.of("features: .", "features: ."), Set.of()));
    assertEquals("Block", Blocks.blockName(List.of("\"block1-0\": ", "\"block2-0\": "), Set.of())); // RegNet's: "block" stem
    assertEquals("Block", Blocks.blockName(List.of("conv: ", "pool: "), Set.of())); // nothing in common
    assertEquals("Conv", Blocks.blockName(List.of("conv_a: ", "conv_b: "), Set.of())); // a common part: `Conv`
    assertEquals("Layer3", Blocks.blockName(List.of("layer1: "), Set.of("Layer", "Layer2")));
    assertEquals("Block", Blocks.blockName(List.of(". ", "."), Set.of()));
    // hostile names: escapes, quotes, non-ASCII, newlines, very long; what is written is an identifier
    Random random = new Random(19);
    String alphabet = "aZ_-.:\" \u001b[31m\n\u00e9\u4e2d\u202e09{}()/\\";
    for (int i = 0; i < 500; i++) {
      List<String> modules = new ArrayList<>();
      for (int m = 0; m < 1 + random.nextInt(3); m++) {
        StringBuilder b = new StringBuilder();
        int length = random.nextInt(i % 50 == 0 ? 5000 : 20);
        for (int c = 0; c < length; c++) {
          b.append(alphabet.charAt(random.nextInt(alphabet.length())));
        }
        modules.add(b.toString());
      }
      Set<String> taken = Set.of("Block", "A", "Z", "Block2");
      String name = Blocks.blockName(modules, taken);
      assertTrue(name.matches("[A-Z][A-Za-z]*[0-9]*") && name.length() <= Blocks.MAX_NAME + 3, modules + " -> " + name);
      assertFalse(taken.contains(name) || org.cnnc.compiler.syntax.Labels.keyword(name), name);
    }
    assertEquals("Ab", Blocks.blockName(List.of("\u00e9a\u4e2db\u001b: "), Set.of())); // only ASCII letters reach the name
    assertEquals(Blocks.MAX_NAME - 5, Blocks.blockName(List.of("x".repeat(10_000)), Set.of()).length());
  }

  @Test
  void aParameterIsNamedByTheOpParameterItFeeds() {
    Map<String, List<String>> none = Map.of();
    assertEquals("channels", Blocks.paramName("conv(#, 3)\n", 0, none)); // conv's `out`
    assertEquals("kernel", Blocks.paramName("conv(8, #)\n", 0, none));
    assertEquals("kernel", Blocks.paramName("maxpool(#, stride = 2)\n", 0, none));
    assertEquals("stride", Blocks.paramName("maxpool(#, stride = #)\n", 1, none));
    assertEquals("stride", Blocks.paramName("x: conv(#, [3, 3], #)\n", 1, none)); // a list before it
    assertEquals("count", Blocks.paramName("repeat # { relu }\n", 0, none));
    assertEquals("width", Blocks.paramName("Stage(#, #)\n", 1, Map.of("Stage", List.of("depth", "width"))));
    assertEquals("n", Blocks.paramName("Stage(#, #, #)\n", 2, Map.of("Stage", List.of("depth", "width"))));
    assertEquals("n", Blocks.paramName("input [#, 8, 8]\n", 0, none));
    assertEquals("n", Blocks.paramName("unknown_op(#)\n", 0, none));
  }
}
