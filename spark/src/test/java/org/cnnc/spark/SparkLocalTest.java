// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.cnnc.run.Models;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.Trainer;
import org.cnnc.runtime.data.Cifar10;
import org.nd4j.linalg.dataset.DataSet;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.cnnc.run.Cnnc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cnnc train --spark local[2]}: the command, the data on executors, the weights saved. */
class SparkLocalTest {
  static final Path MODELS = Path.of(System.getProperty("cnnc.root", "..")).resolve("models.cnn");

  @Test
  void trainsNinFromAnImageFolderOnLocalSpark(@TempDir Path tmp) throws Exception {
    Path data = Datasets.folder(tmp.resolve("images"), 6, 1);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = Cnnc.run(new String[] {"train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]",
        "--data", data.toUri().toString(), "--epochs", "1", "--batch", "8", "--save", tmp.resolve("w.npz").toString()},
        new PrintWriter(out, true), new PrintWriter(err, true));
    System.out.println(out);
    System.out.println(err);
    assertEquals(0, rc, err.toString());
    assertTrue(out.toString().contains("NiN: 60 examples, 10 classes, 1 epoch, batch 8, on Spark (gradient sharing)"), out.toString());
    assertTrue(out.toString().contains("epoch 1/1  loss "), out.toString());
    // the epoch's last progress line: every example counted by the executors' listeners
    assertTrue(out.toString().contains("epoch 1/1  examples 60/60  loss "), out.toString());
    assertTrue(java.nio.file.Files.isRegularFile(tmp.resolve("w.npz")), "the weights saved");
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

  /**
   * --val-split on Spark holds out the examples {@code cnnc train} holds out (the same seeded
   * rule), trains on the others only, and logs their loss and accuracy as {@code cnnc train} does:
   * the logged figures are those of the saved weights on exactly those examples, measured here.
   */
  @Test
  void valSplitHoldsOutWhatCnncTrainHoldsOutAndMeasuresIt(@TempDir Path tmp) throws Exception {
    Path data = Datasets.cifar(tmp.resolve("cifar").resolve("data_batch_1.bin"), 40, 5).getParent();
    Path w = tmp.resolve("w.npz");
    Result r = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--averaging", "--data",
        data.toUri().toString(), "--epochs", "1", "--batch", "8", "--val-split", "0.25", "--seed", "3", "--save", w.toString());
    assertEquals(0, r.rc(), r.err());
    assertTrue(r.out().contains("validation: 10 of the 40 examples held out (--val-split 0.25, seed 3)\n"), r.out());
    assertTrue(r.out().contains("NiN: 30 examples, 10 classes, 1 epoch, batch 8, on Spark (parameter averaging)"), r.out());
    Matcher m = Pattern.compile("epoch 1/1  loss [0-9.]+  accuracy [0-9.]+  val_loss ([0-9.]+)  val_accuracy ([0-9.]+)  \\(")
        .matcher(r.out());
    assertTrue(m.find(), r.out());
    // the held-out examples of cnnc train --val-split 0.25 --seed 3, and the trained weights on them
    DataSet[] parts = Trainer.split(Cifar10.load(data, 0).toDataSet(), 0.25, 3);
    CnnNetwork net = SparkTrainer.network(Models.load(MODELS, "NiN"), 3, 0.001);
    net.loadWeights(w);
    assertEquals(Trainer.loss(net, parts[1], 8, 1), Double.parseDouble(m.group(1)), 2e-4, r.out());
    assertEquals(Trainer.accuracy(net, parts[1], 8), Double.parseDouble(m.group(2)), 1e-9, r.out());

    // a split that leaves one side empty is the user's mistake, said before any training
    Result bad = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--data",
        data.toUri().toString(), "--val-split", "0.001");
    assertEquals(2, bad.rc(), bad.err());
    assertTrue(bad.err().contains("--val-split: a validation split of 0.001 of 40 examples leaves no examples on one side"),
        bad.err());
  }

  /** The two parts of a split are disjoint and hold every listed example; the same seed, the same parts. */
  @Test
  void aSplitOfTheListedExamplesIsDisjointAndWhole(@TempDir Path tmp) throws Exception {
    Path data = Datasets.cifar(tmp.resolve("c").resolve("data_batch_1.bin"), 57, 1).getParent();
    HadoopExamples all = HadoopExamples.list(data.toUri().toString(), new Configuration(), new long[] {3, 32, 32}, 0);
    HadoopExamples[] parts = all.split(0.3, 11);
    assertEquals(17, parts[1].size());
    assertEquals(40, parts[0].size());
    Set<HadoopExamples.Ref> seen = new HashSet<>(parts[0].refs());
    for (HadoopExamples.Ref ref : parts[1].refs()) {
      assertTrue(seen.add(ref), "held out and trained on: " + ref);
    }
    assertEquals(new HashSet<>(all.refs()), seen);
    assertEquals(parts[1].refs(), all.split(0.3, 11)[1].refs());
  }

  /**
   * --checkpoint and --resume take a Hadoop URI with --spark: written through Hadoop's file system
   * (a temporary file renamed over the target, none left behind), read back to go on; a link, a
   * missing directory or a missing checkpoint is a plain exit 2 naming the URI, before training.
   */
  @Test
  void checkpointsOnAHadoopUriAreWrittenAtomicallyAndResumed(@TempDir Path tmp) throws Exception {
    Path data = Datasets.cifar(tmp.resolve("cifar").resolve("data_batch_1.bin"), 16, 2).getParent();
    Path dir = java.nio.file.Files.createDirectories(tmp.resolve("shared"));
    String ckpt = dir.toUri() + "nin.ckpt";
    Result first = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--averaging", "--data",
        data.toUri().toString(), "--epochs", "1", "--batch", "8", "--checkpoint", ckpt, "--save", dir.toUri() + "nin.npz");
    assertEquals(0, first.rc(), first.err());
    assertEquals(List.of("nin.ckpt", "nin.npz"), names(dir), "the checkpoint, the weights, no temporary file, no .crc");
    assertTrue(first.out().contains("saved " + dir.toUri() + "nin.npz"), first.out());
    // the weights --save wrote through Hadoop load into cnnc run
    Result run = cnnc("run", MODELS.toString(), "--model", "NiN", "--weights", dir.resolve("nin.npz").toString(), "--random");
    assertEquals(0, run.rc(), run.err());
    byte[] written = java.nio.file.Files.readAllBytes(dir.resolve("nin.ckpt"));
    Result resumed = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--averaging", "--data",
        data.toUri().toString(), "--epochs", "2", "--batch", "8", "--resume", ckpt, "--checkpoint", ckpt);
    assertEquals(0, resumed.rc(), resumed.err());
    assertTrue(resumed.out().contains("(resuming after epoch 1)"), resumed.out());
    assertTrue(resumed.out().contains("epoch 2/2  loss "), resumed.out());
    assertFalse(resumed.out().contains("epoch 1/2"), resumed.out());
    assertEquals(List.of("nin.ckpt", "nin.npz"), names(dir));
    assertFalse(java.util.Arrays.equals(written, java.nio.file.Files.readAllBytes(dir.resolve("nin.ckpt"))),
        "epoch 2's checkpoint replaced epoch 1's");

    // a link is not written through
    Path victim = java.nio.file.Files.writeString(tmp.resolve("victim.txt"), "keep me");
    java.nio.file.Files.createSymbolicLink(dir.resolve("link.ckpt"), victim);
    Result link = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--data",
        data.toUri().toString(), "--checkpoint", dir.toUri() + "link.ckpt");
    assertEquals(2, link.rc(), link.err());
    assertTrue(link.err().contains("cnnc: --checkpoint: refusing to write " + dir.toUri() + "link.ckpt: it is a symbolic link"),
        link.err());
    assertEquals("keep me", java.nio.file.Files.readString(victim));
    assertFalse(link.out().contains("epoch 1/1"), "refused before training");
    Result saveLink = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--data",
        data.toUri().toString(), "--save", dir.toUri() + "link.ckpt");
    assertEquals(2, saveLink.rc(), saveLink.err());
    assertTrue(saveLink.err().contains("cnnc: --save: refusing to write " + dir.toUri() + "link.ckpt: it is a symbolic link"),
        saveLink.err());
    assertEquals("keep me", java.nio.file.Files.readString(victim));
    assertFalse(saveLink.out().contains("epoch 1/1"), "refused before training");
    // a directory that does not exist
    Result missing = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--data",
        data.toUri().toString(), "--checkpoint", dir.toUri() + "no/such/dir/c.ckpt");
    assertEquals(2, missing.rc(), missing.err());
    assertTrue(missing.err().contains("cnnc: --checkpoint: cannot write " + dir.toUri() + "no/such/dir/c.ckpt: the directory "),
        missing.err());
    assertTrue(missing.err().contains(" does not exist"), missing.err());
    // a checkpoint that is not there
    Result none = cnnc("train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]", "--data",
        data.toUri().toString(), "--resume", dir.toUri() + "none.ckpt");
    assertEquals(2, none.rc(), none.err());
    assertTrue(none.err().contains("cnnc: --resume: " + dir.toUri() + "none.ckpt: no such file"), none.err());
    // a URI is for the cluster's file systems: without --spark it is a plain mistake
    Result local = cnnc("train", MODELS.toString(), "--model", "NiN", "--data", data.toString(), "--checkpoint", ckpt);
    assertEquals(2, local.rc(), local.err());
    assertTrue(local.err().contains("--checkpoint: " + ckpt + " is a URI, which only training on Spark (--spark)"), local.err());
  }

  private static List<String> names(Path dir) throws java.io.IOException {
    try (var s = java.nio.file.Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> !n.equals("victim.txt")).sorted().toList();
    }
  }
}
