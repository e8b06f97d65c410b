// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import org.cnnc.compiler.sema.Type;
import org.cnnc.compiler.sema.Value;

/**
 * A parameter of an op. A parameter is required when it has neither a default value nor a
 * {@code defaultFrom} (another parameter whose value it takes, as pooling's stride takes the
 * kernel), and not {@code optional}.
 */
public record ParamSig(String name, Type type, Value defaultValue, String defaultFrom, boolean optional, String doc,
    double min, double max) {

  public static ParamSig required(String name, Type type, String doc) {
    return new ParamSig(name, type, null, null, false, doc, Double.NaN, Double.NaN);
  }

  public static ParamSig withDefault(String name, Type type, Value def, String doc) {
    return new ParamSig(name, type, def, null, false, doc, Double.NaN, Double.NaN);
  }

  public static ParamSig defaultsTo(String name, Type type, String other, String doc) {
    return new ParamSig(name, type, null, other, false, doc, Double.NaN, Double.NaN);
  }

  public static ParamSig optional(String name, Type type, String doc) {
    return new ParamSig(name, type, null, null, true, doc, Double.NaN, Double.NaN);
  }

  /** The same parameter, whose values (each element of a size) must be at least {@code min}. */
  public ParamSig atLeast(double min) {
    return new ParamSig(name, type, defaultValue, defaultFrom, optional, doc, min, max);
  }

  /** The same parameter, whose values must lie in {@code [min, max]}. */
  public ParamSig between(double min, double max) {
    return new ParamSig(name, type, defaultValue, defaultFrom, optional, doc, min, max);
  }

  /** The allowed range in words, or empty when any value is allowed. */
  public String rangeText() {
    String lo = Double.isNaN(min) ? null : num(min);
    String hi = Double.isNaN(max) ? null : num(max);
    if (lo != null && hi != null) {
      return "between " + lo + " and " + hi;
    }
    if (lo != null) {
      return lo.equals("0") ? "at least 0" : "at least " + lo;
    }
    return hi != null ? "at most " + hi : "";
  }

  /** Whether a converted value lies in the range. */
  public boolean inRange(Value v) {
    if (v instanceof Value.ListV l) {
      return l.items().stream().allMatch(this::inRange);
    }
    double x = v instanceof Value.IntV i ? i.value() : v instanceof Value.FloatV f ? f.value() : Double.NaN;
    if (Double.isNaN(x)) {
      return Double.isNaN(min) && Double.isNaN(max) || !(v instanceof Value.IntV || v instanceof Value.FloatV);
    }
    return (Double.isNaN(min) || x >= min) && (Double.isNaN(max) || x <= max);
  }

  private static String num(double d) {
    return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
  }

  public boolean isRequired() {
    return defaultValue == null && defaultFrom == null && !optional;
  }

  /** How the default reads in the language reference. */
  public String defaultText() {
    if (defaultValue != null) {
      return defaultValue.show();
    }
    if (defaultFrom != null) {
      return defaultFrom;
    }
    return optional ? "(what flows in)" : "required";
  }
}
