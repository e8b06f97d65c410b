// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.diag;

import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.source.Span;

/**
 * Renders a diagnostic for people, as rustc does: the message with its id, the location, the
 * source line with the span underlined and labelled, then notes and help. Colour (ANSI) only when
 * asked, which the CLI does only on a terminal. Every text from a spec (messages, the source line,
 * file names) is escaped for the terminal ({@link Escape#terminal}); the carets are placed under
 * the escaped line.
 */
public final class HumanRenderer {
  private final boolean color;
  /** Longer source lines are shown as a window around the span. */
  static final int MAX_LINE = 200;

  public HumanRenderer(boolean color) {
    this.color = color;
  }

  public String render(Diagnostic d) {
    Span span = d.span();
    int line = span.line();
    String gutter = " ".repeat(String.valueOf(line).length());
    StringBuilder out = new StringBuilder();
    String sev = d.severity().word();
    String head = sev + "[" + d.id() + "]";
    out.append(paint(head, d.severity() == Severity.ERROR ? "1;31" : d.severity() == Severity.WARNING ? "1;33" : "1;36"))
        .append(paint(": " + Escape.terminal(d.message()), "1"))
        .append('\n');
    out.append(gutter).append(paint("--> ", "1;34")).append(Escape.terminal(span.location())).append('\n');
    out.append(gutter).append(paint(" |", "1;34")).append('\n');

    String text = span.file().lineText(line);
    int startCol = span.column() - 1;
    int endCol = span.endLine() == line ? span.endColumn() - 1 : text.length();
    if (text.length() > MAX_LINE) {
      // A huge line (minified or generated): show a window around the span.
      int from = Math.max(0, startCol - 40);
      int to = Math.min(text.length(), Math.max(Math.min(endCol, startCol + MAX_LINE - 60), startCol + 1) + 20);
      to = Math.min(to, from + MAX_LINE);
      String prefix = from > 0 ? "..." : "";
      text = prefix + text.substring(from, to) + (to < span.file().lineText(line).length() ? "..." : "");
      startCol = startCol - from + prefix.length();
      endCol = Math.min(endCol, to) - from + prefix.length();
    }
    String shown = display(text);
    out.append(paint(line + " |", "1;34")).append(shown.isEmpty() ? "" : " " + shown).append('\n');

    int from = display(text.substring(0, Math.min(startCol, text.length()))).length();
    int to = display(text.substring(0, Math.min(Math.max(endCol, startCol), text.length()))).length();
    int width = Math.max(1, to - from);
    String marks = "^".repeat(width) + (d.label().isEmpty() ? "" : " " + Escape.terminal(d.label()));
    out.append(gutter).append(paint(" | ", "1;34")).append(" ".repeat(from))
        .append(paint(marks, d.severity() == Severity.ERROR ? "1;31" : "1;33")).append('\n');

    if (!d.notes().isEmpty() || !d.help().isEmpty()) {
      out.append(gutter).append(paint(" |", "1;34")).append('\n');
    }
    for (Note n : d.notes()) {
      out.append(gutter).append(paint(" = ", "1;34")).append(paint("note", "1")).append(": ")
          .append(Escape.terminal(n.message())).append('\n');
    }
    if (!d.help().isEmpty()) {
      out.append(gutter).append(paint(" = ", "1;34")).append(paint("help", "1")).append(": ")
          .append(Escape.terminal(d.help())).append('\n');
    }
    return out.toString();
  }

  /** A piece of a source line as shown: escaped, tabs as four spaces; its length is the column it ends at. */
  private static String display(String s) {
    return Escape.terminal(s).replace("\t", "    ");
  }

  private String paint(String s, String code) {
    return color ? "\u001b[" + code + "m" + s + "\u001b[0m" : s;
  }
}
