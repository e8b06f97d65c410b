// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import javax.imageio.ImageIO;

/**
 * Small generated datasets that a network can learn: class {@code c} of 10 is a 32 x 32 image
 * whose three channels have means set by {@code c} (a different mix per class), plus seeded noise.
 */
final class Datasets {
  private Datasets() {}

  /** The value of channel {@code ch} of a pixel of class {@code c}, with noise. */
  private static int value(int c, int ch, Random r) {
    int mean = switch (ch) {
      case 0 -> 20 + 22 * c;
      case 1 -> 220 - 22 * c;
      default -> (c % 2 == 0 ? 60 : 190) + (c % 3) * 10;
    };
    return Math.max(0, Math.min(255, mean + (int) Math.round(r.nextGaussian() * 25)));
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
