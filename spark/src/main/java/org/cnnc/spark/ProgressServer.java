// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.Closeable;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The driver's end of the progress within an epoch: a TCP server to which the executors' {@link
 * ProgressListener}s report the examples they trained on. One is started per epoch and closed after
 * it; its token is random (16 bytes of {@link SecureRandom}) and travels to the executors inside
 * the listener, so a frame without it is not counted.
 *
 * <p>What arrives is untrusted: a frame is {@value #FRAME} bytes, {@link #MAGIC}, the token, the
 * examples and batches trained since the sender's last frame and the sum of those batches' losses.
 * A frame with a wrong magic or token closes its connection (nothing of it counted); a frame whose
 * numbers are out of range (negative, more than {@link #MAX_EXAMPLES} examples, more batches than
 * examples, a loss that is not finite) is dropped and its connection closed. At most
 * {@link #MAX_CONNECTIONS} connections are served at once (more are closed on arrival); a
 * connection that sends nothing for {@link #IDLE_MILLIS} ms is closed. Every thread is a daemon,
 * and nothing here can fail training: the worst a sender can do is be ignored.
 */
final class ProgressServer implements Closeable {
  /** "cnnc" in ASCII, then the frame's version (1). */
  static final long MAGIC = 0x636E6E6300000001L;
  static final int TOKEN = 16;
  /** Magic (8), token (16), examples (4), batches (4), loss sum (8). */
  static final int FRAME = 8 + TOKEN + 4 + 4 + 8;
  /** The most examples one frame may report (a sender reports a few times a second). */
  static final int MAX_EXAMPLES = 1 << 24;
  static final int MAX_CONNECTIONS = 64;
  static final int IDLE_MILLIS = 60_000;

  /** What is done with a counted frame (called on a connection's thread). */
  @FunctionalInterface
  interface Sink {
    void report(int examples, int batches, double lossSum);
  }

  private final ServerSocket server;
  private final byte[] token = new byte[TOKEN];
  private final Sink sink;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger rejected = new AtomicInteger();
  private volatile boolean closed;

  /**
   * Listens on {@code bind} at {@code port} (0: a free one) and counts into {@code sink}.
   *
   * @throws IOException when the port cannot be bound
   */
  ProgressServer(InetAddress bind, int port, Sink sink) throws IOException {
    this.sink = sink;
    new SecureRandom().nextBytes(token);
    server = new ServerSocket();
    server.setReuseAddress(true);
    server.bind(new InetSocketAddress(bind, port), 16);
    Thread t = new Thread(this::accept, "cnnc-progress-server");
    t.setDaemon(true);
    t.start();
  }

  int port() {
    return server.getLocalPort();
  }

  byte[] token() {
    return token.clone();
  }

  /** The connections being served. */
  int openConnections() {
    return open.size();
  }

  /** Connections closed and frames dropped for a wrong token, bad numbers or too many connections. */
  int rejected() {
    return rejected.get();
  }

  private void accept() {
    while (!closed) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        if (closed) {
          return;
        }
        continue;
      }
      if (open.size() >= MAX_CONNECTIONS) {
        rejected.incrementAndGet();
        quietly(s);
        continue;
      }
      open.add(s);
      Thread t = new Thread(() -> serve(s), "cnnc-progress-connection");
      t.setDaemon(true);
      t.start();
    }
  }

  private void serve(Socket s) {
    try {
      s.setSoTimeout(IDLE_MILLIS);
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] frame = new byte[FRAME];
      byte[] sent = new byte[TOKEN];
      while (!closed) {
        try {
          in.readFully(frame);
        } catch (EOFException e) {
          return;
        }
        ByteBuffer b = ByteBuffer.wrap(frame);
        long magic = b.getLong();
        b.get(sent);
        int examples = b.getInt();
        int batches = b.getInt();
        double lossSum = b.getDouble();
        if (magic != MAGIC || !MessageDigest.isEqual(sent, token) || examples < 0 || examples > MAX_EXAMPLES
            || batches < 0 || batches > examples || !Double.isFinite(lossSum)) {
          rejected.incrementAndGet();
          return;
        }
        if (!closed) {
          sink.report(examples, batches, lossSum);
        }
      }
    } catch (IOException | RuntimeException e) {
      // a broken or idle connection, or a sink that failed: progress is best-effort
    } finally {
      open.remove(s);
      quietly(s);
    }
  }

  /** Stops listening and closes every connection; frames still in flight are not counted. */
  @Override
  public void close() {
    closed = true;
    quietly(server);
    for (Socket s : open) {
      quietly(s);
    }
  }

  private static void quietly(Closeable c) {
    try {
      c.close();
    } catch (IOException | RuntimeException e) {
      // closing is best-effort
    }
  }

  /** The frame a sender writes (the {@link ProgressListener}'s, and the tests'). */
  static byte[] frame(byte[] token, int examples, int batches, double lossSum) {
    return ByteBuffer.allocate(FRAME).putLong(MAGIC).put(token, 0, TOKEN).putInt(examples).putInt(batches)
        .putDouble(lossSum).array();
  }
}
