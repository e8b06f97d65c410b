// SPDX-License-Identifier: Apache-2.0
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
      assertEquals(neighbours(text), neighbours(once), "every comment where it was");
      // the repository's specs are formatted (cnnc fmt --check passes), alignment and line
      // structure included; the inputs of fmt's own hostile cases are left unformatted on purpose
      if (!p.toString().contains("/hostile/fmt-")) {
        assertEquals(text, once, "a fixed point of fmt");
      }
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
   * formatter keeps the tree and every comment (or its own check would throw), and formatting its
   * output again changes nothing (a multi-line block comment after a statement once gained a blank
   * line per run).
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
        String once = fmt("v.cnn", variant); // throws NotSameTree when the tree or a comment changes
        assertEquals(once, fmt("v.cnn", once), () -> "idempotent:\n" + variant);
      }
    }));
  }

  /**
   * Random specs (seeded): nested groups, merges, repeats, chains over several lines, statements
   * sharing a line, aligned columns, trailing and block comments (between a chain's elements too),
   * odd spaces and blank lines. Each is formatted twice: the output parses to the same tree with
   * the same comments (the formatter checks it and would throw), each comment beside the same
   * code, and the second run changes nothing.
   */
  @Test
  void randomSpecsAreFormattedIdempotently() {
    java.util.Random rnd = new java.util.Random(20261204);
    for (int n = 0; n < 400; n++) {
      String spec = RandomSpec.spec(rnd);
      String once;
      try {
        once = fmt("r.cnn", spec);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError("spec #" + n + ":\n" + spec, e);
      }
      String twice = fmt("r.cnn", once);
      assertEquals(once, twice, "spec #" + n + ":\n" + spec);
      assertEquals(neighbours(spec), neighbours(once), "every comment where it was, spec #" + n + ":\n" + spec
          + "\nformatted:\n" + once);
      for (String line : once.split("\n")) {
        // no line is joined past 100 columns that was not that long as written
        assertTrue(line.length() <= 100 || spec.lines().anyMatch(l -> l.length() >= line.length() - 4),
            () -> "long line in\n" + once);
      }
    }
  }

  /**
   * Where each comment is, as the code beside it: the code characters just before and just after
   * it (whitespace and other comments skipped; ^ and $ at the file's ends). fmt may move code and
   * comments to other lines and columns, never a comment to other code.
   */
  static List<String> neighbours(String text) {
    List<Parsing.Comment> cs = Parsing.comments(SourceFile.of("n", text));
    boolean[] inComment = new boolean[text.length()];
    for (Parsing.Comment c : cs) {
      java.util.Arrays.fill(inComment, c.start(), c.end(), true);
    }
    List<String> out = new java.util.ArrayList<>();
    for (Parsing.Comment c : cs) {
      int a = c.start() - 1;
      while (a >= 0 && (inComment[a] || Character.isWhitespace(text.charAt(a)))) {
        a--;
      }
      int b = c.end();
      while (b < text.length() && (inComment[b] || Character.isWhitespace(text.charAt(b)))) {
        b++;
      }
      out.add((a >= 0 ? text.charAt(a) : '^') + " " + c.text().strip() + " " + (b < text.length() ? text.charAt(b) : '$'));
    }
    return out;
  }

  /** A seeded generator of valid specs with comments and irregular whitespace. */
  static final class RandomSpec {
    private final java.util.Random rnd;
    private final StringBuilder out = new StringBuilder();

    private RandomSpec(java.util.Random rnd) {
      this.rnd = rnd;
    }

    static String spec(java.util.Random rnd) {
      RandomSpec g = new RandomSpec(rnd);
      g.file();
      return g.out.toString();
    }

    private String ws() {
      return switch (rnd.nextInt(8)) {
        case 0 -> "  ";
        case 1 -> "    ";
        default -> " ";
      };
    }

    private String comment() {
      return switch (rnd.nextInt(4)) {
        case 0 -> "// note " + rnd.nextInt(100);
        case 1 -> "/* block */";
        case 2 -> "/* two\n   lines */";
        default -> "// " + "x".repeat(rnd.nextInt(30));
      };
    }

    private void nl(int indent) {
      if (rnd.nextInt(6) == 0) {
        out.append(" ".repeat(rnd.nextInt(6))).append(comment());
        if (out.charAt(out.length() - 1) == '/' && out.toString().endsWith("*/") && rnd.nextBoolean()) {
          out.append(" ");
        }
      }
      out.append('\n');
      if (rnd.nextInt(8) == 0) {
        out.append('\n');
      }
      if (rnd.nextInt(10) == 0) {
        out.append(" ".repeat(indent * 4)).append("// own line\n");
      }
      out.append(" ".repeat(Math.max(0, indent * 4 + rnd.nextInt(3) - 1)));
    }

    private void file() {
      if (rnd.nextInt(4) == 0) {
        out.append("// header").append(rnd.nextBoolean() ? "\n\n" : "\n");
      }
      int decls = 1 + rnd.nextInt(3);
      for (int d = 0; d < decls; d++) {
        if (rnd.nextBoolean()) {
          out.append("block B").append(d).append("(c: int").append(rnd.nextBoolean() ? ", k = 3" : "").append(") {");
          body(1, false);
        } else {
          out.append("model M").append(d).append(" {");
          nl(1);
          out.append("input [3, 32, 32]");
          body(1, false);
        }
        out.append(rnd.nextInt(3) == 0 ? "\n" : "\n\n");
      }
    }

    private void body(int indent, boolean inline) {
      int stmts = 1 + rnd.nextInt(4);
      for (int i = 0; i < stmts; i++) {
        if (inline) {
          out.append(i == 0 ? " " : ws());
        } else if (i > 0 && rnd.nextInt(4) == 0) {
          out.append(rnd.nextBoolean() ? "  " : " ");
        } else {
          nl(indent);
        }
        chain(indent, inline);
      }
      if (inline) {
        out.append(" }");
      } else {
        nl(indent - 1);
        out.append('}');
      }
    }

    private void chain(int indent, boolean inline) {
      int n = 1 + rnd.nextInt(3);
      for (int i = 0; i < n; i++) {
        if (i > 0) {
          if (!inline && rnd.nextInt(4) == 0) {
            if (rnd.nextBoolean()) {
              out.append(" ->");
              nl(indent + 1);
            } else {
              nl(indent + 1);
              out.append("-> ");
            }
          } else if (rnd.nextInt(6) == 0) {
            // a block comment between two elements of a line, before or after the arrow
            out.append(rnd.nextBoolean() ? ws() + "/* mid */" + ws() + "->" + ws() : ws() + "->" + ws() + "/* mid */" + ws());
          } else {
            out.append(ws()).append("->").append(ws());
          }
        }
        element(indent, inline);
      }
    }

    private void element(int indent, boolean inline) {
      if (rnd.nextInt(6) == 0) {
        out.append("l").append(rnd.nextInt(1000)).append(": ");
      }
      int kind = indent > 3 ? 0 : rnd.nextInt(10);
      switch (kind) {
        case 7 -> {
          out.append('{');
          body(indent + 1, inline || rnd.nextBoolean());
        }
        case 8 -> {
          out.append("repeat ").append(1 + rnd.nextInt(3)).append(" {");
          body(indent + 1, inline || rnd.nextBoolean());
        }
        case 9 -> {
          out.append(rnd.nextBoolean() ? "concat(" : "add(");
          int branches = 1 + rnd.nextInt(3);
          boolean lines = !inline && rnd.nextBoolean();
          for (int b = 0; b < branches; b++) {
            if (lines) {
              nl(indent + 1);
            }
            out.append(rnd.nextBoolean() ? "relu" : "conv(4, 1" + (rnd.nextBoolean() ? ", padding = 0" : "") + ")");
            if (b < branches - 1 || lines && rnd.nextBoolean()) {
              out.append(',').append(lines ? "" : " ");
            }
          }
          if (lines) {
            nl(indent);
          }
          out.append(')');
        }
        default -> out.append(switch (rnd.nextInt(5)) {
          case 0 -> "relu";
          case 1 -> "conv(8,  3,padding = 1)";
          case 2 -> "batchnorm";
          case 3 -> "conv( 4 , 1 )";
          default -> "dropout(0.1)";
        });
      }
      if (rnd.nextInt(12) == 0) {
        out.append("    : [_, _, _]");
      }
    }
  }

  /**
   * A call of an imported block orders its named arguments as that block declares them, as a call
   * of the file's own block does; an import that does not load leaves them as written.
   */
  @Test
  void importedBlocksOrderTheirArgumentsToo(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
    Files.writeString(dir.resolve("lib.cnn"), "block Conv(c: int, k: int = 3, s: int = 1) {\n    conv(c, k, stride = s)\n}\n");
    String text = """
        import "lib.cnn"

        block Local(c: int, k: int = 3, s: int = 1) {
            conv(c, k, stride = s)
        }

        model Net {
            input [3, 8, 8]
            Conv(4, s = 1, k = 3)
            Local(4, s = 1, k = 3)
        }
        """;
    Path net = Files.writeString(dir.resolve("net.cnn"), text);
    SourceFile src = new SourceFile(net, net.toString(), text);
    Ast.CnnFile ast = Parsing.parse(src, new Diagnostics());
    String formatted = Formatter.formatWithImports(src, ast, net, org.cnnc.compiler.Limits.defaults());
    assertTrue(formatted.contains("    Conv(4, k = 3, s = 1)\n"), formatted);
    assertTrue(formatted.contains("    Local(4, k = 3, s = 1)\n"), formatted);
    // without the library, the imported call keeps its order; the file's own block still sorts
    Files.delete(dir.resolve("lib.cnn"));
    String alone = Formatter.formatWithImports(src, ast, net, org.cnnc.compiler.Limits.defaults());
    assertTrue(alone.contains("    Conv(4, s = 1, k = 3)\n"), alone);
    assertTrue(alone.contains("    Local(4, k = 3, s = 1)\n"), alone);
  }
}
