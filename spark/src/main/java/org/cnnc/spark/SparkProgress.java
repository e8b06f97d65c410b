// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;
import org.apache.spark.SparkConf;
import org.apache.spark.Success$;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.cnnc.compiler.io.Escape;
import org.cnnc.runtime.Trainer;

/**
 * Progress within an epoch on Spark, as {@code cnnc train} logs it: the examples trained of the
 * epoch's, the mean loss of the batches so far, images/s and the time left, counted where the work
 * happens. Each executor's network carries a {@link ProgressListener} that reports the examples of
 * every minibatch it trains to a {@link ProgressServer} this class runs on the driver for the epoch
 * (at {@code spark.driver.host} or {@code spark.cnnc.progressHost}, port {@code spark.cnnc.progressPort},
 * default a free one), and a
 * plain line ({@link Trainer#progressLine}) is logged at most every {@code intervalNanos}, and once
 * more when the epoch's training ends with what was counted (unless the last line said it).
 *
 * <p>The count is of examples trained: a task that Spark runs again (an executor lost) trains and
 * counts its examples again. The line shows at most the epoch's examples and names the excess
 * after it ({@link #examplesLine}).
 *
 * <p>Until an executor has reported in the run (and for the whole run if none ever does: a firewall
 * between the executors and the driver), the lines count what the driver sees: the tasks of the
 * stages submitted under the epoch's job group (DL4J's training master counts the data, then trains
 * split after split, each a job of its own), finished and known so far, and the time since the
 * epoch began. That no executor reported is said once, after the first epoch without reports.
 */
final class SparkProgress extends SparkListener {
  private static final String JOB_GROUP = "spark.jobGroup.id";
  private static final String[] KEYS = {JOB_GROUP, "spark.job.description", "spark.job.interruptOnCancel"};
  /** How long the end of an epoch waits for the executors' last reports (they send 4 times a second). */
  static final long SETTLE_MILLIS = 1000;

  /** What a run of epochs carries from one epoch to the next: the ETA's figures, and whether reports arrive. */
  static final class Run {
    final int first;
    final int last;
    final long examplesPerEpoch;
    long trainingNanos;
    long examplesDone;
    boolean reported;
    boolean warned;

    Run(int first, int last, long examplesPerEpoch) {
      this.first = first;
      this.last = last;
      this.examplesPerEpoch = examplesPerEpoch;
    }

    long examplesInRun() {
      return examplesPerEpoch * (last - first + 1);
    }
  }

  private final String group;
  private final int epoch;
  private final Run run;
  private final long intervalNanos;
  private final PrintWriter log;
  private final long t0 = System.nanoTime();
  private final Set<Integer> stages = new HashSet<>();
  private int known;
  private int done;
  private long examples;
  private long batches;
  private double lossSum;
  private long lastLine = t0;
  /** The examples of the last examples line logged (-1: none). */
  private long logged = -1;
  private boolean closed;
  private String[] before;
  private ProgressServer server;
  private String host;
  private String address;

  SparkProgress(String group, int epoch, Run run, long intervalNanos, PrintWriter log) {
    this.group = group;
    this.epoch = epoch;
    this.run = run;
    this.intervalNanos = intervalNanos;
    this.log = log;
  }

  /**
   * Registers a listener for the jobs that {@code sc}'s current thread starts under {@code group},
   * and starts the server the executors report to ({@link #listener} is what they carry).
   */
  static SparkProgress start(SparkContext sc, String group, int epoch, Run run, long intervalNanos, PrintWriter log) {
    SparkProgress p = new SparkProgress(group, epoch, run, intervalNanos, log);
    p.before = new String[KEYS.length];
    for (int i = 0; i < KEYS.length; i++) {
      p.before[i] = sc.getLocalProperty(KEYS[i]);
    }
    p.serve(sc.getConf());
    sc.setJobGroup(group, "cnnc: epoch " + epoch + "/" + run.last, false);
    sc.addSparkListener(p);
    return p;
  }

  private void serve(SparkConf conf) {
    String driver = conf.get("spark.driver.host", "127.0.0.1");
    // the address the executors are told (another interface, a NAT's), and the one bound
    host = conf.get("spark.cnnc.progressHost", driver);
    String bind = conf.get("spark.driver.bindAddress", driver);
    int port = conf.getInt("spark.cnnc.progressPort", 0);
    address = host + ":" + port;
    try {
      server = new ProgressServer(InetAddress.getByName(bind), port, this::report);
      address = host + ":" + server.port();
    } catch (IOException | RuntimeException e) {
      server = null;
      if (!run.warned) {
        run.warned = true;
        log.println(Escape.terminal("cnnc: no progress server at " + bind + ":" + port + " (" + e.getMessage()
            + "): the progress lines count Spark tasks", 300));
        log.flush();
      }
    }
  }

  /** What the executors' networks carry to report to this epoch's server (null: none runs). */
  ProgressListener listener() {
    return server == null ? null : new ProgressListener(host, server.port(), server.token());
  }

  /**
   * Waits a little for the executors' last reports, logs the epoch's last progress line (or, the
   * first time no executor reported in a run, says so), stops the server and removes the listener;
   * no more lines after it. The time and examples go into the run's ETA.
   */
  void stop(SparkContext sc) {
    try {
      synchronized (this) {
        long end = System.nanoTime() + SETTLE_MILLIS * 1_000_000;
        while (server != null && run.reported && examples < run.examplesPerEpoch && System.nanoTime() < end) {
          try {
            wait(Math.max(1, (end - System.nanoTime()) / 1_000_000));
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            break;
          }
        }
        closed = true;
        long now = System.nanoTime();
        if (examples > 0 && examples != logged) {
          log.println(examplesLine(now));
        } else if (server != null && !run.reported && !run.warned && done > 0) {
          run.warned = true;
          log.println(Escape.terminal("epoch " + epoch + "/" + run.last + "  no executor reported its examples to "
              + address + " (TCP; a firewall between the executors and the driver?): the progress lines count Spark tasks",
              300));
        }
        log.flush();
        run.trainingNanos += now - t0;
        run.examplesDone += Math.min(examples, run.examplesPerEpoch);
      }
    } finally {
      if (server != null) {
        server.close();
      }
      sc.removeSparkListener(this);
      // the caller's job group, if it had one, back as it was
      for (int i = 0; i < KEYS.length; i++) {
        sc.setLocalProperty(KEYS[i], before[i]);
      }
    }
  }

  /** A report of the executors (on a server's thread). */
  synchronized void report(int n, int b, double loss) {
    if (closed) {
      return;
    }
    examples += n;
    batches += b;
    lossSum += loss;
    run.reported = true;
    notifyAll();
    long now = System.nanoTime();
    if (now - lastLine >= intervalNanos) {
      lastLine = now;
      logged = examples;
      log.println(examplesLine(now));
      log.flush();
    }
  }

  private String examplesLine(long now) {
    return examplesLine(epoch, run, examples, batches, lossSum, now - t0);
  }

  /**
   * The line for {@code trained} examples after {@code elapsedNanos} of the epoch. The count shown
   * is at most the epoch's: examples trained past it (tasks Spark ran again) are named after the
   * line, and the ETA counts the epoch as done, not as overrun; images/s counts every example
   * trained.
   */
  static String examplesLine(int epoch, Run run, long trained, long batches, double lossSum, long elapsedNanos) {
    long shown = Math.min(trained, run.examplesPerEpoch);
    String line = Trainer.progressLine(epoch, run.last, "examples", shown, run.examplesPerEpoch,
        batches == 0 ? Double.NaN : lossSum / batches, trained / Math.max(1e-9, elapsedNanos / 1e9),
        Trainer.etaNanos(run.trainingNanos + elapsedNanos, run.examplesDone + shown, run.examplesInRun()));
    return trained > shown ? line + "  (+" + (trained - shown) + " trained again: tasks Spark reran)" : line;
  }

  @Override
  public synchronized void onStageSubmitted(SparkListenerStageSubmitted submitted) {
    Properties props = submitted.properties();
    if (!closed && props != null && group.equals(props.getProperty(JOB_GROUP))) {
      stages.add(submitted.stageInfo().stageId());
      known += submitted.stageInfo().numTasks();
    }
  }

  @Override
  public synchronized void onTaskEnd(SparkListenerTaskEnd end) {
    if (closed || !stages.contains(end.stageId()) || end.reason() != Success$.MODULE$) {
      return;
    }
    done++;
    long now = System.nanoTime();
    if (!run.reported && now - lastLine >= intervalNanos) {
      lastLine = now;
      log.println(line(epoch, run.last, done, known, (now - t0) / 1_000_000));
      log.flush();
    }
  }

  synchronized int done() {
    return done;
  }

  synchronized long examples() {
    return examples;
  }

  /** The line counting tasks (no executor has reported): plain (no {@code \r}), for a terminal and a log alike. */
  static String line(int epoch, int epochs, int done, int known, long millis) {
    return String.format("epoch %d/%d  Spark tasks %d/%d done (of the epoch's jobs so far)  %.1f s", epoch, epochs,
        done, known, millis / 1e3);
  }
}
