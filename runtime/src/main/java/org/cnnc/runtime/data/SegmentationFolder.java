// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.data;

import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import org.cnnc.runtime.Trainer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A segmentation dataset: {@code images/} and {@code masks/} folders whose files pair by base name
 * ({@code images/cat1.jpg} and {@code masks/cat1.png}). A mask is a single-channel PNG (grey, 8 or
 * 16 bits, or a palette PNG such as PASCAL VOC's, whose palette indices are read, never its
 * colours) of its image's size, each pixel the class index of its image's pixel, or the ignore
 * value (PyTorch's {@code ignore_index}, 255 by default) for a pixel without a class.
 *
 * <p>Images are read as {@link ImageFolder} reads them (stretched to the network's input, [0, 1]).
 * Masks are resized to the output's H x W by nearest neighbour only, never interpolated (a blend
 * of two classes is no class): the output pixel {@code (y, x)} takes the mask's pixel whose area
 * holds its centre, {@code (floor((y + 0.5) * h / H), floor((x + 0.5) * w / W))}, as PIL's and
 * torchvision's {@code NEAREST} resizing of masks does.
 *
 * <p>The folder is untrusted. Before any file is decoded: no symbolic link is followed (a link
 * where a folder or file should be is refused by name, as {@code SafeFiles} never writes through
 * one), every image has its mask and every mask its image, the count is at most
 * {@link ImageFolder#MAX_IMAGES}, and the features and one-hot labels fit in one array each
 * (2^31 - 9 values). Each file is at most {@link #MAX_FILE_BYTES}, its pixels read from its header
 * and checked against the pixel limit before it is decoded. Every problem is an IOException naming
 * its file (and for a mask's class out of range, the pixel's column and row in the file).
 * Files of other kinds (no image extension in {@code images/}, not {@code .png} in {@code masks/})
 * are skipped and listed.
 */
public final class SegmentationFolder {
  private SegmentationFolder() {}

  /** The most bytes one image or mask file may have: 256 MiB. */
  public static final long MAX_FILE_BYTES = 256L << 20;
  /** The most values of the features or of the labels, each one array. */
  static final long MAX_VALUES = Integer.MAX_VALUE - 8;

  private static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "gif");

  /**
   * Reads {@code dir/images} and {@code dir/masks}: features {@code [N, channels, height, width]},
   * labels {@code [N, classes, outHeight, outWidth]} one-hot per labeled pixel, all zero for an
   * ignored one ({@link Trainer#pixelLabels(INDArray, int, long)}); examples in name order; the
   * classes named {@code 0} to {@code classes - 1}.
   */
  public static LabeledData load(Path dir, long channels, long height, long width, int classes, long outHeight,
      long outWidth, long ignore) throws IOException {
    return load(dir, channels, height, width, classes, outHeight, outWidth, ignore, ImageFolder.MAX_PIXELS);
  }

  public static LabeledData load(Path dir, long channels, long height, long width, int classes, long outHeight,
      long outWidth, long ignore, long maxPixels) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException(Files.exists(dir) ? dir + " is not a folder" : "no such folder: " + dir);
    }
    if (classes < 1) {
      throw new IOException("a segmentation output needs at least one class, not " + classes);
    }
    Path imageDir = folder(dir, "images");
    Path maskDir = folder(dir, "masks");
    List<Path> skipped = new ArrayList<>();
    Map<String, Path> images = files(imageDir, IMAGE_EXTENSIONS, skipped);
    Map<String, Path> masks = files(maskDir, Set.of("png"), skipped);
    for (var e : images.entrySet()) {
      if (!masks.containsKey(e.getKey())) {
        throw new IOException(e.getValue() + " has no mask: " + maskDir.resolve(e.getKey() + ".png") + " is missing");
      }
    }
    for (var e : masks.entrySet()) {
      if (!images.containsKey(e.getKey())) {
        throw new IOException(e.getValue() + " is the mask of no image: no " + imageDir.resolve(e.getKey())
            + ".* (" + String.join(", ", IMAGE_EXTENSIONS.stream().sorted().toList()) + ")");
      }
    }
    if (images.isEmpty()) {
      throw new IOException(imageDir + " has no images (PNG, JPEG, BMP, GIF)");
    }
    long n = images.size();
    if (n > ImageFolder.MAX_IMAGES) {
      throw new IOException(imageDir + " has " + n + " images; the limit is " + ImageFolder.MAX_IMAGES);
    }
    if (n * channels * height * width > MAX_VALUES || n * classes * outHeight * outWidth > MAX_VALUES) {
      throw new IOException(dir + ": " + n + " images of " + channels + "x" + height + "x" + width + " and their "
          + classes + "x" + outHeight + "x" + outWidth + " labels are more than fit in memory at once ("
          + MAX_VALUES + " values each)");
    }
    int per = (int) (channels * height * width);
    int plane = (int) (outHeight * outWidth);
    float[] features = new float[(int) (n * per)];
    float[] labels = new float[(int) (n * classes * plane)];
    int i = 0;
    for (var e : images.entrySet()) {
      Path imageFile = e.getValue();
      Path maskFile = masks.get(e.getKey());
      BufferedImage image = read(imageFile, maxPixels, null);
      BufferedImage mask = read(maskFile, maxPixels, "png");
      if (mask.getWidth() != image.getWidth() || mask.getHeight() != image.getHeight()) {
        throw new IOException(maskFile + ": a mask of " + mask.getWidth() + " x " + mask.getHeight()
            + " pixels for an image of " + image.getWidth() + " x " + image.getHeight() + " (" + imageFile
            + "); a mask has its image's size");
      }
      System.arraycopy(ImageFolder.pixels(image, (int) channels, (int) height, (int) width), 0, features, i * per, per);
      int[] map = classes(maskFile, mask, classes, ignore);
      int[] resized = nearest(map, mask.getWidth(), mask.getHeight(), (int) outWidth, (int) outHeight);
      for (int p = 0; p < plane; p++) {
        if (resized[p] != ignore) {
          labels[(i * classes + resized[p]) * plane + p] = 1f;
        }
      }
      i++;
    }
    List<String> names = new ArrayList<>();
    for (int c = 0; c < classes; c++) {
      names.add(Integer.toString(c));
    }
    return new LabeledData(Nd4j.create(features, new long[] {n, channels, height, width}, 'c'),
        Nd4j.create(labels, new long[] {n, classes, outHeight, outWidth}, 'c'), names, skipped);
  }

  /** {@code dir/name}, a folder and no link to one. */
  private static Path folder(Path dir, String name) throws IOException {
    Path p = dir.resolve(name);
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      throw new IOException(dir + " has no " + name + "/ folder (a segmentation dataset is images/ and masks/, "
          + "their files paired by name)");
    }
    if (a.isSymbolicLink()) {
      throw new IOException(p + " is a symbolic link (cnnc does not follow links in a dataset)");
    }
    if (!a.isDirectory()) {
      throw new IOException(p + " is not a folder");
    }
    return p;
  }

  /**
   * The files of a folder with one of {@code extensions} (any case), by base name; others are
   * skipped, subfolders ignored, a link or a second file of the same base name refused.
   */
  private static Map<String, Path> files(Path folder, Set<String> extensions, List<Path> skipped) throws IOException {
    List<Path> all;
    try (Stream<Path> s = Files.list(folder)) {
      all = s.sorted().toList();
    }
    Map<String, Path> out = new TreeMap<>();
    for (Path f : all) {
      BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
      if (a.isSymbolicLink()) {
        throw new IOException(f + " is a symbolic link (cnnc does not follow links in a dataset)");
      }
      if (a.isDirectory()) {
        continue;
      }
      String name = f.getFileName().toString();
      int dot = name.lastIndexOf('.');
      if (!a.isRegularFile() || dot <= 0 || !extensions.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT))) {
        skipped.add(f);
        continue;
      }
      if (out.size() >= ImageFolder.MAX_IMAGES) {
        throw new IOException(folder + " has more than " + ImageFolder.MAX_IMAGES + " files; the limit is "
            + ImageFolder.MAX_IMAGES + " images");
      }
      Path other = out.put(name.substring(0, dot), f);
      if (other != null) {
        throw new IOException(f + " and " + other + " have the same name: which is " + name.substring(0, dot) + "?");
      }
    }
    return out;
  }

  /** Decodes a file opened without following links; {@code format}: the only format allowed, or null. */
  private static BufferedImage read(Path f, long maxPixels, String format) throws IOException {
    BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    if (a.size() > MAX_FILE_BYTES) {
      throw new IOException(f + ": a file of " + a.size() + " bytes; the limit is " + MAX_FILE_BYTES);
    }
    try (InputStream raw = Channels.newInputStream(Files.newByteChannel(f, Set.of(StandardOpenOption.READ,
        LinkOption.NOFOLLOW_LINKS)));
        ImageInputStream in = new MemoryCacheImageInputStream(raw)) {
      ImageFolder.Decoded d = ImageFolder.decode(f.toString(), in, maxPixels);
      if (d == null) {
        throw new IOException(f + ": not an image (" + (format == null ? "PNG, JPEG, BMP, GIF" : format.toUpperCase(Locale.ROOT))
            + ")");
      }
      if (format != null && !d.format().equalsIgnoreCase(format)) {
        throw new IOException(f + ": a " + d.format() + " image; a mask is a " + format.toUpperCase(Locale.ROOT)
            + " (lossless, one channel)");
      }
      return d.image();
    } catch (java.nio.file.FileSystemException e) {
      // a link put in place after the folder was listed (open with NOFOLLOW_LINKS refuses it)
      throw new IOException(f + ": cannot be read (" + (e.getReason() != null ? e.getReason()
          : e.getClass().getSimpleName()) + ")", e);
    }
  }

  /**
   * A mask's class indices in row-major order: its one band's samples (grey values or palette
   * indices), each below {@code classes} or the ignore value.
   */
  static int[] classes(Path f, BufferedImage mask, int classes, long ignore) throws IOException {
    Raster r = mask.getRaster();
    if (r.getNumBands() != 1) {
      throw new IOException(f + ": a mask with " + r.getNumBands() + " channels; a mask has one (a grey or palette PNG "
          + "whose values are class indices)");
    }
    int w = mask.getWidth();
    int h = mask.getHeight();
    int[] out = r.getSamples(r.getMinX(), r.getMinY(), w, h, 0, new int[w * h]);
    for (int p = 0; p < out.length; p++) {
      int v = out[p];
      if (v != ignore && (v < 0 || v >= classes)) {
        throw new IOException(f + ": the pixel at column " + p % w + ", row " + p / w + " has class " + v
            + "; the model has " + classes + " class" + (classes == 1 ? "" : "es") + " (0 to " + (classes - 1)
            + ") and " + ignore + " marks a pixel to ignore");
      }
    }
    return out;
  }

  /** Nearest-neighbour resizing of a row-major {@code w x h} map to {@code outW x outH}, by pixel centres. */
  static int[] nearest(int[] map, int w, int h, int outW, int outH) {
    int[] out = new int[outW * outH];
    for (int y = 0; y < outH; y++) {
      int sy = (int) ((2L * y + 1) * h / (2L * outH));
      for (int x = 0; x < outW; x++) {
        int sx = (int) ((2L * x + 1) * w / (2L * outW));
        out[y * outW + x] = map[sy * w + sx];
      }
    }
    return out;
  }
}
