// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.List;
import java.util.stream.Collectors;
import org.cnnc.compiler.io.Escape;

/** A value of an argument or parameter after evaluation. */
public sealed interface Value {
  /** The type as users read it in messages: {@code int}, {@code float}, {@code bool}, ... */
  String typeName();

  /** The value as it would be written in a spec. */
  String show();

  record IntV(long value) implements Value {
    public String typeName() {
      return "int";
    }

    public String show() {
      return Long.toString(value);
    }
  }

  record FloatV(double value) implements Value {
    public String typeName() {
      return "float";
    }

    public String show() {
      return formatFloat(value);
    }
  }

  record BoolV(boolean value) implements Value {
    public String typeName() {
      return "bool";
    }

    public String show() {
      return Boolean.toString(value);
    }
  }

  record StrV(String value) implements Value {
    public String typeName() {
      return "string";
    }

    public String show() {
      return Escape.cnnString(value);
    }
  }

  /** A bare word used as a value, such as the loss {@code cross_entropy}. */
  record SymV(String value) implements Value {
    public String typeName() {
      return "name";
    }

    public String show() {
      return value;
    }
  }

  record ListV(List<Value> items) implements Value {
    public ListV {
      items = List.copyOf(items);
    }

    public String typeName() {
      return "list";
    }

    public String show() {
      return items.stream().map(Value::show).collect(Collectors.joining(", ", "[", "]"));
    }
  }

  static String formatFloat(double v) {
    if (v == Math.rint(v) && Math.abs(v) < 1e15) {
      return String.format(java.util.Locale.ROOT, "%.1f", v);
    }
    String s = Double.toString(v);
    return s.contains("E") ? s.replace("E", "e") : s;
  }
}
