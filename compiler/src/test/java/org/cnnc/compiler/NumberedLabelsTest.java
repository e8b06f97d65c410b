// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.fmt.Formatter;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.syntax.Parsing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code repeat n as i} counts its repetitions from 0, and a quoted label with {@code {expr}}
 * parts is computed in each: torchvision's {@code denselayer1} .. {@code denselayer24},
 * {@code block1-0} .. written once.
 */
class NumberedLabelsTest {
  @TempDir Path dir;

  private static Compiler.Compilation compile(String text) {
    return Compiler.compileText("n.cnn", text, Map.of());
  }

  private static List<String> names(Network n) {
    return n.nodes().stream().map(Node::name).toList();
  }

  private static List<String> errors(Compiler.Compilation c) {
    return c.diagnostics().sorted().stream()
        .map(d -> d.span().line() + ":" + d.span().column() + " " + d.id() + " " + d.message()).toList();
  }

  @Test
  void labelsAndShapesFollowTheCounter() {
    var c = compile("""
        block Stage(n: int, tag: string) {
            repeat n as i {
                "block{tag}-{i}": conv(4 * (i + 1), 1)
            }
        }
        model Net {
            input [3, 8, 8]
            stage: Stage(3, "1")
            repeat 2 as k {
                concat(identity, "dense{k + 1}": conv(2, 1))
            }
        }
        """);
    assertTrue(c.ok(), () -> errors(c).toString());
    Network n = c.networks().get(0);
    // an unlabeled concat takes the next position (1, 2: the stage took 0), its labeled branch is
    // named in the sequence, its unlabeled one below the concat's position
    assertEquals(List.of("input", "stage.block1-0", "stage.block1-1", "stage.block1-2", "1.0", "dense1", "1", "2.0",
        "dense2", "2"), names(n));
    // the counter is a value in the body's expressions: 4, 8, 12 channels, then 12 + 2 + 2
    assertEquals(List.of("[3, 8, 8]", "[4, 8, 8]", "[8, 8, 8]", "[12, 8, 8]", "[12, 8, 8]", "[2, 8, 8]", "[14, 8, 8]",
        "[14, 8, 8]", "[2, 8, 8]", "[16, 8, 8]"), n.nodes().stream().map(x -> x.shape().toString()).toList());
  }

  @Test
  void generatedJavaNamesTheSameModules() throws Exception {
    String text = """
        model Net {
            input [3, 8, 8]
            repeat 3 as i { "layer{i + 1}": conv(2 + i, 1) }
        }
        """;
    var c = compile(text);
    assertTrue(c.ok(), () -> errors(c).toString());
    List<Generator.Output> out = Generator.generate(c, c.networks(), "g");
    String java = out.get(0).text();
    assertTrue(java.contains("for (int i = 0; i < 3; i++)"), java);
    assertTrue(java.contains("s.named(\"layer\" + (i + 1))"), java);
    assertTrue(java.contains("\"out\", 2 + i"), java);
    assertEquals(List.of(), GeneratedJava.errors(out, dir));
  }

  @Test
  void mistakesAreLocated() {
    assertEquals(List.of("3:23 SYNTAX_ERROR this `{` is not closed"),
        errors(compile("model Net {\n    input [3, 4, 4]\n    repeat 2 as i { \"a{i\": relu }\n}\n")).stream()
            .map(s -> s.substring(0, s.indexOf('\n') < 0 ? s.length() : s.indexOf('\n'))).toList());
    var typed = errors(compile("model Net {\n    input [3, 4, 4]\n    repeat 2 as i { \"a{1.5}\": relu }\n}\n"));
    assertEquals(1, typed.size(), typed.toString());
    assertTrue(typed.get(0).startsWith("3:24 ARGUMENT_TYPE"), typed.toString());
    var digits = errors(compile("model Net {\n    input [3, 4, 4]\n    repeat 2 as i { \"{i}\": relu }\n}\n"));
    assertEquals(2, digits.size(), digits.toString());
    assertTrue(digits.get(0).startsWith("3:21 INVALID_ARGUMENT the label \"0\" is no module name"), digits.toString());
    var from = errors(compile("model Net {\n    input [3, 4, 4]\n    x: relu\n    from \"x{1}\" relu\n}\n"));
    assertTrue(from.get(0).startsWith("4:10 SYNTAX_ERROR `from` cannot name a numbered label"), from.toString());
    var shadow = errors(compile("block B(i: int) {\n    repeat 2 as i { conv(i + 1, 1) }\n}\nmodel Net {\n    input [3, 4, 4]\n    B(1)\n}\n"));
    assertTrue(shadow.get(0).startsWith("2:17 DUPLICATE_NAME `i` is already a name here"), shadow.toString());
    // without the counter, each repetition declares the same name
    var same = errors(compile("model Net {\n    input [3, 4, 4]\n    repeat 2 as i { \"a{1}\": relu }\n}\n"));
    assertTrue(same.get(0).contains("DUPLICATE_NAME `a1` is defined twice"), same.toString());
  }

  @Test
  void fmtKeepsTheCounterAndTheLabel() {
    String text = "model Net {\n    input [3, 4, 4]\n    repeat 2 as i {\n        \"a{i + 1}\": relu\n    }\n}\n";
    var c = compile(text);
    assertTrue(c.ok(), () -> errors(c).toString());
    SourceFile src = SourceFile.of("n.cnn", text);
    var parsed = Parsing.parseRecovering(src, new org.cnnc.compiler.diag.Diagnostics());
    String once = Formatter.format(src, parsed.ast());
    assertEquals(text, once);
    SourceFile again = SourceFile.of("n.cnn", once);
    assertEquals(once, Formatter.format(again, Parsing.parseRecovering(again, new org.cnnc.compiler.diag.Diagnostics()).ast()));
  }

  /** Tools that write specs ask the lexer which words are keywords: `as`, new with counters, included. */
  @Test
  void keywordsAreTheLexers() {
    for (String k : List.of("as", "repeat", "model", "block", "from", "concat", "mul", "true", "with", "expect")) {
      assertTrue(org.cnnc.compiler.syntax.Labels.keyword(k), k);
    }
    for (String w : List.of("conv", "relu", "x1", "denselayer", "_", "As")) {
      assertTrue(!org.cnnc.compiler.syntax.Labels.keyword(w), w);
    }
    assertTrue(!org.cnnc.compiler.syntax.Labels.keyword("block1-0"), "not a word");
  }
}
