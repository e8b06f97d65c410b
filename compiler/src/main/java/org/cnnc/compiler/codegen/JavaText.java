package org.cnnc.compiler.codegen;

import com.palantir.javapoet.CodeBlock;

/**
 * The one way text from a spec (names, labels, strings, file paths) reaches generated Java. A spec
 * is untrusted: its text must never end a comment, start a Javadoc tag, form a Unicode escape
 * (a backslash, {@code u002a} and a slash end a comment as a star and a slash do) or break a
 * line of a {@code //} comment. Ordinary names pass unchanged, so generated sources stay readable.
 */
public final class JavaText {
  private JavaText() {}

  /**
   * Text for a Javadoc, a block comment or a line comment: HTML-escaped, with {@code *}{@code /},
   * backslashes, {@code @}, braces and line-breaking or control characters written as character
   * references.
   */
  public static String comment(String s) {
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '&' -> out.append("&amp;");
        case '<' -> out.append("&lt;");
        case '>' -> out.append("&gt;");
        case '@', '\\', '{', '}' -> out.append("&#").append((int) c).append(';');
        case '/' -> out.append(i > 0 && s.charAt(i - 1) == '*' ? "&#47;" : "/");
        default -> {
          if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029' || Character.isSurrogate(c) && !paired(s, i)) {
            out.append("&#").append((int) c).append(';');
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.toString();
  }

  /**
   * A Java string literal with this value. Quotes and backslashes are escaped; control characters
   * as octal escapes (a Unicode escape of a line feed would end the literal, since javac translates
   * those first); line or paragraph separators and unpaired surrogates as Unicode escapes (JavaPoet
   * breaks lines at any line separator). Other characters stay as they are, so names stay readable.
   */
  public static CodeBlock literal(String s) {
    StringBuilder out = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (Character.isISOControl(c)) {
            out.append(String.format("\\%03o", (int) c));
          } else if (c == '\u2028' || c == '\u2029' || Character.isSurrogate(c) && !paired(s, i)) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return CodeBlock.of("$L", out.append('"').toString());
  }

  private static boolean paired(String s, int i) {
    char c = s.charAt(i);
    return Character.isHighSurrogate(c) ? i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))
        : i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }
}
