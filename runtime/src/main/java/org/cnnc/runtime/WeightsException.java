// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.List;

/** Weights that cannot be loaded: every problem found, each naming its tensor or file. Nothing was changed. */
public final class WeightsException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final List<String> problems;

  public WeightsException(String source, List<String> problems) {
    super("cannot load " + source + ":\n  " + String.join("\n  ", problems));
    this.problems = List.copyOf(problems);
  }

  public List<String> problems() {
    return problems;
  }

  /** The message as lines: what could not be loaded, then each problem, indented. */
  public List<String> lines() {
    List<String> out = new java.util.ArrayList<>();
    out.add(getMessage().lines().findFirst().orElse(""));
    problems.forEach(p -> out.add("  " + p));
    return out;
  }
}
