// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hostile image folders and CIFAR-10 files: every problem an IOException that names its file. */
class ImageFolderTest {
  @TempDir Path dir;

  static byte[] png(int w, int h) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB), "png", out);
    return out.toByteArray();
  }

  /** A PNG of only a signature, a header claiming {@code w x h} pixels, and no image data. */
  static byte[] pngHeaderOnly(int w, int h) {
    ByteBuffer ihdr = ByteBuffer.allocate(4 + 13).put("IHDR".getBytes(StandardCharsets.US_ASCII)).putInt(w).putInt(h)
        .put((byte) 8).put((byte) 2).put((byte) 0).put((byte) 0).put((byte) 0);
    CRC32 crc = new CRC32();
    crc.update(ihdr.array());
    ByteBuffer b = ByteBuffer.allocate(8 + 4 + 17 + 4 + 12);
    b.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}).putInt(13).put(ihdr.array())
        .putInt((int) crc.getValue());
    CRC32 end = new CRC32();
    end.update("IEND".getBytes(StandardCharsets.US_ASCII));
    b.putInt(0).put("IEND".getBytes(StandardCharsets.US_ASCII)).putInt((int) end.getValue());
    return b.array();
  }

  private Path folder() throws IOException {
    Path root = Files.createDirectories(dir.resolve("images"));
    Files.write(Files.createDirectories(root.resolve("a")).resolve("1.png"), png(8, 8));
    Files.write(Files.createDirectories(root.resolve("b")).resolve("1.png"), png(8, 8));
    return root;
  }

  @Test
  void filesThatAreNoImagesAreSkippedAndListed() throws Exception {
    Path root = folder();
    Path notes = Files.writeString(root.resolve("a").resolve("notes.txt"), "not an image");
    LabeledData d = ImageFolder.load(root, 3, 8, 8);
    assertEquals(2, d.size());
    assertEquals(java.util.List.of(notes), d.skipped());
  }

  @Test
  void aCorruptPngNamesItsFile() throws Exception {
    Path root = folder();
    byte[] good = png(8, 8);
    byte[] bad = java.util.Arrays.copyOf(good, good.length);
    for (int i = 40; i < bad.length - 12; i++) {
      bad[i] = (byte) 0xa5;
    }
    Path f = root.resolve("b").resolve("2.png");
    Files.write(f, bad);
    IOException e = assertThrows(IOException.class, () -> ImageFolder.load(root, 3, 8, 8));
    assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
  }

  @Test
  void anImageOverThePixelLimitIsRefusedBeforeDecoding() throws Exception {
    Path root = folder();
    Path f = root.resolve("a").resolve("2.png");
    Files.write(f, pngHeaderOnly(100_000, 100_000));
    IOException e = assertThrows(IOException.class, () -> ImageFolder.load(root, 3, 8, 8));
    assertEquals(f + ": an image of 100000 x 100000 pixels; the limit is " + ImageFolder.MAX_PIXELS + " pixels",
        e.getMessage());
    Files.delete(f);
    Files.write(f, png(20, 20));
    IOException small = assertThrows(IOException.class, () -> ImageFolder.load(root, 3, 8, 8, 399));
    assertTrue(small.getMessage().contains("the limit is 399 pixels"), small.getMessage());
    assertEquals(3, ImageFolder.load(root, 3, 8, 8, 400).size());
  }

  @Test
  void aCifarFileOfTheWrongLengthNamesItsFile() throws Exception {
    Path f = dir.resolve("data_batch_1.bin");
    Files.write(f, new byte[3073 * 2 + 5]);
    IOException e = assertThrows(IOException.class, () -> Cifar10.load(f, 0));
    assertTrue(e.getMessage().startsWith(f + ": 6151 bytes is not a whole number"), e.getMessage());
    byte[] bad = new byte[3073];
    bad[0] = 11;
    Files.write(f, bad);
    IOException label = assertThrows(IOException.class, () -> Cifar10.load(f, 0));
    assertTrue(label.getMessage().startsWith(f + ": a record has label 11"), label.getMessage());
  }
}
