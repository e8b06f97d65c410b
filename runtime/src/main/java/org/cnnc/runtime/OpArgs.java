// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.BoundArgs;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.ParamSig;

/**
 * The arguments of one op application, bound as the compiler binds them: the given ones converted
 * to their parameter's type and range-checked, the others taken from the registry's defaults
 * ({@link OpDef#withDefaults}). Lowerings read them typed.
 */
public final class OpArgs extends BoundArgs {
  private OpArgs(Map<String, Value> values) {
    super(values);
  }

  /**
   * Binds Java values given as name-value pairs ({@code "out", 64, "kernel", 3}): ints, longs,
   * doubles, booleans, strings, {@code int[]} (a size or padding) and {@code double[]} (a scale); or a map of compiler values.
   *
   * @throws IllegalArgumentException naming {@code path} when an argument is unknown, of the wrong
   *     type or out of range, or a required one is missing
   */
  static OpArgs bind(OpDef op, String path, Object... pairs) {
    if (pairs.length % 2 != 0) {
      throw new IllegalArgumentException(path + ": `" + op.name() + "` arguments come as name-value pairs");
    }
    Map<String, Value> given = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) {
      given.put(String.valueOf(pairs[i]), value(pairs[i + 1], path, op));
    }
    return bind(op, path, given);
  }

  static OpArgs bind(OpDef op, String path, Map<String, Value> given) {
    Map<String, Value> converted = new LinkedHashMap<>();
    for (var e : given.entrySet()) {
      ParamSig p = op.param(e.getKey()).orElseThrow(() -> new IllegalArgumentException(
          path + ": `" + op.name() + "` has no argument `" + e.getKey() + "`"));
      Value v = p.type().convert(e.getValue()).orElseThrow(() -> new IllegalArgumentException(
          path + ": argument `" + p.name() + "` of `" + op.name() + "` expects " + p.type().description() + ", found "
              + e.getValue().show()));
      if (!p.inRange(v)) {
        throw new IllegalArgumentException(path + ": argument `" + p.name() + "` of `" + op.name() + "` must be "
            + p.rangeText() + ", found " + v.show());
      }
      converted.put(p.name(), v);
    }
    Map<String, Value> all = op.withDefaults(converted);
    for (ParamSig p : op.params()) {
      if (p.isRequired() && !all.containsKey(p.name())) {
        throw new IllegalArgumentException(path + ": `" + op.name() + "` needs the argument `" + p.name() + "`");
      }
    }
    return new OpArgs(all);
  }

  private static Value value(Object o, String path, OpDef op) {
    if (o instanceof Integer || o instanceof Long || o instanceof Short || o instanceof Byte) {
      return new Value.IntV(((Number) o).longValue());
    }
    if (o instanceof Double || o instanceof Float) {
      return new Value.FloatV(((Number) o).doubleValue());
    }
    if (o instanceof Boolean b) {
      return new Value.BoolV(b);
    }
    if (o instanceof String s) {
      return new Value.StrV(s);
    }
    if (o instanceof int[] a) {
      List<Value> items = new ArrayList<>();
      for (int x : a) {
        items.add(new Value.IntV(x));
      }
      return new Value.ListV(items);
    }
    if (o instanceof double[] a) {
      List<Value> items = new ArrayList<>();
      for (double x : a) {
        items.add(new Value.FloatV(x));
      }
      return new Value.ListV(items);
    }
    if (o instanceof Value v) {
      return v;
    }
    throw new IllegalArgumentException(path + ": `" + op.name() + "` cannot take a " + (o == null ? "null" : o.getClass().getSimpleName()));
  }
}
