// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The executors' sender, without Spark: what a deserialized listener counts reaches the server; a dead one costs nothing. */
class ProgressListenerTest {
  static ProgressListener roundTrip(ProgressListener l) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(l);
    }
    try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
      return (ProgressListener) in.readObject();
    }
  }

  @Test
  void aDeserializedListenerReportsToItsServerAndTheLastOneWins() throws Exception {
    AtomicLong first = new AtomicLong();
    AtomicLong second = new AtomicLong();
    AtomicLong batches = new AtomicLong();
    InetAddress lo = InetAddress.getLoopbackAddress();
    try (ProgressServer a = new ProgressServer(lo, 0, (n, b, l) -> first.addAndGet(n));
        ProgressServer b = new ProgressServer(lo, 0, (n, bs, l) -> {
          second.addAndGet(n);
          batches.addAndGet(bs);
        })) {
      ProgressListener la = roundTrip(new ProgressListener(lo.getHostAddress(), a.port(), a.token()));
      for (int i = 0; i < 3; i++) {
        ProgressListener.Reporter.add(la, 8, 2.0);
      }
      ProgressServerTest.await(() -> first.get() == 24, "the first epoch's 24 examples: " + first.get());
      // a later epoch's listener is deserialized (gradient sharing keeps the first one on its network):
      // the first listener's minibatches now go to the second server
      roundTrip(new ProgressListener(lo.getHostAddress(), b.port(), b.token()));
      for (int i = 0; i < 4; i++) {
        ProgressListener.Reporter.add(la, 5, Double.NaN);
      }
      ProgressServerTest.await(() -> second.get() == 20, "the second epoch's 20 examples: " + second.get());
      assertEquals(24, first.get());
      assertEquals(0, batches.get(), "batches without a finite loss carry no loss");
    }
  }

  @Test
  void aServerNobodyListensOnNeverSlowsTraining() throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    ProgressListener l = roundTrip(new ProgressListener("127.0.0.1", port, new byte[ProgressServer.TOKEN]));
    long t0 = System.nanoTime();
    for (int i = 0; i < 100_000; i++) {
      ProgressListener.Reporter.add(l, 8, 1.0);
    }
    long ms = (System.nanoTime() - t0) / 1_000_000;
    assertTrue(ms < 2000, "100,000 minibatches counted in " + ms + " ms");
  }
}
