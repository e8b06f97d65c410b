// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.cnnc.run.RunTrainInputsTest.cnnc;
import static org.cnnc.run.RunTrainInputsTest.usage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.cnnc.compiler.io.Npz;
import org.cnnc.run.RunTrainInputsTest.Run;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * `cnnc train --masks`: a tiny segmentation network (a 1x1 classifier at half resolution,
 * upsampled to the input's 32 x 32) learns the class of each pixel from a folder of images and
 * mask PNGs made here, its loss going down over 2 epochs and its weights saved for `run`; the
 * outputs it cannot train from masks, or from image labels, are refused with the compiler's words.
 */
class SegmentationTrainTest {
  static final String SPEC = """
      model Seg(classes: int = 3) {
          input [3, 32, 32]
          conv(8, 3, padding = 1) relu
          conv(8, 3, stride = 2, padding = 1) relu
          conv(classes, 1)
          output out = upsample(size = 32, mode = "bilinear") with loss = cross_entropy
      }

      model Classifier {
          input [3, 32, 32]
          conv(3, 3, stride = 4) relu
          global_avgpool
          output scores with loss = cross_entropy
      }
      """;

  @TempDir Path dir;
  Path spec;
  Path data;

  /**
   * Eight images of a dark background (class 0) with a red and a blue rectangle (classes 1, 2) at
   * random places, a little noise, and a border of 255 (ignored) in the masks.
   */
  @BeforeEach
  void dataset() throws Exception {
    spec = Files.writeString(dir.resolve("seg.cnn"), SPEC);
    data = dir.resolve("data");
    Path images = Files.createDirectories(data.resolve("images"));
    Path masks = Files.createDirectories(data.resolve("masks"));
    Random r = new Random(11);
    for (int i = 0; i < 8; i++) {
      BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
      BufferedImage mask = new BufferedImage(32, 32, BufferedImage.TYPE_BYTE_GRAY);
      int[][] boxes = new int[2][];
      for (int c = 0; c < 2; c++) {
        int x0 = r.nextInt(20);
        int y0 = r.nextInt(20);
        boxes[c] = new int[] {x0, y0, x0 + 6 + r.nextInt(6), y0 + 6 + r.nextInt(6)};
      }
      for (int y = 0; y < 32; y++) {
        for (int x = 0; x < 32; x++) {
          int cls = 0;
          for (int c = 0; c < 2; c++) {
            if (x >= boxes[c][0] && x < boxes[c][2] && y >= boxes[c][1] && y < boxes[c][3]) {
              cls = c + 1;
            }
          }
          int noise = r.nextInt(40);
          int rgb = cls == 1 ? (200 + noise) << 16 : cls == 2 ? 200 + noise : noise << 8;
          img.setRGB(x, y, rgb);
          mask.getRaster().setSample(x, y, 0, x == 0 || y == 0 || x == 31 || y == 31 ? 255 : cls);
        }
      }
      ImageIO.write(img, i % 2 == 0 ? "png" : "bmp", images.resolve("img" + i + (i % 2 == 0 ? ".png" : ".bmp")).toFile());
      ImageIO.write(mask, "png", masks.resolve("img" + i + ".png").toFile());
    }
  }

  static List<Double> losses(String out) {
    Matcher m = Pattern.compile("epoch \\d+/\\d+  loss (\\d+\\.\\d+)  accuracy (\\d\\.\\d+)").matcher(out);
    List<Double> l = new ArrayList<>();
    while (m.find()) {
      l.add(Double.parseDouble(m.group(1)));
    }
    return l;
  }

  @Test
  void trainsFromMasksLowersTheLossAndSavesWeightsThatRunLoads() throws Exception {
    Path weights = dir.resolve("seg.npz");
    Run train = cnnc("train", spec, "--model", "Seg", "--data", data, "--masks", "--epochs", 2, "--batch", 2,
        "--lr", 0.01, "--save", weights);
    assertEquals(0, train.code(), train.out() + train.err());
    assertTrue(train.out().contains("Seg: 8 examples, 3 classes per pixel (mask value 255: ignored), 2 epochs, batch 2"),
        train.out());
    List<Double> losses = losses(train.out());
    assertEquals(2, losses.size(), train.out());
    assertTrue(losses.get(1) < losses.get(0), "the loss goes down: " + losses);
    System.out.println("SegmentationTrainTest: epoch losses " + losses);
    // the 1x1 classifier (conv, relu, conv, relu, conv: item 4)
    assertTrue(Npz.read(weights).containsKey("4.weight"), Npz.read(weights).keySet().toString());
    assertArrayEquals(new long[] {3, 8, 1, 1}, Npz.read(weights).get("4.weight").shape());

    Path out = dir.resolve("out");
    Run run = cnnc("run", spec, "--model", "Seg", "--weights", weights, "--random", "--batch", 2, "--output", out);
    assertEquals(0, run.code(), run.err());
    assertArrayEquals(new long[] {2, 3, 32, 32}, Npz.readNpy(out.resolve("out.npy")).shape());

    // a validation split holds out whole images with their masks
    Run val = cnnc("train", spec, "--model", "Seg", "--data", data, "--masks", "--batch", 2, "--val-split", 0.25);
    assertEquals(0, val.code(), val.out() + val.err());
    assertTrue(val.out().contains("validation: 2 of the 8 examples held out"), val.out());
    assertTrue(val.out().matches("(?s).*\nepoch 1/1  loss \\d+\\.\\d+  accuracy \\d\\.\\d{3}  val_loss \\d+\\.\\d+  "
        + "val_accuracy \\d\\.\\d{3}  \\(.*"), val.out());
  }

  @Test
  void whatMasksCannotTrainIsRefusedWithTheCompilersWords() throws Exception {
    // a map without --masks: the message says how to give masks
    usage(cnnc("train", spec, "--model", "Seg", "--data", data), "`out` cannot be trained", "with --masks");
    // --masks for one score per image
    usage(cnnc("train", spec, "--model", "Classifier", "--data", data, "--masks"), "`scores` cannot be trained",
        "one result per image");
    usage(cnnc("train", spec, "--model", "Seg", "--data", data, "--ignore-index", 0), "give it with --masks");
    usage(cnnc("train", spec, "--model", "Seg", "--data", data, "--masks", "--ignore-index", -1),
        "--ignore-index must be a mask value, 0 to 65535");
    // more classes than the spec's: a class out of range, named by file and pixel
    usage(cnnc("train", spec, "--model", "Seg", "--data", data, "--masks", "--arg", "classes=2"),
        "--data: " + data.resolve("masks").resolve("img0.png") + ": the pixel at column ");
    // a hostile mask: exit 2 naming it
    Path mask = data.resolve("masks").resolve("img3.png");
    Files.write(mask, new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0});
    usage(cnnc("train", spec, "--model", "Seg", "--data", data, "--masks"), "--data: " + mask + ": ");
  }
}
