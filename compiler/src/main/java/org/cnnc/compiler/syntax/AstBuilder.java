// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.syntax;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.Token;
import org.cnnc.compiler.ast.Ast;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.source.Span;
import org.cnnc.grammar.CnnLexer;
import org.cnnc.grammar.CnnParser;

/** Parse tree to AST. ANTLR's contexts end here: nothing past this class sees them. */
final class AstBuilder {
  private final SourceFile file;
  private final Diagnostics diags;
  /** Quoted labels that are no module name, so far: a syntax error, which drops its declaration. */
  private int badLabels;

  AstBuilder(SourceFile file, Diagnostics diags) {
    this.file = file;
    this.diags = diags;
  }

  /** What {@link #partialFile} keeps: the parts without errors, and the names of the declarations dropped. */
  record Partial(CnnFile file, java.util.Set<String> broken) {}

  /**
   * The package, imports and declarations that parsed without an error (see {@link Parsing#clean})
   * and hold no malformed token ({@code lexicalErrors}: their offsets); a declaration with an error is dropped, its name (when it has one) kept in {@code broken}.
   */
  Partial partialFile(CnnParser.FileContext ctx, List<Integer> lexicalErrors) {
    Optional<QualifiedName> pkg = Optional.ofNullable(ctx.packageDecl()).filter(Parsing::clean)
        .map(p -> qualified(p.qualifiedName()));
    List<Import> imports = new ArrayList<>();
    java.util.Set<String> broken = new java.util.LinkedHashSet<>();
    for (var i : ctx.importDecl()) {
      int from = i.getStart().getStartIndex();
      int to = i.getStop() == null ? Integer.MAX_VALUE : i.getStop().getStopIndex();
      if (Parsing.clean(i) && lexicalErrors.stream().noneMatch(at -> at >= from && at <= to)) {
        imports.add(new Import(unquote(i.STRING().getSymbol()), span(i.STRING().getSymbol())));
      } else {
        broken.add(Parsing.ANY_NAME);
      }
    }
    List<Decl> decls = new ArrayList<>();
    for (var d : ctx.decl()) {
      Token name = d.blockDecl() != null ? d.blockDecl().name : d.modelDecl() != null ? d.modelDecl().name : null;
      int from = d.getStart().getStartIndex();
      int to = d.getStop() == null ? Integer.MAX_VALUE : d.getStop().getStopIndex();
      boolean lexical = lexicalErrors.stream().anyMatch(at -> at >= from && at <= to);
      if (lexical || !Parsing.clean(d) || d.blockDecl() == null && d.modelDecl() == null) {
        if (name != null && name.getTokenIndex() >= 0) {
          broken.add(name.getText());
        }
        continue;
      }
      int bad = badLabels;
      Decl built;
      if (d.blockDecl() != null) {
        var b = d.blockDecl();
        built = new BlockDecl(ident(b.name), params(b.paramList()), body(b.body()), span(b));
      } else {
        var m = d.modelDecl();
        built = new ModelDecl(ident(m.name), params(m.paramList()), body(m.body()), span(m));
      }
      if (badLabels > bad) {
        broken.add(name.getText()); // as any syntax error: the declaration is dropped, its name kept
      } else {
        decls.add(built);
      }
    }
    return new Partial(new CnnFile(file, pkg, imports, decls), broken);
  }

  private QualifiedName qualified(CnnParser.QualifiedNameContext ctx) {
    return new QualifiedName(ctx.ID().stream().map(t -> ident(t.getSymbol())).toList(), span(ctx));
  }

  private List<Param> params(CnnParser.ParamListContext ctx) {
    if (ctx == null) {
      return List.of();
    }
    List<Param> out = new ArrayList<>();
    for (var p : ctx.param()) {
      out.add(new Param(ident(p.name), Optional.ofNullable(p.type).map(this::ident),
          Optional.ofNullable(p.expr()).map(this::expr), span(p)));
    }
    return out;
  }

  private Body body(CnnParser.BodyContext ctx) {
    return new Body(ctx.stmt().stream().map(this::stmt).toList(), span(ctx));
  }

  private Stmt stmt(CnnParser.StmtContext ctx) {
    if (ctx instanceof CnnParser.InputStmtContext in) {
      return new InputStmt(Optional.ofNullable(in.name).map(this::ident), shape(in.shape()), span(in));
    }
    if (ctx instanceof CnnParser.OutputStmtContext out) {
      List<Arg> options = args(out.argList());
      return new OutputStmt(ident(out.name), Optional.ofNullable(out.chain()).map(this::chain),
          Optional.ofNullable(out.ref).map(this::nodeName), options, span(out));
    }
    if (ctx instanceof CnnParser.ExpectStmtContext e) {
      return new ExpectStmt(ident(e.what), expr(e.expr()), span(e));
    }
    if (ctx instanceof CnnParser.ExpectInputStmtContext e) {
      List<DimRange> dims = new ArrayList<>();
      for (var d : e.dimRange()) {
        dims.add(new DimRange(expr(d.expr(0)), d.expr().size() > 1 ? Optional.of(expr(d.expr(1))) : Optional.empty(), span(d)));
      }
      return new ExpectInputStmt(dims, span(e));
    }
    var c = (CnnParser.ChainStmtContext) ctx;
    return new ChainStmt(chain(c.chain()), Optional.ofNullable(c.ref).map(this::nodeName), span(c));
  }

  private Chain chain(CnnParser.ChainContext ctx) {
    return new Chain(ctx.element().stream().map(this::element).toList(), span(ctx));
  }

  private Element element(CnnParser.ElementContext ctx) {
    Optional<Ident> label;
    Optional<NumberedLabel> numbered = Optional.empty();
    if (ctx.label != null && ctx.label.STRING() != null && ctx.label.STRING().getText().indexOf('{') >= 0) {
      Token t = ctx.label.STRING().getSymbol();
      label = Optional.of(new Ident(t.getText().substring(1, t.getText().length() - 1), span(t)));
      numbered = numbered(t);
    } else {
      label = Optional.ofNullable(ctx.label).map(this::nodeName);
    }
    return new Element(label, term(ctx.term()), Optional.ofNullable(ctx.shape()).map(this::shape), span(ctx), numbered);
  }

  /**
   * A numbered label, {@code "denselayer{i + 1}"}: text outside braces is part of a module name
   * (letters, digits, {@code _}, {@code -}), each braced part an expression, parsed as one where it
   * stands (its spans are the file's). Empty after reporting a mistake (a syntax error, which drops
   * the declaration as a malformed quoted label does).
   */
  private Optional<NumberedLabel> numbered(Token t) {
    String raw = t.getText();
    int base = t.getStartIndex() + 1;
    String body = raw.substring(1, raw.length() - 1);
    List<String> texts = new ArrayList<>();
    List<Expr> exprs = new ArrayList<>();
    int i = 0;
    StringBuilder text = new StringBuilder();
    while (i <= body.length()) {
      if (i == body.length()) {
        texts.add(text.toString());
        break;
      }
      char c = body.charAt(i);
      if (c == '{') {
        int close = body.indexOf('}', i + 1);
        if (close < 0) {
          return badNumbered(new Span(file, base + i, base + i + 1), "this `{` is not closed", "close it with `}`");
        }
        Optional<Expr> e = labelExpr(body.substring(i + 1, close), base + i + 1);
        if (e == null) { // nested too deeply: reported
          badLabels++;
          return Optional.empty();
        }
        if (e.isEmpty()) {
          return badNumbered(new Span(file, base + i, base + close + 1), "not an expression",
              "write an expression between the braces, as `{i + 1}`");
        }
        texts.add(text.toString());
        text.setLength(0);
        exprs.add(e.get());
        i = close + 1;
      } else if (Character.isLetterOrDigit(c) && c < 128 || c == '_' || c == '-') {
        text.append(c);
        i++;
      } else {
        return badNumbered(new Span(file, base + i, base + i + 1),
            c == '}' ? "this `}` closes no `{`" : "a numbered label's text must be letters, digits, `_` or `-`",
            "a module name joins letters, digits, `_` and `-`; `{expr}` inserts a number");
      }
    }
    return Optional.of(new NumberedLabel(List.copyOf(texts), List.copyOf(exprs), span(t)));
  }

  private Optional<NumberedLabel> badNumbered(Span at, String message, String help) {
    badLabels++;
    diags.report(Diagnostic.error(Code.SYNTAX_ERROR, at, message).label("in this numbered label").help(help).build());
    return Optional.empty();
  }

  /**
   * An expression inside a numbered label's braces, at {@code offset} in the file; empty if it is
   * not one, null after reporting one nested deeper than the parser's limit.
   */
  private Optional<Expr> labelExpr(String text, int offset) {
    CnnLexer lexer = new CnnLexer(org.antlr.v4.runtime.CharStreams.fromString(text));
    lexer.removeErrorListeners();
    List<Token> tokens = new ArrayList<>();
    for (Token tk = lexer.nextToken(); ; tk = lexer.nextToken()) {
      if (tk.getChannel() == Parsing.ERROR_CHANNEL) {
        return Optional.empty();
      }
      org.antlr.v4.runtime.CommonToken shifted = new org.antlr.v4.runtime.CommonToken(tk);
      shifted.setText(tk.getText()); // the text is read from the label's stream, before the offsets move
      shifted.setStartIndex(tk.getStartIndex() + offset);
      shifted.setStopIndex(tk.getStopIndex() + offset);
      tokens.add(shifted);
      if (tk.getType() == Token.EOF) {
        break;
      }
    }
    org.antlr.v4.runtime.CommonTokenStream stream = new org.antlr.v4.runtime.CommonTokenStream(
        new org.antlr.v4.runtime.ListTokenSource(tokens));
    stream.fill();
    if (Parsing.tooDeep(file, stream, diags)) {
      return null;
    }
    CnnParser parser = new CnnParser(stream);
    parser.removeErrorListeners();
    parser.setErrorHandler(new org.antlr.v4.runtime.BailErrorStrategy());
    try {
      CnnParser.ExprContext e = parser.expr();
      if (parser.getCurrentToken().getType() != Token.EOF) {
        return Optional.empty();
      }
      return Optional.of(expr(e));
    } catch (org.antlr.v4.runtime.misc.ParseCancellationException | StackOverflowError e) {
      return Optional.empty();
    }
  }

  private Term term(CnnParser.TermContext ctx) {
    if (ctx instanceof CnnParser.CallTermContext c) {
      return new Call(ident(c.name), args(c.argList()), span(c));
    }
    if (ctx instanceof CnnParser.GroupTermContext g) {
      return new Group(body(g.body()), span(g));
    }
    if (ctx instanceof CnnParser.MergeTermContext m) {
      return new Merge(ident(m.op), m.branch().stream().map(this::branch).toList(), span(m));
    }
    var r = (CnnParser.RepeatTermContext) ctx;
    return new Repeat(expr(r.expr()), Optional.ofNullable(r.var).map(this::ident), body(r.body()), span(r));
  }

  private Branch branch(CnnParser.BranchContext ctx) {
    if (ctx instanceof CnnParser.ChainBranchContext c) {
      return new Branch(Optional.of(chain(c.chain())), Optional.ofNullable(c.ref).map(this::nodeName), span(c));
    }
    var r = (CnnParser.RefBranchContext) ctx;
    return new Branch(Optional.ofNullable(r.chain()).map(this::chain), Optional.of(nodeName(r.ref)), span(r));
  }

  private List<Arg> args(CnnParser.ArgListContext ctx) {
    if (ctx == null) {
      return List.of();
    }
    List<Arg> out = new ArrayList<>();
    for (var a : ctx.arg()) {
      Expr value = expr(a.expr(0));
      Optional<Expr> arrow = a.expr().size() > 1 ? Optional.of(expr(a.expr(1))) : Optional.empty();
      out.add(new Arg(Optional.ofNullable(a.name).map(this::ident), value, arrow, span(a)));
    }
    return out;
  }

  private ShapeExpr shape(CnnParser.ShapeContext ctx) {
    return new ShapeExpr(ctx.expr().stream().map(this::expr).toList(), span(ctx));
  }

  private Expr expr(CnnParser.ExprContext ctx) {
    Span span = span(ctx);
    if (ctx instanceof CnnParser.ParenExprContext p) {
      return expr(p.expr());
    }
    if (ctx instanceof CnnParser.NegExprContext n) {
      return new Unary('-', expr(n.expr()), span);
    }
    if (ctx instanceof CnnParser.MulExprContext m) {
      return new Binary(m.op.getText().charAt(0), expr(m.expr(0)), expr(m.expr(1)), span);
    }
    if (ctx instanceof CnnParser.AddExprContext a) {
      return new Binary(a.op.getText().charAt(0), expr(a.expr(0)), expr(a.expr(1)), span);
    }
    if (ctx instanceof CnnParser.IntExprContext) {
      return new IntLit(new BigInteger(ctx.getText().replace("_", "")), span);
    }
    if (ctx instanceof CnnParser.FloatExprContext) {
      double v = Double.parseDouble(ctx.getText().replace("_", ""));
      if (Double.isInfinite(v)) {
        diags.report(Diagnostic.error(Code.INT_OVERFLOW, span, "number `" + ctx.getText() + "` is too large")
            .label("beyond the range of a 64-bit float")
            .build());
      }
      return new FloatLit(v, span);
    }
    if (ctx instanceof CnnParser.BoolExprContext) {
      return new BoolLit(ctx.getText().equals("true"), span);
    }
    if (ctx instanceof CnnParser.StringExprContext s) {
      return new StringLit(unquote(s.STRING().getSymbol()), span);
    }
    if (ctx instanceof CnnParser.NameExprContext n) {
      return new NameRef(ident(n.ID().getSymbol()), span);
    }
    var l = (CnnParser.ListExprContext) ctx;
    return new ListExpr(l.expr().stream().map(this::expr).toList(), span);
  }

  /**
   * A label or a reference to one: a name, or a quoted name (see {@link Labels}), whose text is
   * the name without its quotes and whose span covers the quotes. A quoted name that is not
   * a letter or {@code _} followed by letters, digits, {@code _} and {@code -} is an error: it
   * would not be a module name ({@code .} separates them), or would read as a position.
   */
  private Ident nodeName(CnnParser.NodeNameContext ctx) {
    if (ctx.STRING() == null) {
      return ident(ctx.ID().getSymbol());
    }
    Token t = ctx.STRING().getSymbol();
    String name = unquote(t);
    Span at = span(t);
    if (name.indexOf('{') >= 0) {
      badLabels++;
      diags.report(Diagnostic.error(Code.SYNTAX_ERROR, at, "`from` cannot name a numbered label")
          .label("a numbered label")
          .help("a numbered label names a module in each repetition; `from` reads one node, by a plain label")
          .build());
      return new Ident(name, at);
    }
    if (!Labels.QUOTED.matcher(name).matches()) {
      badLabels++;
      diags.report(Diagnostic.error(Code.SYNTAX_ERROR, at, "a quoted label must be a letter or `_`, then letters, "
              + "digits, `_` or `-`, found " + org.cnnc.compiler.io.Escape.cnnString(name))
          .label("not a module name")
          .help("PyTorch joins module names with `.`; a name of digits would read as a position in a sequence")
          .build());
    }
    return new Ident(name, at);
  }

  private Ident ident(Token t) {
    return new Ident(t.getText(), span(t));
  }

  private Span span(Token t) {
    return new Span(file, t.getStartIndex(), t.getStopIndex() + 1);
  }

  private Span span(ParserRuleContext ctx) {
    Token start = ctx.getStart();
    Token stop = ctx.getStop();
    int end = stop == null || stop.getStopIndex() < start.getStartIndex() ? start.getStartIndex() : stop.getStopIndex() + 1;
    return new Span(file, start.getStartIndex(), end);
  }

  private static String unquote(Token t) {
    String s = t.getText();
    StringBuilder out = new StringBuilder();
    for (int i = 1; i < s.length() - 1; i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 1 < s.length() - 1) {
        char n = s.charAt(++i);
        out.append(switch (n) {
          case 'n' -> '\n';
          case 't' -> '\t';
          default -> n;
        });
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }
}
