// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.cnnc.compiler.ast.Ast.Arg;
import org.cnnc.compiler.ast.Ast.Expr;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.source.Span;

/**
 * Matches the arguments of a call to the callee's parameters, by position then by name, as Python
 * does. Used by the static checks and by expansion alike, so both report the same words.
 */
public final class Binder {
  private Binder() {}

  /**
   * The binding of one call.
   *
   * @param args parameter name to the expression that gives it
   * @param explicitIn the {@code in} of {@code in -> out} in the first argument, if written
   */
  public record Bound(Map<String, Expr> args, Map<String, Span> spans, Optional<Expr> explicitIn) {}

  /**
   * @param callee how messages name the callee: {@code `conv`} or {@code block `Inception`}
   * @param arrowIn whether the first argument may be {@code in -> out}
   * @return the binding, or empty after reporting why there is none
   */
  public static Optional<Bound> bind(String callee, List<Formal> formals, List<Arg> args, Span callSpan,
      boolean arrowIn, Reporter r) {
    Map<String, Expr> bound = new LinkedHashMap<>();
    Map<String, Span> spans = new LinkedHashMap<>();
    Optional<Expr> explicitIn = Optional.empty();
    boolean ok = true;
    boolean seenNamed = false;
    int positional = 0;
    for (int i = 0; i < args.size(); i++) {
      Arg a = args.get(i);
      Expr value = a.value();
      if (a.arrowOut().isPresent()) {
        if (i == 0 && arrowIn && a.name().isEmpty()) {
          explicitIn = Optional.of(a.value());
          value = a.arrowOut().get();
        } else {
          r.report(Diagnostic.error(Code.INVALID_ARGUMENT, a.span(),
                  "`in -> out` is only allowed as the first argument of conv and dense")
              .label(arrowIn ? "not the first argument" : callee + " takes no input channels")
              .help("remove `" + a.value().span().text() + " ->`"));
          ok = false;
          continue;
        }
      }
      if (a.name().isPresent()) {
        seenNamed = true;
        String name = a.name().get().text();
        Optional<Formal> f = formals.stream().filter(x -> x.name().equals(name)).findFirst();
        if (f.isEmpty()) {
          List<String> names = formals.stream().map(Formal::name).toList();
          var d = Diagnostic.error(Code.UNKNOWN_ARGUMENT, a.name().get().span(),
                  callee + " has no argument `" + name + "`")
              .label("unknown argument")
              .help(Suggest.help(name, names));
          d.note(names.isEmpty() ? callee + " takes no arguments" : callee + " takes " + signature(formals));
          r.report(d);
          ok = false;
        } else if (bound.containsKey(name)) {
          r.report(Diagnostic.error(Code.DUPLICATE_ARGUMENT, a.name().get().span(),
                  "argument `" + name + "` is given twice")
              .label("given again here")
              .note("first given at " + spans.get(name).location(), spans.get(name)));
          ok = false;
        } else {
          bound.put(name, value);
          spans.put(name, a.span());
        }
      } else {
        if (seenNamed) {
          r.report(Diagnostic.error(Code.INVALID_ARGUMENT, a.span(), "positional argument after a named argument")
              .label("positional")
              .help("name this argument, or move it before the named ones"));
          ok = false;
          continue;
        }
        if (positional >= formals.size()) {
          String takes = formals.isEmpty() ? "no arguments"
              : "at most " + formals.size() + (formals.size() == 1 ? " argument" : " arguments");
          long given = args.stream().filter(x -> x.name().isEmpty()).count();
          r.report(Diagnostic.error(Code.TOO_MANY_ARGUMENTS, a.span(),
                  callee + " takes " + takes + ", but " + given + " " + (given == 1 ? "was" : "were") + " given")
              .label("unexpected argument")
              .note(formals.isEmpty() ? callee + " has no parameters" : callee + " takes " + signature(formals)));
          ok = false;
          break;
        }
        Formal f = formals.get(positional++);
        bound.put(f.name(), value);
        spans.put(f.name(), a.span());
      }
    }
    if (ok) {
      for (Formal f : formals) {
        if (f.required() && !bound.containsKey(f.name())) {
          r.report(Diagnostic.error(Code.MISSING_ARGUMENT, callSpan,
                  callee + " is missing its argument `" + f.name() + "`")
              .label("`" + f.name() + "` not given")
              .note(callee + " takes " + signature(formals)));
          ok = false;
        }
      }
    }
    return ok ? Optional.of(new Bound(bound, spans, explicitIn)) : Optional.empty();
  }

  static String signature(List<Formal> formals) {
    return formals.stream()
        .map(f -> f.required() || f.defaultText() == null ? f.name() : f.name() + " = " + f.defaultText())
        .collect(Collectors.joining(", ", "(", ")"));
  }
}
