package org.cnnc.compiler.shape;

import org.cnnc.compiler.sema.Type;
import org.cnnc.compiler.sema.Value;

/**
 * A parameter of an op. A parameter is required when it has neither a default value nor a
 * {@code defaultFrom} (another parameter whose value it takes, as pooling's stride takes the
 * kernel), and not {@code optional}.
 */
public record ParamSig(String name, Type type, Value defaultValue, String defaultFrom, boolean optional, String doc) {

  public static ParamSig required(String name, Type type, String doc) {
    return new ParamSig(name, type, null, null, false, doc);
  }

  public static ParamSig withDefault(String name, Type type, Value def, String doc) {
    return new ParamSig(name, type, def, null, false, doc);
  }

  public static ParamSig defaultsTo(String name, Type type, String other, String doc) {
    return new ParamSig(name, type, null, other, false, doc);
  }

  public static ParamSig optional(String name, Type type, String doc) {
    return new ParamSig(name, type, null, null, true, doc);
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
