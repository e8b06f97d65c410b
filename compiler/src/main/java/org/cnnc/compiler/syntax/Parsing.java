// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.syntax;

import java.util.BitSet;
import org.antlr.v4.runtime.ANTLRErrorListener;
import org.antlr.v4.runtime.BaseErrorListener;
import org.antlr.v4.runtime.CharStreams;
import org.antlr.v4.runtime.CommonTokenStream;
import org.antlr.v4.runtime.Parser;
import org.antlr.v4.runtime.RecognitionException;
import org.antlr.v4.runtime.Recognizer;
import org.antlr.v4.runtime.Token;
import org.antlr.v4.runtime.atn.ATNConfigSet;
import org.antlr.v4.runtime.dfa.DFA;
import org.cnnc.compiler.ast.Ast;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.source.Span;
import org.cnnc.grammar.CnnLexer;
import org.cnnc.grammar.CnnParser;

/**
 * Text to syntax tree. Reports every lexical and syntax error of the file, in words, and returns
 * the AST only when there were none (later phases never see a tree repaired by guesswork).
 */
public final class Parsing {
  /** The channel on which the lexer puts malformed input (see CnnLexer.g4). */
  static final int ERROR_CHANNEL = 2;

  private Parsing() {}

  /** The AST, or null when the file has syntax errors (all of them reported). */
  public static Ast.CnnFile parse(SourceFile file, Diagnostics diags) {
    Parsed p = parseRecovering(file, diags);
    return p.complete() ? p.ast() : null;
  }

  /** In {@link Parsed#broken}: an import did not parse, so any name may be one the file would see. */
  public static final String ANY_NAME = "*";

  /**
   * A file parsed with error recovery: the declarations that parsed without an error, and the
   * names of those that did not (a call to one of them is no unknown name: its declaration has an
   * error already).
   *
   * @param ast the file's package, imports and declarations that parsed cleanly, or null when
   *     nothing could be parsed (too many lexical errors, nesting too deep)
   * @param broken names of the declarations dropped for a syntax error in them
   * @param complete whether the whole file parsed without a lexical or syntax error
   */
  public record Parsed(Ast.CnnFile ast, java.util.Set<String> broken, boolean complete) {}

  /**
   * Reports every lexical and syntax error of the file (one per mistake: errors that follow
   * another within three tokens are taken as its consequences) and keeps what parsed.
   */
  public static Parsed parseRecovering(SourceFile file, Diagnostics diags) {
    CnnLexer lexer = new CnnLexer(CharStreams.fromString(file.text(), file.name()));
    lexer.removeErrorListeners();
    int before = diags.errorCount();
    // Once the file has as many errors as are shown, the rest are only counted: no token or
    // diagnostic is kept for them, and the file is not parsed.
    java.util.List<Token> list = new java.util.ArrayList<>();
    long uncounted = 0;
    for (Token t = lexer.nextToken(); ; t = lexer.nextToken()) {
      if (t.getChannel() == ERROR_CHANNEL) {
        if (uncounted > 0 || diags.full(file.name())) {
          uncounted++;
        } else {
          diags.report(lexicalError(file, t));
        }
      }
      if (uncounted == 0) {
        list.add(t);
      }
      if (t.getType() == Token.EOF) {
        break;
      }
    }
    if (uncounted > 0) {
      diags.hide(file.name(), uncounted);
      return new Parsed(null, java.util.Set.of(), false);
    }
    CommonTokenStream tokens = new CommonTokenStream(new org.antlr.v4.runtime.ListTokenSource(list, file.name()));
    tokens.fill();
    if (tooDeep(file, tokens, diags)) {
      return new Parsed(null, java.util.Set.of(), false);
    }
    CnnParser parser = new CnnParser(tokens);
    parser.removeErrorListeners();
    parser.setErrorHandler(new SyntaxErrors());
    parser.addErrorListener(listener(file, diags));
    CnnParser.FileContext tree;
    try {
      tree = parser.file();
    } catch (StackOverflowError e) {
      // Bracket depth is checked above; this catches long runs of prefix operators (`- - - ... 1`).
      diags.report(Diagnostic.error(Code.NESTING_TOO_DEEP, new Span(file, 0, 0), "the file nests too deeply to parse")
          .help("split deeply nested expressions or groups"));
      return new Parsed(null, java.util.Set.of(), false);
    }
    boolean complete = diags.errorCount() == before && parser.getNumberOfSyntaxErrors() == 0 && clean(tree);
    java.util.List<Integer> lexical = list.stream().filter(t -> t.getChannel() == ERROR_CHANNEL)
        .map(Token::getStartIndex).toList();
    AstBuilder.Partial partial = new AstBuilder(file, diags).partialFile(tree, lexical);
    return new Parsed(partial.file(), partial.broken(), complete && partial.broken().isEmpty());
  }

  /** Whether a part of the parse tree holds no error: no token skipped or made up, no rule that failed. */
  static boolean clean(org.antlr.v4.runtime.tree.ParseTree t) {
    if (t instanceof org.antlr.v4.runtime.tree.ErrorNode) {
      return false;
    }
    if (t instanceof org.antlr.v4.runtime.ParserRuleContext ctx && ctx.exception != null) {
      return false;
    }
    for (int i = 0; i < t.getChildCount(); i++) {
      if (!clean(t.getChild(i))) {
        return false;
      }
    }
    return true;
  }

  /** A comment, as the formatter keeps it. */
  public record Comment(String text, int start, int end) {}

  /** Every comment of a file, in order (lexing only; the file may have syntax errors). */
  public static java.util.List<Comment> comments(SourceFile file) {
    CnnLexer lexer = new CnnLexer(CharStreams.fromString(file.text(), file.name()));
    lexer.removeErrorListeners();
    java.util.List<Comment> out = new java.util.ArrayList<>();
    for (Token t = lexer.nextToken(); t.getType() != Token.EOF; t = lexer.nextToken()) {
      if (t.getType() == CnnLexer.LINE_COMMENT || t.getType() == CnnLexer.BLOCK_COMMENT) {
        out.add(new Comment(t.getText(), t.getStartIndex(), t.getStopIndex() + 1));
      }
    }
    return out;
  }

  /** Where each token of a file (comments and spaces aside) ends: the places a comment may be put between tokens. */
  public static java.util.List<Integer> tokenEnds(SourceFile file) {
    CnnLexer lexer = new CnnLexer(CharStreams.fromString(file.text(), file.name()));
    lexer.removeErrorListeners();
    java.util.List<Integer> out = new java.util.ArrayList<>();
    for (Token t = lexer.nextToken(); t.getType() != Token.EOF; t = lexer.nextToken()) {
      if (t.getChannel() == Token.DEFAULT_CHANNEL) {
        out.add(t.getStopIndex() + 1);
      }
    }
    return out;
  }

  /** The deepest nesting of brackets a spec may use; far beyond any real network. */
  public static final int MAX_NESTING = 256;

  static boolean tooDeep(SourceFile file, CommonTokenStream tokens, Diagnostics diags) {
    int depth = 0;
    int unary = 0;
    for (Token t : tokens.getTokens()) {
      if (t.getChannel() != Token.DEFAULT_CHANNEL) {
        continue;
      }
      switch (t.getType()) {
        case CnnLexer.LPAREN, CnnLexer.LBRACE, CnnLexer.LBRACK -> depth++;
        case CnnLexer.RPAREN, CnnLexer.RBRACE, CnnLexer.RBRACK -> depth = Math.max(0, depth - 1);
        default -> { }
      }
      unary = t.getType() == CnnLexer.MINUS ? unary + 1 : 0;
      if (depth > MAX_NESTING || unary > MAX_NESTING) {
        diags.report(Diagnostic.error(Code.NESTING_TOO_DEEP, new Span(file, t.getStartIndex(), t.getStopIndex() + 1),
                "nesting deeper than " + MAX_NESTING + " levels")
            .label("too deep here")
            .help("flatten the structure: use blocks and `repeat` instead of nesting"));
        return true;
      }
    }
    return false;
  }

  private static Diagnostic lexicalError(SourceFile file, Token t) {
    Span span = new Span(file, t.getStartIndex(), t.getStopIndex() + 1);
    return switch (t.getType()) {
      case CnnLexer.UNTERMINATED_COMMENT -> Diagnostic.error(Code.UNTERMINATED_COMMENT, new Span(file, t.getStartIndex(), t.getStartIndex() + 2),
          "unterminated block comment")
          .label("this comment is never closed")
          .help("close it with `*/`")
          .build();
      case CnnLexer.UNTERMINATED_STRING -> Diagnostic.error(Code.UNTERMINATED_STRING, span, "unterminated string")
          .label("this string is not closed on its line")
          .help("close it with `\"`")
          .build();
      default -> {
        int cp = t.getText().codePointAt(0);
        String shown = Character.isISOControl(cp) || Character.isWhitespace(cp)
            ? String.format("U+%04X", cp)
            : "`" + t.getText() + "` (U+" + String.format("%04X", cp) + ")";
        yield Diagnostic.error(Code.BAD_CHARACTER, span, "unexpected character " + shown)
            .label("not part of the language")
            .build();
      }
    };
  }

  private static ANTLRErrorListener listener(SourceFile file, Diagnostics diags) {
    return new BaseErrorListener() {
      @Override
      public void syntaxError(Recognizer<?, ?> recognizer, Object offending, int line, int col, String msg,
          RecognitionException e) {
        Token t = (Token) offending;
        Span span = t == null || t.getType() == Token.EOF
            ? new Span(file, file.text().length(), file.text().length())
            : new Span(file, t.getStartIndex(), t.getStopIndex() + 1);
        diags.report(Diagnostic.error(Code.SYNTAX_ERROR, span, msg).build());
      }

      @Override
      public void reportAmbiguity(Parser p, DFA dfa, int a, int b, boolean exact, BitSet alts, ATNConfigSet c) {}
    };
  }
}
