// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.List;
import java.util.Map;
import org.cnnc.compiler.sema.Value;

/**
 * Typed reads of a bound op application's arguments (converted to their parameter's type by the
 * binder): the compiler's shape rules ({@link OpInput}) and the runtime's lowerings read through these.
 */
public final class ArgValues {
  private ArgValues() {}

  public static int integer(Map<String, Value> args, String name) {
    return Math.toIntExact(((Value.IntV) args.get(name)).value());
  }

  public static double number(Map<String, Value> args, String name) {
    return ((Value.FloatV) args.get(name)).value();
  }

  public static boolean bool(Map<String, Value> args, String name) {
    return ((Value.BoolV) args.get(name)).value();
  }

  /** A SIZE or PADDING4 argument as ints: [h, w] or [left, right, top, bottom]. */
  public static int[] ints(Map<String, Value> args, String name) {
    List<Value> items = ((Value.ListV) args.get(name)).items();
    int[] out = new int[items.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = Math.toIntExact(((Value.IntV) items.get(i)).value());
    }
    return out;
  }
}
