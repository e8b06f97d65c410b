// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.source;

/**
 * A range of characters in a source file: {@code start} inclusive, {@code end} exclusive, both
 * 0-based offsets. Lines and columns are 1-based.
 *
 * <p>Positions never take part in the equality of syntax trees: {@link #equals} is true for any
 * two spans, so that AST records compare by structure alone (as Trino and cel-java do). Code that
 * needs positional identity compares {@link #file()}, {@link #start()} and {@link #end()}.
 */
public final class Span {
  private final SourceFile file;
  private final int start;
  private final int end;

  public Span(SourceFile file, int start, int end) {
    this.file = file;
    this.start = start;
    this.end = Math.max(start, end);
  }

  public SourceFile file() {
    return file;
  }

  public int start() {
    return start;
  }

  public int end() {
    return end;
  }

  public int line() {
    return file.line(start);
  }

  public int column() {
    return file.column(start);
  }

  public int endLine() {
    return file.line(Math.max(start, end - 1));
  }

  /** The 1-based column just past the last character. */
  public int endColumn() {
    return file.column(end);
  }

  /** The smallest span that covers this one and {@code other} (same file). */
  public Span to(Span other) {
    return new Span(file, Math.min(start, other.start), Math.max(end, other.end));
  }

  public String text() {
    return file.text().substring(start, Math.min(end, file.text().length()));
  }

  public boolean samePlace(Span other) {
    return other != null && file == other.file && start == other.start && end == other.end;
  }

  /** {@code name:line:col}, as tools print it. */
  public String location() {
    return file.name() + ":" + line() + ":" + column();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Span;
  }

  @Override
  public int hashCode() {
    return 0;
  }

  @Override
  public String toString() {
    return location();
  }
}
