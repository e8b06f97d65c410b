// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.codegen;

import com.palantir.javapoet.CodeBlock;
import org.cnnc.compiler.io.Escape;

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
   * references; so are the characters {@link Escape#unsafe} names (bidirectional controls that
   * would make the source read otherwise than it compiles).
   */
  public static String comment(String s) {
    return Escape.each(s, (v, i, c) -> switch (c) {
      case '&' -> "&amp;";
      case '<' -> "&lt;";
      case '>' -> "&gt;";
      case '@', '\\', '{', '}' -> reference(c);
      case '/' -> i > 0 && v.charAt(i - 1) == '*' ? "&#47;" : null;
      default -> Character.isISOControl(c) || Escape.unsafe(c) || Escape.loneSurrogate(v, i) ? reference(c) : null;
    });
  }

  private static String reference(char c) {
    return "&#" + (int) c + ";";
  }

  /**
   * A Java string literal with this value. Quotes and backslashes are escaped; control characters
   * as octal escapes (a Unicode escape of a line feed would end the literal, since javac translates
   * those first); line or paragraph separators, bidirectional controls and unpaired surrogates as
   * Unicode escapes (JavaPoet
   * breaks lines at any line separator). Other characters stay as they are, so names stay readable.
   */
  public static CodeBlock literal(String s) {
    return CodeBlock.of("$L", '"' + Escape.each(s, (v, i, c) -> switch (c) {
      case '"' -> "\\\"";
      case '\\' -> "\\\\";
      case '\n' -> "\\n";
      case '\r' -> "\\r";
      case '\t' -> "\\t";
      default -> Character.isISOControl(c) ? String.format("\\%03o", (int) c)
          : Escape.unsafe(c) || Escape.loneSurrogate(v, i) ? String.format("\\u%04x", (int) c) : null;
    }) + '"');
  }
}
