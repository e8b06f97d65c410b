// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.PrintWriter;
import java.util.HashSet;
import java.util.Properties;
import java.util.Set;
import org.apache.spark.Success$;
import org.apache.spark.SparkContext;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerStageSubmitted;
import org.apache.spark.scheduler.SparkListenerTaskEnd;

/**
 * Progress within an epoch on Spark, counted on the driver: a listener that counts the tasks of
 * the stages submitted under the epoch's job group (DL4J's training master counts the data, then
 * trains split after split, each split a job of its own) and logs a plain line with the tasks
 * finished, the tasks known so far, and the time since the epoch began.
 *
 * <p>What the count means: Spark tasks of the epoch's training jobs, not batches or images. The
 * tasks known grow as DL4J submits its splits (their number is not known before it makes them),
 * and a task that counts the data is counted as one that trains. No images/s is shown: no driver
 * event says how many examples a task trained on (each split's tasks read every example and keep
 * their share), so a rate would be a guess; the epoch line gives the measured one. With parameter
 * averaging on local[2], 64 examples and 4 partitions, an epoch ran 17 tasks: 15 of DL4J's
 * bookkeeping (count, collect, zipWithIndex, mapToPair of its split) in about 3 s, then the 2
 * training tasks (treeAggregate) in the remaining 14-20 s: the count says where the epoch is among
 * Spark's jobs, not what fraction of its time is done.
 */
final class SparkProgress extends SparkListener {
  private static final String JOB_GROUP = "spark.jobGroup.id";
  private static final String[] KEYS = {JOB_GROUP, "spark.job.description", "spark.job.interruptOnCancel"};

  private final String group;
  private final int epoch;
  private final int epochs;
  private final long intervalNanos;
  private final PrintWriter log;
  private final long t0 = System.nanoTime();
  private final Set<Integer> stages = new HashSet<>();
  private int known;
  private int done;
  private long lastLine = t0;
  private boolean closed;
  private String[] before;

  SparkProgress(String group, int epoch, int epochs, long intervalNanos, PrintWriter log) {
    this.group = group;
    this.epoch = epoch;
    this.epochs = epochs;
    this.intervalNanos = intervalNanos;
    this.log = log;
  }

  /** Registers a listener for the jobs that {@code sc}'s current thread starts under {@code group}. */
  static SparkProgress start(SparkContext sc, String group, int epoch, int epochs, long intervalNanos, PrintWriter log) {
    SparkProgress p = new SparkProgress(group, epoch, epochs, intervalNanos, log);
    p.before = new String[KEYS.length];
    for (int i = 0; i < KEYS.length; i++) {
      p.before[i] = sc.getLocalProperty(KEYS[i]);
    }
    sc.setJobGroup(group, "cnnc: epoch " + epoch + "/" + epochs, false);
    sc.addSparkListener(p);
    return p;
  }

  /** No more lines (events still on Spark's listener bus are dropped), and the listener removed. */
  void stop(SparkContext sc) {
    synchronized (this) {
      closed = true;
    }
    sc.removeSparkListener(this);
    // the caller's job group, if it had one, back as it was
    for (int i = 0; i < KEYS.length; i++) {
      sc.setLocalProperty(KEYS[i], before[i]);
    }
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
    if (now - lastLine >= intervalNanos) {
      lastLine = now;
      log.println(line(epoch, epochs, done, known, (now - t0) / 1_000_000));
      log.flush();
    }
  }

  synchronized int done() {
    return done;
  }

  /** The progress line: plain (no {@code \r}), for a terminal and a log alike. */
  static String line(int epoch, int epochs, int done, int known, long millis) {
    return String.format("epoch %d/%d  Spark tasks %d/%d done (of the epoch's jobs so far)  %.1f s", epoch, epochs,
        done, known, millis / 1e3);
  }
}
