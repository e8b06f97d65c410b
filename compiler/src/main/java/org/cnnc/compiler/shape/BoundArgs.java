// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.sema.Value;

/**
 * The arguments of one op application, every one converted to its parameter's type and the
 * defaults filled in ({@link OpDef#withDefaults}), read typed. The compiler's shape rules
 * ({@link OpInput}), the backends' limits and the runtime's lowerings all read them through this.
 */
public class BoundArgs {
  private final Map<String, Value> values;

  public BoundArgs(Map<String, Value> values) {
    this.values = Collections.unmodifiableMap(values);
  }

  /** Every argument, in parameter order. */
  public Map<String, Value> values() {
    return values;
  }

  public Value arg(String name) {
    return values.get(name);
  }

  public boolean has(String name) {
    return values.containsKey(name);
  }

  public int integer(String name) {
    return Math.toIntExact(((Value.IntV) values.get(name)).value());
  }

  public double number(String name) {
    return ((Value.FloatV) values.get(name)).value();
  }

  public boolean bool(String name) {
    return ((Value.BoolV) values.get(name)).value();
  }

  public String string(String name) {
    return ((Value.StrV) values.get(name)).value();
  }

  /** A SIZE or PADDING4 argument as ints: [h, w] or [left, right, top, bottom]. */
  public int[] ints(String name) {
    List<Value> items = ((Value.ListV) values.get(name)).items();
    int[] out = new int[items.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.toIntExact(((Value.IntV) items.get(i)).value());
    }
    return out;
  }

  /** A SCALE argument as doubles: [h, w]. */
  public double[] numbers(String name) {
    List<Value> items = ((Value.ListV) values.get(name)).items();
    double[] out = new double[items.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = ((Value.FloatV) items.get(i)).value();
    }
    return out;
  }
}
