package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.cnnc.compiler.ast.Ast;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.fmt.Diff;
import org.cnnc.compiler.fmt.Formatter;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.syntax.Parsing;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/** The formatter on every spec of the repository: same tree, idempotent, every comment kept. */
class FmtTest {
  static Ast.CnnFile parse(String name, String text) {
    Diagnostics d = new Diagnostics();
    return Parsing.parse(SourceFile.of(name, text), d);
  }

  static String fmt(String name, String text) {
    SourceFile src = SourceFile.of(name, text);
    Ast.CnnFile ast = Parsing.parse(src, new Diagnostics());
    assertNotNull(ast);
    return Formatter.format(src, ast);
  }

  @TestFactory
  Stream<DynamicTest> everySpecInTheRepository() throws Exception {
    List<Path> specs;
    try (Stream<Path> s = Files.walk(Path.of(".."))) {
      specs = s.filter(p -> p.toString().endsWith(".cnn") && !p.toString().contains("/target/")
          && !p.toString().contains("/.")).sorted().toList();
    }
    assertTrue(specs.size() > 30, "found " + specs.size());
    return specs.stream().map(p -> DynamicTest.dynamicTest(p.toString(), () -> {
      String text = Files.readString(p);
      Ast.CnnFile before = parse(p.toString(), text);
      if (before == null) {
        return; // the syntax-error examples: fmt leaves such files alone (FmtCommand test)
      }
      String once = fmt(p.toString(), text);
      Ast.CnnFile after = parse(p.toString(), once);
      assertNotNull(after, () -> "formatted text parses:\n" + once);
      assertEquals(before.decls(), after.decls(), "same tree");
      assertEquals(before.imports(), after.imports());
      assertEquals(before.pkg().map(Ast.QualifiedName::dotted), after.pkg().map(Ast.QualifiedName::dotted));
      assertEquals(once, fmt(p.toString(), once), "idempotent");
      List<String> comments = Parsing.comments(SourceFile.of("a", text)).stream().map(c -> c.text().strip()).toList();
      List<String> kept = Parsing.comments(SourceFile.of("b", once)).stream().map(c -> c.text().strip()).toList();
      assertEquals(comments, kept, "every comment, in order");
    }));
  }

  @Test
  void canonicalLayout() {
    String messy = """
        // head
        model   M( classes:int=10 ){
        input[3,8,8]
          stem :conv( 8,3 ,padding=1, stride = 1)->relu   // trailing
        /* block
           comment */
          g:{ conv(4 ,1)
        relu }
          concat( a:conv(2,1) , from stem ->  conv( 2 , 1 ) )
          output main=dense( classes*(2+1) )  with weight=0.5
        }
        """;
    assertEquals("""
        // head
        model M(classes: int = 10) {
            input [3, 8, 8]
            stem: conv(8, 3, stride = 1, padding = 1) -> relu  // trailing
            /* block
           comment */
            g: {
                conv(4, 1)
                relu
            }
            concat(a: conv(2, 1), from stem -> conv(2, 1))
            output main = dense(classes * (2 + 1)) with weight = 0.5
        }
        """, fmt("m.cnn", messy));
  }

  @Test
  void longMergesOpenABlockAndDiffsAreUnified() {
    String text = "model M {\n  input [3, 8, 8]\n  concat(branch_one: conv(64, 3, padding = 1), branch_two: conv(64, 5, padding = 2), "
        + "branch_three: maxpool(3, stride = 1, padding = 1))\n}\n";
    String out = fmt("m.cnn", text);
    assertEquals("""
        model M {
            input [3, 8, 8]
            concat(
                branch_one: conv(64, 3, padding = 1),
                branch_two: conv(64, 5, padding = 2),
                branch_three: maxpool(3, stride = 1, padding = 1)
            )
        }
        """, out);
    String diff = Diff.unified("m.cnn", text, out);
    assertTrue(diff.startsWith("--- m.cnn\n+++ m.cnn (formatted)\n@@ -1,4 +1,8 @@\n model M {\n-  input [3, 8, 8]\n"), diff);
  }

  /** `model M // why` then `{`: the brace used to join the comment (`model M // why {`), which does not parse. */
  @Test
  void aLineCommentBeforeTheBodyKeepsItsLine() {
    String text = "model M // why\n{\n    input [3, 8, 8]\n}\n\nblock B(x) /* a */ // b\n  {\n    conv(x, 1)\n}\n";
    String out = fmt("m.cnn", text);
    assertEquals("model M // why\n{\n    input [3, 8, 8]\n}\n\nblock B(x) /* a */ // b\n{\n    conv(x, 1)\n}\n", out);
    assertEquals(out, fmt("m.cnn", out));
  }

  /** The check fmt relies on before writing: what does not parse, or parses to another tree, or loses a comment. */
  @Test
  void theFormattedTextIsCheckedAgainstTheTree() {
    SourceFile src = SourceFile.of("m.cnn", "model M // why\n{\n    input [3, 8, 8]\n    conv(8, 3)\n}\n");
    Ast.CnnFile ast = Parsing.parse(src, new Diagnostics());
    assertEquals(null, Formatter.difference(src, ast, src.text()));
    assertTrue(Formatter.difference(src, ast, "model M // why {\n    input [3, 8, 8]\n    conv(8, 3)\n}\n")
        .startsWith("does not parse (line 2: "));
    assertEquals("parses to a different tree",
        Formatter.difference(src, ast, "model M // why\n{\n    input [3, 8, 8]\n    conv(8, 5)\n}\n"));
    assertEquals("does not keep every comment in order",
        Formatter.difference(src, ast, "model M\n{\n    input [3, 8, 8]\n    conv(8, 3)\n}\n"));
  }

  /**
   * Comments between any two tokens of the repository's specs (seeded, 40 places per file): the
   * formatter keeps the tree and every comment, or its own check would throw. (Not idempotence: a
   * multi-line block comment after a statement on its line can gain a blank line on the next run.)
   */
  @TestFactory
  Stream<DynamicTest> commentsAnywhereKeepTheTree() throws Exception {
    List<Path> specs;
    try (Stream<Path> s = Files.walk(Path.of(".."))) {
      specs = s.filter(p -> p.toString().endsWith(".cnn") && !p.toString().contains("/target/")
          && !p.toString().contains("/.")).sorted().toList();
    }
    return specs.stream().map(p -> DynamicTest.dynamicTest(p.toString(), () -> {
      String text = Files.readString(p);
      if (parse(p.toString(), text) == null) {
        return;
      }
      List<Integer> ends = org.cnnc.compiler.syntax.Parsing.tokenEnds(org.cnnc.compiler.source.SourceFile.of(p.toString(), text));
      java.util.Random random = new java.util.Random(p.toString().hashCode());
      // each starts with a space or newline: glued to a `/` token, `/*` would read as `//*`, a line comment
      String[] kinds = {" // c\n", "\n// c\n", " /* c */ ", " /* c\n */"};
      for (int i = 0; i < 40 && !ends.isEmpty(); i++) {
        int at = ends.get(random.nextInt(ends.size()));
        String variant = text.substring(0, at) + kinds[random.nextInt(kinds.length)] + text.substring(at);
        assertNotNull(parse("v.cnn", variant), variant);
        fmt("v.cnn", variant); // throws NotSameTree when the tree or a comment changes
      }
    }));
  }
}
