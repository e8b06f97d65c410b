// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import org.cnnc.compiler.ast.Ast;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.syntax.Parsing;
import org.junit.jupiter.api.Test;

/** Trees compare by structure: the same network laid out differently gives an equal AST. */
class AstTest {
  static Ast.CnnFile parse(String text) {
    Diagnostics d = new Diagnostics();
    Ast.CnnFile f = Parsing.parse(SourceFile.of("t.cnn", text), d);
    assertNotNull(f, () -> d.sorted().toString());
    return f;
  }

  @Test
  void layoutAndCommentsDoNotChangeTheTree() {
    var a = parse("model M { input [3, 8, 8] conv(8, 3) relu }");
    var b = parse("""
        // a comment
        model M {
            input [3, 8, 8]   /* shape */
            conv(8, 3)
            relu
        }
        """);
    assertEquals(a.decls(), b.decls());
  }

  @Test
  void namedArgumentsCompareRegardlessOfOrder() {
    assertEquals(parse("model M { input [3, 8, 8] conv(8, 3, padding = 1, stride = 2) }").decls(),
        parse("model M { input [3, 8, 8] conv(8, 3, stride = 2, padding = 1) }").decls());
    assertNotEquals(parse("model M { input [3, 8, 8] conv(8, 3) }").decls(),
        parse("model M { input [3, 8, 8] conv(3, 8) }").decls());
  }

  @Test
  void differentNetworksDiffer() {
    assertNotEquals(parse("model M { input [3, 8, 8] conv(8, 3) }").decls(),
        parse("model M { input [3, 8, 8] conv(8, 5) }").decls());
  }

  @Test
  void spansPointAtTheSource() {
    var f = parse("model M {\n  input [3, 8, 8]\n  c: conv(8, 3)\n}");
    var stmt = (Ast.ChainStmt) f.models().get(0).body().stmts().get(1);
    var label = stmt.chain().elements().get(0).label().orElseThrow();
    assertEquals(3, label.span().line());
    assertEquals(3, label.span().column());
    assertEquals("c", label.span().text());
  }
}
