// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ast;

import java.util.List;
import java.util.stream.Collectors;
import org.cnnc.compiler.ast.Ast.*;

/**
 * The AST as an indented s-expression, without positions: what the grammar's example specs are
 * compared against, and a readable dump for debugging ({@code cnnc parse}).
 */
public final class AstPrinter {
  private final StringBuilder out = new StringBuilder();

  private AstPrinter() {}

  public static String print(CnnFile file) {
    AstPrinter p = new AstPrinter();
    p.file(file);
    return p.out.toString();
  }

  private void line(int depth, String text) {
    out.append("  ".repeat(depth)).append(text).append('\n');
  }

  private void file(CnnFile f) {
    line(0, "(file");
    f.pkg().ifPresent(p -> line(1, "(package " + p.dotted() + ")"));
    f.imports().forEach(i -> line(1, "(import \"" + i.path() + "\")"));
    for (Decl d : f.decls()) {
      String params = d.params().stream().map(AstPrinter::param).collect(Collectors.joining(" "));
      line(1, "(" + (d instanceof BlockDecl ? "block " : "model ") + d.name().text() + (params.isEmpty() ? "" : " " + params));
      body(d.body(), 2);
      out.setLength(out.length() - 1);
      out.append(")\n");
    }
    out.setLength(out.length() - 1);
    out.append(")\n");
  }

  private static String param(Param p) {
    return "(param " + p.name().text() + p.type().map(t -> " : " + t.text()).orElse("")
        + p.defaultValue().map(e -> " = " + expr(e)).orElse("") + ")";
  }

  private void body(Body b, int depth) {
    if (b.stmts().isEmpty()) {
      line(depth, "(empty)");
    }
    for (Stmt s : b.stmts()) {
      if (s instanceof InputStmt in) {
        line(depth, "(input" + in.name().map(n -> " " + n.text()).orElse("") + " " + shape(in.shape()) + ")");
      } else if (s instanceof OutputStmt o) {
        line(depth, "(output " + o.name().text() + o.from().map(f -> " from " + org.cnnc.compiler.syntax.Labels.written(f.text())).orElse("")
            + (o.options().isEmpty() ? "" : " with " + args(o.options())));
        o.chain().ifPresent(c -> chain(c, depth + 1));
        close();
      } else if (s instanceof ExpectStmt e) {
        line(depth, "(expect " + e.what().text() + " <= " + expr(e.limit()) + ")");
      } else if (s instanceof ExpectInputStmt e) {
        line(depth, "(expect input " + e.dims().stream()
            .map(d -> expr(d.lo()) + d.hi().map(h -> ".." + expr(h)).orElse("")).collect(Collectors.joining(", ", "[", "]")) + ")");
      } else {
        ChainStmt c = (ChainStmt) s;
        line(depth, "(chain" + c.from().map(f -> " from " + org.cnnc.compiler.syntax.Labels.written(f.text())).orElse(""));
        chain(c.chain(), depth + 1);
        close();
      }
    }
  }

  private void close() {
    out.setLength(out.length() - 1);
    out.append(")\n");
  }

  private void chain(Chain c, int depth) {
    for (Element e : c.elements()) {
      String head = e.label().map(l -> org.cnnc.compiler.syntax.Labels.written(l.text()) + ": ").orElse("") ;
      String tail = e.assertion().map(a -> " : " + shape(a)).orElse("");
      Term t = e.term();
      if (t instanceof Call call) {
        line(depth, "(" + head + "call " + call.callee().text() + (call.args().isEmpty() ? "" : " " + args(call.args())) + tail + ")");
      } else if (t instanceof Group g) {
        line(depth, "(" + head + "group" + tail);
        body(g.body(), depth + 1);
        close();
      } else if (t instanceof Merge m) {
        line(depth, "(" + head + m.name() + tail);
        for (Branch b : m.branches()) {
          line(depth + 1, "(branch" + b.from().map(f -> " from " + org.cnnc.compiler.syntax.Labels.written(f.text())).orElse(""));
          b.chain().ifPresent(ch -> chain(ch, depth + 2));
          close();
        }
        close();
      } else if (t instanceof Repeat r) {
        line(depth, "(" + head + "repeat " + expr(r.count()) + r.var().map(v -> " as " + v.text()).orElse("") + tail);
        body(r.body(), depth + 1);
        close();
      }
    }
  }

  private static String args(List<Arg> args) {
    return args.stream()
        .map(a -> a.name().map(n -> n.text() + " = ").orElse("") + expr(a.value())
            + a.arrowOut().map(o -> " -> " + expr(o)).orElse(""))
        .collect(Collectors.joining(", ", "(", ")"));
  }

  private static String shape(ShapeExpr s) {
    return s.dims().stream().map(AstPrinter::expr).collect(Collectors.joining(", ", "[", "]"));
  }

  /** Expressions print fully parenthesized, so precedence is visible in the tree. */
  public static String expr(Expr e) {
    if (e instanceof IntLit i) {
      return i.value().toString();
    }
    if (e instanceof FloatLit f) {
      return Double.toString(f.value());
    }
    if (e instanceof BoolLit b) {
      return Boolean.toString(b.value());
    }
    if (e instanceof StringLit s) {
      return '"' + s.value() + '"';
    }
    if (e instanceof NameRef n) {
      return n.name().text();
    }
    if (e instanceof ListExpr l) {
      return l.items().stream().map(AstPrinter::expr).collect(Collectors.joining(", ", "[", "]"));
    }
    if (e instanceof Unary u) {
      return "(" + u.op() + expr(u.operand()) + ")";
    }
    Binary b = (Binary) e;
    return "(" + expr(b.left()) + " " + b.op() + " " + expr(b.right()) + ")";
  }
}
