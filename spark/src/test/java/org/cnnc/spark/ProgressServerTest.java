// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The driver's progress server against what a hostile or broken sender may send: ignored, and counting goes on. */
class ProgressServerTest {
  final AtomicLong examples = new AtomicLong();
  final AtomicLong batches = new AtomicLong();

  ProgressServer server() throws IOException {
    return new ProgressServer(InetAddress.getLoopbackAddress(), 0, (n, b, l) -> {
      examples.addAndGet(n);
      batches.addAndGet(b);
    });
  }

  Socket connect(ProgressServer s) throws IOException {
    return new Socket(InetAddress.getLoopbackAddress(), s.port());
  }

  static void await(BooleanSupplier done, String what) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!done.getAsBoolean()) {
      assertTrue(System.nanoTime() < end, what);
      Thread.sleep(10);
    }
  }

  /** Sends a good frame on a fresh connection and waits until it is counted: the server still counts. */
  void stillCounts(ProgressServer s, int n) throws Exception {
    long before = examples.get();
    try (Socket c = connect(s)) {
      c.getOutputStream().write(ProgressServer.frame(s.token(), n, 1, 2.5));
      c.getOutputStream().flush();
      await(() -> examples.get() == before + n, "a good frame counted after the bad ones");
    }
  }

  /** The server closed {@code c}: a read ends, or is reset (bytes the server never read make it reset). */
  static void assertClosed(Socket c) throws IOException {
    c.setSoTimeout(10_000);
    try {
      assertEquals(-1, c.getInputStream().read(), "nothing is ever sent back");
    } catch (java.net.SocketException e) {
      assertTrue(String.valueOf(e.getMessage()).contains("reset"), e.toString());
    }
  }

  static void sendQuietly(Socket c, byte[] bytes) {
    try {
      OutputStream out = c.getOutputStream();
      out.write(bytes);
      out.flush();
    } catch (IOException e) {
      // the server may already have closed it: that is the point
    }
  }

  @Test
  void goodFramesAreCountedOnOneConnection() throws Exception {
    try (ProgressServer s = server(); Socket c = connect(s)) {
      for (int i = 0; i < 5; i++) {
        c.getOutputStream().write(ProgressServer.frame(s.token(), 8, 1, 2.0));
      }
      c.getOutputStream().flush();
      await(() -> examples.get() == 40, "five frames of 8 examples");
      assertEquals(5, batches.get());
      assertEquals(0, s.rejected());
    }
  }

  @Test
  void theTokenIsRandomAndSixteenBytes() throws Exception {
    try (ProgressServer a = server(); ProgressServer b = server()) {
      assertEquals(ProgressServer.TOKEN, a.token().length);
      assertTrue(!java.util.Arrays.equals(a.token(), b.token()), "two servers, two tokens");
      assertArrayEquals(a.token(), a.token());
    }
  }

  @Test
  void aWrongTokenIsNotCountedAndClosesItsConnection() throws Exception {
    try (ProgressServer s = server(); Socket c = connect(s)) {
      byte[] wrong = s.token();
      wrong[0] ^= 1;
      sendQuietly(c, ProgressServer.frame(wrong, 8, 1, 2.0));
      assertClosed(c);
      // nor does a good frame after it on that connection count
      sendQuietly(c, ProgressServer.frame(s.token(), 8, 1, 2.0));
      await(() -> s.rejected() == 1, "the wrong token rejected");
      stillCounts(s, 3);
      assertEquals(3, examples.get());
    }
  }

  @Test
  void garbageAndBadNumbersAreIgnored() throws Exception {
    try (ProgressServer s = server()) {
      List<byte[]> bad = new ArrayList<>();
      byte[] garbage = new byte[ProgressServer.FRAME];
      new java.util.Random(1).nextBytes(garbage);
      bad.add(garbage);
      bad.add("GET / HTTP/1.1\r\nHost: x\r\n\r\n\u001b[2J\u001b]0;owned\u0007".repeat(2).getBytes());
      bad.add(ProgressServer.frame(s.token(), -5, 0, 0));
      bad.add(ProgressServer.frame(s.token(), Integer.MAX_VALUE, 1, 0));
      bad.add(ProgressServer.frame(s.token(), ProgressServer.MAX_EXAMPLES + 1, 1, 0));
      bad.add(ProgressServer.frame(s.token(), 8, -1, 0));
      bad.add(ProgressServer.frame(s.token(), 8, 9, 0));
      bad.add(ProgressServer.frame(s.token(), 8, 1, Double.NaN));
      bad.add(ProgressServer.frame(s.token(), 8, 1, Double.POSITIVE_INFINITY));
      for (byte[] b : bad) {
        try (Socket c = connect(s)) {
          sendQuietly(c, b);
          // each bad frame closes its connection
          assertClosed(c);
        }
      }
      await(() -> s.rejected() == bad.size(), "every bad frame rejected: " + s.rejected());
      assertEquals(0, examples.get(), "nothing of them counted");
      stillCounts(s, 7);
    }
  }

  @Test
  void aHalfFrameThenCloseCountsNothing() throws Exception {
    try (ProgressServer s = server()) {
      try (Socket c = connect(s)) {
        byte[] f = ProgressServer.frame(s.token(), 8, 1, 2.0);
        c.getOutputStream().write(f, 0, f.length / 2);
        c.getOutputStream().flush();
      }
      stillCounts(s, 2);
      assertEquals(2, examples.get());
    }
  }

  @Test
  void tooManyConnectionsAreClosedAndCountingGoesOn() throws Exception {
    try (ProgressServer s = server()) {
      List<Socket> held = new ArrayList<>();
      try {
        // connections that send nothing hold every slot
        for (int i = 0; i < ProgressServer.MAX_CONNECTIONS; i++) {
          held.add(connect(s));
        }
        await(() -> s.openConnections() == ProgressServer.MAX_CONNECTIONS, "all slots taken: " + s.openConnections());
        try (Socket extra = connect(s)) {
          sendQuietly(extra, ProgressServer.frame(s.token(), 8, 1, 2.0));
          assertClosed(extra);
        }
        assertEquals(0, examples.get());
        assertEquals(1, s.rejected());
      } finally {
        for (Socket h : held) {
          h.close();
        }
      }
      await(() -> s.openConnections() == 0, "the held connections gone");
      stillCounts(s, 5);
    }
  }

  @Test
  void afterCloseNothingIsCounted() throws Exception {
    ProgressServer s = server();
    Socket c = connect(s);
    c.getOutputStream().write(ProgressServer.frame(s.token(), 4, 1, 1.0));
    c.getOutputStream().flush();
    await(() -> examples.get() == 4, "counted while open");
    s.close();
    sendQuietly(c, ProgressServer.frame(s.token(), 4, 1, 1.0));
    Thread.sleep(200);
    assertEquals(4, examples.get());
    c.close();
  }
}
