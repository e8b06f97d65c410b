// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.diag;

import org.cnnc.compiler.source.Span;

/** Extra context for a diagnostic; {@code span} is null when the note points nowhere. */
public record Note(String message, Span span) {
  public static Note of(String message) {
    return new Note(message, null);
  }
}
