package org.cnnc.cli.lsp;

import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import org.cnnc.compiler.Compiler;
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
 */
public final class CnncLanguageServer implements LanguageServer, LanguageClientAware {
  private LanguageClient client;
  private final Map<String, String> texts = new ConcurrentHashMap<>();
  private final Map<String, Compiler.Compilation> compiled = new ConcurrentHashMap<>();
  private final Documents documents = new Documents();

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
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public void exit() {}

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

  private Compiler.Compilation compile(String uri) {
    Path p = path(uri);
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(p), Map.of(p, texts.get(uri)));
    compiled.put(uri, c);
    return c;
  }

  private void publish(String uri) {
    Compiler.Compilation c = compile(uri);
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

  static int offset(SourceFile f, Position p) {
    int line = Math.min(f.lineCount(), p.getLine() + 1);
    return Math.min(f.text().length(), f.lineStart(line) + p.getCharacter());
  }

  final class Documents implements TextDocumentService {
    @Override
    public void didOpen(DidOpenTextDocumentParams params) {
      texts.put(params.getTextDocument().getUri(), params.getTextDocument().getText());
      publish(params.getTextDocument().getUri());
    }

    @Override
    public void didChange(DidChangeTextDocumentParams params) {
      List<TextDocumentContentChangeEvent> changes = params.getContentChanges();
      texts.put(params.getTextDocument().getUri(), changes.get(changes.size() - 1).getText());
      publish(params.getTextDocument().getUri());
    }

    @Override
    public void didClose(DidCloseTextDocumentParams params) {
      texts.remove(params.getTextDocument().getUri());
      compiled.remove(params.getTextDocument().getUri());
    }

    @Override
    public void didSave(DidSaveTextDocumentParams params) {}

    @Override
    public CompletableFuture<Hover> hover(HoverParams params) {
      String uri = params.getTextDocument().getUri();
      Compiler.Compilation c = compiled.computeIfAbsent(uri, CnncLanguageServer.this::compile);
      if (c.sources().isEmpty()) {
        return CompletableFuture.completedFuture(null);
      }
      SourceFile f = c.sources().get(0);
      int at = offset(f, params.getPosition());
      String text = Features.hover(c, f, at);
      return CompletableFuture.completedFuture(text == null ? null
          : new Hover(new MarkupContent(MarkupKind.MARKDOWN, text)));
    }

    @Override
    public CompletableFuture<Either<List<? extends Location>, List<? extends LocationLink>>> definition(
        DefinitionParams params) {
      String uri = params.getTextDocument().getUri();
      Compiler.Compilation c = compiled.computeIfAbsent(uri, CnncLanguageServer.this::compile);
      SourceFile f = c.sources().get(0);
      Span target = Features.definition(c, f, offset(f, params.getPosition()));
      List<Location> out = new ArrayList<>();
      if (target != null) {
        String targetUri = target.file() == f ? uri : target.file().path().toUri().toString();
        out.add(new Location(targetUri, range(target)));
      }
      return CompletableFuture.completedFuture(Either.forLeft(out));
    }

    @Override
    public CompletableFuture<Either<List<CompletionItem>, CompletionList>> completion(CompletionParams params) {
      String uri = params.getTextDocument().getUri();
      String text = texts.getOrDefault(uri, "");
      SourceFile f = SourceFile.of(uri, text);
      Compiler.Compilation c = compiled.computeIfAbsent(uri, CnncLanguageServer.this::compile);
      return CompletableFuture.completedFuture(Either.forLeft(Features.complete(c, text, offset(f, params.getPosition()))));
    }

    @Override
    public CompletableFuture<List<? extends TextEdit>> formatting(DocumentFormattingParams params) {
      String uri = params.getTextDocument().getUri();
      String text = texts.getOrDefault(uri, "");
      SourceFile f = new SourceFile(path(uri), uri, text);
      Ast.CnnFile ast = Parsing.parse(f, new Diagnostics());
      if (ast == null) {
        return CompletableFuture.completedFuture(List.of());
      }
      String formatted;
      try {
        formatted = Formatter.format(f, ast);
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
