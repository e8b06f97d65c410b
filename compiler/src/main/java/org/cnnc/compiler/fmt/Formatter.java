// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.fmt;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.sema.Program;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.source.Span;
import org.cnnc.compiler.syntax.Labels;
import org.cnnc.compiler.syntax.Parsing;

/**
 * The canonical layout of a spec, keeping its author's line structure (as gofmt does): four-space
 * indentation, single spaces around {@code ->}, {@code =}, {@code :} and operators, no space inside
 * brackets. Statements, declarations, groups, merges and repeats written on one line stay on one
 * line when they fit in 100 columns and hold no comment; chains and merges written over several
 * lines stay so; columns the author aligned with extra spaces stay aligned while the line is
 * otherwise unchanged; trailing comments keep their column, those of consecutive lines aligned
 * (see {@link #align}). Comments stay where they were. At most one blank line is kept.
 *
 * <p>Named arguments follow the callee's parameter order ({@code conv(8, 3, padding = 1, stride = 2)}
 * becomes {@code conv(8, 3, stride = 2, padding = 1)}); literals keep their spelling. The output
 * parses to the same tree (named arguments compare regardless of order), and formatting it again
 * changes nothing.
 */
public final class Formatter {
  static final int WIDTH = 100;
  static final String INDENT = "    ";

  private final SourceFile src;
  private final List<Parsing.Comment> comments;
  private int next;
  private final StringBuilder out = new StringBuilder();
  private CnnFile file;
  /** What the file sees: a block call's parameter order is its callee's, by the program's rule. */
  private Program program;

  private Formatter(SourceFile src) {
    this.src = src;
    this.comments = Parsing.comments(src);
    this.aligned = src.text().indexOf(MARK) < 0;
  }

  /**
   * The formatted text of a file that parsed without errors, checked before it is returned: it
   * parses to the same tree (spans aside) with the same comments in the same order.
   *
   * @throws NotSameTree when it would not (a bug of the formatter; the caller must then leave the
   *     file as it is)
   */
  public static String format(SourceFile src, CnnFile file) {
    return format(src, file, new Program(List.of(file), java.util.Map.of()));
  }

  /**
   * As {@link #format(SourceFile, CnnFile)}, with the program the file belongs to: a block call's
   * named arguments follow the parameters of the block the file sees under that name (its own or
   * an imported one, by the program's rule); a call of a name it cannot see keeps its order.
   */
  public static String format(SourceFile src, CnnFile file, Program program) {
    Formatter f = new Formatter(src);
    f.program = program;
    f.file(file);
    String text = f.aligned ? align(f.out.toString()) : f.out.toString();
    String why = difference(src, file, text);
    if (why != null) {
      throw new NotSameTree(src.name() + ": the formatted text " + why
          + "; the file is left as it is (a bug in cnnc fmt: please report it with the file)");
    }
    return text;
  }

  /**
   * As {@link #format(SourceFile, CnnFile, Program)}, for a file on disk ({@code path}, null for
   * standard input or a buffer without one) whose text is {@code src}'s: its imports are loaded
   * (not checked) so that a call of an imported block orders its named arguments as that block
   * declares them. Without imports, or when they cannot be loaded, the file is formatted alone
   * (an imported block's arguments then stay as written).
   */
  public static String formatWithImports(SourceFile src, CnnFile file, java.nio.file.Path path,
      org.cnnc.compiler.Limits limits) {
    if (path != null && !file.imports().isEmpty()) {
      try {
        java.nio.file.Path real = path.toAbsolutePath().normalize().toRealPath();
        var loaded = org.cnnc.compiler.Compiler.load(org.cnnc.compiler.Compiler.Request.of(path).withLimits(limits),
            java.util.Map.of(path, src.text()));
        for (CnnFile f : loaded.program().files()) {
          if (real.equals(f.source().path()) && f.source().text().equals(src.text())) {
            return format(f.source(), f, loaded.program());
          }
        }
      } catch (java.io.IOException | java.io.UncheckedIOException e) {
        // formatted alone, below
      }
    }
    return format(src, file);
  }

  /** The formatter's output would change the meaning or the comments of a file. */
  public static final class NotSameTree extends RuntimeException {
    NotSameTree(String message) {
      super(message);
    }
  }

  /** Null when {@code formatted} parses to the same tree and comments as {@code file}, else what differs. */
  public static String difference(SourceFile src, CnnFile file, String formatted) {
    SourceFile again = new SourceFile(src.path(), src.name(), formatted);
    org.cnnc.compiler.diag.Diagnostics d = new org.cnnc.compiler.diag.Diagnostics();
    CnnFile after = Parsing.parse(again, d);
    if (after == null || d.hasErrors()) {
      return "does not parse" + d.sorted().stream().findFirst()
          .map(x -> " (line " + x.span().line() + ": " + x.message() + ")").orElse("");
    }
    if (!file.decls().equals(after.decls()) || !file.imports().equals(after.imports())
        || !file.pkg().map(QualifiedName::dotted).equals(after.pkg().map(QualifiedName::dotted))) {
      return "parses to a different tree";
    }
    List<String> before = Parsing.comments(src).stream().map(c -> c.text().strip()).toList();
    List<String> kept = Parsing.comments(again).stream().map(c -> c.text().strip()).toList();
    return before.equals(kept) ? null : "does not keep every comment in order";
  }

  private void file(CnnFile f) {
    this.file = f;
    boolean first = true;
    if (f.pkg().isPresent()) {
      leading(f.pkg().get().span().start(), 0);
      out.append("package ").append(f.pkg().get().dotted());
      trailing(f.pkg().get().span().end());
      out.append('\n');
      first = false;
    }
    for (int i = 0; i < f.imports().size(); i++) {
      Import imp = f.imports().get(i);
      if (i == 0 && !first && blankBetween(f.pkg().get().span().end(), imp.span().start())) {
        out.append('\n');
      }
      leading(imp.span().start(), 0);
      out.append("import ").append(Escape.cnnString(imp.path()));
      trailing(imp.span().end());
      out.append('\n');
      first = false;
    }
    int prevEnd = f.imports().isEmpty() ? f.pkg().map(q -> q.span().end()).orElse(-1)
        : f.imports().get(f.imports().size() - 1).span().end();
    for (Decl d : f.decls()) {
      // at most one blank line, as the author wrote: none between one-line declarations stays none
      if (!first && (prevEnd < 0 || blankBetween(prevEnd, d.span().start()) && !hasComment(new Span(src, prevEnd, d.span().start())))) {
        out.append('\n');
      }
      leading(d.span().start(), 0);
      prevEnd = d.span().end();
      decl(d);
      out.append('\n');
      first = false;
    }
    leading(Integer.MAX_VALUE, 0);
    while (out.length() > 1 && out.charAt(out.length() - 1) == '\n' && out.charAt(out.length() - 2) == '\n') {
      truncate(out.length() - 1);
    }
  }

  private void decl(Decl d) {
    Span header = new Span(src, d.span().start(), d.body().span().start());
    if (hasComment(header)) {
      // `model M // why` then `{` on the next line: the brace cannot join the comment's line
      Parsing.Comment last = null;
      for (int i = next; i < comments.size() && comments.get(i).start() < header.end(); i++) {
        last = comments.get(i);
      }
      boolean endsInLineComment = last != null && last.text().startsWith("//")
          && src.text().substring(last.end(), header.end()).isBlank();
      out.append(verbatim(header).strip()).append(endsInLineComment ? '\n' : ' ');
    } else {
      out.append(d instanceof BlockDecl ? "block " : "model ").append(d.name().text());
      if (d instanceof BlockDecl || !d.params().isEmpty()) {
        out.append('(').append(d.params().stream().map(this::param).collect(Collectors.joining(", "))).append(')');
      }
      out.append(' ');
    }
    String flat = src.line(d.span().start()) == src.line(d.span().end() - 1) ? inlineBody(d.body(), true) : null;
    if (flat != null && column() + flat.length() <= WIDTH) {
      out.append(flat);
    } else {
      body(d.body(), 0);
    }
    trailing(d.span().end());
  }

  private String param(Param p) {
    return p.name().text() + p.type().map(t -> ": " + t.text()).orElse("") + p.defaultValue().map(e -> " = " + expr(e, 0)).orElse("");
  }

  /** A body as a block: `{`, its statements one per line, `}`. */
  private void body(Body b, int indent) {
    out.append("{");
    if (b.stmts().isEmpty() && !hasComment(b.span())) {
      out.append('}');
      return;
    }
    trailing(b.span().start() + 1);
    out.append('\n');
    int prevEnd = -1;
    List<Stmt> stmts = b.stmts();
    for (int i = 0; i < stmts.size(); i++) {
      Stmt s = stmts.get(i);
      // a blank line among comments is theirs to keep (leading), not one more before them
      if (prevEnd >= 0 && blankBetween(prevEnd, s.span().start()) && !hasComment(new Span(src, prevEnd, s.span().start()))) {
        out.append('\n');
      }
      leading(s.span().start(), indent + 1);
      indent(indent + 1);
      stmt(s, indent + 1);
      // Statements written on one line (`conv(96, 1) relu`) stay on one line.
      while (i + 1 < stmts.size() && sameLine(stmts.get(i), stmts.get(i + 1))) {
        int nextStart = stmts.get(i + 1).span().start();
        if (hasComment(new Span(src, stmts.get(i).span().end(), nextStart))) {
          // `input [3, 8, 8] /* why */ conv(8, 3)`: the comments between stay between
          while (next < comments.size() && comments.get(next).start() < nextStart) {
            out.append(' ').append(comments.get(next++).text());
          }
          out.append(' ');
        } else {
          gap(stmts.get(i).span().end(), nextStart, 1);
        }
        stmt(stmts.get(++i), indent + 1);
      }
      trailing(stmts.get(i).span().end());
      out.append('\n');
      prevEnd = stmts.get(i).span().end();
    }
    leading(b.span().end() - 1, indent + 1);
    indent(indent);
    out.append('}');
  }

  private void stmt(Stmt s, int indent) {
    if (s instanceof InputStmt in) {
      atomic(in.span(), "input " + in.name().map(n -> n.text() + " ").orElse("") + shape(in.shape()));
    } else if (s instanceof ExpectStmt e) {
      atomic(e.span(), "expect " + e.what().text() + " <= " + expr(e.limit(), 0));
    } else if (s instanceof ExpectInputStmt e) {
      atomic(e.span(), "expect input " + e.dims().stream()
          .map(d -> expr(d.lo(), 0) + d.hi().map(h -> ".." + expr(h, 0)).orElse("")).collect(Collectors.joining(", ", "[", "]")));
    } else if (s instanceof OutputStmt o) {
      String tail = o.from().map(f -> " from " + Labels.written(f.text())).orElse("")
          + (o.options().isEmpty() ? "" : " with " + args(o.options()));
      out.append("output ").append(o.name().text());
      if (o.chain().isPresent()) {
        out.append(" = ");
        chain(o.chain().get(), indent, tail.length());
      }
      out.append(tail);
    } else {
      ChainStmt c = (ChainStmt) s;
      String tail = c.from().map(f -> " from " + Labels.written(f.text())).orElse("");
      chain(c.chain(), indent, tail.length());
      out.append(tail);
    }
  }

  /** A statement printed on one line, or verbatim when a comment sits inside it. */
  private void atomic(Span span, String text) {
    if (hasComment(span)) {
      out.append(verbatim(span));
    } else {
      out.append(text);
    }
  }

  private void chain(Chain c, int indent, int reserve) {
    List<Element> els = c.elements();
    boolean overLines = false;
    for (int i = 1; i < els.size(); i++) {
      overLines |= src.line(els.get(i - 1).span().end() - 1) != src.line(els.get(i).span().start());
    }
    String flat = overLines ? null : inline(c);
    int column = column();
    if (flat != null && column + flat.length() + reserve <= WIDTH) {
      out.append(flat);
      return;
    }
    for (int i = 0; i < els.size(); i++) {
      if (i > 0) {
        int prevEnd = els.get(i - 1).span().end();
        int start = els.get(i).span().start();
        if (hasComment(new Span(src, prevEnd, start))) {
          // `conv(8, 3) /* wide */ -> relu`: the arrow and the comments between stay as written
          between(prevEnd, start, indent + 1);
        } else if (src.line(prevEnd - 1) != src.line(start)) {
          // a chain written over several lines stays so, each arrow where its author put it
          int arrow = src.text().indexOf("->", prevEnd);
          if (src.line(arrow) == src.line(prevEnd - 1)) {
            out.append(" ->\n");
            indent(indent + 1);
          } else {
            out.append('\n');
            indent(indent + 1);
            out.append("-> ");
          }
        } else {
          out.append(" -> ");
        }
      }
      element(els.get(i), indent);
    }
  }

  /**
   * The source between two elements of a chain (its arrow and comments) as written: its first
   * line as it stands, each further line at {@code indent} (all as written when a comment in it
   * spans lines). The comments in it are written.
   */
  private void between(int from, int to, int indent) {
    String gap = src.text().substring(from, to);
    boolean multiLineComment = false;
    for (int i = next; i < comments.size() && comments.get(i).start() < to; i++) {
      multiLineComment |= comments.get(i).start() >= from && comments.get(i).text().contains("\n");
    }
    // a comment over several lines is its author's layout: the gap as written, not re-indented
    String[] lines = multiLineComment ? new String[] {gap} : gap.split("\n", -1);
    for (int k = 0; k < lines.length; k++) {
      String line = lines[k];
      if (k > 0) {
        out.append('\n');
        line = line.stripLeading();
        if (k < lines.length - 1 && line.isBlank()) {
          continue; // a blank line between elements: kept, without trailing spaces
        }
        indent(indent);
      }
      out.append(k < lines.length - 1 ? line.stripTrailing() : line);
    }
    while (next < comments.size() && comments.get(next).start() < to) {
      next++;
    }
  }

  private void element(Element e, int indent) {
    e.label().ifPresent(l -> out.append(Labels.written(l.text())).append(": "));
    Term t = e.term();
    String flat = inlineTerm(t);
    if (flat != null && column() + flat.length() <= WIDTH) {
      out.append(flat);
    } else if (!(t instanceof Call) && hasComment(t.span()) && src.line(t.span().start()) == src.line(t.span().end() - 1)) {
      // a group, merge or repeat written on one line with a comment inside: as written, so that
      // its comments stay beside their code (breaking it over lines would move them)
      out.append(verbatim(t.span()));
    } else if (t instanceof Call call) {
      atomic(call.span(), call(call));
    } else if (t instanceof Group g) {
      body(g.body(), indent);
    } else if (t instanceof Repeat r) {
      out.append("repeat ").append(expr(r.count(), 0)).append(r.var().map(v -> " as " + v.text()).orElse("")).append(' ');
      body(r.body(), indent);
    } else {
      merge((Merge) t, indent);
    }
    out.append(assertion(e));
  }

  /** ` : [shape]`, with the spaces before the colon the author aligned it with. */
  private String assertion(Element e) {
    if (e.assertion().isEmpty()) {
      return "";
    }
    String between = src.text().substring(e.term().span().end(), e.assertion().get().span().start());
    int colon = between.indexOf(':');
    int before = colon > 1 && between.substring(0, colon).chars().allMatch(ch -> ch == ' ') ? colon : 1;
    return " ".repeat(before) + ": " + shape(e.assertion().get());
  }

  /** The spaces between two places on one line as written when more than one (alignment), else one. */
  private int spaces(int from, int to) {
    String between = src.text().substring(from, to);
    return between.length() > 1 && between.chars().allMatch(ch -> ch == ' ') ? between.length() : 1;
  }

  private void merge(Merge m, int indent) {
    out.append(m.name()).append("(");
    trailing(m.span().start() + m.name().length() + 1);
    out.append('\n');
    for (int i = 0; i < m.branches().size(); i++) {
      Branch b = m.branches().get(i);
      leading(b.span().start(), indent + 1);
      indent(indent + 1);
      branch(b, indent + 1);
      if (i < m.branches().size() - 1 || src.text().substring(b.span().end(), m.span().end() - 1).contains(",")) {
        out.append(',');
      }
      trailing(b.span().end());
      out.append('\n');
    }
    leading(m.span().end() - 1, indent + 1);
    indent(indent);
    out.append(')');
  }

  private void branch(Branch b, int indent) {
    if (b.chain().isEmpty()) {
      out.append("from ").append(Labels.written(b.from().orElseThrow().text()));
      return;
    }
    b.from().ifPresent(f -> out.append("from ").append(Labels.written(f.text())).append(" -> "));
    chain(b.chain().get(), indent, 0);
  }

  // ---- one-line forms (null when a comment or a block forbids it) -------------------------------

  private String inline(Chain c) {
    if (hasComment(c.span())) {
      return null;
    }
    List<String> parts = new ArrayList<>();
    for (Element e : c.elements()) {
      String t = inlineTerm(e.term());
      if (t == null) {
        return null;
      }
      parts.add(e.label().map(l -> Labels.written(l.text()) + ": ").orElse("") + t + assertion(e));
    }
    return String.join(" -> ", parts);
  }

  private String inlineTerm(Term t) {
    if (hasComment(t.span())) {
      return null;
    }
    if (!(t instanceof Call) && src.line(t.span().start()) != src.line(t.span().end() - 1)) {
      return null; // a group, merge or repeat written over several lines stays so
    }
    if (t instanceof Call c) {
      return call(c);
    }
    if (t instanceof Group g) {
      String body = inlineBody(g.body());
      return body == null ? null : body;
    }
    if (t instanceof Repeat r) {
      String body = inlineBody(r.body());
      return body == null ? null : "repeat " + expr(r.count(), 0) + r.var().map(v -> " as " + v.text()).orElse("") + " " + body;
    }
    Merge m = (Merge) t;
    List<String> parts = new ArrayList<>();
    for (Branch b : m.branches()) {
      if (b.chain().isEmpty()) {
        parts.add("from " + Labels.written(b.from().orElseThrow().text()));
        continue;
      }
      String c = inline(b.chain().get());
      if (c == null) {
        return null;
      }
      parts.add(b.from().map(f -> "from " + Labels.written(f.text()) + " -> ").orElse("") + c);
    }
    return m.name() + "(" + String.join(", ", parts) + ")";
  }

  private String inlineBody(Body b) {
    return inlineBody(b, false);
  }

  /**
   * `{ a -> b }` for a body of chains written on one line (and, in a declaration, its `input`);
   * other bodies need lines of their own.
   */
  private String inlineBody(Body b, boolean decl) {
    if (b.stmts().isEmpty()) {
      return decl ? null : "{}";
    }
    if (decl && hasComment(b.span())) {
      return null;
    }
    List<String> parts = new ArrayList<>();
    for (int i = 0; i < b.stmts().size(); i++) {
      if (decl && i == 0 && b.stmts().get(0) instanceof InputStmt in && in.name().isEmpty()) {
        parts.add("input " + shape(in.shape()));
        continue;
      }
      if (decl && i == 1 && b.stmts().get(0) instanceof InputStmt && b.stmts().get(1) instanceof ChainStmt c1) {
        String chain = inline(c1.chain());
        if (chain == null || !sameLineChain(b.stmts().get(0), c1)) {
          return null;
        }
        parts.add(" ".repeat(spaces(b.stmts().get(0).span().end(), c1.span().start())) + chain);
        continue;
      }
      if (!(b.stmts().get(i) instanceof ChainStmt c) || (i > 0 && !(decl && i == 1 ? sameLineChain(b.stmts().get(0), c)
          : sameLine(b.stmts().get(i - 1), c)))) {
        return null;
      }
      String chain = inline(c.chain());
      if (chain == null) {
        return null;
      }
      String sep = i == 0 ? "" : " ".repeat(spaces(b.stmts().get(i - 1).span().end(), c.span().start()));
      parts.add(sep + chain + c.from().map(f -> " from " + Labels.written(f.text())).orElse(""));
    }
    return "{ " + String.join("", parts) + " }";
  }

  /** A model's `input` and the chain after it on one source line. */
  private boolean sameLineChain(Stmt input, ChainStmt c) {
    return c.from().isEmpty() && src.line(Math.max(0, input.span().end() - 1)) == src.line(c.span().start())
        && inline(c.chain()) != null;
  }

  /** Two chain statements on one source line, the second without `from`: kept on one line. */
  private boolean sameLine(Stmt a, Stmt b) {
    return (a instanceof ChainStmt || a instanceof InputStmt) && b instanceof ChainStmt c && c.from().isEmpty()
        && src.line(Math.max(0, a.span().end() - 1)) == src.line(b.span().start())
        && inlineCommentsOnly(new Span(src, a.span().end(), b.span().start()));
  }

  /** Whether the comments in a span (if any) are block comments within one line. */
  private boolean inlineCommentsOnly(Span s) {
    for (int i = next; i < comments.size() && comments.get(i).start() < s.end(); i++) {
      Parsing.Comment c = comments.get(i);
      if (c.start() >= s.start() && (c.text().startsWith("//") || c.text().contains("\n"))) {
        return false;
      }
    }
    return true;
  }

  private String call(Call c) {
    if (c.args().isEmpty()) {
      return c.callee().text() + (c.span().text().endsWith(")") ? "()" : ""); // `B0()` as written
    }
    return c.callee().text() + "(" + args(canonicalOrder(c)) + ")";
  }

  /** Positional arguments as written, then named ones in the callee's parameter order. */
  private List<Arg> canonicalOrder(Call c) {
    List<String> order = new ArrayList<>();
    var op = org.cnnc.compiler.shape.Ops.get(c.callee().text());
    if (op != null) {
      op.params().forEach(p -> order.add(p.name()));
    } else {
      BlockDecl b = program.block(file.source(), c.callee().text());
      if (b != null) {
        b.params().forEach(p -> order.add(p.name().text()));
      }
    }
    boolean positionalAfterNamed = false;
    for (int i = 1; i < c.args().size(); i++) {
      positionalAfterNamed |= c.args().get(i).name().isEmpty() && c.args().get(i - 1).name().isPresent();
    }
    if (positionalAfterNamed) {
      return c.args(); // an error the checker reports: reordering would change which
    }
    List<Arg> out = new ArrayList<>(c.args().stream().filter(a -> a.name().isEmpty()).toList());
    List<Arg> named = new ArrayList<>(c.args().stream().filter(a -> a.name().isPresent()).toList());
    named.sort(java.util.Comparator.comparingInt((Arg a) -> {
      int i = order.indexOf(a.name().get().text());
      return i < 0 ? Integer.MAX_VALUE : i;
    }));
    out.addAll(named);
    return out;
  }

  private String args(List<Arg> args) {
    return args.stream()
        .map(a -> a.name().map(n -> n.text() + " = ").orElse("") + expr(a.value(), 0)
            + a.arrowOut().map(o -> " -> " + expr(o, 0)).orElse(""))
        .collect(Collectors.joining(", "));
  }

  private String shape(ShapeExpr s) {
    return s.dims().stream().map(e -> expr(e, 0)).collect(Collectors.joining(", ", "[", "]"));
  }

  /** An expression with the parentheses its precedence needs and literals as written. */
  private String expr(Expr e, int context) {
    if (e instanceof IntLit || e instanceof FloatLit || e instanceof BoolLit || e instanceof NameRef) {
      return e.span().text();
    }
    if (e instanceof StringLit s) {
      return s.span().text(); // as written, as other literals
    }
    if (e instanceof ListExpr l) {
      return l.items().stream().map(x -> expr(x, 0)).collect(Collectors.joining(", ", "[", "]"));
    }
    if (e instanceof Unary u) {
      return "-" + expr(u.operand(), 3);
    }
    Binary b = (Binary) e;
    int prec = b.op() == '+' || b.op() == '-' ? 1 : 2;
    String text = expr(b.left(), prec) + " " + b.op() + " " + expr(b.right(), prec + 1);
    return prec < context ? "(" + text + ")" : text;
  }


  // ---- comments and layout ---------------------------------------------------------------------

  /** Writes, each on its own line, the comments that start before {@code pos}. */
  private void leading(int pos, int indent) {
    while (next < comments.size() && comments.get(next).start() < pos) {
      Parsing.Comment c = comments.get(next++);
      if (column() > indent * INDENT.length()) {
        out.append('\n');
      }
      if (out.length() > 0 && blankBefore(c.start()) && !out.toString().endsWith("{\n") && !out.toString().endsWith("\n\n")) {
        out.append('\n');
      }
      indent(indent);
      out.append(c.text().stripTrailing()).append('\n');
      if (blankAfter(c.end()) && (next >= comments.size() || comments.get(next).start() >= pos)) {
        out.append('\n');
      }
    }
    if (column() > 0 && column() <= indent * INDENT.length() && out.charAt(out.length() - 1) == ' ') {
      truncate(out.length() - column());
    }
  }

  /** Appends a comment that starts on the same line as {@code end}, right after it. */
  private void trailing(int end) {
    if (next < comments.size()) {
      Parsing.Comment c = comments.get(next);
      int line = src.line(Math.max(0, end - 1));
      // only a comment right after that code (a comma between at most): one after more code on
      // the line (a one-line group broken over lines) is written with that code
      if (c.start() >= end - 1 && src.line(c.start()) == line && !c.text().contains("\n")
          && (c.start() <= end || src.text().substring(end, c.start()).replace(",", "").isBlank())) {
        if (aligned) {
          // the alignment pass puts it at the author's column (relative to the line's indentation),
          // at least two spaces after the code, and aligns the comments of consecutive lines
          // (the author's column only for a line left as written: on a rewritten line it means nothing)
          int col = writtenAsIs(c.start()) ? relativeColumn(c.start()) : 0;
          out.append(MARK).append(col).append(MARK).append(c.text().stripTrailing());
        } else {
          out.append("  ").append(c.text().stripTrailing());
        }
        next++;
      }
    }
  }

  private boolean hasComment(Span s) {
    for (int i = next; i < comments.size(); i++) {
      Parsing.Comment c = comments.get(i);
      if (c.start() >= s.end()) {
        return false;
      }
      if (c.start() >= s.start()) {
        return true;
      }
    }
    return false;
  }

  /** The source of a span as written, its comments counted as written. */
  private String verbatim(Span s) {
    while (next < comments.size() && comments.get(next).start() < s.end()) {
      next++;
    }
    return s.text();
  }

  private boolean blankBetween(int end, int start) {
    int from = src.line(Math.max(0, end - 1));
    int to = src.line(start);
    for (int l = from + 1; l < to; l++) {
      if (src.lineText(l).isBlank()) {
        return true;
      }
    }
    return false;
  }

  private boolean blankAfter(int end) {
    int line = src.line(Math.max(0, end - 1));
    int lineEnd = line < src.lineCount() ? src.lineStart(line + 1) : src.text().length();
    if (!src.text().substring(end, Math.max(end, lineEnd)).isBlank()) {
      return false; // code follows on the comment's last line: no blank line after it
    }
    return line < src.lineCount() && src.lineText(line + 1).isBlank();
  }

  private boolean blankBefore(int pos) {
    int line = src.line(pos);
    // a comment after code on its line (`relu /* a\n b */`) has no blank line before it
    boolean startsLine = src.text().substring(src.lineStart(line), pos).isBlank();
    return startsLine && line > 1 && src.lineText(line - 1).isBlank();
  }

  /** Marks a trailing comment for {@link #align}; never in a spec's text when {@link #aligned} is true. */
  private static final char MARK = '\u0000';
  /** False when the spec holds a NUL itself: comments then simply follow their code by two spaces. */
  private final boolean aligned;

  /** Whether the output's current line holds what the author wrote on the line of {@code pos}, up to it. */
  private boolean writtenAsIs(int pos) {
    column();
    String written = src.text().substring(src.lineStart(src.line(Math.max(0, pos - 1))), pos).strip();
    return written.equals(out.substring(lastNewline + 1).strip());
  }

  /** A position's column counted from its line's indentation (0 at the first non-blank character). */
  private int relativeColumn(int pos) {
    int start = src.lineStart(src.line(pos));
    int indent = 0;
    while (start + indent < pos && (src.text().charAt(start + indent) == ' ' || src.text().charAt(start + indent) == '\t')) {
      indent++;
    }
    return src.text().codePointCount(start + indent, pos);
  }

  /**
   * The space between two statements on one line: one, or as many as put the second at its
   * author's column (relative to the line's indentation) when the author aligned it with more.
   */
  private void gap(int prevEnd, int nextStart, int min) {
    int want = min;
    // the cheap test first: the lines are compared only where the author put extra spaces (a line
    // of 64,000 statements compared for each of them made fmt quadratic)
    if (nextStart - prevEnd > min && src.text().substring(prevEnd, nextStart).chars().allMatch(ch -> ch == ' ')
        && writtenAsIs(prevEnd)) {
      int lineStart = lastNewline + 1;
      int indentNow = 0;
      while (lineStart + indentNow < out.length() && out.charAt(lineStart + indentNow) == ' ') {
        indentNow++;
      }
      int col = out.codePointCount(lineStart + indentNow, out.length());
      want = Math.max(min, relativeColumn(nextStart) - col);
    }
    out.append(" ".repeat(want));
  }

  /**
   * Puts each trailing comment at its author's column or two spaces after the code, whichever is
   * further, and the trailing comments of consecutive lines at one column (as gofmt does).
   */
  static String align(String text) {
    String[] lines = text.split("\n", -1);
    int i = 0;
    while (i < lines.length) {
      if (lines[i].indexOf(MARK) < 0) {
        i++;
        continue;
      }
      int j = i;
      int column = 0;
      while (j < lines.length && lines[j].indexOf(MARK) >= 0) {
        String line = lines[j];
        int m = line.indexOf(MARK);
        int m2 = line.indexOf(MARK, m + 1);
        String code = line.substring(0, m);
        int indent = 0;
        while (indent < code.length() && code.charAt(indent) == ' ') {
          indent++;
        }
        int wanted = indent + Integer.parseInt(line.substring(m + 1, m2));
        column = Math.max(column, Math.max(code.codePointCount(0, code.length()) + 2, wanted));
        j++;
      }
      for (int k = i; k < j; k++) {
        String line = lines[k];
        int m = line.indexOf(MARK);
        int m2 = line.indexOf(MARK, m + 1);
        String code = line.substring(0, m);
        lines[k] = code + " ".repeat(column - code.codePointCount(0, code.length())) + line.substring(m2 + 1);
      }
      i = j;
    }
    return String.join("\n", lines);
  }

  private void indent(int level) {
    out.append(INDENT.repeat(level));
  }

  /**
   * The column the output has reached. The last newline is tracked as the output grows (a chain
   * of 40,000 layers is one line: searching it backwards for every element made fmt quadratic).
   */
  private int column() {
    for (; scanned < out.length(); scanned++) {
      if (out.charAt(scanned) == '\n') {
        lastNewline = scanned;
      }
    }
    return out.length() - lastNewline - 1;
  }

  private int lastNewline = -1;
  private int scanned;

  /** Cuts the output back to {@code length} characters. */
  private void truncate(int length) {
    out.setLength(length);
    scanned = Math.min(scanned, length);
    if (lastNewline >= length) {
      lastNewline = out.lastIndexOf("\n");
    }
  }
}
