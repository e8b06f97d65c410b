// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.cnnc.compiler.io.Npz;
import org.cnnc.runtime.NdNpz;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `cnnc run` and `cnnc train` on bad options and hostile files: each a usage error (exit 2) whose
 * message names the option or file, never an internal error; and training that is reproducible,
 * checks where it writes before it starts, and resumes from its checkpoints.
 */
class RunTrainInputsTest {
  static final String SPEC = """
      model Tiny {
          input [3, 8, 8]
          conv(4, 3, padding = 1) relu
          maxpool(2)
          dropout(0.5)
          flatten
          dense(2)
      }

      model Other {
          input [3, 8, 8]
          conv(2, 1)
          flatten
          dense(2)
      }

      model Cifar {
          input [3, 32, 32]
          conv(4, 3, stride = 4) relu
          dropout(0.25)
          global_avgpool
          flatten
          dense(10)
      }
      """;

  @TempDir Path dir;
  Path spec;
  Path images;

  record Run(int code, String out, String err) {}

  static Run cnnc(Object... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] a = java.util.Arrays.stream(args).map(String::valueOf).toArray(String[]::new);
    int code = Cnnc.run(a, new PrintWriter(out), new PrintWriter(err));
    return new Run(code, out.toString(), err.toString());
  }

  static Run usage(Run r, String... texts) {
    assertEquals(2, r.code(), r.out() + r.err());
    for (String t : texts) {
      assertTrue(r.err().contains(t), "'" + t + "' not in: " + r.err());
    }
    assertFalse(r.err().contains("internal error"), r.err());
    return r;
  }

  @BeforeEach
  void files() throws Exception {
    spec = dir.resolve("tiny.cnn");
    Files.writeString(spec, SPEC);
    images = dir.resolve("images");
    Random r = new Random(7);
    for (String c : new String[] {"cat", "dog"}) {
      Path d = Files.createDirectories(images.resolve(c));
      for (int i = 0; i < 6; i++) {
        BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) {
          for (int x = 0; x < 8; x++) {
            img.setRGB(x, y, r.nextInt(1 << 24));
          }
        }
        ImageIO.write(img, "png", d.resolve(i + ".png").toFile());
      }
    }
  }

  /** Trains Tiny; --data is the image folder and --batch 4 unless {@code more} gives them. */
  Run train(Object... more) {
    java.util.List<Object> all = new java.util.ArrayList<>(java.util.List.of("train", spec, "--model", "Tiny"));
    java.util.List<Object> given = java.util.List.of(more);
    if (!given.contains("--data")) {
      all.addAll(java.util.List.of("--data", images));
    }
    if (!given.contains("--batch")) {
      all.addAll(java.util.List.of("--batch", 4));
    }
    all.addAll(given);
    return cnnc(all.toArray());
  }

  @Test
  void runInputsThatAreMissingOrJunk() throws Exception {
    Path missing = dir.resolve("missing.npy");
    usage(cnnc("run", spec, "--model", "Tiny", "--input", missing), "--input: " + missing + ": no such file");
    Path junk = dir.resolve("junk.npy");
    Files.writeString(junk, "this is not an array");
    usage(cnnc("run", spec, "--model", "Tiny", "--input", junk), "--input: " + junk + ": the array: not a .npy array");
    usage(cnnc("run", spec, "--model", "Tiny", "--input", dir), "--input: " + dir + ": is a directory");
    usage(cnnc("run", spec, "--model", "Tiny", "--input", "a\u0000b.npy"), "--input a\\u0000b.npy: not a file name");
  }

  /** batch x example counted without overflow: 32 x 2^58 values is too many, not a negative number. */
  @Test
  void aRandomInputTooLargeToCountInALong() throws Exception {
    Path huge = Files.writeString(dir.resolve("huge.cnn"), "model Huge {\n    input [1, 536870912, 536870912]\n    relu\n}\n");
    usage(cnnc("run", huge, "--random", "--batch", 32), "--batch 32 of [1, 536870912, 536870912] is more than");
  }

  @Test
  void runBatchZeroAndOutputOntoAFile() throws Exception {
    usage(cnnc("run", spec, "--model", "Tiny", "--random", "--batch", 0), "--batch must be at least 1");
    Path file = Files.writeString(dir.resolve("out.txt"), "keep me");
    usage(cnnc("run", spec, "--model", "Tiny", "--random", "--output", file), "--output " + file + " is a file");
    assertEquals("keep me", Files.readString(file));
    Run ok = cnnc("run", spec, "--model", "Tiny", "--random", "--output", dir.resolve("out"));
    assertEquals(0, ok.code(), ok.err());
    assertArrayEquals(new long[] {1, 2}, Npz.readNpy(dir.resolve("out").resolve("output.npy")).shape());
  }

  @Test
  void trainDataThatIsMissingEmptyOrCorrupt() throws Exception {
    Path missing = dir.resolve("nothing");
    usage(train("--data", missing), "--data: no such file or folder: " + missing);
    Path empty = Files.createDirectories(dir.resolve("empty"));
    usage(train("--data", empty), empty + " has no class subfolders");
    Files.createDirectories(empty.resolve("cat"));
    usage(train("--data", empty), empty + " has no images");
    Path bad = images.resolve("dog").resolve("bad.png");
    byte[] png = Files.readAllBytes(images.resolve("dog").resolve("0.png"));
    for (int i = 40; i < png.length - 12; i++) {
      png[i] = (byte) 0x5a;
    }
    Files.write(bad, png);
    usage(train(), "--data: " + bad + ": a corrupt png image");
  }

  @Test
  void moreClassFoldersThanOutputs() throws Exception {
    Files.createDirectories(images.resolve("eel"));
    Files.copy(images.resolve("cat").resolve("0.png"), images.resolve("eel").resolve("0.png"));
    usage(train(), "--data has 3 classes [cat, dog, eel], but the model's output output has 2 values");
  }

  @Test
  void cifarFileOfTheWrongLength() throws Exception {
    Path bin = dir.resolve("data_batch_1.bin");
    Files.write(bin, new byte[3073 + 100]);
    usage(cnnc("train", spec, "--model", "Cifar", "--data", bin), "--data: " + bin + ": 3173 bytes is not a whole number");
  }

  /** Without the cnnc-spark module (this module's classpath has no Spark), --spark says what is missing. */
  @Test
  void sparkWithoutTheSparkModule() {
    usage(train("--spark", "local[2]"), "--spark: this cnnc cannot train on Spark: the cnnc-spark module",
        "Training on Spark");
    usage(train("--averaging"), "--averaging is an option of training on Spark: give --spark MASTER too");
  }

  @Test
  void badNumbers() {
    usage(train("--epochs", 0), "--epochs must be at least 1");
    usage(train("--batch", 0), "--batch must be at least 1");
    usage(train("--lr", "NaN"), "--lr must be a positive number");
  }

  /** The target of --save is checked before the first step, not after hours of training. */
  @Test
  void saveIntoAMissingFolderFailsBeforeTraining() throws Exception {
    Path target = dir.resolve("nodir").resolve("W.npz");
    Run r = usage(train("--epochs", 1, "--save", target), "--save: cannot write " + target, "does not exist");
    assertFalse(r.out().contains("epoch"), r.out());
    usage(train("--save", dir), "--save: " + dir + " is a directory");
  }

  private Map<String, Npz.Array> trained(Path w, Object... more) throws Exception {
    Object[] args = java.util.Arrays.copyOf(more, more.length + 2);
    args[more.length] = "--save";
    args[more.length + 1] = w;
    Run r = train(args);
    assertEquals(0, r.code(), r.out() + r.err());
    return Npz.read(w);
  }

  private static void assertSameWeights(Map<String, Npz.Array> a, Map<String, Npz.Array> b) {
    assertEquals(a.keySet(), b.keySet());
    for (String k : a.keySet()) {
      assertArrayEquals(a.get(k).data(), b.get(k).data(), k);
    }
  }

  /** The default seed, 0, gives the same weights run after run, as every other seed does. */
  @Test
  void theDefaultSeedIsReproducible() throws Exception {
    Map<String, Npz.Array> a = trained(dir.resolve("a.npz"), "--epochs", 2);
    Map<String, Npz.Array> b = trained(dir.resolve("b.npz"), "--epochs", 2);
    assertSameWeights(a, b);
    Map<String, Npz.Array> c = trained(dir.resolve("c.npz"), "--epochs", 2, "--seed", 5);
    assertFalse(a.keySet().stream().allMatch(k -> java.util.Arrays.equals(a.get(k).data(), c.get(k).data())));
  }

  /** Two epochs straight, or one and then one more from its checkpoint: the same weights. */
  @Test
  void resumingFromACheckpointEqualsAnUninterruptedRun() throws Exception {
    Map<String, Npz.Array> straight = trained(dir.resolve("straight.npz"), "--epochs", 2, "--seed", 3);
    Path ckpt = dir.resolve("first.ckpt");
    trained(dir.resolve("first.npz"), "--epochs", 1, "--seed", 3, "--checkpoint", ckpt);
    assertTrue(Files.isRegularFile(ckpt));
    Run resumed = train("--epochs", 2, "--seed", 3, "--resume", ckpt, "--save", dir.resolve("resumed.npz"));
    assertEquals(0, resumed.code(), resumed.out() + resumed.err());
    assertTrue(resumed.out().contains("resuming after epoch 1"), resumed.out());
    assertFalse(resumed.out().contains("epoch 1/2"), resumed.out());
    assertSameWeights(straight, Npz.read(dir.resolve("resumed.npz")));
    // the default checkpoint sits beside --save, and a damaged one is refused by name
    assertTrue(Files.isRegularFile(dir.resolve("straight.npz.ckpt")));
    Path broken = dir.resolve("broken.ckpt");
    byte[] bytes = Files.readAllBytes(ckpt);
    Files.write(broken, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    usage(train("--epochs", 2, "--resume", broken), "--resume: " + broken + ": ");
    usage(cnnc("train", spec, "--model", "Other", "--data", images, "--resume", ckpt),
        "--resume: " + ckpt + ": a checkpoint of model 'Tiny', not of Other");
  }
}
