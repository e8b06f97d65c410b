// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli.lsp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.cnnc.compiler.Limits;
import org.eclipse.lsp4j.*;
import org.eclipse.lsp4j.jsonrpc.ResponseErrorException;
import org.eclipse.lsp4j.jsonrpc.messages.ResponseErrorCode;
import org.eclipse.lsp4j.services.LanguageServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile documents and requests, spoken to the server over JSON-RPC streams as an editor does. */
class LspLimitsTest {
  @TempDir Path dir;
  LanguageServer server;
  final BlockingQueue<PublishDiagnosticsParams> published = new LinkedBlockingQueue<>();
  /** Every message the client received, in order: "publish <uri>" or "hover". */
  final BlockingQueue<String> events = new LinkedBlockingQueue<>();

  void start(Limits limits) throws Exception {
    server = LspConnection.connect(new CnncLanguageServer(limits), diagnostics -> {
      events.add("publish " + diagnostics.getUri().replaceAll(".*/", ""));
      published.add(diagnostics);
    });
    server.initialize(new InitializeParams()).get(10, TimeUnit.SECONDS);
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.shutdown().get(10, TimeUnit.SECONDS);
    }
  }

  String open(String name, String text) throws Exception {
    Path file = Files.writeString(dir.resolve(name), text);
    String uri = file.toUri().toString();
    server.getTextDocumentService().didOpen(new DidOpenTextDocumentParams(new TextDocumentItem(uri, "cnn", 1, text)));
    return uri;
  }

  PublishDiagnosticsParams diagnosticsOf(String uri) throws Exception {
    for (;;) {
      PublishDiagnosticsParams d = published.poll(60, TimeUnit.SECONDS);
      assertNotNull(d, "no diagnostics for " + uri);
      if (d.getUri().equals(uri)) {
        return d;
      }
    }
  }

  static String doubling(int levels) {
    StringBuilder s = new StringBuilder("block B0() { relu }\n");
    for (int i = 1; i <= levels; i++) {
      s.append("block B").append(i).append("() { B").append(i - 1).append("() -> B").append(i - 1).append("() }\n");
    }
    return s + "model M {\n    input [3, 8, 8]\n    B" + levels + "()\n}\n";
  }

  @Test
  void blocksThatDoubleFortyTimesGetAnErrorNotAHungServer() throws Exception {
    start(Limits.defaults());
    String uri = open("double.cnn", doubling(39));
    var d = diagnosticsOf(uri);
    assertEquals(List.of("NETWORK_TOO_LARGE"), d.getDiagnostics().stream().map(x -> x.getCode().getLeft()).toList());
    assertEquals(42, d.getDiagnostics().get(0).getRange().getStart().getLine());
  }

  @Test
  void aSlowDocumentDoesNotHoldUpAnswersAboutAnother() throws Exception {
    start(Limits.defaults());
    String small = open("small.cnn", "model S {\n    input [3, 8, 8]\n    relu\n}\n");
    diagnosticsOf(small);
    events.clear();
    // within the limit, but seconds of work: 900,000 layers
    open("slow.cnn", "model M {\n    input [3, 8, 8]\n    repeat 900000 { relu }\n}\n");
    Hover h = server.getTextDocumentService().hover(new HoverParams(new TextDocumentIdentifier(small), new Position(2, 5)))
        .get(60, TimeUnit.SECONDS);
    events.add("hover");
    assertTrue(h.getContents().getRight().getValue().startsWith("**relu**"), h.toString());
    assertEquals("hover", events.poll(60, TimeUnit.SECONDS), "the hover is answered before the slow document is compiled");
    assertEquals("publish slow.cnn", events.poll(120, TimeUnit.SECONDS));
  }

  @Test
  void anImportOverTheSizeLimitIsADiagnosticAtTheImport() throws Exception {
    start(Limits.defaults().withMaxFileBytes(1000));
    Files.writeString(dir.resolve("huge.cnn"), "// " + "x".repeat(5000) + "\n");
    String uri = open("main.cnn", "import \"huge.cnn\"\nmodel M {\n    input [3, 8, 8]\n    relu\n}\n");
    // the import's error, and the model (which uses nothing of it) still checked and linted
    var d = diagnosticsOf(uri).getDiagnostics().stream()
        .sorted(java.util.Comparator.comparing(x -> x.getRange().getStart().getLine())).toList();
    assertEquals(List.of("IMPORT_NOT_FOUND", "OUTPUT_NOT_CLASSES"), d.stream().map(x -> x.getCode().getLeft()).toList(),
        d.toString());
    assertEquals(new Range(new Position(0, 7), new Position(0, 17)), d.get(0).getRange());
    // and a document over the limit is not compiled at all
    String big = open("big.cnn", "// " + "y".repeat(5000) + "\n");
    var b = diagnosticsOf(big).getDiagnostics();
    assertEquals(List.of("NETWORK_TOO_LARGE"), b.stream().map(x -> x.getCode().getLeft()).toList());
  }

  @Test
  void aSyntaxErrorHidesNoOtherDiagnosticOfTheDocument() throws Exception {
    start(Limits.defaults());
    String uri = open("s.cnn", "model A {\n    input [3, 8, 8]\n    conv(16, 3 padding = 1)\n}\n"
        + "model B {\n    input [3, 8, 8]\n    conv(4, 30)\n}\nmodel C {\n    input [3, 8, 8]\n    softmax\n}\n");
    var d = diagnosticsOf(uri).getDiagnostics().stream()
        .sorted(java.util.Comparator.comparing(x -> x.getRange().getStart().getLine())).toList();
    assertEquals(List.of("SYNTAX_ERROR", "KERNEL_TOO_LARGE", "OUTPUT_NOT_CLASSES", "SOFTMAX_BEFORE_CROSS_ENTROPY"),
        d.stream().map(x -> x.getCode().getLeft()).toList(), d.toString());
    assertEquals(List.of(2, 6, 8, 10), d.stream().map(x -> x.getRange().getStart().getLine()).toList());
  }

  @Test
  void negativePositionsGetAnInvalidParamsError() throws Exception {
    start(Limits.defaults());
    String uri = open("m.cnn", "model M {\n    input [3, 8, 8]\n    relu\n}\n");
    diagnosticsOf(uri);
    var td = server.getTextDocumentService();
    TextDocumentIdentifier id = new TextDocumentIdentifier(uri);
    for (Position p : List.of(new Position(-1, 0), new Position(0, -5))) {
      var e = assertThrows(ExecutionException.class, () -> td.hover(new HoverParams(id, p)).get(10, TimeUnit.SECONDS));
      ResponseErrorException re = assertInstanceOf(ResponseErrorException.class, e.getCause());
      assertEquals(ResponseErrorCode.InvalidParams.getValue(), re.getResponseError().getCode());
      assertThrows(ExecutionException.class, () -> td.definition(new DefinitionParams(id, p)).get(10, TimeUnit.SECONDS));
      assertThrows(ExecutionException.class, () -> td.completion(new CompletionParams(id, p)).get(10, TimeUnit.SECONDS));
    }
    // beyond the end is the end, as LSP asks; the server still answers
    assertNull(td.hover(new HoverParams(id, new Position(1000, 1000))).get(10, TimeUnit.SECONDS));
    assertTrue(td.hover(new HoverParams(id, new Position(2, 5))).get(10, TimeUnit.SECONDS) != null);
  }

  @Test
  void requestsAboutADocumentNotOpenGetEmptyAnswers() throws Exception {
    start(Limits.defaults());
    var td = server.getTextDocumentService();
    TextDocumentIdentifier id = new TextDocumentIdentifier(dir.resolve("never-opened.cnn").toUri().toString());
    Position p = new Position(0, 0);
    assertNull(td.hover(new HoverParams(id, p)).get(10, TimeUnit.SECONDS));
    assertEquals(List.of(), td.definition(new DefinitionParams(id, p)).get(10, TimeUnit.SECONDS).getLeft());
    assertEquals(List.of(), td.completion(new CompletionParams(id, p)).get(10, TimeUnit.SECONDS).getLeft());
    assertEquals(List.of(), td.formatting(new DocumentFormattingParams(id, new FormattingOptions(4, true)))
        .get(10, TimeUnit.SECONDS));
    TextDocumentIdentifier odd = new TextDocumentIdentifier("not a uri at all");
    assertNull(td.hover(new HoverParams(odd, p)).get(10, TimeUnit.SECONDS));
  }
}
