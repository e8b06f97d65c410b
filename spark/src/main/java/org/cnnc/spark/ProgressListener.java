// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.io.InvalidObjectException;
import java.io.ObjectInputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;

/**
 * The executors' end of the progress within an epoch: a DL4J listener on the network each executor
 * trains, which counts every minibatch's examples (and its loss) where it is trained and reports
 * them to the driver's {@link ProgressServer}. The training masters carry it to the executors in
 * their workers (parameter averaging sets it on each task's network; gradient sharing on the
 * network its executor keeps for the whole run).
 *
 * <p>Training never waits for it: a minibatch only adds to counters, and one daemon thread per JVM
 * sends what has accumulated, at most {@link #PERIOD_MILLIS} ms apart (and at once when DL4J ends a
 * fit), over one TCP connection per epoch. A connection that cannot be made or breaks drops the
 * counts it had; after {@link #MAX_FAILURES} failures the epoch's server is no longer tried.
 *
 * <p>Gradient sharing keeps the network of an executor's first task for the whole run, with that
 * task's listener, so the server a listener reports to is not its own but the one of the listener
 * deserialized last in its JVM: each task deserializes its own copy before it trains, and epochs
 * follow each other, so that is the current epoch's.
 */
final class ProgressListener extends BaseTrainingListener implements Serializable {
  private static final long serialVersionUID = 1L;
  static final long PERIOD_MILLIS = 250;
  static final int MAX_FAILURES = 3;
  static final int CONNECT_MILLIS = 2000;

  private final String host;
  private final int port;
  private final byte[] token;

  ProgressListener(String host, int port, byte[] token) {
    this.host = host;
    this.port = port;
    this.token = token.clone();
  }

  private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
    in.defaultReadObject();
    if (host == null || port < 1 || port > 65535 || token == null || token.length != ProgressServer.TOKEN) {
      throw new InvalidObjectException("not a progress listener's target");
    }
    Reporter.use(host, port, token);
  }

  @Override
  public void iterationDone(Model model, int iteration, int epoch) {
    try {
      Reporter.add(this, model.batchSize(), model.score());
    } catch (RuntimeException e) {
      // progress is best-effort: a network whose batch size cannot be read is not counted
    }
  }

  @Override
  public void onEpochEnd(Model model) {
    Reporter.flushSoon();
  }

  /** The JVM's sender: the servers reported to, and the daemon thread that sends. */
  static final class Reporter {
    private static volatile Target current;
    private static final List<Target> targets = new ArrayList<>();
    private static Thread sender;

    private Reporter() {}

    /** From now on this JVM's minibatches are reported to {@code host:port} with {@code token}. */
    static synchronized void use(String host, int port, byte[] token) {
      Target c = current;
      if (c != null && c.is(host, port, token)) {
        return;
      }
      Target t = new Target(host, port, token);
      targets.add(t);
      current = t;
      if (sender == null) {
        sender = new Thread(Reporter::send, "cnnc-progress-sender");
        sender.setDaemon(true);
        sender.start();
      }
    }

    static void add(ProgressListener l, int examples, double loss) {
      if (examples <= 0) {
        return;
      }
      Target t = current;
      if (t == null) {
        // a listener that was never deserialized (training in the JVM that made it)
        use(l.host, l.port, l.token);
        t = current;
      }
      t.add(examples, loss);
    }

    static void flushSoon() {
      Thread s = sender;
      if (s != null) {
        LockSupport.unpark(s);
      }
    }

    private static void send() {
      while (true) {
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(PERIOD_MILLIS));
        Target[] ts;
        synchronized (Reporter.class) {
          ts = targets.toArray(new Target[0]);
        }
        for (Target t : ts) {
          t.flush();
          if (t != current && t.idle()) {
            // an earlier epoch's server, with nothing left to send to it
            t.close();
            synchronized (Reporter.class) {
              targets.remove(t);
            }
          }
        }
      }
    }
  }

  /** One epoch's server: the counts not yet sent to it, and the connection. */
  static final class Target {
    private final String host;
    private final int port;
    private final byte[] token;
    private long examples;
    private int batches;
    private double lossSum;
    private Socket socket;
    private int failures;

    Target(String host, int port, byte[] token) {
      this.host = host;
      this.port = port;
      this.token = token.clone();
    }

    boolean is(String h, int p, byte[] t) {
      return host.equals(h) && port == p && java.util.Arrays.equals(token, t);
    }

    synchronized void add(int n, double loss) {
      examples += n;
      if (Double.isFinite(loss)) {
        batches++;
        lossSum += loss;
      }
    }

    synchronized boolean idle() {
      return examples == 0;
    }

    /** Sends what has accumulated (on the sender's thread only). */
    void flush() {
      int n;
      int b;
      double l;
      synchronized (this) {
        if (examples == 0) {
          return;
        }
        n = (int) Math.min(examples, ProgressServer.MAX_EXAMPLES);
        // the batches with a loss go with the first frame; a frame has at most as many as examples
        b = Math.min(batches, n);
        l = b == batches ? lossSum : 0;
        if (b < batches) {
          b = 0;
        }
        examples -= n;
        batches -= b;
        lossSum -= l;
      }
      if (failures >= MAX_FAILURES) {
        return;
      }
      byte[] frame = ProgressServer.frame(token, n, b, l);
      for (int attempt = 0; attempt < 2; attempt++) {
        try {
          if (socket == null) {
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress(host, port), CONNECT_MILLIS);
            socket = s;
          }
          OutputStream out = socket.getOutputStream();
          out.write(frame);
          out.flush();
          failures = 0;
          return;
        } catch (IOException | RuntimeException e) {
          // a new connection once (the server may have closed an idle one), then the counts are dropped
          close();
          failures++;
          if (failures >= MAX_FAILURES) {
            return;
          }
        }
      }
    }

    void close() {
      Socket s = socket;
      socket = null;
      if (s != null) {
        try {
          s.close();
        } catch (IOException e) {
          // best-effort
        }
      }
    }
  }
}
