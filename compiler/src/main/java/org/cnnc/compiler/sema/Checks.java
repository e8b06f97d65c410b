// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.List;
import java.util.Optional;
import org.cnnc.compiler.ast.Ast.Expr;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.ParamSig;

/** Checks shared by the static pass and expansion, so both say the same thing. */
public final class Checks {
  private Checks() {}

  /** The losses an output can be trained with. */
  public static final List<String> LOSSES = List.of("cross_entropy", "nll", "mse", "l1", "bce", "bce_logits", "none");

  /** The options of an {@code output} statement. */
  public static final List<Formal> OUTPUT_OPTIONS = List.of(
      new Formal("loss", Type.SYMBOL, false, "cross_entropy"),
      new Formal("weight", Type.FLOAT, false, "1.0"));

  public static List<Formal> formals(OpDef op) {
    return op.params().stream()
        .map(p -> new Formal(p.name(), p.type(), p.isRequired(), p.isRequired() ? null : p.defaultText()))
        .toList();
  }

  /** The value converted to the parameter's type, or null after an ARGUMENT_TYPE error. */
  public static Value convert(Value v, Type type, String param, String callee, Expr at, Reporter r) {
    Optional<Value> c = type.convert(v);
    if (c.isPresent()) {
      return c.get();
    }
    r.report(Diagnostic.error(Code.ARGUMENT_TYPE, at.span(),
            "argument `" + param + "` of " + callee + " expects " + type.description() + ", found "
                + v.typeName() + " " + v.show())
        .label("this is " + article(v.typeName()) + " " + v.typeName()));
    return null;
  }

  /** A loss name, checked, or null after an INVALID_ARGUMENT error. */
  public static String loss(Value v, Expr at, Reporter r) {
    String name = ((Value.SymV) v).value();
    if (LOSSES.contains(name)) {
      return name;
    }
    r.report(Diagnostic.error(Code.INVALID_ARGUMENT, at.span(), "unknown loss `" + name + "`")
        .label("not a loss")
        .note("losses: " + String.join(", ", LOSSES))
        .help(Suggest.help(name, LOSSES)));
    return null;
  }

  /** The value when it lies in the parameter's range, or null after an INVALID_ARGUMENT error. */
  public static Value range(Value v, ParamSig sig, String callee, Expr at, Reporter r) {
    if (sig.inRange(v)) {
      return v;
    }
    r.report(Diagnostic.error(Code.INVALID_ARGUMENT, at.span(),
            "argument `" + sig.name() + "` of " + callee + " must be " + sig.rangeText() + ", found " + v.show())
        .label("out of range")
        .help(sig.doc()));
    return null;
  }

  private static String article(String word) {
    return "aeiou".indexOf(word.charAt(0)) >= 0 ? "an" : "a";
  }
}
