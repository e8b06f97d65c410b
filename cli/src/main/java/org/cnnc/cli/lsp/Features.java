// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli.lsp;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Scope;
import org.cnnc.compiler.sema.Resolver;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.ParamSig;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.source.Span;
import org.cnnc.compiler.summary.SummaryRenderer;
import org.eclipse.lsp4j.CompletionItem;
import org.eclipse.lsp4j.CompletionItemKind;

/** Hover, definition and completion over a compilation; plain functions, tested without a server. */
final class Features {
  private Features() {}

  private static boolean inside(Span s, SourceFile f, int at) {
    return s.file() == f && s.start() <= at && at <= s.end();
  }

  /**
   * Markdown for what is under the cursor: a layer's shape and parameters, a block instance's
   * figures, or for a label (where it is declared or used) what it labels.
   */
  static String hover(Compiler.Compilation c, SourceFile f, int at) {
    Element labeled = labeledElement(c, f, at);
    if (labeled != null) {
      String what = labelHover(c, f, labeled);
      if (what != null) {
        return what;
      }
    }
    return termHover(c, f, at);
  }

  /** The element whose label is under the cursor, or whose label a reference under the cursor names. */
  private static Element labeledElement(Compiler.Compilation c, SourceFile f, int at) {
    var file = c.program().file(f);
    if (file == null) {
      return null;
    }
    List<Element> all = new ArrayList<>();
    for (Decl d : file.decls()) {
      elements(d.body(), all);
    }
    for (Element e : all) {
      if (e.label().isPresent() && inside(e.label().get().span(), f, at)) {
        return e;
      }
    }
    Span target = definition(c, f, at);
    if (target == null) {
      return null;
    }
    for (Element e : all) {
      if (e.label().isPresent() && e.label().get().span().samePlace(target)) {
        return e;
      }
    }
    return null;
  }

  private static void elements(Body body, List<Element> out) {
    for (Chain ch : body.chains()) {
      elements(ch, out);
    }
  }

  private static void elements(Chain ch, List<Element> out) {
    for (Element e : ch.elements()) {
      out.add(e);
      if (e.term() instanceof Group g) {
        elements(g.body(), out);
      } else if (e.term() instanceof Repeat r) {
        elements(r.body(), out);
      } else if (e.term() instanceof Merge m) {
        for (Branch b : m.branches()) {
          b.chain().ifPresent(bc -> elements(bc, out));
        }
      }
    }
  }

  /**
   * What a label names: for a call, the op or block instance (as hovering the call shows it); for
   * a group, merge or repeat, its output shape and the parameters of everything in it.
   */
  private static String labelHover(Compiler.Compilation c, SourceFile f, Element e) {
    String name = e.label().orElseThrow().text();
    if (e.term() instanceof Call call) {
      String inner = termHover(c, f, call.callee().span().start());
      return inner == null ? null : "label `" + name + "`: " + inner;
    }
    Span term = e.term().span();
    String kind = e.term() instanceof Group ? "group" : e.term() instanceof Repeat ? "repeat" : "merge";
    List<String> lines = new ArrayList<>();
    for (Network n : c.networks()) {
      // the compiler's scope of each instance of the labeled group, repeat or merge
      for (Scope s : n.root().descendants()) {
        if ((s.kind() == Scope.Kind.GROUP || s.kind() == Scope.Kind.MERGE) && s.span().samePlace(term)
            && !s.nodeIds().isEmpty() && lines.size() < 12) {
          lines.add("label `" + name + "`: **" + kind + "** in `" + n.name() + "`"
              + (s.path().equals(name) ? "" : " (`" + s.path() + "`)") + " → " + figures(n, s.nodeIds(), true));
        }
      }
    }
    return lines.isEmpty() ? null : String.join("\n\n", lines);
  }

  /** The output shape, parameters and MACs of a scope's nodes (and how many, with {@code layers}). */
  private static String figures(Network n, List<Integer> ids, boolean layers) {
    long params = ids.stream().mapToLong(i -> n.node(i).paramCount()).sum();
    long macs = ids.stream().mapToLong(i -> n.node(i).macs()).sum();
    Node last = n.node(ids.stream().mapToInt(Integer::intValue).max().orElseThrow());
    return last.shape() + " · " + (layers ? ids.size() + " layers · " : "") + SummaryRenderer.num(params) + " params · "
        + SummaryRenderer.num(macs) + " MACs";
  }

  /** Markdown for the layer or block instance under the cursor. */
  private static String termHover(Compiler.Compilation c, SourceFile f, int at) {
    List<String> lines = new ArrayList<>();
    for (Network n : c.networks()) {
      // the block instances whose call is under the cursor
      for (Scope s : n.root().descendants()) {
        if (s.kind() == Scope.Kind.BLOCK && inside(s.span(), f, at)) {
          lines.add("**" + s.blockName() + "** `" + n.name() + "." + s.path() + "` → " + figures(n, s.nodeIds(), false));
        }
      }
      if (!lines.isEmpty()) {
        continue;
      }
      Node best = null;
      for (Node node : n.nodes()) {
        if (inside(node.span(), f, at) && (best == null || node.span().end() - node.span().start()
            < best.span().end() - best.span().start())) {
          best = node;
        }
      }
      if (best == null) {
        continue;
      }
      // every instance of that layer (a layer inside a block exists once per instance)
      for (Node node : n.nodes()) {
        if (node.span().samePlace(best.span()) && lines.size() < 12) {
          lines.add("**" + node.op() + "** `" + n.name() + "." + node.name() + "` → " + node.shape()
              + (node.paramCount() > 0 ? " · " + SummaryRenderer.num(node.paramCount()) + " params" : "")
              + (node.macs() > 0 ? " · " + SummaryRenderer.num(node.macs()) + " MACs" : ""));
        }
      }
    }
    return lines.isEmpty() ? null : String.join("\n\n", lines);
  }

  /** The declaration of the block or named node under the cursor. */
  static Span definition(Compiler.Compilation c, SourceFile f, int at) {
    var file = c.program().file(f);
    if (file == null) {
      return null;
    }
    for (Decl d : file.decls()) {
      Span found = definition(c, d, d.body(), f, at);
      if (found != null) {
        return found;
      }
    }
    return null;
  }

  private static Span definition(Compiler.Compilation c, Decl d, Body body, SourceFile f, int at) {
    for (Stmt st : body.stmts()) {
      Optional<Ident> ref = st instanceof ChainStmt cs ? cs.from() : st instanceof OutputStmt o ? o.from() : Optional.empty();
      if (ref.isPresent() && inside(ref.get().span(), f, at)) {
        return c.program().resolution().declarationOf(ref.get()).orElse(null);
      }
      Optional<Chain> chain = org.cnnc.compiler.ast.Ast.chainOf(st);
      Span s = chain.isPresent() ? definition(c, d, chain.get(), f, at) : null;
      if (s != null) {
        return s;
      }
    }
    return null;
  }

  private static Span definition(Compiler.Compilation c, Decl d, Chain ch, SourceFile f, int at) {
    for (Element e : ch.elements()) {
      Term t = e.term();
      if (t instanceof Call call && inside(call.callee().span(), f, at)) {
        BlockDecl b = c.program().block(f, call.callee().text());
        return b == null ? null : b.name().span();
      }
      if (t instanceof Group g) {
        Span s = definition(c, d, g.body(), f, at);
        if (s != null) {
          return s;
        }
      } else if (t instanceof Repeat r) {
        Span s = definition(c, d, r.body(), f, at);
        if (s != null) {
          return s;
        }
      } else if (t instanceof Merge m) {
        for (Branch b : m.branches()) {
          if (b.from().isPresent() && inside(b.from().get().span(), f, at)) {
            return c.program().resolution().declarationOf(b.from().get()).orElse(null);
          }
          if (b.chain().isPresent()) {
            Span s = definition(c, d, b.chain().get(), f, at);
            if (s != null) {
              return s;
            }
          }
        }
      }
    }
    return null;
  }

  /** Ops and blocks, or inside a call's parentheses the callee's argument names. */
  static List<CompletionItem> complete(Compiler.Compilation c, String text, int at) {
    String callee = enclosingCall(text, at);
    List<CompletionItem> out = new ArrayList<>();
    if (callee != null) {
      OpDef op = Ops.callable(callee);
      if (op != null) {
        for (ParamSig p : op.params()) {
          out.add(item(p.name(), CompletionItemKind.Property, p.type().keyword() + " = " + p.defaultText() + ": " + p.doc(),
              p.name() + " = "));
        }
        return out;
      }
      for (var f : c.program().files()) {
        for (BlockDecl b : f.blocks()) {
          if (b.name().text().equals(callee)) {
            for (var formal : Resolver.blockFormals(b)) {
              out.add(item(formal.name(), CompletionItemKind.Property, formal.type().keyword()
                  + (formal.defaultText() == null ? "" : " = " + formal.defaultText()), formal.name() + " = "));
            }
            return out;
          }
        }
      }
    }
    for (OpDef op : Ops.callable()) {
      out.add(item(op.name(), CompletionItemKind.Function, op.summary(), op.name()));
    }
    Set<String> blocks = new LinkedHashSet<>();
    c.program().files().forEach(f -> f.blocks().forEach(b -> blocks.add(b.name().text())));
    for (String b : blocks) {
      out.add(item(b, CompletionItemKind.Class, "block", b));
    }
    List<String> keywords = new ArrayList<>(org.cnnc.compiler.syntax.Labels.keywords());
    Ops.all().stream().filter(OpDef::isMerge).forEach(m -> keywords.add(m.name()));
    for (String kw : keywords) {
      out.add(item(kw, CompletionItemKind.Keyword, "keyword", kw));
    }
    return out;
  }

  private static CompletionItem item(String label, CompletionItemKind kind, String detail, String insert) {
    CompletionItem i = new CompletionItem(label);
    i.setKind(kind);
    i.setDetail(detail);
    i.setInsertText(insert);
    return i;
  }

  /** The name before the innermost unclosed `(` before the cursor, if any (works on broken text too). */
  static String enclosingCall(String text, int at) {
    int depth = 0;
    for (int i = Math.min(at, text.length()) - 1; i >= 0; i--) {
      char ch = text.charAt(i);
      if (ch == ')') {
        depth++;
      } else if (ch == '(') {
        if (depth == 0) {
          int end = i;
          int start = end;
          while (start > 0 && (Character.isLetterOrDigit(text.charAt(start - 1)) || text.charAt(start - 1) == '_')) {
            start--;
          }
          return start < end ? text.substring(start, end) : null;
        }
        depth--;
      } else if (ch == '{' || ch == '}') {
        return null;
      }
    }
    return null;
  }
}
