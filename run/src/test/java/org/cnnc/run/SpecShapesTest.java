// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.cnnc.compiler.Compiler;
import org.cnnc.runtime.CnnModel;
import org.cnnc.compiler.io.Npz;
import org.cnnc.runtime.NdNpz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Valid specs that `check` accepts and `run` once crashed on: an output that is a feature map, two
 * inputs, an unused layer, thousands of layers. Each runs; `train` refuses what DL4J cannot train
 * with a usage error that says why.
 */
class SpecShapesTest {
  static final String SPEC = """
      model MapOut {
          input [3, 8, 8]
          conv(4, 3, padding = 1)
      }

      model TwoIn {
          input a [3, 8, 8]
          input b [3, 8, 8]
          add(from a, from b)
          conv(2, 1)
          flatten
          dense(2)
      }

      model Unused {
          input x [3, 8, 8]
          side: conv(2, 1)
          conv(4, 1) from x
          flatten
          dense(2)
      }
      """;

  @TempDir Path dir;

  private Path spec() throws Exception {
    return Files.writeString(dir.resolve("shapes.cnn"), SPEC);
  }

  private Path images() throws Exception {
    Path root = dir.resolve("images");
    for (String c : new String[] {"a", "b"}) {
      Path d = Files.createDirectories(root.resolve(c));
      javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_INT_RGB),
          "png", d.resolve("0.png").toFile());
    }
    return root;
  }

  @Test
  void aMapOutputRunsAndTrainSaysWhyItCannotTrainIt() throws Exception {
    Path spec = spec();
    var run = RunTrainInputsTest.cnnc("run", spec, "--model", "MapOut", "--random", "--output", dir.resolve("out"));
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().startsWith("output [1, 4, 8, 8]: "), run.out());
    assertArrayEquals(new long[] {1, 4, 8, 8}, Npz.readNpy(dir.resolve("out").resolve("output.npy")).shape());
    var train = RunTrainInputsTest.usage(RunTrainInputsTest.cnnc("train", spec, "--model", "MapOut", "--data", images()),
        "MapOut: `output` cannot be trained: a cross_entropy loss on a [4, 8, 8] map needs a class per pixel: give --data a folder of images/ and masks/");
    assertTrue(java.util.regex.Pattern.compile("shapes\\.cnn:\\d+:\\d+: MapOut: `output`").matcher(train.err()).find(),
        "the refusal is located in the spec: " + train.err());
  }

  @Test
  void twoInputsRunOnRandomOrGivenInputs() throws Exception {
    Path spec = spec();
    var random = RunTrainInputsTest.cnnc("run", spec, "--model", "TwoIn", "--random", "--batch", 2);
    assertEquals(0, random.code(), random.err());
    assertTrue(random.out().startsWith("output [2, 2]: "), random.out());
    Path a = dir.resolve("a.npy");
    Path b = dir.resolve("b.npy");
    NdNpz.writeNpy(a, Nd4j.rand(DataType.FLOAT, 3, 3, 8, 8));
    NdNpz.writeNpy(b, Nd4j.rand(DataType.FLOAT, 3, 3, 8, 8));
    var given = RunTrainInputsTest.cnnc("run", spec, "--model", "TwoIn", "--input", "a=" + a, "--input", "b=" + b);
    assertEquals(0, given.code(), given.err());
    assertTrue(given.out().startsWith("output [3, 2]: "), given.out());
    RunTrainInputsTest.usage(RunTrainInputsTest.cnnc("run", spec, "--model", "TwoIn", "--input", a),
        "TwoIn has the inputs a, b: give --input NAME=X.npy for each");
    RunTrainInputsTest.usage(RunTrainInputsTest.cnnc("run", spec, "--model", "TwoIn", "--input", "a=" + a),
        "--input: no file for the input b of TwoIn");
    RunTrainInputsTest.usage(RunTrainInputsTest.cnnc("train", spec, "--model", "TwoIn", "--data", images()),
        "training feeds images to one input; TwoIn has the inputs a, b");
  }

  @Test
  void anUnusedLayerRunsAndTrainSaysWhyItCannotTrainIt() throws Exception {
    Path spec = spec();
    var run = RunTrainInputsTest.cnnc("run", spec, "--model", "Unused", "--random");
    assertEquals(0, run.code(), run.err());
    assertTrue(run.out().startsWith("output [1, 2]: "), run.out());
    RunTrainInputsTest.usage(RunTrainInputsTest.cnnc("train", spec, "--model", "Unused", "--data", images()),
        "Unused: `side` cannot be trained: nothing reads it");
  }

  /**
   * 9,000 layers one after the other (6,000 still fit in the 64 KB of one method): the generated
   * build() is split so that javac compiles it.
   */
  @Test
  void aModelOfThousandsOfLayersCompiles() throws Exception {
    StringBuilder spec = new StringBuilder("model Deep {\n    input [1, 1, 1]\n    first: relu\n");
    for (int i = 0; i < 9_000; i++) {
      spec.append("    relu\n");
    }
    spec.append("    add(from first, from first)\n    flatten\n    dense(2)\n}\n");
    // and a block of as many, with a parameter its items read
    spec.append("block Big(slope: float) {\n    first: leaky_relu(slope)\n");
    for (int i = 0; i < 9_000; i++) {
      spec.append("    leaky_relu(slope)\n");
    }
    spec.append("    add(from first, from first)\n}\nmodel DeepBlock {\n    input [2]\n    Big(0.5)\n    dense(2)\n}\n");
    Path f = Files.writeString(dir.resolve("deep.cnn"), spec);
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(f));
    assertTrue(c.ok(), c.diagnostics().toString());
    CnnModel m = ModelLoader.load(c, c.network("Deep").orElseThrow());
    assertEquals("Deep", m.name());
    CnnModel block = ModelLoader.load(c, c.network("DeepBlock").orElseThrow());
    assertEquals("DeepBlock", block.name());
  }
}
