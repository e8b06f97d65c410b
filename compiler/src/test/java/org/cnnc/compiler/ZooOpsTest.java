// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.antlr.v4.runtime.CharStreams;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.summary.Summary;
import org.cnnc.compiler.syntax.Labels;
import org.cnnc.grammar.CnnLexer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the zoo's squeeze-and-excitation, EfficientNet and RegNet specs need: the broadcasting
 * {@code mul} merge, quoted labels ({@code "block"}, {@code "block1-0"}) and
 * {@code stochastic_depth}, through the compiler: shapes, counts, keys, diagnostics, fmt and the
 * generated Java.
 */
class ZooOpsTest {
  @TempDir Path dir;

  static final String SE = """
      model M {
          input [8, 5, 6]
          x: identity
          avgpool: global_avgpool
          fc1: conv(2, 1)
          activation: relu
          fc2: conv(8, 1)
          scale_activation: sigmoid
          mul(from x, from scale_activation)
          conv(3, 1)
      }
      """;

  static Compiler.Compilation ok(String text) {
    var c = Compiler.compileText("t.cnn", text, Map.of());
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    return c;
  }

  static List<Diagnostic> errors(String text) {
    var c = Compiler.compileText("t.cnn", text, Map.of());
    assertFalse(c.ok(), "expected errors in\n" + text);
    return c.diagnostics().sorted();
  }

  @Test
  void mulBroadcastsAScaleOverTheMap() {
    Network n = ok(SE).networks().get(0);
    Node mul = n.nodes().stream().filter(x -> x.op().equals("mul")).findFirst().orElseThrow();
    assertEquals("[8, 5, 6]", mul.shape().toString());
    assertEquals(2, mul.inputs().size());
    Summary s = new Summary(n);
    // the SE's 1x1 convs count (8*2 + 2*8 MACs at 1x1) and so does the conv after the product;
    // the product counts nothing, and the output's path reaches the SE through it
    long convAfter = 8L * 3 * 5 * 6;
    assertEquals(16 + 16 + convAfter, s.macs());
    assertEquals(s.macs(), s.outputs().get(0).pathMacs());
    // the order of the branches does not matter: [C, 1, 1] first broadcasts too
    Network swapped = ok(SE.replace("mul(from x, from scale_activation)", "mul(from scale_activation, from x)"))
        .networks().get(0);
    assertEquals("[3, 5, 6]", swapped.node(swapped.outputs().get(0).node()).shape().toString());
  }

  @Test
  void mulRefusesShapesThatDoNotBroadcast() {
    List<Diagnostic> d = errors(SE.replace("fc2: conv(8, 1)", "fc2: conv(4, 1)"));
    assertEquals(1, d.size(), d::toString);
    assertEquals("SHAPE_MISMATCH", d.get(0).id());
    assertTrue(d.get(0).message().contains("cannot multiply [4, 1, 1] with [8, 5, 6]"), d.get(0).message());
    assertEquals("from scale_activation", d.get(0).span().text());
    List<Diagnostic> rank = errors("model M {\n input [8, 2, 2]\n x: identity\n flatten\n mul(from x, identity)\n}\n");
    assertEquals("SHAPE_MISMATCH", rank.get(0).id());
    assertTrue(rank.get(0).message().contains("ranks differ"), rank.get(0).message());
    // sizes of 1 in different branches broadcast both ways, as in PyTorch: [4, 1, 6] * [4, 5, 1]
    Network both = ok("model M {\n input [4, 5, 6]\n x: identity\n"
        + " mul(from x -> avgpool([5, 1]), from x -> avgpool([1, 6]))\n}\n").networks().get(0);
    assertEquals("[4, 5, 6]", both.node(both.outputs().get(0).node()).shape().toString());
  }

  /** The lexer takes exactly the registry's merges as merge keywords: one definition of each op. */
  @Test
  void theMergeKeywordsAreTheRegistrysMerges() {
    for (OpDef op : Ops.all()) {
      CnnLexer lexer = new CnnLexer(CharStreams.fromString(op.name()));
      int type = lexer.nextToken().getType();
      assertEquals(op.isMerge() ? CnnLexer.MERGE : CnnLexer.ID, type, op.name());
    }
  }

  @Test
  void quotedLabelsNameModulesAsTorchvisionDoes() {
    String spec = """
        model M {
            input [3, 8, 8]
            "block": { conv(4, 3, padding = 1) batchnorm }
            "block1-0": conv(4, 1)
            stage: { "block1-1": conv(4, 1) }
            add(from "block", from stage)
            output out = dense(2) from "block1-0"
        }
        """;
    Network n = ok(spec).networks().get(0);
    List<String> keys = n.stateDict().stream().map(Tensor::path).toList();
    assertEquals(List.of("block.0.weight", "block.0.bias", "block.1.weight", "block.1.bias", "block.1.running_mean",
        "block.1.running_var", "block1-0.weight", "block1-0.bias", "stage.block1-1.weight",
        "stage.block1-1.bias"), keys.subList(0, 10));
    // `from "block1-0"` reads that node
    Node out = n.node(n.outputs().get(0).node());
    assertEquals("block1-0", n.node(out.inputs().get(0)).name());
    // the generated Java compiles (a label with `-` becomes a Java name without it) and names
    // the modules by the labels
    var c = ok(spec);
    List<Generator.Output> java = Generator.generate(c, c.networks(), null);
    assertTrue(java.get(0).text().contains("\"block1-0\""), java.get(0).text());
    try {
      assertEquals(List.of(), GeneratedJava.errors(java, dir));
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void aQuotedLabelMustBeAModuleName() {
    for (String bad : List.of("a.b", "1x", "", "a b", "é")) {
      List<Diagnostic> d = errors("model M {\n    input [3, 8, 8]\n    \"" + bad + "\": relu\n}\n");
      assertEquals("SYNTAX_ERROR", d.get(0).id(), bad);
      assertTrue(d.get(0).message().startsWith("a quoted label must be a letter or `_`"), d.get(0).message());
      assertEquals(3, d.get(0).span().line(), bad);
    }
    // a quoted label is the same name as the bare one: twice in one scope is a duplicate
    List<Diagnostic> dup = errors("model M {\n    input [3, 8, 8]\n    \"x\": relu\n    x: relu\n}\n");
    assertEquals("DUPLICATE_NAME", dup.get(0).id());
    // and `from` finds it either way
    ok("model M {\n    input [3, 8, 8]\n    \"x\": relu\n    sigmoid from x\n}\n");
  }

  @Test
  void labelsAreWrittenBareWhenTheyCanBe() {
    assertEquals("block1_0", Labels.written("block1_0"));
    assertEquals("\"block\"", Labels.written("block"));
    assertEquals("\"mul\"", Labels.written("mul"));
    assertEquals("\"from\"", Labels.written("from"));
    assertEquals("\"block1-0\"", Labels.written("block1-0"));
    assertEquals("relu", Labels.written("relu"));
    String src = "model M {\n    input [3, 8, 8]\n    \"a\": relu\n    \"block\": relu\n    \"b-1\": relu\n"
        + "    add(from \"block\", from \"b-1\", from \"a\")\n}\n";
    String formatted = FmtTest.fmt("t.cnn", src);
    assertEquals("model M {\n    input [3, 8, 8]\n    a: relu\n    \"block\": relu\n    \"b-1\": relu\n"
        + "    add(from \"block\", from \"b-1\", from a)\n}\n", formatted);
    assertEquals(formatted, FmtTest.fmt("t.cnn", formatted));
  }

  @Test
  void stochasticDepthIsAShapeKeepingOpWithoutParameters() {
    Network n = ok("model M {\n    input [4, 5, 5]\n    x: identity\n    conv(4, 3, padding = 1)\n"
        + "    sd: stochastic_depth(0.2)\n    b: stochastic_depth(0.5, mode = \"batch\")\n    add(from b, from x)\n}\n")
        .networks().get(0);
    Node sd = n.nodes().stream().filter(x -> x.name().equals("sd")).findFirst().orElseThrow();
    assertEquals("stochastic_depth", sd.op());
    assertEquals("[4, 5, 5]", sd.shape().toString());
    assertEquals(new org.cnnc.compiler.sema.Value.StrV("row"), sd.args().get("mode"));
    assertEquals(4 * 4 * 9 + 4, new Summary(n).params());
    List<Diagnostic> mode = errors("model M {\n    input [4, 5, 5]\n    stochastic_depth(0.2, mode = \"col\")\n}\n");
    assertEquals("INVALID_ARGUMENT", mode.get(0).id());
    assertEquals("\"col\"", mode.get(0).span().text());
    List<Diagnostic> p = errors("model M {\n    input [4, 5, 5]\n    stochastic_depth(1.5)\n}\n");
    assertEquals("INVALID_ARGUMENT", p.get(0).id());
    List<Diagnostic> missing = errors("model M {\n    input [4, 5, 5]\n    stochastic_depth\n}\n");
    assertEquals("MISSING_ARGUMENT", missing.get(0).id());
  }

  @Test
  void adaptiveAvgpoolPoolsToASize() {
    Network n = ok("model M {\n    input [3, 11, 7]\n    a: adaptive_avgpool([5, 3])\n    b: adaptive_avgpool(9)\n}\n")
        .networks().get(0);
    assertEquals("[3, 5, 3]", n.nodes().stream().filter(x -> x.name().equals("a")).findFirst().orElseThrow().shape()
        .toString());
    assertEquals("[3, 9, 9]", n.node(n.outputs().get(0).node()).shape().toString());
    assertEquals(0, new Summary(n).params() + new Summary(n).macs());
    assertEquals("RANK_MISMATCH", errors("model M {\n    input [12]\n    adaptive_avgpool(2)\n}\n").get(0).id());
    assertEquals("INVALID_ARGUMENT", errors("model M {\n    input [3, 4, 4]\n    adaptive_avgpool(0)\n}\n").get(0).id());
  }

  @Test
  void chunkAndChannelShuffle() {
    Network n = ok("model M {\n    input [12, 4, 4]\n    x: identity\n    a: chunk(3, 2)\n"
        + "    concat(from x -> chunk(2, 0), from a)\n    channel_shuffle(5)\n}\n").networks().get(0);
    assertEquals("[4, 4, 4]", n.nodes().stream().filter(x -> x.name().equals("a")).findFirst().orElseThrow().shape()
        .toString());
    assertEquals("[10, 4, 4]", n.node(n.outputs().get(0).node()).shape().toString());
    assertEquals("GROUPS_MISMATCH", errors("model M {\n    input [10, 4, 4]\n    chunk(3, 0)\n}\n").get(0).id());
    assertEquals("INVALID_ARGUMENT", errors("model M {\n    input [10, 4, 4]\n    chunk(2, 2)\n}\n").get(0).id());
    assertEquals("GROUPS_MISMATCH", errors("model M {\n    input [10, 4, 4]\n    channel_shuffle(3)\n}\n").get(0).id());
  }
}
