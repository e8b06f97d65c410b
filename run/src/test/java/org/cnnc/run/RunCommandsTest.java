// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.cnnc.compiler.io.Npz;
import org.cnnc.runtime.NdNpz;
import org.cnnc.runtime.layers.KernelSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** `cnnc run` and `cnnc train` from the command line, on the generated code. */
class RunCommandsTest {
  static final String MODELS = Path.of(System.getProperty("cnnc.root", "..")).resolve("models.cnn").toString();

  @TempDir Path dir;

  record Run(int code, String out, String err) {}

  static Run cnnc(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Cnnc.run(args, new PrintWriter(out), new PrintWriter(err));
    return new Run(code, out.toString(), err.toString());
  }

  /** One quick bench of NiN: every column of the three rows is a time, and the speed-up against the hand net. */
  @Test
  void benchTimesEveryColumn() {
    Run bench = cnnc("bench", MODELS, "--model", "NiN", "--batch", "2", "--iters", "1", "--no-pytorch",
        "--warmup", "0", "--passes", "FOLD_BATCHNORM,FUSE_RELU,MERGE_POINTWISE");
    assertEquals(0, bench.code(), bench.err());
    assertTrue(bench.out().contains("passes [FOLD_BATCHNORM, FUSE_RELU, MERGE_POINTWISE]"), bench.out());
    assertTrue(bench.out().contains("median of 1 after 0.0 s of warm-up"), bench.out());
    // each time with its GFLOP/s: DL4J kernels, cnnc, DL4J hand, PyTorch (-), ONNX Runtime (no training);
    // then the speed-ups against PyTorch (-), ONNX Runtime and the hand net
    String cell = "\\d+\\.\\d \\(\\d+(\\.\\d)?\\)";
    for (String step : new String[] {"NiN +forward", " +latency"}) {
      assertTrue(bench.out().matches("(?s).*\\n" + step + " +" + cell + " +" + cell + " +" + cell + " +- +" + cell
          + " +- +\\d+\\.\\d\\dx +\\d+\\.\\d\\dx\\n.*"), step + " in\n" + bench.out());
    }
    assertTrue(bench.out().matches("(?s).*\\n +train +" + cell + " +" + cell + " +" + cell + " +- +- +\\d+\\.\\d\\dx\\n.*"),
        bench.out());
    // without DL4J's layers: dashes where the generated and hand-written DL4J columns were, and
    // where the speed-up over the hand-written network was; cnnc's column timed
    Run quick = cnnc("bench", MODELS, "--model", "NiN", "--batch", "2", "--iters", "1", "--no-pytorch", "--no-ort",
        "--no-dl4j", "--warmup", "0");
    assertEquals(0, quick.code(), quick.err());
    assertTrue(quick.out().matches("(?s).*\\nNiN +forward +- +" + cell + " +- +- +- +- +- +-\\n.*"), quick.out());
    Run unknown = cnnc("bench", MODELS, "--model", "NiN", "--passes", "FOLD_EVERYTHING");
    assertEquals(2, unknown.code());
    assertTrue(unknown.err().contains("unknown pass 'FOLD_EVERYTHING'"), unknown.err());
    Run negative = cnnc("bench", MODELS, "--model", "NiN", "--warmup", "-1");
    assertEquals(2, negative.code());
    assertTrue(negative.err().contains("--warmup must be >= 0 seconds"), negative.err());
  }

  /** The profile lists NiN's layers with inference and training times and sums them up by op. */
  @Test
  void profileTimesEveryLayer() {
    Run profile = cnnc("bench", MODELS, "--model", "NiN", "--batch", "2", "--iters", "1", "--warmup", "0.2",
        "--profile");
    assertEquals(0, profile.code(), profile.err());
    // alone: ms, share, GFLOP/s, of SGEMM; in the plan: ms (or fused), layout; training: ms, GFLOP/s; ORT
    assertTrue(profile.out().matches("(?s).*\\nblock1\\.0 +conv +\\[192, 32, 32\\] +\\d+\\.\\d\\d +\\d+\\.\\d% +\\d+\\.\\d +\\d+% +"
        + "(\\d+\\.\\d\\d|fused) +\\S+ +\\d+\\.\\d\\d +\\d+\\.\\d +(\\d+\\.\\d\\d +\\d+\\.\\d\\dx|fused +-)\\n.*"),
        profile.out());
    assertTrue(profile.out().contains("training (forward + backward of each layer): "), profile.out());
    // inference ms, share, GFLOP/s, the plan's ms, training ms, share, ORT ms, GFLOP/s
    assertTrue(profile.out().matches("(?s).*\\n  conv +\\d+\\.\\d ms +\\d+\\.\\d% +\\d+\\.\\d +\\d+\\.\\d ms +\\d+\\.\\d ms +\\d+\\.\\d% +\\d+\\.\\d ms +\\d+\\.\\d\\n.*"),
        profile.out());
  }

  @Test
  void trainSavesWeightsThatRunLoads() throws Exception {
    byte[] records = new byte[40 * 3073];
    new Random(1).nextBytes(records);
    for (int i = 0; i < 40; i++) {
      records[i * 3073] = (byte) (i % 10);
    }
    Path data = Files.createDirectories(dir.resolve("cifar"));
    Files.write(data.resolve("data_batch_1.bin"), records);
    Path weights = dir.resolve("nin.npz");
    Run train = cnnc("train", MODELS, "--model", "NiN", "--data", data.toString(), "--epochs", "2", "--batch", "20",
        "--save", weights.toString());
    assertEquals(0, train.code(), train.err());
    assertTrue(train.out().contains("NiN: 40 examples, 10 classes, 2 epochs, batch 20"), train.out());
    assertTrue(train.out().matches("(?s).*epoch 2/2  loss \\d+\\.\\d+  accuracy \\d\\.\\d+.*"), train.out());
    assertTrue(Npz.read(weights).containsKey("block3.4.bias"));
    assertFalse(train.out().contains("\r"), "no \\r progress in a pipe");

    // a validation split: 10 of the 40 held out, seeded; its loss and accuracy after each epoch; "1 epoch"
    Run val = cnnc("train", MODELS, "--model", "NiN", "--data", data.toString(), "--epochs", "1", "--batch", "20",
        "--val-split", "0.25");
    assertEquals(0, val.code(), val.err());
    assertTrue(val.out().contains("validation: 10 of the 40 examples held out (--val-split 0.25, seed 0)\n"
        + "NiN: 30 examples, 10 classes, 1 epoch, batch 20"), val.out());
    assertTrue(val.out().matches("(?s).*\nepoch 1/1  loss \\d+\\.\\d+  accuracy \\d\\.\\d{3}  val_loss \\d+\\.\\d+  "
        + "val_accuracy \\d\\.\\d{3}  \\(.*"), val.out());
    assertEquals(2, cnnc("train", MODELS, "--model", "NiN", "--data", data.toString(), "--val-split", "1").code());

    Path input = dir.resolve("x.npy");
    NdNpz.writeNpy(input, Nd4j.rand(DataType.FLOAT, 3, 3, 32, 32));
    Path outDir = dir.resolve("out");
    Run run = cnnc("run", MODELS, "--model", "NiN", "--weights", weights.toString(), "--input", input.toString(),
        "--output", outDir.toString());
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().startsWith("output [3, 10, 1, 1]: "), run.out());
    assertTrue(run.out().matches("(?s).*\nforward \\(batch 3\\): first pass \\d+\\.\\d ms \\(cold\\), warm \\d+\\.\\d ms \\(median of 3\\)\n"),
        run.out());
    assertArrayEquals(new long[] {3, 10, 1, 1}, Npz.readNpy(outDir.resolve("output.npy")).shape());
  }

  @Test
  void runTakesTheOnlyModelWithoutModelOption() throws Exception {
    Path one = Files.writeString(dir.resolve("one.cnn"), "model Tiny {\n    input [3, 8, 8]\n    conv(4, 3)\n    relu\n}\n");
    long before = generatedFolders();
    Run r = cnnc("run", one.toString(), "--random");
    assertEquals(0, r.code(), r.err());
    assertEquals(before, generatedFolders(), "the generated model's temporary folder is removed");
    assertTrue(r.out().contains("[1, 4, 6, 6]") || r.out().contains("[4, 6, 6]"), r.out());
    Run several = cnnc("run", MODELS, "--random");
    assertEquals(2, several.code());
    assertEquals("cnnc: --model NAME chooses one of 3 models: VGG16, NiN, GoogLeNet\n", several.err());
  }

  @Test
  void mistakesAreUsageErrorsWithoutStackTraces() throws Exception {
    Run both = cnnc("run", MODELS, "--model", "NiN");
    assertEquals(2, both.code());
    assertEquals("cnnc: give exactly one of --input X.npy and --random\n", both.err());

    Path input = dir.resolve("x.npy");
    NdNpz.writeNpy(input, Nd4j.rand(DataType.FLOAT, 1, 3, 16, 16));
    Run shape = cnnc("run", MODELS, "--model", "NiN", "--input", input.toString());
    assertEquals(2, shape.code());
    assertEquals("cnnc: " + input + " has shape [1, 3, 16, 16]; the model takes [N, 3, 32, 32]\n", shape.err());

    Path bad = dir.resolve("bad.npz");
    Files.writeString(bad, "not a zip");
    Run weights = cnnc("run", MODELS, "--model", "NiN", "--random", "--weights", bad.toString());
    assertEquals(2, weights.code());
    assertTrue(weights.err().startsWith("cnnc: cannot load " + bad + ":\n  not a valid .npz archive"), weights.err());
    for (Run r : new Run[] {both, shape, weights}) {
      assertTrue(!r.err().contains("\tat "), r.err());
    }
  }

  /**
   * A kernel setting that names no library (`-Dcnnc.blas=atlas`), or one this JVM cannot give
   * (`vector` with the Vector API turned off), is a usage error before any work, with no stack trace.
   */
  @Test
  void badKernelSettingsAreUsageErrors() throws Exception {
    Path one = Files.writeString(dir.resolve("one.cnn"), "model Tiny {\n    input [3, 8, 8]\n    conv(4, 3)\n    relu\n}\n");
    KernelSettings before = KernelSettings.current();
    try {
      KernelSettings.use(before.withBlas("atlas"));
      Run atlas = cnnc("run", one.toString(), "--random");
      assertEquals(2, atlas.code(), atlas.err());
      assertEquals("cnnc: cnnc.blas is 'atlas'; it takes auto, mkl, onednn, vector or openblas\n", atlas.err());
      KernelSettings.use(before.withBlas("vector").withVectors(false));
      Run vector = cnnc("bench", one.toString(), "--no-pytorch", "--no-ort", "--no-dl4j", "--iters", "1", "--warmup", "0");
      assertEquals(2, vector.code(), vector.err());
      assertTrue(vector.err().startsWith("cnnc: cnnc.blas=vector, but"), vector.err());
      assertFalse(vector.err().contains("\tat "), vector.err());
      // oneDNN's sgemm is its own binding: the products need no oneDNN convs
      KernelSettings.use(before.withBlas("onednn").withOneDnn(false));
      Run onednn = cnnc("run", one.toString(), "--random");
      assertEquals(0, onednn.code(), onednn.err());
    } finally {
      KernelSettings.use(before);
    }
  }

  private static long generatedFolders() throws java.io.IOException {
    try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
      return s.filter(p -> p.getFileName().toString().startsWith("cnnc-model")).count();
    }
  }
}
