// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.io;

import java.util.List;
import java.util.Locale;

/**
 * The one escaping function of each target cnnc writes text to. Specs are untrusted: a string, a
 * comment or a file name may hold newlines, terminal escape sequences, bidi overrides or characters
 * a format cannot hold, and every such text goes through the function of its target, never raw.
 *
 * <p>Where a character cannot be shown as itself it becomes a visible escape, {@code \u001b}
 * (backslash, {@code u}, four lowercase hex digits); a backslash itself is left alone, so this is
 * for reading, not for parsing back.
 */
public final class Escape {
  private Escape() {}

  /**
   * Characters a terminal or a log viewer acts on instead of showing: C0 controls but the tab, DEL,
   * C1 controls, the bidi embeddings, overrides and isolates (which reorder what is shown, as in
   * "Trojan Source"), the bidi marks and the Unicode line and paragraph separators.
   */
  public static boolean unsafe(char c) {
    return (c < 0x20 && c != '\t') || (c >= 0x7f && c <= 0x9f)
        || (c >= '\u202a' && c <= '\u202e') || (c >= '\u2066' && c <= '\u2069')
        || c == '\u200e' || c == '\u200f' || c == '\u061c' || c == '\u2028' || c == '\u2029';
  }

  /** {@code \u001b}: a character as a visible escape. */
  public static String visible(char c) {
    return String.format(Locale.ROOT, "\\u%04x", (int) c);
  }

  /** What a target writes for the character at {@code i} of {@code v}: its replacement, or null to keep it. */
  @FunctionalInterface
  public interface Replacement {
    String of(String v, int i, char c);
  }

  /** {@code v} with each character replaced as {@code r} says: the one loop every target's escaping shares. */
  public static String each(String v, Replacement r) {
    StringBuilder out = null;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      String x = r.of(v, i, c);
      if (x != null && out == null) {
        out = new StringBuilder(v.length() + 16).append(v, 0, i);
      }
      if (out != null) {
        if (x == null) {
          out.append(c);
        } else {
          out.append(x);
        }
      }
    }
    return out == null ? v : out.toString();
  }

  // ---- .cnn source ------------------------------------------------------------------------------

  /**
   * A {@code .cnn} string literal, quotes included, that reads back as {@code v}: the lexer's
   * escapes for backslash, quote, newline and tab (the formatter writes it; messages quote values so).
   */
  public static String cnnString(String v) {
    return '"' + v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n").replace("\t", "\\t") + '"';
  }

  // ---- terminal ---------------------------------------------------------------------------------

  /**
   * Text for a terminal or a plain log: every {@link #unsafe} character (newlines included) as a
   * visible escape, so one diagnostic stays one line and nothing is sent to the terminal but text.
   * Each character maps to the same text wherever it is, so the length of an escaped prefix is the
   * column where the rest starts (the human renderer's carets rely on it).
   */
  public static String terminal(String s) {
    return each(s, (v, i, c) -> unsafe(c) ? visible(c) : null);
  }

  /** {@link #terminal}, at most {@code max} characters of {@code s} shown (then "..."): for values read from files. */
  public static String terminal(String s, int max) {
    return s.length() <= max ? terminal(s) : terminal(s.substring(0, max)) + "...";
  }

  // ---- JSON -------------------------------------------------------------------------------------

  /**
   * A JSON string literal, quotes included (RFC 8259): {@code "} and {@code \} escaped, the usual
   * short escapes, and every other {@link #unsafe} character and lone surrogate as {@code \}{@code uXXXX}
   * (the same value, but a report that is safe to print).
   */
  public static String json(String v) {
    return '"' + each(v, (t, i, c) -> switch (c) {
      case '"' -> "\\\"";
      case '\\' -> "\\\\";
      case '\n' -> "\\n";
      case '\r' -> "\\r";
      case '\t' -> "\\t";
      case '\b' -> "\\b";
      case '\f' -> "\\f";
      default -> unsafe(c) || loneSurrogate(t, i) ? visible(c) : null;
    }) + '"';
  }

  /** Whether the character at {@code i} is half of a surrogate pair without its other half. */
  public static boolean loneSurrogate(String v, int i) {
    char c = v.charAt(i);
    if (Character.isHighSurrogate(c)) {
      return i + 1 >= v.length() || !Character.isLowSurrogate(v.charAt(i + 1));
    }
    if (Character.isLowSurrogate(c)) {
      return i == 0 || !Character.isHighSurrogate(v.charAt(i - 1));
    }
    return false;
  }

  // ---- XML --------------------------------------------------------------------------------------

  /**
   * Text for XML 1.0 content or a quoted attribute value (checkstyle, SVG): the five markup
   * characters as entities, tab, newline and carriage return as character references (so attribute
   * normalisation keeps them), and what XML 1.0 cannot hold even as a reference (other C0 controls,
   * lone surrogates, U+FFFE, U+FFFF) or should not show (DEL, C1, bidi controls) as a visible escape.
   */
  public static String xml(String v) {
    return each(v, (t, i, c) -> switch (c) {
      case '<' -> "&lt;";
      case '>' -> "&gt;";
      case '&' -> "&amp;";
      case '"' -> "&quot;";
      case '\'' -> "&apos;";
      case '\t' -> "&#9;";
      case '\n' -> "&#10;";
      case '\r' -> "&#13;";
      default -> unsafe(c) || loneSurrogate(t, i) || c == '\ufffe' || c == '\uffff' ? visible(c) : null;
    });
  }

  // ---- GitHub Actions workflow commands ---------------------------------------------------------

  /**
   * The message of a workflow command ({@code ::error ...::MESSAGE}), as the runner unescapes it:
   * {@code %}, CR and LF percent-encoded, so a message can never end the line and start a command
   * of its own ({@code ::stop-commands::}, {@code ::add-mask::}, ...). Other {@link #unsafe}
   * characters become visible escapes.
   */
  public static String githubData(String v) {
    return each(v, (t, i, c) -> switch (c) {
      case '%' -> "%25";
      case '\r' -> "%0D";
      case '\n' -> "%0A";
      default -> unsafe(c) ? visible(c) : null;
    });
  }

  /** A property value of a workflow command ({@code file=...,title=...}): as data, and {@code :} and {@code ,} too. */
  public static String githubProperty(String v) {
    return githubData(v).replace(":", "%3A").replace(",", "%2C");
  }

  /**
   * A plain line of a GitHub Actions log: as data, so it stays one line, and never starting with
   * {@code ::} (the runner takes any line that does, leading spaces aside, as a command).
   */
  public static String githubLine(String v) {
    String s = githubData(v);
    int lead = 0;
    while (lead < s.length() && Character.isWhitespace(s.charAt(lead))) {
      lead++;
    }
    return s.startsWith("::", lead) ? s.substring(0, lead) + "%3A" + s.substring(lead + 1) : s;
  }

  // ---- Graphviz DOT -----------------------------------------------------------------------------

  /**
   * A DOT quoted string of one or more label lines: {@code \} and {@code "} escaped (so no
   * {@code \N}-style substitution or end of string), lines joined by DOT's {@code \n}, and every
   * {@link #unsafe} character inside a line as a visible escape.
   */
  public static String dot(List<String> lines) {
    StringBuilder s = new StringBuilder("\"");
    for (int l = 0; l < lines.size(); l++) {
      if (l > 0) {
        s.append("\\n");
      }
      s.append(each(lines.get(l), (t, i, c) -> switch (c) {
        case '\\' -> "\\\\";
        case '"' -> "\\\"";
        // the backslash escaped: shown as \u001b
        default -> unsafe(c) ? "\\" + visible(c) : null;
      }));
    }
    return s.append('"').toString();
  }

  /** A DOT quoted string of one line. */
  public static String dot(String v) {
    return dot(List.of(v));
  }

  // ---- Mermaid ----------------------------------------------------------------------------------

  /**
   * Text inside a quoted Mermaid label ({@code n1["..."]}): Mermaid's entity codes for {@code #}
   * (so no text is read as an entity), {@code "}, {@code <}, {@code >} and {@code &}, and every
   * {@link #unsafe} character as a visible escape (a newline would end the statement).
   */
  public static String mermaid(String v) {
    return each(v, (t, i, c) -> switch (c) {
      case '#' -> "#35;";
      case '"' -> "#quot;";
      case '<' -> "#lt;";
      case '>' -> "#gt;";
      case '&' -> "#amp;";
      default -> unsafe(c) ? visible(c) : null;
    });
  }
}
