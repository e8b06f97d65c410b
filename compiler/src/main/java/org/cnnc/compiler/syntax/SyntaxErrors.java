// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.syntax;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.antlr.v4.runtime.DefaultErrorStrategy;
import org.antlr.v4.runtime.InputMismatchException;
import org.antlr.v4.runtime.NoViableAltException;
import org.antlr.v4.runtime.Parser;
import org.antlr.v4.runtime.ParserRuleContext;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.misc.IntervalSet;
import org.cnnc.grammar.CnnLexer;
import org.cnnc.grammar.CnnParser;

/**
 * ANTLR's recovery, with messages in words: "expected &lt;layer&gt; or '}', found ')'" instead of
 * a list of token names. The sets of tokens that start a layer, an expression or a shape are
 * named as such.
 */
final class SyntaxErrors extends DefaultErrorStrategy {

  private static final int[] LAYER_START = {
    CnnLexer.ID, CnnLexer.LBRACE, CnnLexer.MERGE, CnnLexer.REPEAT, CnnLexer.STRING
  };
  private static final int[] EXPR_START = {
    CnnLexer.INT, CnnLexer.FLOAT, CnnLexer.TRUE, CnnLexer.FALSE, CnnLexer.STRING, CnnLexer.ID,
    CnnLexer.MINUS, CnnLexer.LPAREN, CnnLexer.LBRACK
  };

  /**
   * An error within three tokens of the last one (matched or skipped by the recovery) is taken as
   * its consequence and not reported; the parser still recovers. `conv(16, 3 padding = 1)` is one
   * missing comma, not also an unexpected `=`.
   */
  private static final int CASCADE_TOKENS = 3;
  /** The index of the token of the last syntax error, or -1. */
  private int lastError = -1;

  @Override
  protected void reportNoViableAlternative(Parser parser, NoViableAltException e) {
    report(parser, e.getOffendingToken(), expected(parser, e.getExpectedTokens()), e, false);
  }

  @Override
  protected void reportInputMismatch(Parser parser, InputMismatchException e) {
    report(parser, e.getOffendingToken(), expected(parser, e.getExpectedTokens()), e, false);
  }

  @Override
  protected void reportUnwantedToken(Parser parser) {
    if (inErrorRecoveryMode(parser)) {
      return;
    }
    beginErrorCondition(parser);
    report(parser, parser.getCurrentToken(), expected(parser, getExpectedTokens(parser)), null, true);
  }

  @Override
  protected void reportMissingToken(Parser parser) {
    if (inErrorRecoveryMode(parser)) {
      return;
    }
    beginErrorCondition(parser);
    report(parser, parser.getCurrentToken(), expected(parser, getExpectedTokens(parser)), null, false);
  }

  private void report(Parser parser, Token found, String expected, RecognitionException e, boolean unwanted) {
    boolean cascade = lastError >= 0 && found != null && tokensBetween(parser, lastError, found.getTokenIndex()) < CASCADE_TOKENS;
    if (found != null && found.getTokenIndex() >= 0) {
      lastError = found.getTokenIndex();
    }
    if (cascade) {
      return;
    }
    String what = describe(found);
    String msg = unwanted
        ? "unexpected " + what + (expected.isEmpty() ? "" : "; expected " + expected)
        : "expected " + expected + ", found " + what;
    parser.notifyErrorListeners(found, msg, e);
  }

  /** Tokens of the default channel after {@code from}, up to and including {@code to}. */
  private static int tokensBetween(Parser parser, int from, int to) {
    int n = 0;
    for (int i = from + 1; i <= to && n < CASCADE_TOKENS; i++) {
      if (parser.getTokenStream().get(i).getChannel() == Token.DEFAULT_CHANNEL) {
        n++;
      }
    }
    return n;
  }

  static String describe(Token t) {
    if (t == null || t.getType() == Token.EOF) {
      return "end of file";
    }
    String text = t.getText();
    if (text.length() > 20) {
      text = text.substring(0, 17) + "...";
    }
    return switch (t.getType()) {
      case CnnLexer.ID -> "name `" + text + "`";
      case CnnLexer.INT, CnnLexer.FLOAT -> "number `" + text + "`";
      case CnnLexer.STRING -> "string " + text;
      default -> "`" + text + "`";
    };
  }

  private static String expected(Parser parser, IntervalSet set) {
    Set<Integer> tokens = new LinkedHashSet<>(set.toList());
    List<String> words = new ArrayList<>();
    ParserRuleContext ctx = parser.getContext();
    boolean inShape = ctx instanceof CnnParser.ShapeContext || ctx instanceof CnnParser.InputStmtContext;
    if (containsAll(tokens, LAYER_START)) {
      words.add("<layer>");
      removeAll(tokens, LAYER_START);
    }
    if (containsAll(tokens, EXPR_START)) {
      words.add("<expression>");
      removeAll(tokens, EXPR_START);
    }
    if (inShape && tokens.contains(CnnLexer.LBRACK)) {
      words.add("<shape>");
      tokens.remove(CnnLexer.LBRACK);
      tokens.remove(CnnLexer.ID);
    }
    for (int t : tokens) {
      words.add(tokenWord(parser, t));
    }
    if (words.size() > 6) {
      words = new ArrayList<>(words.subList(0, 6));
      words.add("...");
    }
    return join(words);
  }

  private static String tokenWord(Parser parser, int type) {
    return switch (type) {
      case Token.EOF -> "end of file";
      case CnnLexer.ID -> "<name>";
      case CnnLexer.INT -> "<integer>";
      case CnnLexer.FLOAT -> "<number>";
      case CnnLexer.STRING -> "<string>";
      default -> {
        String lit = parser.getVocabulary().getLiteralName(type);
        yield lit == null ? parser.getVocabulary().getDisplayName(type) : lit.replace('\'', '`');
      }
    };
  }

  private static String join(List<String> words) {
    if (words.isEmpty()) {
      return "";
    }
    if (words.size() == 1) {
      return words.get(0);
    }
    return String.join(", ", words.subList(0, words.size() - 1)) + " or " + words.get(words.size() - 1);
  }

  private static boolean containsAll(Set<Integer> set, int[] items) {
    for (int i : items) {
      if (!set.contains(i)) {
        return false;
      }
    }
    return true;
  }

  private static void removeAll(Set<Integer> set, int[] items) {
    for (int i : items) {
      set.remove(i);
    }
  }
}
