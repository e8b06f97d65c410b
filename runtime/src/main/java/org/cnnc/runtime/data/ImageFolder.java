// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.data;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An image folder: one subfolder per class (named by it, in name order), images inside (PNG, JPEG,
 * BMP, GIF). Each image is resized to the network's H x W, as RGB (or gray when C = 1), in [0, 1].
 */
public final class ImageFolder {
  private ImageFolder() {}

  /** The most pixels (width x height) one image may have: 50 megapixels, checked before it is decoded. */
  public static final long MAX_PIXELS = 50_000_000L;
  /** The most images a folder may hold. */
  public static final int MAX_IMAGES = 1_000_000;

  public static LabeledData load(Path dir, long channels, long height, long width) throws IOException {
    return load(dir, channels, height, width, MAX_PIXELS);
  }

  /**
   * Reads the folder. Every problem is an {@link IOException} naming its file: no such folder,
   * no class subfolder, an image that is corrupt or larger than {@code maxPixels}, a folder
   * without images. A file of a class folder that is no image ImageIO knows is skipped (and listed
   * in {@link LabeledData#skipped}). Each image is stretched to {@code height x width} (aspect ratio
   * not kept) and its values scaled to [0, 1].
   */
  public static LabeledData load(Path dir, long channels, long height, long width, long maxPixels)
      throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException(Files.exists(dir) ? dir + " is not a folder" : "no such folder: " + dir);
    }
    if ((long) channels * height * width > Integer.MAX_VALUE / 4) {
      throw new IOException("the model's input " + channels + "x" + height + "x" + width + " is too large to train on images");
    }
    List<Path> classDirs;
    try (Stream<Path> s = Files.list(dir)) {
      classDirs = s.filter(Files::isDirectory).sorted().toList();
    }
    if (classDirs.isEmpty()) {
      throw new IOException(dir + " has no class subfolders");
    }
    List<float[]> images = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    List<Path> skipped = new ArrayList<>();
    for (int c = 0; c < classDirs.size(); c++) {
      List<Path> files;
      try (Stream<Path> s = Files.list(classDirs.get(c))) {
        files = s.filter(Files::isRegularFile).sorted().toList();
      }
      for (Path f : files) {
        BufferedImage img = decode(f, maxPixels);
        if (img == null) {
          skipped.add(f);
          continue;
        }
        if (images.size() >= MAX_IMAGES || (long) (images.size() + 1) * channels * height * width > Integer.MAX_VALUE - 8) {
          throw new IOException(dir + " has more images than fit in memory at once (limit " + MAX_IMAGES + ")");
        }
        images.add(pixels(img, (int) channels, (int) height, (int) width));
        labels.add(c);
      }
    }
    if (images.isEmpty()) {
      throw new IOException(dir + " has no images (PNG, JPEG, BMP, GIF) in its class subfolders "
          + classDirs.stream().map(p -> p.getFileName().toString()).toList());
    }
    int n = images.size();
    int per = (int) (channels * height * width);
    float[] all = new float[n * per];
    INDArray y = Nd4j.zeros(DataType.FLOAT, n, classDirs.size());
    for (int i = 0; i < n; i++) {
      System.arraycopy(images.get(i), 0, all, i * per, per);
      y.putScalar(i, labels.get(i), 1f);
    }
    return new LabeledData(Nd4j.create(all, new long[] {n, channels, height, width}, 'c'), y,
        classDirs.stream().map(p -> p.getFileName().toString()).toList(), skipped);
  }

  /**
   * Decodes one image, its size read from its header and checked against {@code maxPixels} first.
   * Null for a file no ImageIO reader recognizes; an IOException naming the file for one that is
   * corrupt or too large.
   */
  static BufferedImage decode(Path f, long maxPixels) throws IOException {
    return decode(f.toFile(), f.toString(), maxPixels);
  }

  /**
   * One example from an image file's bytes (read from any file system, as the Spark trainer does):
   * its pixels as {@link #load} makes them ({@code c x h x w} in [0, 1]), or null for bytes no
   * ImageIO reader recognizes; an IOException naming {@code name} for a corrupt or too large image.
   */
  public static float[] example(byte[] bytes, String name, int c, int h, int w, long maxPixels) throws IOException {
    BufferedImage img = decode(new java.io.ByteArrayInputStream(bytes), name, maxPixels);
    return img == null ? null : pixels(img, c, h, w);
  }

  /** Decodes from a source ImageIO can open (a file, a stream), named {@code f} in messages. */
  private static BufferedImage decode(Object source, String f, long maxPixels) throws IOException {
    try (ImageInputStream in = ImageIO.createImageInputStream(source)) {
      if (in == null) {
        throw new IOException("cannot read " + f);
      }
      Decoded d = decode(f, in, maxPixels);
      return d == null ? null : d.image();
    }
  }

  /** An image and the name of its format as its ImageIO reader says it ({@code png}, {@code JPEG}, ...). */
  record Decoded(BufferedImage image, String format) {}

  /**
   * Decodes one image from {@code in} (read from {@code f}) as {@link #decode(Path, long)} does:
   * null for data no ImageIO reader recognizes.
   */
  static Decoded decode(String f, ImageInputStream in, long maxPixels) throws IOException {
    Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
    if (!readers.hasNext()) {
      return null;
    }
    ImageReader reader = readers.next();
    try {
      reader.setInput(in, true, true);
      long w = reader.getWidth(0);
      long h = reader.getHeight(0);
      if (w <= 0 || h <= 0 || w * h > maxPixels) {
        throw new IOException(f + ": an image of " + w + " x " + h + " pixels; the limit is " + maxPixels + " pixels");
      }
      BufferedImage img = reader.read(0);
      if (img == null) {
        throw new IOException(f + ": not a readable image");
      }
      return new Decoded(img, reader.getFormatName());
    } catch (IOException e) {
      if (e.getMessage() != null && e.getMessage().startsWith(f.toString())) {
        throw e;
      }
      throw new IOException(f + ": a corrupt " + reader.getFormatName() + " image (" + e.getMessage() + ")", e);
    } catch (RuntimeException e) {
      // ImageIO's decoders throw unchecked exceptions on some malformed files
      throw new IOException(f + ": a corrupt " + reader.getFormatName() + " image (" + e + ")", e);
    } finally {
      reader.dispose();
    }
  }

  static float[] pixels(BufferedImage img, int c, int h, int w) {
    BufferedImage scaled = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = scaled.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
    g.drawImage(img, 0, 0, w, h, null);
    g.dispose();
    float[] out = new float[c * h * w];
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        int rgb = scaled.getRGB(x, y);
        float r = ((rgb >> 16) & 0xff) / 255f;
        float gr = ((rgb >> 8) & 0xff) / 255f;
        float b = (rgb & 0xff) / 255f;
        if (c == 1) {
          out[y * w + x] = 0.299f * r + 0.587f * gr + 0.114f * b;
        } else {
          out[y * w + x] = r;
          out[h * w + y * w + x] = gr;
          out[2 * h * w + y * w + x] = b;
        }
      }
    }
    return out;
  }
}
