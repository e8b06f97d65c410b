// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import org.cnnc.cli.lsp.CnncLanguageServer;
import org.eclipse.lsp4j.launch.LSPLauncher;
import org.eclipse.lsp4j.services.LanguageClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "lsp", mixinStandardHelpOptions = true,
    description = "Run the language server on standard input and output (for editors).")
final class LspCommand implements Callable<Integer> {
  @Mixin LimitOptions limits;

  @Override
  public Integer call() throws Exception {
    return serve(new CnncLanguageServer(limits.limits()), System.in, System.out);
  }

  /**
   * Serves until the client sends {@code exit} (0 after {@code shutdown}, 1 without, as LSP asks)
   * or closes the input (1: the client went away without shutting the server down).
   */
  static int serve(CnncLanguageServer server, InputStream in, OutputStream out) throws Exception {
    var launcher = LSPLauncher.createServerLauncher(server, in, out);
    LanguageClient client = launcher.getRemoteProxy();
    server.connect(client);
    var listening = launcher.startListening();
    CompletableFuture<Object> closed = CompletableFuture.supplyAsync(() -> {
      try {
        return listening.get();
      } catch (Exception e) {
        return null;
      }
    });
    Object first = CompletableFuture.anyOf(server.exitCode(), closed).get();
    listening.cancel(true);
    out.flush();
    return first instanceof Integer code ? code : server.exitCode().getNow(1);
  }
}
