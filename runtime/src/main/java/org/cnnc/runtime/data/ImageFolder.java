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
import javax.imageio.ImageIO;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * An image folder: one subfolder per class (named by it, in name order), images inside (PNG, JPEG,
 * BMP, GIF). Each image is resized to the network's H x W, as RGB (or gray when C = 1), in [0, 1].
 */
public final class ImageFolder {
  private ImageFolder() {}

  public static LabeledData load(Path dir, long channels, long height, long width) throws IOException {
    List<Path> classDirs;
    try (Stream<Path> s = Files.list(dir)) {
      classDirs = s.filter(Files::isDirectory).sorted().toList();
    }
    if (classDirs.isEmpty()) {
      throw new IOException(dir + " has no class subfolders");
    }
    List<float[]> images = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    for (int c = 0; c < classDirs.size(); c++) {
      List<Path> files;
      try (Stream<Path> s = Files.list(classDirs.get(c))) {
        files = s.filter(Files::isRegularFile).sorted().toList();
      }
      for (Path f : files) {
        BufferedImage img = ImageIO.read(f.toFile());
        if (img == null) {
          continue;
        }
        images.add(pixels(img, (int) channels, (int) height, (int) width));
        labels.add(c);
      }
    }
    if (images.isEmpty()) {
      throw new IOException(dir + " has no readable images");
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
        classDirs.stream().map(p -> p.getFileName().toString()).toList());
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
