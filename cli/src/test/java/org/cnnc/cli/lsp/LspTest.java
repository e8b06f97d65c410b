// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli.lsp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.lsp4j.*;
import org.eclipse.lsp4j.services.LanguageServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The language server spoken to over JSON-RPC streams, as an editor does. */
class LspTest {
  @TempDir Path dir;
  LanguageServer server;
  final BlockingQueue<PublishDiagnosticsParams> published = new LinkedBlockingQueue<>();
  CompletableFuture<Void> serverDone;

  @BeforeEach
  void start() throws Exception {
    server = LspConnection.connect(new CnncLanguageServer(), published::add);
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdown().get(5, TimeUnit.SECONDS);
  }

  String open(String name, String text) throws Exception {
    Path file = Files.writeString(dir.resolve(name), text);
    String uri = file.toUri().toString();
    server.getTextDocumentService().didOpen(new DidOpenTextDocumentParams(new TextDocumentItem(uri, "cnn", 1, text)));
    return uri;
  }

  @Test
  void initializeThenDiagnosticsHoverCompletionDefinitionAndFormatting() throws Exception {
    InitializeResult init = server.initialize(new InitializeParams()).get(10, TimeUnit.SECONDS);
    assertTrue(init.getCapabilities().getHoverProvider().getLeft());
    assertEquals("cnnc", init.getServerInfo().getName());

    String text = """
        block Stem(c: int) {
            conv(c, 3, padding = 1)
            relu
        }
        model Net {
            input [3, 16, 16]
            stem: Stem(8)
            convv(4, 1)
            conv(4, 3)
        }
        """;
    String uri = open("net.cnn", text);
    PublishDiagnosticsParams d = published.poll(10, TimeUnit.SECONDS);
    assertEquals(uri, d.getUri());
    assertEquals(1, d.getDiagnostics().size());
    Diagnostic unknown = d.getDiagnostics().get(0);
    assertEquals("UNKNOWN_NAME", unknown.getCode().getLeft());
    assertEquals(new Range(new Position(7, 4), new Position(7, 9)), unknown.getRange());
    assertTrue(unknown.getMessage().startsWith("unknown op or block `convv`\nhelp: did you mean `conv`?"), unknown.getMessage());

    // fix it: the same ids as the CLI's lint, now a warning, and hovers show shapes
    String fixed = text.replace("convv(4, 1)", "conv(4, 1)").replace("    conv(4, 3)\n", "    dense(10)\n");
    server.getTextDocumentService().didChange(new DidChangeTextDocumentParams(new VersionedTextDocumentIdentifier(uri, 2),
        List.of(new TextDocumentContentChangeEvent(fixed))));
    PublishDiagnosticsParams d2 = published.poll(10, TimeUnit.SECONDS);
    assertEquals(List.of("DENSE_ON_MAP"), d2.getDiagnostics().stream().map(x -> x.getCode().getLeft()).toList());
    assertEquals(DiagnosticSeverity.Warning, d2.getDiagnostics().get(0).getSeverity());

    Hover conv = server.getTextDocumentService().hover(new HoverParams(new TextDocumentIdentifier(uri), new Position(1, 6)))
        .get(10, TimeUnit.SECONDS);
    assertEquals("**conv** `Net.stem.0` → [8, 16, 16] · 224 params · 55,296 MACs", conv.getContents().getRight().getValue());
    Hover block = server.getTextDocumentService().hover(new HoverParams(new TextDocumentIdentifier(uri), new Position(6, 12)))
        .get(10, TimeUnit.SECONDS);
    assertTrue(block.getContents().getRight().getValue().startsWith("**Stem** `Net.stem` → [8, 16, 16] · 224 params"));

    var completion = server.getTextDocumentService().completion(new CompletionParams(new TextDocumentIdentifier(uri),
        new Position(8, 4))).get(10, TimeUnit.SECONDS).getLeft();
    List<String> labels = completion.stream().map(CompletionItem::getLabel).toList();
    assertTrue(labels.containsAll(List.of("conv", "maxpool", "Stem", "concat", "repeat", "as")), labels.toString());
    // every keyword of the lexer is offered
    assertTrue(labels.containsAll(org.cnnc.compiler.syntax.Labels.keywords()), labels.toString());
    var args = server.getTextDocumentService().completion(new CompletionParams(new TextDocumentIdentifier(uri),
        new Position(1, 9))).get(10, TimeUnit.SECONDS).getLeft();
    assertEquals(List.of("out", "kernel", "stride", "padding", "dilation", "groups", "bias"),
        args.stream().map(CompletionItem::getLabel).toList());

    var def = server.getTextDocumentService().definition(new DefinitionParams(new TextDocumentIdentifier(uri),
        new Position(6, 11))).get(10, TimeUnit.SECONDS).getLeft();
    assertEquals(new Range(new Position(0, 6), new Position(0, 10)), def.get(0).getRange());

    String messy = fixed.replace("conv(c, 3, padding = 1)", "conv( c,3,padding=1 )").replace("    dense(10)", "  dense(10)");
    server.getTextDocumentService().didChange(new DidChangeTextDocumentParams(new VersionedTextDocumentIdentifier(uri, 3),
        List.of(new TextDocumentContentChangeEvent(messy))));
    var edits = server.getTextDocumentService().formatting(new DocumentFormattingParams(new TextDocumentIdentifier(uri),
        new FormattingOptions(4, true))).get(10, TimeUnit.SECONDS);
    assertEquals(1, edits.size());
    assertEquals(fixed, edits.get(0).getNewText(), "spaces and indentation; no blank line added between declarations");
  }

  /**
   * `from x` jumps to the node the language's scoping gives (the expander's own lookup, kept):
   * the nearest `x` before it in its sequence or an enclosing one, never a same-named label in a
   * sibling group or a block's body.
   */
  @Test
  void definitionOfFromFollowsScoping() throws Exception {
    server.initialize(new InitializeParams()).get(10, TimeUnit.SECONDS);
    String text = """
        block B(c: int) {
            x: conv(c, 1)
            relu
            add(from x, identity)
        }
        model Net {
            input [3, 8, 8]
            x: conv(4, 1)
            a: {
                x: conv(4, 3, padding = 1)
                relu
                add(from x, identity)
            }
            b: B(4)
            from x
            relu
        }
        """;
    String uri = open("scopes.cnn", text);
    published.poll(10, TimeUnit.SECONDS);
    var td = server.getTextDocumentService();
    // in group a: its own x (line 9), not the model's (line 7)
    var inGroup = td.definition(new DefinitionParams(new TextDocumentIdentifier(uri), new Position(11, 17)))
        .get(10, TimeUnit.SECONDS).getLeft();
    assertEquals(new Range(new Position(9, 8), new Position(9, 9)), inGroup.get(0).getRange());
    // in block B: the block's x (line 1)
    var inBlock = td.definition(new DefinitionParams(new TextDocumentIdentifier(uri), new Position(3, 13)))
        .get(10, TimeUnit.SECONDS).getLeft();
    assertEquals(new Range(new Position(1, 4), new Position(1, 5)), inBlock.get(0).getRange());
    // after the group: the model's x; the group's is out of scope
    var after = td.definition(new DefinitionParams(new TextDocumentIdentifier(uri), new Position(14, 9)))
        .get(10, TimeUnit.SECONDS).getLeft();
    assertEquals(new Range(new Position(7, 4), new Position(7, 5)), after.get(0).getRange());
  }
}
