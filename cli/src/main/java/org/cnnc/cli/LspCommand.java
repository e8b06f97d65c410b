package org.cnnc.cli;

import java.util.concurrent.Callable;
import org.cnnc.cli.lsp.CnncLanguageServer;
import org.eclipse.lsp4j.launch.LSPLauncher;
import org.eclipse.lsp4j.services.LanguageClient;
import picocli.CommandLine.Command;

@Command(name = "lsp", mixinStandardHelpOptions = true,
    description = "Run the language server on standard input and output (for editors).")
final class LspCommand implements Callable<Integer> {
  @Override
  public Integer call() throws Exception {
    CnncLanguageServer server = new CnncLanguageServer();
    var launcher = LSPLauncher.createServerLauncher(server, System.in, System.out);
    LanguageClient client = launcher.getRemoteProxy();
    server.connect(client);
    launcher.startListening().get();
    return Main.OK;
  }
}
