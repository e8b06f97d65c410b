package org.cnnc.compiler.shape;

import java.util.List;
import java.util.Optional;

/**
 * A built-in op: its parameters and its shape rule. New ops are one entry in {@link Ops}.
 *
 * @param arrowIn whether the first argument may state input channels: {@code conv(3 -> 64, 3)}
 * @param rule infers the output (and parameters, MACs) or reports why it cannot; null output means failed
 */
public record OpDef(String name, String summary, List<ParamSig> params, boolean arrowIn, Rule rule) {

  @FunctionalInterface
  public interface Rule {
    /** The inferred layer, or null after reporting an error through {@code in}. */
    Layer infer(OpInput in);
  }

  public Optional<ParamSig> param(String name) {
    return params.stream().filter(p -> p.name().equals(name)).findFirst();
  }
}
