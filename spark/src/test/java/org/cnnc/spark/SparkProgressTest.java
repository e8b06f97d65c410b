// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.cnnc.run.Models;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Progress lines within an epoch on Spark: the examples trained, counted by the executors'
 * listeners and reported to the driver, under parameter averaging and gradient sharing.
 */
class SparkProgressTest {
  static final Path MODELS = Path.of(System.getProperty("cnnc.root", "..")).resolve("models.cnn");
  static final int EXAMPLES = 32;
  /** cnnc train's progress line ({@code Trainer.progressLine}), counting examples. */
  static final Pattern LINE = Pattern.compile(
      "epoch (\\d+)/(\\d+)  examples (\\d+)/(\\d+)  loss (\\d+\\.\\d{4})  (\\d+\\.\\d) images/s  ETA (\\d+s|\\d+m\\d\\ds)");

  static String train(Path tmp, boolean averaging, int epochs) throws Exception {
    return train(tmp, averaging, epochs, new SparkConf());
  }

  static String train(Path tmp, boolean averaging, int epochs, SparkConf base) throws Exception {
    Path data = Datasets.cifar(tmp.resolve("cifar").resolve("data_batch_1.bin"), EXAMPLES, 5).getParent();
    CnnModel model = Models.load(MODELS, "NiN");
    SparkConf conf = SparkTrainer.configure(base.setMaster("local[2]").setAppName("progress"));
    StringWriter out = new StringWriter();
    try (JavaSparkContext sc = new JavaSparkContext(conf)) {
      sc.setJobGroup("the caller's", "its own group", false);
      CnnNetwork net = SparkTrainer.network(model, 42, 0.0003);
      HadoopExamples all = HadoopExamples.list(data.toUri().toString(), sc.hadoopConfiguration(), model.inputShape(), 0);
      new SparkTrainer(sc).averaging(averaging).partitions(4).progressEvery(Duration.ZERO)
          .fit(net, all, 1, epochs, 8, 42, new PrintWriter(out, true), null);
      // the caller's job group is back after training
      assertEquals("the caller's", sc.getLocalProperty("spark.jobGroup.id"));
      sc.clearJobGroup();
      assertNull(sc.getLocalProperty("spark.jobGroup.id"));
    }
    String log = out.toString();
    System.out.println(log);
    return log;
  }

  /**
   * In each epoch the examples count rises (a line per report: interval zero), never past the
   * epoch's examples, and reaches them exactly (each example trained once) in the epoch's last
   * progress line, before its epoch line.
   */
  static void checkExamples(String log, int epochs) {
    List<String> lines = log.lines().toList();
    assertFalse(log.contains("\r"), "plain lines: " + log);
    assertFalse(log.contains("no executor reported"), log);
    for (int e = 1; e <= epochs; e++) {
      List<Long> counts = new ArrayList<>();
      int last = -1;
      for (int i = 0; i < lines.size(); i++) {
        Matcher m = LINE.matcher(lines.get(i));
        if (m.matches() && Integer.parseInt(m.group(1)) == e) {
          assertEquals(epochs, Integer.parseInt(m.group(2)), lines.get(i));
          assertEquals(EXAMPLES, Integer.parseInt(m.group(4)), lines.get(i));
          counts.add(Long.parseLong(m.group(3)));
          last = i;
        }
      }
      int epochAt = -1;
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).startsWith("epoch " + e + "/" + epochs + "  loss ")) {
          epochAt = i;
        }
      }
      assertTrue(epochAt >= 0, "epoch " + e + "'s line: " + log);
      assertTrue(counts.size() >= 2, "examples lines of epoch " + e + ": " + log);
      assertTrue(last < epochAt, "progress of epoch " + e + " before its epoch line: " + log);
      assertTrue(counts.get(0) > 0 && counts.get(0) < EXAMPLES, "the count starts within the epoch: " + counts);
      for (int i = 1; i < counts.size(); i++) {
        assertTrue(counts.get(i) >= counts.get(i - 1), "the count never falls: " + counts);
        assertTrue(counts.get(i) <= EXAMPLES, "never more than the epoch's examples: " + counts);
      }
      assertEquals(EXAMPLES, counts.get(counts.size() - 1), "every example counted once in epoch " + e + ": " + counts);
    }
  }

  /**
   * Behind a firewall: the executors are told an address nobody answers at (192.0.2.1, TEST-NET-1),
   * so no report arrives. The lines count Spark's tasks, cnnc says so once, and training ends as usual.
   */
  @Test
  void noReportFallsBackToTasksAndSaysSoOnce(@TempDir Path tmp) throws Exception {
    String log = train(tmp, true, 2, new SparkConf().set("spark.cnnc.progressHost", "192.0.2.1"));
    assertFalse(LINE.matcher(log).find(), "no examples line: " + log);
    assertEquals(1, log.split("no executor reported its examples to 192\\.0\\.2\\.1:", -1).length - 1, log);
    assertTrue(log.contains("epoch 1/2  no executor reported"), "said after the first epoch: " + log);
    assertTrue(Pattern.compile("(?m)^epoch 2/2  Spark tasks \\d+/\\d+ done").matcher(log).find(), "task lines go on: " + log);
    assertTrue(log.contains("epoch 2/2  loss "), log);
  }

  @Test
  void parameterAveragingCountsEveryExampleOnce(@TempDir Path tmp) throws Exception {
    checkExamples(train(tmp, true, 1), 1);
  }

  /**
   * Gradient sharing keeps each executor's network (and the listener it was given first) for the
   * whole run: the second epoch is counted too, by its own server.
   */
  @Test
  void gradientSharingCountsEveryExampleOnceInEachEpoch(@TempDir Path tmp) throws Exception {
    checkExamples(train(tmp, false, 2), 2);
  }

  /**
   * A count past the epoch's (tasks Spark ran again after losing an executor) shows the epoch's
   * examples and names the excess; the ETA treats the epoch as done, not overrun, and the rate
   * counts every example trained.
   */
  @Test
  void examplesTrainedTwiceAreShownAsTheEpochsAndNamed() {
    SparkProgress.Run run = new SparkProgress.Run(1, 2, 120);
    String over = SparkProgress.examplesLine(1, run, 140, 14, 28.0, 10_000_000_000L);
    assertTrue(over.startsWith("epoch 1/2  examples 120/120  loss 2.0000  14.0 images/s  ETA 10s"), over);
    assertTrue(over.endsWith("  (+20 trained again: tasks Spark reran)"), over);
    String under = SparkProgress.examplesLine(1, run, 60, 6, 12.0, 10_000_000_000L);
    Matcher m = LINE.matcher(under);
    assertTrue(m.matches(), under);
    assertEquals("60", m.group(3));
    assertEquals("30s", m.group(7));
  }
}
