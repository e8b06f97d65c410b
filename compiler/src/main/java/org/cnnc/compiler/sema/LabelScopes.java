// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.source.Span;

/**
 * Resolves every {@code from} of a declaration to the label it reads, once, by the language's
 * scoping, and keeps the answer in the {@link Resolution}: the expander, the generated code and
 * the editor all read it, so they cannot wire a network differently.
 *
 * <p>The rule: a label is seen after its item, in its sequence and in the sequences nested in it
 * (a group, a labeled {@code repeat} or merge, a branch of several items), never outside them; an
 * unlabeled {@code repeat} or merge adds its labels to the enclosing sequence; a block's body sees
 * only its own labels. A model's input is a label too ({@code input} unless named). A numbered
 * label names a module, not a node {@code from} can read.
 */
final class LabelScopes {
  private final Resolution resolution;
  private final Reporter r;

  private static final class Scope {
    final Scope parent;
    final Map<String, Span> labels = new LinkedHashMap<>();

    Scope(Scope parent) {
      this.parent = parent;
    }

    Span find(String label) {
      for (Scope s = this; s != null; s = s.parent) {
        Span at = s.labels.get(label);
        if (at != null) {
          return at;
        }
      }
      return null;
    }

    List<String> visible() {
      List<String> out = new ArrayList<>();
      for (Scope s = this; s != null; s = s.parent) {
        out.addAll(s.labels.keySet());
      }
      return out;
    }
  }

  LabelScopes(Resolution resolution, Reporter r) {
    this.resolution = resolution;
    this.r = r;
  }

  void decl(Decl d) {
    body(d.body(), new Scope(null));
  }

  private void body(Body b, Scope s) {
    for (Stmt st : b.stmts()) {
      if (st instanceof InputStmt in) {
        s.labels.put(in.name().map(Ident::text).orElse("input"), in.name().map(Ident::span).orElse(in.span()));
      } else if (st instanceof ChainStmt c) {
        c.from().ifPresent(f -> ref(f, s));
        chain(c.chain(), s);
      } else if (st instanceof OutputStmt o) {
        o.from().ifPresent(f -> ref(f, s));
        if (o.chain().isPresent()) {
          List<Element> els = o.chain().get().elements();
          if (els.size() == 1 && els.get(0).label().isEmpty()) {
            element(els.get(0), s, o.name().text()); // the output's one item is named by the output
          } else {
            chain(o.chain().get(), s);
          }
        }
      }
    }
  }

  private void chain(Chain c, Scope s) {
    for (Element e : c.elements()) {
      element(e, s, null);
    }
  }

  /** @param outputName the output's name when the element is an output's only, unlabeled item (it names it) */
  private void element(Element e, Scope s, String outputName) {
    boolean labeled = e.label().isPresent() || outputName != null;
    Term t = e.term();
    if (t instanceof Group g) {
      body(g.body(), new Scope(s));
    } else if (t instanceof Repeat rep) {
      body(rep.body(), labeled ? new Scope(s) : s);
    } else if (t instanceof Merge m) {
      Scope branches = labeled ? new Scope(s) : s;
      for (Branch b : m.branches()) {
        b.from().ifPresent(f -> ref(f, s));
        b.chain().ifPresent(ch -> {
          if (ch.elements().size() == 1) {
            element(ch.elements().get(0), branches, null);
          } else {
            chain(ch, new Scope(branches));
          }
        });
      }
    }
    if (labeled && e.numbered().isEmpty()) {
      s.labels.put(e.label().map(Ident::text).orElse(outputName), e.label().map(Ident::span).orElse(e.span()));
    }
  }

  private void ref(Ident ref, Scope s) {
    Span at = s.find(ref.text());
    if (at != null) {
      resolution.label(ref, at);
      return;
    }
    r.report(Diagnostic.error(Code.UNKNOWN_NAME, ref.span(), "no node named `" + ref.text() + "` before this point")
        .label("unknown node")
        .help(Suggest.help(ref.text(), s.visible())));
  }
}
