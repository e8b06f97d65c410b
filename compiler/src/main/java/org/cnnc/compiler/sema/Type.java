// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.List;
import java.util.Optional;

/** The types of op and block parameters. A value is converted to its parameter's type on binding. */
public enum Type {
  INT("int", "an integer"),
  FLOAT("float", "a number"),
  BOOL("bool", "true or false"),
  /** A square size {@code 3} or a pair {@code [h, w]}. */
  SIZE("size", "an integer or [h, w]"),
  /** {@code p}, {@code [h, w]} (top/bottom and left/right) or {@code [left, right, top, bottom]}. */
  PADDING4("padding", "an integer, [h, w] or [left, right, top, bottom]"),
  STRING("string", "a string"),
  /** A scale factor: a number, or {@code [h, w]} of numbers (upsample's {@code scale}); always held as two floats. */
  SCALE("scale", "a number or [h, w] of numbers"),
  /** A bare word from a fixed set, such as a loss name. */
  SYMBOL("name", "a name"),
  SHAPE("shape", "a list of integers"),
  ANY("any", "any value");

  private final String keyword;
  private final String description;

  Type(String keyword, String description) {
    this.keyword = keyword;
    this.description = description;
  }

  public String keyword() {
    return keyword;
  }

  public String description() {
    return description;
  }

  /** The types a block parameter can be declared with, by keyword. */
  public static Optional<Type> byKeyword(String word) {
    for (Type t : values()) {
      if (t.keyword.equals(word) && t != SYMBOL && t != PADDING4 && t != SCALE) {
        return Optional.of(t);
      }
    }
    return Optional.empty();
  }

  public static List<String> keywords() {
    return List.of("int", "float", "bool", "size", "string", "shape", "any");
  }

  /** The value converted to this type, or empty when it does not fit. */
  public Optional<Value> convert(Value v) {
    return switch (this) {
      case ANY -> Optional.of(v);
      case INT -> v instanceof Value.IntV ? Optional.of(v) : Optional.empty();
      case FLOAT -> v instanceof Value.FloatV ? Optional.of(v)
          : v instanceof Value.IntV i ? Optional.of(new Value.FloatV(i.value())) : Optional.empty();
      case BOOL -> v instanceof Value.BoolV ? Optional.of(v) : Optional.empty();
      case STRING -> v instanceof Value.StrV ? Optional.of(v) : Optional.empty();
      case SYMBOL -> v instanceof Value.SymV ? Optional.of(v)
          : v instanceof Value.StrV s ? Optional.of(new Value.SymV(s.value())) : Optional.empty();
      case SIZE -> v instanceof Value.IntV i ? Optional.of(new Value.ListV(List.of(i, i)))
          : ints(v, 2) ? Optional.of(v) : Optional.empty();
      case PADDING4 -> {
        if (v instanceof Value.IntV i) {
          yield Optional.of(new Value.ListV(List.of(i, i, i, i)));
        }
        if (ints(v, 2)) {
          var l = ((Value.ListV) v).items();
          yield Optional.of(new Value.ListV(List.of(l.get(1), l.get(1), l.get(0), l.get(0))));
        }
        yield ints(v, 4) ? Optional.of(v) : Optional.empty();
      }
      case SCALE -> {
        if (v instanceof Value.IntV || v instanceof Value.FloatV) {
          Value f = FLOAT.convert(v).orElseThrow();
          yield Optional.of(new Value.ListV(List.of(f, f)));
        }
        if (v instanceof Value.ListV l && l.items().size() == 2
            && l.items().stream().allMatch(x -> x instanceof Value.IntV || x instanceof Value.FloatV)) {
          yield Optional.of(new Value.ListV(l.items().stream().map(x -> FLOAT.convert(x).orElseThrow()).toList()));
        }
        yield Optional.empty();
      }
      case SHAPE -> v instanceof Value.ListV l && l.items().stream().allMatch(x -> x instanceof Value.IntV)
          ? Optional.of(v) : Optional.empty();
    };
  }

  private static boolean ints(Value v, int n) {
    return v instanceof Value.ListV l && l.items().size() == n
        && l.items().stream().allMatch(x -> x instanceof Value.IntV);
  }
}
