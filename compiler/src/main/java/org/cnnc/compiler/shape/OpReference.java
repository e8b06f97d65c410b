// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The op reference, written from the registry: README's op table ({@code cnnc ops}) is this text,
 * and a test keeps the two in step.
 */
public final class OpReference {
  private OpReference() {}

  /** The markdown table: op, arguments with defaults, meaning with PyTorch's name and tensors, backends that refuse. */
  public static String markdown() {
    StringBuilder out = new StringBuilder();
    out.append("| op | arguments (default) | meaning | traits |\n|---|---|---|---|\n");
    for (OpDef op : Ops.all()) {
      out.append("| `").append(op.name()).append("` | ").append(arguments(op)).append(" | ").append(meaning(op))
          .append(" | ").append(traits(op)).append(" |\n");
    }
    return out.toString();
  }

  static String arguments(OpDef op) {
    if (op.isMerge()) {
      return "branches: `" + op.name() + "(a, b, ...)`";
    }
    List<String> parts = new ArrayList<>();
    for (ParamSig p : op.params()) {
      String s = "`" + p.name() + (p.isRequired() ? "" : p.optional() ? "` (optional)" : " = " + p.defaultText() + "`");
      parts.add(p.isRequired() ? s + "`" : s);
    }
    String text = String.join(", ", parts);
    return op.arrowIn() ? text + "; first argument may be `in -> out`" : text;
  }

  static String meaning(OpDef op) {
    String s = md(op.summary());
    if (!op.torch().isEmpty()) {
      s += " (`" + op.torch() + "`)";
    }
    if (!op.tensors().isEmpty()) {
      s += "; " + op.tensors();
    }
    return s;
  }

  static String traits(OpDef op) {
    return op.traits().stream().map(t -> t.name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
  }

  /** The spec's code spans in a summary ({@code [C, H, W]}) as markdown code. */
  private static String md(String s) {
    return s.replaceAll("(\\[[A-Z][^\\]]*\\])", "`$1`");
  }
}
