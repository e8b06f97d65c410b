// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ast;

import java.math.BigInteger;
import java.util.List;
import java.util.Optional;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.source.Span;

/**
 * The syntax tree of a spec: immutable records, each with the span it came from. This is the only
 * tree later phases see; no ANTLR type appears here. Spans never take part in equality (see
 * {@link Span#equals}), so two trees parsed from differently laid-out text compare equal.
 */
public final class Ast {
  private Ast() {}

  /** A name as written, with its place. */
  public record Ident(String text, Span span) {
    @Override
    public String toString() {
      return text;
    }
  }

  public record CnnFile(SourceFile source, Optional<QualifiedName> pkg, List<Import> imports, List<Decl> decls) {
    public List<BlockDecl> blocks() {
      return decls.stream().filter(BlockDecl.class::isInstance).map(BlockDecl.class::cast).toList();
    }

    public List<ModelDecl> models() {
      return decls.stream().filter(ModelDecl.class::isInstance).map(ModelDecl.class::cast).toList();
    }
  }

  public record QualifiedName(List<Ident> parts, Span span) {
    public String dotted() {
      return String.join(".", parts.stream().map(Ident::text).toList());
    }
  }

  public record Import(String path, Span span) {}

  /** A formal parameter of a block or model: {@code name [: type] [= default]}. */
  public record Param(Ident name, Optional<Ident> type, Optional<Expr> defaultValue, Span span) {}

  public sealed interface Decl permits BlockDecl, ModelDecl {
    Ident name();

    List<Param> params();

    Body body();

    Span span();
  }

  public record BlockDecl(Ident name, List<Param> params, Body body, Span span) implements Decl {}

  public record ModelDecl(Ident name, List<Param> params, Body body, Span span) implements Decl {}

  /** A sequence of statements between braces: a model's, a block's or a group's. */
  public record Body(List<Stmt> stmts, Span span) {
    /** The chains of its chain and output statements, in order: what walkers over layers visit. */
    public List<Chain> chains() {
      List<Chain> out = new java.util.ArrayList<>();
      for (Stmt s : stmts) {
        chainOf(s).ifPresent(out::add);
      }
      return out;
    }
  }

  /** The layers a statement adds: a chain statement's chain, an output's, or none. */
  public static Optional<Chain> chainOf(Stmt s) {
    if (s instanceof ChainStmt c) {
      return Optional.of(c.chain());
    }
    return s instanceof OutputStmt o ? o.chain() : Optional.empty();
  }

  public sealed interface Stmt permits InputStmt, OutputStmt, ChainStmt, ExpectStmt, ExpectInputStmt {
    Span span();
  }

  /** {@code input [name] [C, H, W]}. */
  public record InputStmt(Optional<Ident> name, ShapeExpr shape, Span span) implements Stmt {}

  /** {@code output name [= chain] [from node] [with loss = ..., weight = ...]}. */
  public record OutputStmt(Ident name, Optional<Chain> chain, Optional<Ident> from, List<Arg> options, Span span)
      implements Stmt {}

  /** A chain of elements, optionally starting from a named node instead of the previous one. */
  public record ChainStmt(Chain chain, Optional<Ident> from, Span span) implements Stmt {}

  /** {@code expect params <= N}: a budget that {@code cnnc lint} checks ({@code params}, {@code macs}, {@code buffers}). */
  public record ExpectStmt(Ident what, Expr limit, Span span) implements Stmt {}

  /** {@code expect input [3, 31..34, 31..34]}: the input sizes the model should accept; {@code cnnc lint} tries each. */
  public record ExpectInputStmt(List<DimRange> dims, Span span) implements Stmt {}

  /** {@code lo} or {@code lo..hi} (inclusive). */
  public record DimRange(Expr lo, Optional<Expr> hi, Span span) {}

  public record Chain(List<Element> elements, Span span) {}

  /**
   * {@code [label:] term [: [shape]]}. A quoted label with {@code {expr}} parts, as
   * {@code "denselayer{i + 1}"}, is {@code numbered}: its name is computed where it is expanded
   * (its {@code label} holds the text as written, between the quotes).
   */
  public record Element(Optional<Ident> label, Term term, Optional<ShapeExpr> assertion, Span span,
      Optional<NumberedLabel> numbered) {
    public Element(Optional<Ident> label, Term term, Optional<ShapeExpr> assertion, Span span) {
      this(label, term, assertion, span, Optional.empty());
    }
  }

  /**
   * A label computed from expressions, {@code "denselayer{i + 1}"}: literal text and expressions
   * alternate, {@code texts.size() == exprs.size() + 1}; each expression gives an integer (written
   * in decimal) or a string.
   */
  public record NumberedLabel(List<String> texts, List<Expr> exprs, Span span) {}

  public sealed interface Term permits Call, Group, Merge, Repeat {
    Span span();
  }

  /**
   * An op or block: {@code conv(64, 3, padding = 1)}, {@code relu}. Named arguments compare
   * regardless of their order, which does not change the call (the formatter puts them in the
   * callee's parameter order).
   */
  public record Call(Ident callee, List<Arg> args, Span span) implements Term {
    @Override
    public boolean equals(Object o) {
      return o instanceof Call c && callee.equals(c.callee) && positional(args).equals(positional(c.args))
          && named(args).equals(named(c.args));
    }

    @Override
    public int hashCode() {
      return java.util.Objects.hash(callee, positional(args), named(args));
    }

    private static List<Arg> positional(List<Arg> args) {
      return args.stream().filter(a -> a.name().isEmpty()).toList();
    }

    private static List<Arg> named(List<Arg> args) {
      return args.stream().filter(a -> a.name().isPresent())
          .sorted(java.util.Comparator.comparing((Arg a) -> a.name().get().text())).toList();
    }
  }

  /** {@code { ... }}: a sequence that is one module, like {@code nn.Sequential}. */
  public record Group(Body body, Span span) implements Term {}

  /**
   * A merge of the op registry applied to branches: {@code concat(branch, ...)},
   * {@code add(...)}, {@code mul(...)}; {@code op} is the merge's name (a registry merge: only
   * those are lexed as merges).
   */
  public record Merge(Ident op, List<Branch> branches, Span span) implements Term {
    /** The merge's name, as the registry knows it. */
    public String name() {
      return op.text();
    }
  }

  /**
   * {@code repeat N [as i] { ... }}: the body's items, N times, inline in the enclosing sequence;
   * {@code i} counts the repetitions from 0 in the body's expressions and numbered labels.
   */
  public record Repeat(Expr count, Optional<Ident> var, Body body, Span span) implements Term {}

  /** A branch of a merge: a chain from the merge's input, a chain from a named node, or a named node. */
  public record Branch(Optional<Chain> chain, Optional<Ident> from, Span span) {}

  /** {@code [name =] value [-> out]}; the arrow form gives explicit input channels. */
  public record Arg(Optional<Ident> name, Expr value, Optional<Expr> arrowOut, Span span) {}

  public record ShapeExpr(List<Expr> dims, Span span) {}

  public sealed interface Expr permits IntLit, FloatLit, BoolLit, StringLit, NameRef, ListExpr, Unary, Binary {
    Span span();
  }

  public record IntLit(BigInteger value, Span span) implements Expr {}

  public record FloatLit(double value, Span span) implements Expr {}

  public record BoolLit(boolean value, Span span) implements Expr {}

  public record StringLit(String value, Span span) implements Expr {}

  public record NameRef(Ident name, Span span) implements Expr {}

  public record ListExpr(List<Expr> items, Span span) implements Expr {}

  public record Unary(char op, Expr operand, Span span) implements Expr {}

  public record Binary(char op, Expr left, Expr right, Span span) implements Expr {}
}
