// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.diag;

import java.util.List;
import java.util.Objects;
import org.cnnc.compiler.source.Span;

/**
 * One problem in a spec.
 *
 * @param id a stable identifier, e.g. {@code SHAPE_MISMATCH}; see {@link Code}
 * @param severity error, warning or note
 * @param span the smallest range of source that shows the problem
 * @param message lowercase, no final period
 * @param label a short text printed under the span (may be empty)
 * @param notes context such as the block call chain, innermost first
 * @param help how to fix it (may be empty)
 */
public record Diagnostic(
    String id, Severity severity, Span span, String message, String label, List<Note> notes, String help) {

  public Diagnostic {
    Objects.requireNonNull(id);
    Objects.requireNonNull(severity);
    Objects.requireNonNull(span);
    Objects.requireNonNull(message);
    label = label == null ? "" : clip(label);
    message = clip(message);
    notes = List.copyOf(notes);
    help = help == null ? "" : help;
  }

  /** Messages quote what the user wrote; a megabyte-long name must not make a megabyte-long line. */
  static String clip(String s) {
    return s.length() <= 500 ? s : s.substring(0, 480) + "... (" + s.length() + " characters)";
  }

  public static Builder error(Code code, Span span, String message) {
    return new Builder(code.name(), Severity.ERROR, span, message);
  }

  public static Builder of(String id, Severity severity, Span span, String message) {
    return new Builder(id, severity, span, message);
  }

  public Diagnostic withNotes(List<Note> more) {
    if (more.isEmpty()) {
      return this;
    }
    var all = new java.util.ArrayList<>(notes);
    all.addAll(more);
    return new Diagnostic(id, severity, span, message, label, all, help);
  }

  /** A fluent builder, so call sites read as the message they produce. */
  public static final class Builder {
    private final String id;
    private final Severity severity;
    private final Span span;
    private final String message;
    private String label = "";
    private final java.util.ArrayList<Note> notes = new java.util.ArrayList<>();
    private String help = "";

    private Builder(String id, Severity severity, Span span, String message) {
      this.id = id;
      this.severity = severity;
      this.span = span;
      this.message = message;
    }

    /** The message (a rule applied where there is no spec, as the runtime applies it, reads only this). */
    public String message() {
      return message;
    }

    public Builder label(String text) {
      this.label = text;
      return this;
    }

    public Builder note(String text) {
      notes.add(Note.of(text));
      return this;
    }

    public Builder note(String text, Span at) {
      notes.add(new Note(text, at));
      return this;
    }

    public Builder help(String text) {
      this.help = text == null ? "" : text;
      return this;
    }

    public Diagnostic build() {
      return new Diagnostic(id, severity, span, message, label, notes, help);
    }
  }
}
