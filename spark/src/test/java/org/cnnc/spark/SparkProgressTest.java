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

/** Progress lines within an epoch on Spark: the epoch's finished tasks, counted on the driver. */
class SparkProgressTest {
  static final Path MODELS = Path.of(System.getProperty("cnnc.root", "..")).resolve("models.cnn");
  static final Pattern LINE = Pattern.compile(
      "epoch (\\d+)/1  Spark tasks (\\d+)/(\\d+) done \\(of the epoch's jobs so far\\)  (\\d+\\.\\d) s");

  @Test
  void progressLinesAppearWithinAnEpochOfSeveralTasks(@TempDir Path tmp) throws Exception {
    Path data = Datasets.cifar(tmp.resolve("cifar").resolve("data_batch_1.bin"), 32, 5).getParent();
    CnnModel model = Models.load(MODELS, "NiN");
    SparkConf conf = SparkTrainer.configure(new SparkConf().setMaster("local[2]").setAppName("progress"));
    StringWriter out = new StringWriter();
    try (JavaSparkContext sc = new JavaSparkContext(conf)) {
      sc.setJobGroup("the caller's", "its own group", false);
      CnnNetwork net = SparkTrainer.network(model, 42, 0.0003);
      HadoopExamples all = HadoopExamples.list(data.toUri().toString(), sc.hadoopConfiguration(), model.inputShape(), 0);
      new SparkTrainer(sc).averaging(true).partitions(4).progressEvery(Duration.ZERO)
          .fit(net, all, 1, 1, 8, 42, new PrintWriter(out, true), null);
      // the caller's job group is back after training
      assertEquals("the caller's", sc.getLocalProperty("spark.jobGroup.id"));
      sc.clearJobGroup();
      assertNull(sc.getLocalProperty("spark.jobGroup.id"));
    }
    String log = out.toString();
    System.out.println(log);
    List<String> lines = log.lines().toList();
    assertFalse(log.contains("\r"), "plain lines: " + log);
    for (int e = 1; e <= 1; e++) {
      List<int[]> counts = new ArrayList<>();
      int last = -1;
      for (int i = 0; i < lines.size(); i++) {
        Matcher m = LINE.matcher(lines.get(i));
        if (m.matches() && Integer.parseInt(m.group(1)) == e) {
          counts.add(new int[] {Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3))});
          last = i;
        }
      }
      int epochAt = -1;
      for (int i = 0; i < lines.size(); i++) {
        if (lines.get(i).startsWith("epoch " + e + "/1  loss ")) {
          epochAt = i;
        }
      }
      assertTrue(epochAt >= 0, "epoch " + e + "'s line: " + log);
      // every finished task a line (interval zero), at least one per partition, before the epoch's line
      assertTrue(counts.size() >= 4, "progress lines of epoch " + e + ": " + log);
      assertTrue(last < epochAt, "progress of epoch " + e + " before its epoch line: " + log);
      for (int i = 0; i < counts.size(); i++) {
        assertEquals(i + 1, counts.get(i)[0], "tasks done count up by one: " + log);
        assertTrue(counts.get(i)[0] <= counts.get(i)[1], "done <= known: " + log);
      }
    }
  }
}
