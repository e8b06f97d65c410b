// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli.lsp;

import java.io.IOException;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.eclipse.lsp4j.MessageActionItem;
import org.eclipse.lsp4j.MessageParams;
import org.eclipse.lsp4j.PublishDiagnosticsParams;
import org.eclipse.lsp4j.ShowMessageRequestParams;
import org.eclipse.lsp4j.launch.LSPLauncher;
import org.eclipse.lsp4j.services.LanguageClient;
import org.eclipse.lsp4j.services.LanguageServer;

/** The language server under test, connected over pipes to a client that hands on what it publishes. */
final class LspConnection {
  private LspConnection() {}

  /** Starts {@code impl} and returns the client's proxy of it; diagnostics it publishes go to {@code published}. */
  static LanguageServer connect(CnncLanguageServer impl, Consumer<PublishDiagnosticsParams> published)
      throws IOException {
    PipedInputStream serverIn = new PipedInputStream(1 << 20);
    PipedOutputStream clientOut = new PipedOutputStream(serverIn);
    PipedInputStream clientIn = new PipedInputStream(1 << 20);
    PipedOutputStream serverOut = new PipedOutputStream(clientIn);
    var serverLauncher = LSPLauncher.createServerLauncher(impl, serverIn, serverOut);
    impl.connect(serverLauncher.getRemoteProxy());
    serverLauncher.startListening();
    LanguageClient client = new LanguageClient() {
      @Override
      public void telemetryEvent(Object object) {}

      @Override
      public void publishDiagnostics(PublishDiagnosticsParams diagnostics) {
        published.accept(diagnostics);
      }

      @Override
      public void showMessage(MessageParams messageParams) {}

      @Override
      public CompletableFuture<MessageActionItem> showMessageRequest(ShowMessageRequestParams requestParams) {
        return CompletableFuture.completedFuture(null);
      }

      @Override
      public void logMessage(MessageParams message) {}
    };
    var clientLauncher = LSPLauncher.createClientLauncher(client, clientIn, clientOut);
    clientLauncher.startListening();
    return clientLauncher.getRemoteProxy();
  }
}
