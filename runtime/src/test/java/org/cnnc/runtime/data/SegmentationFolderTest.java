// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Segmentation datasets (images/ and masks/ paired by name): class indices read from grey and
 * palette PNGs, the ignore value left unlabeled, masks resized by nearest neighbour only; and
 * hostile folders, every problem an IOException naming its file: a truncated PNG, a mask of
 * another size, a class out of range (with its pixel), links, a colour or JPEG mask, unpaired
 * files, sizes over the limits before anything is decoded.
 */
class SegmentationFolderTest {
  @TempDir Path dir;
  Path images;
  Path masks;

  static byte[] png(BufferedImage img, String format) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    assertTrue(ImageIO.write(img, format, out));
    return out.toByteArray();
  }

  static BufferedImage rgb(int w, int h, long seed) {
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Random r = new Random(seed);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, r.nextInt(1 << 24));
      }
    }
    return img;
  }

  /** A grey mask whose pixel (x, y) is {@code classOf[y][x]}. */
  static BufferedImage grey(int[][] classOf) {
    BufferedImage img = new BufferedImage(classOf[0].length, classOf.length, BufferedImage.TYPE_BYTE_GRAY);
    for (int y = 0; y < classOf.length; y++) {
      for (int x = 0; x < classOf[0].length; x++) {
        img.getRaster().setSample(x, y, 0, classOf[y][x]);
      }
    }
    return img;
  }

  static int[][] map(int w, int h, java.util.function.IntBinaryOperator f) {
    int[][] m = new int[h][w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        m[y][x] = f.applyAsInt(x, y);
      }
    }
    return m;
  }

  @BeforeEach
  void dataset() throws IOException {
    images = Files.createDirectories(dir.resolve("data/images"));
    masks = Files.createDirectories(dir.resolve("data/masks"));
    // a: class by quadrant, with a row of 255 (ignored); b: all class 1
    Files.write(images.resolve("a.png"), png(rgb(8, 8, 1), "png"));
    Files.write(masks.resolve("a.png"), png(grey(map(8, 8, (x, y) -> y == 7 ? 255 : (x / 4) + 2 * (y / 4) == 3 ? 2
        : (x / 4 + y / 4) % 2)), "png"));
    Files.write(images.resolve("b.jpg"), png(rgb(8, 8, 2), "jpg"));
    Files.write(masks.resolve("b.png"), png(grey(map(8, 8, (x, y) -> 1)), "png"));
  }

  private LabeledData load() throws IOException {
    return SegmentationFolder.load(dir.resolve("data"), 3, 8, 8, 3, 8, 8, 255);
  }

  @Test
  void masksBecomeOneHotClassMapsWithIgnoredPixelsUnlabeled() throws Exception {
    Files.writeString(images.resolve("notes.txt"), "not an image");
    LabeledData d = load();
    assertEquals(List.of(2L, 3L, 8L, 8L), java.util.Arrays.stream(d.features().shape()).boxed().toList());
    INDArray y = d.labels();
    assertEquals(List.of(2L, 3L, 8L, 8L), java.util.Arrays.stream(y.shape()).boxed().toList());
    assertEquals(List.of("0", "1", "2"), d.classes());
    assertEquals(List.of(images.resolve("notes.txt")), d.skipped());
    // a: (x=0,y=0) class 0, (x=5,y=1) class 1, (x=5,y=5) class 2, row 7 ignored (no label at all)
    assertEquals(1f, y.getFloat(0, 0, 0, 0));
    assertEquals(1f, y.getFloat(0, 1, 1, 5));
    assertEquals(1f, y.getFloat(0, 2, 5, 5));
    for (int x = 0; x < 8; x++) {
      assertEquals(0f, y.getFloat(0, 0, 7, x) + y.getFloat(0, 1, 7, x) + y.getFloat(0, 2, 7, x));
    }
    assertEquals(8 * 8 - 8, y.slice(0).sumNumber().intValue(), "one label per labeled pixel");
    assertEquals(64, y.slice(1).slice(1).sumNumber().intValue(), "b is all class 1");
    // images in [0, 1] as ImageFolder reads them
    assertEquals(ImageFolder.pixels(rgb(8, 8, 1), 3, 8, 8)[9], d.features().getFloat(0, 0, 1, 1), 0f);
  }

  @Test
  void aPaletteMaskIsReadByIndexNotColour() throws Exception {
    // VOC-style: index 1 is drawn red, index 2 green; the classes are the indices
    byte[] r = new byte[256];
    byte[] g = new byte[256];
    byte[] b = new byte[256];
    r[1] = (byte) 128;
    g[2] = (byte) 128;
    r[255] = g[255] = b[255] = (byte) 224;
    BufferedImage m = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_INDEXED, new IndexColorModel(8, 256, r, g, b));
    for (int y = 0; y < 8; y++) {
      for (int x = 0; x < 8; x++) {
        m.getRaster().setSample(x, y, 0, x < 2 ? 255 : x % 3);
      }
    }
    Files.write(masks.resolve("a.png"), png(m, "png"));
    INDArray y = load().labels();
    assertEquals(1f, y.getFloat(0, 2, 3, 2)); // x = 2: index 2
    assertEquals(1f, y.getFloat(0, 0, 3, 3)); // x = 3: index 0
    assertEquals(1f, y.getFloat(0, 1, 3, 4)); // x = 4: index 1
    assertEquals(0f, y.getFloat(0, 0, 3, 0) + y.getFloat(0, 1, 3, 0) + y.getFloat(0, 2, 3, 0)); // 255: ignored
  }

  @Test
  void masksAreResizedByNearestNeighbourNeverBlended() throws Exception {
    // a checkerboard of classes 0 and 2: any blend would make class 1 somewhere
    Files.write(masks.resolve("a.png"), png(grey(map(8, 8, (x, y) -> (x + y) % 2 * 2)), "png"));
    LabeledData d = SegmentationFolder.load(dir.resolve("data"), 3, 8, 8, 3, 5, 3, 255);
    INDArray a = d.labels().slice(0);
    assertEquals(0, a.slice(1).sumNumber().intValue(), "no pixel of class 1");
    assertEquals(15, a.sumNumber().intValue());
    // output (y, x) reads mask (floor((y + 0.5) * 8 / 5), floor((x + 0.5) * 8 / 3)): pixel centres
    for (int y = 0; y < 5; y++) {
      for (int x = 0; x < 3; x++) {
        int sy = (int) Math.floor((y + 0.5) * 8 / 5);
        int sx = (int) Math.floor((x + 0.5) * 8 / 3);
        assertEquals(1f, a.getFloat((sx + sy) % 2 * 2, y, x), "(" + x + ", " + y + ")");
      }
    }
    // upsampling repeats pixels
    assertEquals(List.of(0, 0, 2, 2, 0, 0), java.util.Arrays.stream(SegmentationFolder.nearest(new int[] {0, 2, 0}, 3, 1, 6, 1))
        .boxed().toList());
  }

  @Test
  void aTruncatedMaskNamesItsFile() throws Exception {
    byte[] whole = png(grey(map(8, 8, (x, y) -> x % 3)), "png");
    Path f = masks.resolve("a.png");
    Files.write(f, java.util.Arrays.copyOf(whole, whole.length / 2));
    IOException e = assertThrows(IOException.class, this::load);
    assertTrue(e.getMessage().startsWith(f + ": a corrupt png image"), e.getMessage());
  }

  @Test
  void aMaskOfAnotherSizeNamesBothFiles() throws Exception {
    Files.write(masks.resolve("b.png"), png(grey(map(8, 7, (x, y) -> 1)), "png"));
    IOException e = assertThrows(IOException.class, this::load);
    assertEquals(masks.resolve("b.png") + ": a mask of 8 x 7 pixels for an image of 8 x 8 (" + images.resolve("b.jpg")
        + "); a mask has its image's size", e.getMessage());
  }

  @Test
  void aClassOutOfRangeNamesTheFileAndPixel() throws Exception {
    Files.write(masks.resolve("b.png"), png(grey(map(8, 8, (x, y) -> x == 5 && y == 2 ? 7 : 1)), "png"));
    IOException e = assertThrows(IOException.class, this::load);
    assertEquals(masks.resolve("b.png") + ": the pixel at column 5, row 2 has class 7; the model has 3 classes "
        + "(0 to 2) and 255 marks a pixel to ignore", e.getMessage());
    // with another ignore value, 255 is a class like any other: out of range
    IOException other = assertThrows(IOException.class,
        () -> SegmentationFolder.load(dir.resolve("data"), 3, 8, 8, 3, 8, 8, 0));
    assertTrue(other.getMessage().startsWith(masks.resolve("a.png") + ": the pixel at column 0, row 7 has class 255"),
        other.getMessage());
  }

  @Test
  void linksAreRefusedWhereAFileOrFolderShouldBe() throws Exception {
    Path elsewhere = Files.write(dir.resolve("elsewhere.png"), png(grey(map(8, 8, (x, y) -> 1)), "png"));
    Files.delete(masks.resolve("b.png"));
    Files.createSymbolicLink(masks.resolve("b.png"), elsewhere);
    IOException e = assertThrows(IOException.class, this::load);
    assertEquals(masks.resolve("b.png") + " is a symbolic link (cnnc does not follow links in a dataset)", e.getMessage());
    // a linked folder too
    Path real = Files.createDirectories(dir.resolve("real-masks"));
    Files.delete(masks.resolve("b.png"));
    Files.move(masks.resolve("a.png"), real.resolve("a.png"));
    Files.write(real.resolve("b.png"), png(grey(map(8, 8, (x, y) -> 1)), "png"));
    Files.delete(masks);
    Files.createSymbolicLink(masks, real);
    IOException folder = assertThrows(IOException.class, this::load);
    assertEquals(masks + " is a symbolic link (cnnc does not follow links in a dataset)", folder.getMessage());
  }

  @Test
  void aColourOrLossyMaskIsRefused() throws Exception {
    Files.write(masks.resolve("a.png"), png(rgb(8, 8, 3), "png"));
    IOException colour = assertThrows(IOException.class, this::load);
    assertTrue(colour.getMessage().startsWith(masks.resolve("a.png") + ": a mask with 3 channels; a mask has one"),
        colour.getMessage());
    Files.write(masks.resolve("a.png"), png(grey(map(8, 8, (x, y) -> 1)), "jpg"));
    IOException jpeg = assertThrows(IOException.class, this::load);
    assertTrue(jpeg.getMessage().startsWith(masks.resolve("a.png") + ": a JPEG image; a mask is a PNG"), jpeg.getMessage());
  }

  @Test
  void unpairedFilesAreNamed() throws Exception {
    Files.write(images.resolve("c.png"), png(rgb(8, 8, 4), "png"));
    IOException noMask = assertThrows(IOException.class, this::load);
    assertEquals(images.resolve("c.png") + " has no mask: " + masks.resolve("c.png") + " is missing", noMask.getMessage());
    Files.delete(images.resolve("c.png"));
    Files.write(masks.resolve("d.png"), png(grey(map(8, 8, (x, y) -> 1)), "png"));
    IOException noImage = assertThrows(IOException.class, this::load);
    assertTrue(noImage.getMessage().startsWith(masks.resolve("d.png") + " is the mask of no image"), noImage.getMessage());
    Files.delete(masks.resolve("d.png"));
    Files.write(images.resolve("b.png"), png(rgb(8, 8, 4), "png"));
    IOException twice = assertThrows(IOException.class, this::load);
    assertTrue(twice.getMessage().contains("have the same name"), twice.getMessage());
  }

  @Test
  void limitsAreCheckedBeforeAnythingIsDecoded() throws Exception {
    // a mask claiming 100000 x 100000 pixels: refused from its header
    Path huge = masks.resolve("b.png");
    Files.write(huge, ImageFolderTest.pngHeaderOnly(100_000, 100_000));
    IOException pixels = assertThrows(IOException.class, this::load);
    assertEquals(huge + ": an image of 100000 x 100000 pixels; the limit is " + ImageFolder.MAX_PIXELS + " pixels",
        pixels.getMessage());
    // labels of 2 x 2000 x 1024 x 1024 values: refused before the (corrupt) files are read
    Files.write(huge, new byte[] {1, 2, 3});
    IOException memory = assertThrows(IOException.class,
        () -> SegmentationFolder.load(dir.resolve("data"), 3, 8, 8, 2000, 1024, 1024, 255));
    assertTrue(memory.getMessage().contains("more than fit in memory"), memory.getMessage());
    // no masks folder
    Files.delete(huge);
    Files.delete(masks.resolve("a.png"));
    Files.delete(masks);
    IOException none = assertThrows(IOException.class, this::load);
    assertTrue(none.getMessage().startsWith(dir.resolve("data") + " has no masks/ folder"), none.getMessage());
  }
}
