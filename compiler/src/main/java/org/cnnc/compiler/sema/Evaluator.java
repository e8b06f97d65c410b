// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;

/**
 * Evaluates argument expressions. Integers are 64-bit and every operation is checked: an overflow
 * is an error at the expression, never a wrapped value. {@code /} on integers divides and floors.
 */
public final class Evaluator {
  private Evaluator() {}

  /** The value, or null after reporting why there is none. */
  public static Value eval(Expr e, Map<String, Value> vars, Reporter r) {
    if (e instanceof IntLit i) {
      if (i.value().bitLength() > 63) {
        r.report(Diagnostic.error(Code.INT_OVERFLOW, i.span(), "integer `" + i.span().text() + "` is too large")
            .label("beyond 64 bits")
            .help("integers range from " + Long.MIN_VALUE + " to " + Long.MAX_VALUE));
        return null;
      }
      return new Value.IntV(i.value().longValueExact());
    }
    if (e instanceof FloatLit f) {
      return Double.isInfinite(f.value()) ? null : new Value.FloatV(f.value());
    }
    if (e instanceof BoolLit b) {
      return new Value.BoolV(b.value());
    }
    if (e instanceof StringLit s) {
      return new Value.StrV(s.value());
    }
    if (e instanceof NameRef n) {
      Value v = vars.get(n.name().text());
      if (v == null) {
        unknownName(n, vars.keySet(), r);
      }
      return v;
    }
    if (e instanceof ListExpr l) {
      List<Value> items = new ArrayList<>();
      boolean ok = true;
      for (Expr x : l.items()) {
        Value v = eval(x, vars, r);
        ok &= v != null;
        items.add(v);
      }
      return ok ? new Value.ListV(items) : null;
    }
    if (e instanceof Unary u) {
      Value v = eval(u.operand(), vars, r);
      if (v instanceof Value.IntV i) {
        if (i.value() == Long.MIN_VALUE) {
          return overflow(u, r);
        }
        return new Value.IntV(-i.value());
      }
      if (v instanceof Value.FloatV f) {
        return new Value.FloatV(-f.value());
      }
      if (v != null) {
        r.report(Diagnostic.error(Code.ARGUMENT_TYPE, u.span(), "cannot negate a " + v.typeName())
            .label(v.typeName() + " " + v.show()));
      }
      return null;
    }
    return binary((Binary) e, vars, r);
  }

  public static void unknownName(NameRef n, java.util.Collection<String> known, Reporter r) {
    String name = n.name().text();
    var d = Diagnostic.error(Code.UNKNOWN_NAME, n.span(), "unknown name `" + name + "`")
        .label("not a parameter in scope")
        .help(Suggest.help(name, known));
    if (known.isEmpty()) {
      d.note("no parameters are in scope here");
    }
    r.report(d);
  }

  private static Value binary(Binary b, Map<String, Value> vars, Reporter r) {
    Value l = eval(b.left(), vars, r);
    Value rv = eval(b.right(), vars, r);
    if (l == null || rv == null) {
      return null;
    }
    if (l instanceof Value.IntV x && rv instanceof Value.IntV y) {
      long a = x.value();
      long c = y.value();
      try {
        return new Value.IntV(switch (b.op()) {
          case '+' -> Math.addExact(a, c);
          case '-' -> Math.subtractExact(a, c);
          case '*' -> Math.multiplyExact(a, c);
          case '/' -> {
            if (c == 0) {
              yield divByZero(b, r);
            }
            if (a == Long.MIN_VALUE && c == -1) {
              throw new ArithmeticException();
            }
            yield Math.floorDiv(a, c);
          }
          default -> {
            if (c == 0) {
              yield divByZero(b, r);
            }
            yield Math.floorMod(a, c);
          }
        });
      } catch (ArithmeticException e) {
        return overflow(b, r);
      } catch (DivByZero e) {
        return null;
      }
    }
    if (isNumber(l) && isNumber(rv)) {
      double a = number(l);
      double c = number(rv);
      double v = switch (b.op()) {
        case '+' -> a + c;
        case '-' -> a - c;
        case '*' -> a * c;
        case '/' -> a / c;
        default -> a % c;
      };
      if (Double.isNaN(v) || Double.isInfinite(v)) {
        if (c == 0 && (b.op() == '/' || b.op() == '%')) {
          try {
            divByZero(b, r);
          } catch (DivByZero e) {
            return null;
          }
        }
        return overflow(b, r);
      }
      return new Value.FloatV(v);
    }
    r.report(Diagnostic.error(Code.ARGUMENT_TYPE, b.span(),
            "cannot apply `" + b.op() + "` to " + l.typeName() + " and " + rv.typeName())
        .label(l.show() + " " + b.op() + " " + rv.show())
        .help("arithmetic takes integers and floats"));
    return null;
  }

  private static final class DivByZero extends RuntimeException {
    DivByZero() {
      super(null, null, false, false);
    }
  }

  private static long divByZero(Binary b, Reporter r) {
    r.report(Diagnostic.error(Code.DIVISION_BY_ZERO, b.right().span(), "division by zero").label("this is zero"));
    throw new DivByZero();
  }

  private static Value overflow(Expr e, Reporter r) {
    r.report(Diagnostic.error(Code.INT_OVERFLOW, e.span(), "arithmetic overflow in `" + e.span().text() + "`")
        .label("the result does not fit in 64 bits")
        .help("integers range from " + Long.MIN_VALUE + " to " + Long.MAX_VALUE));
    return null;
  }

  private static boolean isNumber(Value v) {
    return v instanceof Value.IntV || v instanceof Value.FloatV;
  }

  private static double number(Value v) {
    return v instanceof Value.IntV i ? i.value() : ((Value.FloatV) v).value();
  }

  /**
   * Checks an expression whose value reaches generated Java, where integers are 32-bit {@code int}s:
   * a constant part is emitted as the value computed here, which must fit; a part that names a
   * parameter is computed by the Java code, so its value must fit at every step. True when it all
   * fits; otherwise false after an INT_OVERFLOW error at the innermost part that does not.
   */
  public static boolean fitsJava(Expr e, Map<String, Value> vars, Reporter r) {
    if (isConstant(e) && !(e instanceof ListExpr)) {
      return fitsInt(e, eval(e, vars, d -> { }), r);
    }
    List<Expr> parts = e instanceof ListExpr l ? l.items()
        : e instanceof Unary u ? List.of(u.operand())
        : e instanceof Binary b ? List.of(b.left(), b.right()) : List.of();
    for (Expr part : parts) {
      if (!fitsJava(part, vars, r)) {
        return false;
      }
    }
    return e instanceof ListExpr || fitsInt(e, eval(e, vars, d -> { }), r);
  }

  private static boolean fitsInt(Expr e, Value v, Reporter r) {
    if (!(v instanceof Value.IntV i) || i.value() == (int) i.value()) {
      return true;
    }
    r.report(Diagnostic.error(Code.INT_OVERFLOW, e.span(), "`" + e.span().text() + "` is " + i.value()
            + " here, beyond the 32-bit `int` of the generated Java")
        .label("beyond 32 bits")
        .help("generated code computes and passes integers as `int`: keep every value between "
            + Integer.MIN_VALUE + " and " + Integer.MAX_VALUE));
    return false;
  }

  /** True when the expression names no parameter: its value is known without a call site. */
  public static boolean isConstant(Expr e) {
    if (e instanceof NameRef) {
      return false;
    }
    if (e instanceof ListExpr l) {
      return l.items().stream().allMatch(Evaluator::isConstant);
    }
    if (e instanceof Unary u) {
      return isConstant(u.operand());
    }
    if (e instanceof Binary b) {
      return isConstant(b.left()) && isConstant(b.right());
    }
    return true;
  }

}
