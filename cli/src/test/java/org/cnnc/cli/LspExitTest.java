// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.cnnc.cli.lsp.CnncLanguageServer;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Test;

/** `cnnc lsp` ends on `exit`: 0 after `shutdown`, 1 without, as the LSP specification asks. */
class LspExitTest {
  static String frame(String json) {
    return "Content-Length: " + json.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + json;
  }

  static final String INIT = frame("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"capabilities\":{}}}");
  static final String SHUTDOWN = frame("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"shutdown\"}");
  static final String EXIT = frame("{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}");

  /** Serves messages sent on a stream that stays open (as an editor's pipe does) until the server ends. */
  static int serve(String messages) throws Exception {
    PipedInputStream in = new PipedInputStream(1 << 16);
    PipedOutputStream feed = new PipedOutputStream(in);
    feed.write(messages.getBytes(StandardCharsets.UTF_8));
    feed.flush();
    try {
      return Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20),
          () -> LspCommand.serve(new CnncLanguageServer(), in, new ByteArrayOutputStream()));
    } finally {
      feed.close();
    }
  }

  @Test
  void shutdownThenExitEndsWithZero() throws Exception {
    assertEquals(0, serve(INIT + SHUTDOWN + EXIT));
  }

  @Test
  void exitWithoutShutdownEndsWithOne() throws Exception {
    assertEquals(1, serve(INIT + EXIT));
  }

  @Test
  void aClosedInputEndsTheServer() throws Exception {
    int code = Assertions.assertTimeoutPreemptively(Duration.ofSeconds(20), () -> LspCommand.serve(new CnncLanguageServer(),
        new ByteArrayInputStream(INIT.getBytes(StandardCharsets.UTF_8)), new ByteArrayOutputStream()));
    assertEquals(1, code);
  }
}
