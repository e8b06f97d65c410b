// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cnnc.run.Cnnc;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code cnnc train --spark spark://127.0.0.1:PORT} on a real standalone cluster: a master and two
 * workers, each a process of its own ({@link StandaloneCluster}). NiN of models.cnn trains on a
 * small generated CIFAR-10 file; then one worker is killed in the middle of an epoch.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StandaloneClusterTest {
  static final Path MODELS = Path.of(System.getProperty("cnnc.root", "..")).resolve("models.cnn");
  static final Pattern EPOCH = Pattern.compile("epoch (\\d+)/\\d+  loss ([0-9.]+)  accuracy");

  /** Epochs of the first test; the second goes on from its checkpoint. */
  static final int EPOCHS = 6;

  @TempDir static Path tmp;
  static StandaloneCluster cluster;
  static Map<String, String> saved = new java.util.HashMap<>();

  @BeforeAll
  static void start() throws Exception {
    cluster = StandaloneCluster.start(tmp.resolve("cluster"), 2, "1600m");
    for (var e : StandaloneCluster.driverConf(2).entrySet()) {
      saved.put(e.getKey(), System.getProperty(e.getKey()));
      System.setProperty(e.getKey(), e.getValue());
    }
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close();
    }
    saved.forEach((k, v) -> {
      if (v == null) {
        System.clearProperty(k);
      } else {
        System.setProperty(k, v);
      }
    });
  }

  record Result(int rc, String out, String err) {}

  static Result cnnc(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = Cnnc.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    System.out.println(out);
    System.out.println(err);
    return new Result(rc, out.toString(), err.toString());
  }

  static List<Double> losses(String out) {
    List<Double> l = new ArrayList<>();
    Matcher m = EPOCH.matcher(out);
    while (m.find()) {
      l.add(Double.parseDouble(m.group(2)));
    }
    return l;
  }

  static Path data() throws Exception {
    Path f = tmp.resolve("cifar").resolve("data_batch_1.bin");
    return Files.exists(f) ? f.getParent() : Datasets.cifar(f, 120, 7).getParent();
  }

  @Test
  @Order(1)
  void trainsNinOnTwoWorkersAndTheWeightsRun() throws Exception {
    Path w = tmp.resolve("nin.npz");
    // NiN ends in a ReLU before its average pool: at Adam's default rate (1e-3) on 120 examples
    // the class maps often all die within the first epoch, and the loss then stays at ln 10 (seen
    // locally with `cnnc train` too, and in CI as a loss going up by thousandths); at 1e-4 it
    // learns steadily (2.30 -> 1.9 to 2.1 after 4 local epochs, seeds 1 and 2; on this cluster with
  // parameter averaging 2.3015 -> 2.2468 after 4, so 6 are run)
    Result r = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", cluster.master(), "--averaging",
        "--data", data().toUri().toString(), "--epochs", "" + EPOCHS, "--batch", "4", "--lr", "0.0001", "--save",
        w.toString());
    assertEquals(0, r.rc(), r.err() + "\n" + cluster.log("master"));
    assertTrue(r.out().contains("NiN: 120 examples, 10 classes, " + EPOCHS + " epochs, batch 4, on Spark (parameter averaging)"), r.out());
    // each epoch's loss is measured on all 120 examples in inference mode after the epoch
    List<Double> losses = losses(r.out());
    assertEquals(EPOCHS, losses.size(), r.out());
    assertTrue(losses.get(EPOCHS - 1) < losses.get(0) - 0.05, "the loss goes down clearly: " + losses);
    assertTrue(Files.isRegularFile(tmp.resolve("nin.npz.ckpt")), "a checkpoint after each epoch");
    // the saved weights (PyTorch's keys) run in cnnc run
    Result run = cnnc("run", MODELS.toString(), "--model", "NiN", "--weights", w.toString(), "--random", "--batch", "2",
        "--repeat", "0", "--output", tmp.resolve("out").toString());
    assertEquals(0, run.rc(), run.err());
    assertTrue(Files.size(tmp.resolve("out").resolve(Files.list(tmp.resolve("out")).findFirst().orElseThrow().getFileName())) > 0);
  }

  @Test
  @Order(2)
  void aWorkerKilledMidEpochLeavesAResumableCheckpoint() throws Exception {
    Path ckpt = tmp.resolve("nin.npz.ckpt");
    assertTrue(Files.isRegularFile(ckpt), "the first test's checkpoint");
    byte[] before = Files.readAllBytes(ckpt);
    CompletableFuture<Result> training = CompletableFuture.supplyAsync(() -> cnnc("train", MODELS.toString(), "--model",
        "NiN", "--spark", cluster.master(), "--averaging", "--data", tmp.resolve("cifar").toUri().toString(),
        "--epochs", "" + (EPOCHS + 1), "--batch", "4", "--lr", "0.0001", "--resume", ckpt.toString(),
        "--checkpoint", ckpt.toString()));
    // kill a worker and its executor once that executor is training (it has started a task)
    Process victim = cluster.workers().get(1);
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < end && victim.descendants().findAny().isEmpty()) {
      Thread.sleep(200);
    }
    Thread.sleep(8000);
    StandaloneCluster.kill(victim);
    Result r = training.get(10, TimeUnit.MINUTES);
    if (r.rc() == 0) {
      // Spark ran the lost tasks again on the other worker: the epoch finished
      assertTrue(r.out().contains("epoch " + (EPOCHS + 1) + "/" + (EPOCHS + 1) + "  loss"), r.out());
    } else {
      assertEquals(1, r.rc(), r.err());
      assertTrue(r.err().contains("cnnc: training on Spark failed: "), r.err());
      assertTrue(r.err().contains("--resume " + ckpt), r.err());
      assertTrue(java.util.Arrays.equals(before, Files.readAllBytes(ckpt)), "the last checkpoint is untouched");
    }
    // the checkpoint is whole and training goes on from it (on the worker left)
    Result resumed = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", cluster.master(), "--averaging",
        "--data", tmp.resolve("cifar").toUri().toString(), "--epochs", "" + (r.rc() == 0 ? EPOCHS + 2 : EPOCHS + 1), "--batch", "4", "--lr", "0.0001",
        "--resume", ckpt.toString());
    assertEquals(0, resumed.rc(), resumed.err());
    assertTrue(resumed.out().contains("(resuming after epoch " + (r.rc() == 0 ? EPOCHS + 1 : EPOCHS) + ")"), resumed.out());
  }
}
