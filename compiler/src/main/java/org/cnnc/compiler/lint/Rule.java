// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.lint;

import org.cnnc.compiler.diag.Severity;

/**
 * A lint rule as data: a stable id (never renamed, never reused), a category, the severity it
 * reports at unless configured otherwise, and what it is for. The checks live in {@link Rules}.
 */
public record Rule(String id, Category category, Severity severity, String purpose, String help) {
  public enum Category {
    /** The network does not train or predict as written. */
    CORRECTNESS,
    /** Valid, but most likely not what was meant. */
    SUSPICIOUS,
    /** Dead or confusing code. */
    HYGIENE,
    /** Budgets and accepted input sizes the spec states. */
    CONTRACT,
    /** The compiler's own errors. */
    COMPILER;

    public String word() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }
}
