// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli.lsp;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.Limits;
import org.cnnc.compiler.ast.Ast;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.diag.Note;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.fmt.Formatter;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.source.Span;
import org.cnnc.compiler.syntax.Parsing;
import org.eclipse.lsp4j.*;
import org.eclipse.lsp4j.jsonrpc.messages.Either;
import org.eclipse.lsp4j.services.LanguageClient;
import org.eclipse.lsp4j.services.LanguageClientAware;
import org.eclipse.lsp4j.services.LanguageServer;
import org.eclipse.lsp4j.services.TextDocumentService;
import org.eclipse.lsp4j.services.WorkspaceService;

/**
 * cnnc's language server: the same diagnostics as `cnnc lint` (ids, messages, notes) on open and
 * change, hovers with a layer's output shape and parameters, go-to-definition for blocks and
 * named nodes, completion of ops, blocks and argument names, and formatting.
 *
 * <p>Documents are compiled with the command line's {@link Limits}, one at a time on a thread of
 * their own: the thread that reads messages never compiles, so a slow document delays only the
 * answers about itself. Requests about a document that is not open get an empty answer; positions
 * that are negative get an InvalidParams error. {@code exit} ends the server with 0 after
 * {@code shutdown}, 1 without ({@link #exitCode()}).
 */
public final class CnncLanguageServer implements LanguageServer, LanguageClientAware {
  private LanguageClient client;
  private final Map<String, String> texts = new ConcurrentHashMap<>();
  /** The latest compilation asked for, per open document (done or under way). */
  private final Map<String, CompletableFuture<Compiler.Compilation>> compiled = new ConcurrentHashMap<>();
  private final Documents documents = new Documents();
  private final Limits limits;
  private final java.util.concurrent.ExecutorService compiler = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
    // a large stack, as the command line's: deeply nested specs meet cnnc's limits, not the JVM's
    Thread t = new Thread(null, r, "cnnc-lsp-compile", 512L << 20);
    t.setDaemon(true);
    return t;
  });
  private volatile boolean shutdown;
  private final CompletableFuture<Integer> exitCode = new CompletableFuture<>();

  public CnncLanguageServer() {
    this(Limits.defaults());
  }

  public CnncLanguageServer(Limits limits) {
    this.limits = limits;
  }

  /** Completes when the client sends {@code exit}: 0 after {@code shutdown}, 1 otherwise (as LSP asks). */
  public CompletableFuture<Integer> exitCode() {
    return exitCode;
  }

  @Override
  public void connect(LanguageClient client) {
    this.client = client;
  }

  @Override
  public CompletableFuture<InitializeResult> initialize(InitializeParams params) {
    ServerCapabilities caps = new ServerCapabilities();
    caps.setTextDocumentSync(TextDocumentSyncKind.Full);
    caps.setHoverProvider(true);
    caps.setDefinitionProvider(true);
    caps.setDocumentFormattingProvider(true);
    caps.setCompletionProvider(new CompletionOptions(false, List.of("(", ",", " ")));
    return CompletableFuture.completedFuture(new InitializeResult(caps, new ServerInfo("cnnc")));
  }

  @Override
  public CompletableFuture<Object> shutdown() {
    shutdown = true;
    compiler.shutdownNow();
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public void exit() {
    compiler.shutdownNow();
    exitCode.complete(shutdown ? 0 : 1);
  }

  @Override
  public TextDocumentService getTextDocumentService() {
    return documents;
  }

  @Override
  public WorkspaceService getWorkspaceService() {
    return new WorkspaceService() {
      @Override
      public void didChangeConfiguration(DidChangeConfigurationParams params) {}

      @Override
      public void didChangeWatchedFiles(DidChangeWatchedFilesParams params) {}
    };
  }

  static Path path(String uri) {
    try {
      return Path.of(URI.create(uri));
    } catch (RuntimeException e) {
      return Path.of(uri.replaceFirst("^[a-z]+:/*", "/"));
    }
  }

  /** Compiles the text of an open document as it is now, on the compiling thread; then publishes its diagnostics. */
  private void recompile(String uri) {
    if (!texts.containsKey(uri)) {
      return;
    }
    CompletableFuture<Compiler.Compilation> next;
    try {
      // The job compiles the text as it is when the job starts: changes typed while it waited are
      // compiled once, by the first job that runs, and the later jobs reuse that compilation.
      next = CompletableFuture.supplyAsync(() -> {
        String text = texts.get(uri);
        Done last = done.get(uri);
        if (last != null && last.text() == text) {
          return last.compilation();
        }
        Compiler.Compilation c = text == null ? compile(uri, "") : compile(uri, text);
        if (text != null) {
          done.put(uri, new Done(text, c));
          publish(uri, c);
        }
        return c;
      }, compiler);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      return; // shut down
    }
    compiled.put(uri, next);
  }

  /** The last compilation of a document, and the text it compiled. */
  private record Done(String text, Compiler.Compilation compilation) {}

  private final Map<String, Done> done = new ConcurrentHashMap<>();

  private Compiler.Compilation compile(String uri, String text) {
    Path p = path(uri);
    if (text.length() > limits.maxFileBytes()) {
      // a buffer over the size limit is not compiled: one diagnostic at its start
      SourceFile f = new SourceFile(p, uri, "");
      org.cnnc.compiler.diag.Diagnostics d = new org.cnnc.compiler.diag.Diagnostics();
      d.report(org.cnnc.compiler.diag.Diagnostic.error(org.cnnc.compiler.diag.Code.NETWORK_TOO_LARGE, new Span(f, 0, 0),
          "the document has " + text.length() + " characters, more than the limit of " + limits.maxFileBytes()));
      return new Compiler.Compilation(List.of(f), d, List.of(), new org.cnnc.compiler.sema.Program(List.of(), Map.of()));
    }
    return Compiler.compile(Compiler.Request.of(p).withLimits(limits), Map.of(p, text));
  }

  /** The latest compilation of an open document, or null when it is not open. */
  private CompletableFuture<Compiler.Compilation> compilation(String uri) {
    if (!texts.containsKey(uri)) {
      return null;
    }
    CompletableFuture<Compiler.Compilation> c = compiled.get(uri);
    if (c == null) {
      recompile(uri);
      c = compiled.get(uri);
    }
    return c;
  }

  /** An LSP InvalidParams error for a position no document has. */
  private static <T> CompletableFuture<T> badPosition(Position p) {
    return CompletableFuture.failedFuture(new org.eclipse.lsp4j.jsonrpc.ResponseErrorException(
        new org.eclipse.lsp4j.jsonrpc.messages.ResponseError(org.eclipse.lsp4j.jsonrpc.messages.ResponseErrorCode.InvalidParams,
            "invalid position " + (p == null ? "null" : p.getLine() + ":" + p.getCharacter())
                + ": lines and characters are 0 or more", null)));
  }

  private static boolean valid(Position p) {
    return p != null && p.getLine() >= 0 && p.getCharacter() >= 0;
  }

  private void publish(String uri, Compiler.Compilation c) {
    Linter.Result r = Linter.lint(c, LintConfig.defaults(), path(uri).getParent());
    List<Diagnostic> out = new ArrayList<>();
    for (org.cnnc.compiler.diag.Diagnostic d : r.diagnostics()) {
      if (d.span().file() != c.sources().get(0)) {
        continue;
      }
      Diagnostic ld = new Diagnostic(range(d.span()), d.message() + (d.help().isEmpty() ? "" : "\nhelp: " + d.help()),
          d.severity() == Severity.ERROR ? DiagnosticSeverity.Error
              : d.severity() == Severity.WARNING ? DiagnosticSeverity.Warning : DiagnosticSeverity.Information,
          "cnnc", d.id());
      List<DiagnosticRelatedInformation> related = new ArrayList<>();
      for (Note n : d.notes()) {
        if (n.span() != null && n.span().file().path() != null) {
          related.add(new DiagnosticRelatedInformation(new Location(n.span().file().path().toUri().toString(),
              range(n.span())), n.message()));
        }
      }
      if (!related.isEmpty()) {
        ld.setRelatedInformation(related);
      }
      out.add(ld);
    }
    if (client != null) {
      client.publishDiagnostics(new PublishDiagnosticsParams(uri, out));
    }
  }

  static Range range(Span s) {
    return new Range(new Position(s.line() - 1, s.column() - 1),
        new Position(s.file().line(s.end()) - 1, s.file().column(s.end()) - 1));
  }

  /** The offset of a position; past the end of its line or of the text, the end (as LSP asks). */
  static int offset(SourceFile f, Position p) {
    int line = Math.max(1, Math.min(f.lineCount(), p.getLine() + 1));
    return (int) Math.min(f.text().length(), (long) f.lineStart(line) + Math.max(0, p.getCharacter()));
  }

  final class Documents implements TextDocumentService {
    @Override
    public void didOpen(DidOpenTextDocumentParams params) {
      texts.put(params.getTextDocument().getUri(), params.getTextDocument().getText());
      recompile(params.getTextDocument().getUri());
    }

    @Override
    public void didChange(DidChangeTextDocumentParams params) {
      List<TextDocumentContentChangeEvent> changes = params.getContentChanges();
      if (changes == null || changes.isEmpty() || !texts.containsKey(params.getTextDocument().getUri())) {
        return;
      }
      texts.put(params.getTextDocument().getUri(), changes.get(changes.size() - 1).getText());
      recompile(params.getTextDocument().getUri());
    }

    @Override
    public void didClose(DidCloseTextDocumentParams params) {
      texts.remove(params.getTextDocument().getUri());
      compiled.remove(params.getTextDocument().getUri());
      done.remove(params.getTextDocument().getUri());
    }

    @Override
    public void didSave(DidSaveTextDocumentParams params) {}

    @Override
    public CompletableFuture<Hover> hover(HoverParams params) {
      if (!valid(params.getPosition())) {
        return badPosition(params.getPosition());
      }
      var pending = compilation(params.getTextDocument().getUri());
      if (pending == null) {
        return CompletableFuture.completedFuture(null);
      }
      return pending.thenApply(c -> {
        if (c.sources().isEmpty()) {
          return null;
        }
        SourceFile f = c.sources().get(0);
        String text = Features.hover(c, f, offset(f, params.getPosition()));
        return text == null ? null : new Hover(new MarkupContent(MarkupKind.MARKDOWN, text));
      });
    }

    @Override
    public CompletableFuture<Either<List<? extends Location>, List<? extends LocationLink>>> definition(
        DefinitionParams params) {
      String uri = params.getTextDocument().getUri();
      if (!valid(params.getPosition())) {
        return badPosition(params.getPosition());
      }
      var pending = compilation(uri);
      if (pending == null) {
        return CompletableFuture.completedFuture(Either.forLeft(List.of()));
      }
      return pending.thenApply(c -> {
        List<Location> out = new ArrayList<>();
        if (c.sources().isEmpty()) {
          return Either.forLeft(out);
        }
        SourceFile f = c.sources().get(0);
        Span target = Features.definition(c, f, offset(f, params.getPosition()));
        if (target != null && (target.file() == f || target.file().path() != null)) {
          String targetUri = target.file() == f ? uri : target.file().path().toUri().toString();
          out.add(new Location(targetUri, range(target)));
        }
        return Either.forLeft(out);
      });
    }

    @Override
    public CompletableFuture<Either<List<CompletionItem>, CompletionList>> completion(CompletionParams params) {
      String uri = params.getTextDocument().getUri();
      if (!valid(params.getPosition())) {
        return badPosition(params.getPosition());
      }
      String text = texts.get(uri);
      var pending = compilation(uri);
      if (text == null || pending == null) {
        return CompletableFuture.completedFuture(Either.forLeft(List.of()));
      }
      SourceFile f = SourceFile.of(uri, text);
      int at = offset(f, params.getPosition());
      return pending.thenApply(c -> Either.forLeft(Features.complete(c, text, at)));
    }

    @Override
    public CompletableFuture<List<? extends TextEdit>> formatting(DocumentFormattingParams params) {
      String uri = params.getTextDocument().getUri();
      String text = texts.get(uri);
      if (text == null || text.length() > limits.maxFileBytes()) {
        return CompletableFuture.completedFuture(List.of());
      }
      SourceFile f = new SourceFile(path(uri), uri, text);
      Ast.CnnFile ast = Parsing.parse(f, new Diagnostics());
      if (ast == null) {
        return CompletableFuture.completedFuture(List.of());
      }
      String formatted;
      try {
        formatted = Formatter.formatWithImports(f, ast, path(uri), limits);
      } catch (Formatter.NotSameTree e) {
        return CompletableFuture.completedFuture(List.of()); // never an edit that changes the spec
      }
      if (formatted.equals(text)) {
        return CompletableFuture.completedFuture(List.of());
      }
      Range all = new Range(new Position(0, 0), new Position(f.lineCount(), 0));
      return CompletableFuture.completedFuture(List.of(new TextEdit(all, formatted)));
    }
  }

  /** For tests: the nodes of the compiled networks. */
  static List<Node> nodes(Compiler.Compilation c) {
    List<Node> out = new ArrayList<>();
    for (Network n : c.networks()) {
      out.addAll(n.nodes());
    }
    return out;
  }
}
