// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.syntax;

import java.util.regex.Pattern;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.Token;
import org.cnnc.grammar.CnnLexer;

/**
 * How a label (a module name) is written. PyTorch names modules with any string but {@code .};
 * torchvision uses names the language cannot write bare: the keyword {@code block} (MBConv's
 * {@code block}) and {@code block1-0} (RegNet's stages). Those are written quoted,
 * {@code "block1-0": ...} and {@code from "block1-0"}; the quotes are not part of the name.
 */
public final class Labels {
  private Labels() {}

  /** What a quoted label may hold: a letter or {@code _}, then letters, digits, {@code _} and {@code -}. */
  public static final Pattern QUOTED = Pattern.compile("[A-Za-z_][A-Za-z0-9_-]*");

  private static final Pattern WORD = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

  /** Whether {@code name} can be written without quotes: one name token, not a keyword. */
  public static boolean bare(String name) {
    if (!QUOTED.matcher(name).matches() || name.indexOf('-') >= 0) {
      return false;
    }
    CnnLexer lexer = new CnnLexer(CharStreams.fromString(name));
    lexer.removeErrorListeners();
    Token t = lexer.nextToken();
    return t.getType() == CnnLexer.ID && t.getText().equals(name);
  }

  /**
   * Whether a word shaped like a name ({@code [A-Za-z_][A-Za-z0-9_]*}) is one of the language's
   * keywords ({@code model}, {@code repeat}, {@code as}, {@code concat}, {@code true}, ...), by
   * the lexer's own answer: tools that write specs (the ONNX importer) ask this, never a list.
   */
  public static boolean keyword(String word) {
    return keyword0(word);
  }

  /**
   * The language's keywords as the lexer defines them, in its order: each token written as one
   * fixed word ({@code package}, ..., {@code repeat}, {@code as}, {@code true}). The merges
   * ({@code concat}, {@code add}, {@code mul}) are the registry's ({@code OpDef.isMerge}). Editors
   * (completion, highlighting) read these, never a list of their own.
   */
  public static java.util.List<String> keywords() {
    java.util.List<String> out = new java.util.ArrayList<>();
    org.antlr.v4.runtime.Vocabulary v = CnnLexer.VOCABULARY;
    for (int t = 1; t <= v.getMaxTokenType(); t++) {
      String literal = v.getLiteralName(t);
      if (literal != null && literal.length() > 2 && WORD.matcher(literal.substring(1, literal.length() - 1)).matches()) {
        out.add(literal.substring(1, literal.length() - 1));
      }
    }
    return java.util.List.copyOf(out);
  }

  private static boolean keyword0(String word) {
    if (!WORD.matcher(word).matches()) {
      return false;
    }
    CnnLexer lexer = new CnnLexer(CharStreams.fromString(word));
    lexer.removeErrorListeners();
    Token t = lexer.nextToken();
    return !(t.getType() == CnnLexer.ID && t.getText().equals(word));
  }

  /** The label as a spec writes it: bare when it can be, else quoted ({@code "block"}, {@code "block1-0"}). */
  public static String written(String name) {
    return bare(name) ? name : "\"" + name + "\"";
  }
}
