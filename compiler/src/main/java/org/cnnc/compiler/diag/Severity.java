// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.diag;

import java.util.Locale;

public enum Severity {
  ERROR,
  WARNING,
  NOTE;

  /** The word printed before the message: {@code error}, {@code warning}, {@code note}. */
  public String word() {
    return name().toLowerCase(Locale.ROOT);
  }
}
