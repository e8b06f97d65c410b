// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cnnc.run.Cnnc;

/**
 * Measures training throughput (images/s of the last epoch) of NiN on generated CIFAR-10 data:
 * {@code cnnc train} here (cnnc's kernels, then DL4J's), then {@code cnnc train --spark} on a
 * standalone cluster of 1 and of 2 workers (gradient sharing and parameter averaging).
 * docs/spark.md gives the command and the numbers. Arguments: examples, epochs, batch.
 */
public final class Throughput {
  private static final Pattern EPOCH = Pattern.compile("epoch (\\d+)/(\\d+)  loss ([0-9.]+)  accuracy ([0-9.]+)  \\((\\d+) ms, ([0-9.]+) images/s");

  public static void main(String[] a) throws Exception {
    int n = a.length > 0 ? Integer.parseInt(a[0]) : 120;
    String epochs = a.length > 1 ? a[1] : "2";
    String batch = a.length > 2 ? a[2] : "8";
    Path dir = Files.createTempDirectory("cnnc-throughput");
    Path data = Datasets.cifar(dir.resolve("cifar").resolve("data_batch_1.bin"), n, 7).getParent();
    String models = Path.of(System.getProperty("cnnc.root", ".")).resolve("models.cnn").toString();
    List<String> rows = new ArrayList<>();
    System.setProperty("cnnc.kernels", "cnnc");
    rows.add(row("cnnc train (cnnc kernels)", run("train", models, "--model", "NiN", "--data", data.toString(),
        "--epochs", epochs, "--batch", batch)));
    System.setProperty("cnnc.kernels", "dl4j");
    rows.add(row("cnnc train (DL4J layers)", run("train", models, "--model", "NiN", "--data", data.toString(),
        "--epochs", epochs, "--batch", batch)));
    System.clearProperty("cnnc.kernels");
    for (int workers = 1; workers <= 2; workers++) {
      try (StandaloneCluster c = StandaloneCluster.start(dir.resolve("cluster-" + workers), workers, "1600m")) {
        StandaloneCluster.driverConf(workers).forEach(System::setProperty);
        for (boolean averaging : new boolean[] {false, true}) {
          List<String> args = new ArrayList<>(List.of("train", models, "--model", "NiN", "--spark", c.master(), "--data",
              data.toUri().toString(), "--epochs", epochs, "--batch", batch));
          if (averaging) {
            args.add("--averaging");
          }
          // a port of its own for each run's parameter server (the last one's may linger in this JVM)
          System.setProperty("spark.cnnc.port", Integer.toString(StandaloneCluster.freePort()));
          rows.add(row("--spark, " + workers + " worker" + (workers == 1 ? "" : "s") + (averaging ? ", averaging" : ", sharing"),
              run(args.toArray(new String[0]))));
        }
      }
    }
    System.out.println("\n" + n + " examples, batch " + batch + ", last of " + epochs + " epochs:");
    rows.forEach(System.out::println);
  }

  private static String run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = Cnnc.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    System.out.print(out);
    System.out.print(err);
    return rc == 0 ? out.toString() : "failed (exit " + rc + "): " + err;
  }

  private static String row(String what, String out) {
    Matcher m = EPOCH.matcher(out);
    String last = null;
    while (m.find()) {
      last = String.format("%-36s %8s images/s  loss %s  accuracy %s  (%s ms)", what, m.group(6), m.group(3), m.group(4),
          m.group(5));
    }
    return last != null ? last : String.format("%-36s %s", what, out.lines().findFirst().orElse("no output"));
  }
}
