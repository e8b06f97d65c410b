// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * Small generated datasets that a network learns quickly: class {@code c} of 10 is a 32 x 32 image
 * of one colour of its own ({@link #COLOURS}: the corners of the RGB cube and two mixes, each at
 * least 100 levels from every other in some channel), plus seeded Gaussian noise (standard
 * deviation 25 levels) on every pixel and channel.
 */
final class Datasets {
  private Datasets() {}

  /** The colour of each class: red, green, blue, yellow, magenta, cyan, white, black, orange, violet. */
  static final int[][] COLOURS = {
    {230, 30, 30}, {30, 230, 30}, {30, 30, 230}, {230, 230, 30}, {230, 30, 230},
    {30, 230, 230}, {230, 230, 230}, {30, 30, 30}, {230, 130, 30}, {130, 30, 230},
  };

  /** The value of channel {@code ch} of a pixel of class {@code c}, with noise. */
  private static int value(int c, int ch, Random r) {
    return Math.max(0, Math.min(255, COLOURS[c][ch] + (int) Math.round(r.nextGaussian() * 25)));
  }

  /** {@code n} CIFAR-10 records (label byte, 3,072 pixel bytes) in one .bin file. */
  static Path cifar(Path file, int n, long seed) throws IOException {
    Random r = new Random(seed);
    byte[] bytes = new byte[n * 3073];
    for (int i = 0; i < n; i++) {
      int c = i % 10;
      bytes[i * 3073] = (byte) c;
      for (int ch = 0; ch < 3; ch++) {
        for (int p = 0; p < 1024; p++) {
          bytes[i * 3073 + 1 + ch * 1024 + p] = (byte) value(c, ch, r);
        }
      }
    }
    Files.createDirectories(file.getParent());
    return Files.write(file, bytes);
  }

  /** An image folder of 10 classes (c0 ... c9), {@code perClass} PNGs each, and one file that is no image. */
  static Path folder(Path dir, int perClass, long seed) throws IOException {
    Random r = new Random(seed);
    for (int c = 0; c < 10; c++) {
      Path d = Files.createDirectories(dir.resolve("c" + c));
      for (int i = 0; i < perClass; i++) {
        BufferedImage img = new BufferedImage(32, 32, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 32; y++) {
          for (int x = 0; x < 32; x++) {
            img.setRGB(x, y, value(c, 0, r) << 16 | value(c, 1, r) << 8 | value(c, 2, r));
          }
        }
        ImageIO.write(img, "png", d.resolve(i + ".png").toFile());
      }
    }
    Files.writeString(dir.resolve("c0").resolve("README.txt"), "not an image");
    return dir;
  }
}
