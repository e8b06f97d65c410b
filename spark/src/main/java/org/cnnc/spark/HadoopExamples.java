// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.cnnc.compiler.io.Escape;
import org.cnnc.runtime.data.Cifar10;
import org.cnnc.runtime.data.ImageFolder;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Examples on any file system Hadoop reads ({@code file://}, {@code hdfs://}, {@code s3a://}): an
 * image folder (one subfolder per class, as {@code cnnc train} reads) or CIFAR-10 .bin files. The
 * driver only lists them (a path, and a record's offset for CIFAR-10); the executors read and
 * decode their share with the same code as {@code cnnc train} ({@link ImageFolder#example},
 * {@link Cifar10#record}).
 */
public final class HadoopExamples implements Serializable {
  private static final long serialVersionUID = 1L;

  /** One example: a file, and the offset of its record in it (CIFAR-10) or -1 (an image of class {@code label}). */
  public record Ref(String path, long offset, int label) implements Serializable {}

  private final List<Ref> refs;
  private final List<String> classes;
  private final long[] input;

  private HadoopExamples(List<Ref> refs, List<String> classes, long[] input) {
    this.refs = List.copyOf(refs);
    this.classes = List.copyOf(classes);
    this.input = input.clone();
  }

  /**
   * Lists the examples at {@code uri} for a network taking {@code input} ([C, H, W]): CIFAR-10 when
   * the path is a .bin file or a folder holding .bin files (at most {@code limit} records, 0: all),
   * an image folder otherwise. Every problem is an IOException in plain words naming the path.
   */
  public static HadoopExamples list(String uri, Configuration conf, long[] input, int limit) throws IOException {
    Path root;
    FileSystem fs;
    try {
      root = new Path(URI.create(uri));
      fs = root.getFileSystem(conf);
    } catch (IllegalArgumentException e) {
      throw new IOException("not a URI Hadoop reads: " + Escape.terminal(uri) + " (" + e.getMessage() + ")");
    }
    if (!fs.exists(root)) {
      throw new IOException("no such file or folder: " + Escape.terminal(uri));
    }
    FileStatus[] top = fs.isDirectory(root) ? fs.listStatus(root) : new FileStatus[] {fs.getFileStatus(root)};
    Arrays.sort(top, (a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
    List<FileStatus> bins = Arrays.stream(top).filter(s -> s.isFile() && s.getPath().getName().endsWith(".bin")).toList();
    List<Ref> refs = new ArrayList<>();
    if (!bins.isEmpty()) {
      if (input[0] != 3 || input[1] != 32 || input[2] != 32) {
        throw new IOException("the data is [3, 32, 32] per example (CIFAR-10), the model takes " + Arrays.toString(input));
      }
      for (FileStatus f : bins) {
        if (f.getLen() == 0 || f.getLen() % Cifar10.RECORD != 0) {
          throw new IOException(Escape.terminal(f.getPath().toString()) + ": " + f.getLen()
              + " bytes is not a whole number of CIFAR-10 records of " + Cifar10.RECORD + " bytes");
        }
        for (long off = 0; off < f.getLen() && (limit <= 0 || refs.size() < limit); off += Cifar10.RECORD) {
          refs.add(new Ref(f.getPath().toString(), off, -1));
        }
      }
      return new HadoopExamples(refs, Cifar10.CLASSES, input);
    }
    List<FileStatus> dirs = Arrays.stream(top).filter(FileStatus::isDirectory).toList();
    if (dirs.isEmpty()) {
      throw new IOException(Escape.terminal(uri) + " has no class subfolders and no CIFAR-10 .bin files");
    }
    List<String> classes = new ArrayList<>();
    for (int c = 0; c < dirs.size(); c++) {
      classes.add(dirs.get(c).getPath().getName());
      FileStatus[] files = fs.listStatus(dirs.get(c).getPath());
      Arrays.sort(files, (a, b) -> a.getPath().getName().compareTo(b.getPath().getName()));
      for (FileStatus f : files) {
        if (f.isFile() && isImageName(f.getPath().getName())) {
          if (refs.size() >= ImageFolder.MAX_IMAGES) {
            throw new IOException(Escape.terminal(uri) + " has more than " + ImageFolder.MAX_IMAGES + " images");
          }
          refs.add(new Ref(f.getPath().toString(), -1, c));
        }
      }
    }
    if (refs.isEmpty()) {
      throw new IOException(Escape.terminal(uri) + " has no images (PNG, JPEG, BMP, GIF) in its class subfolders " + classes);
    }
    return new HadoopExamples(refs, classes, input);
  }

  /**
   * Whether a file's name has a suffix of an image ImageIO reads (png, jpg, jpeg, bmp, gif, ...):
   * the driver lists files without reading them, so it chooses by name where {@code cnnc train}
   * tries every file.
   */
  static boolean isImageName(String name) {
    int dot = name.lastIndexOf('.');
    String suffix = dot < 0 ? "" : name.substring(dot + 1).toLowerCase(java.util.Locale.ROOT);
    return Arrays.asList(javax.imageio.ImageIO.getReaderFileSuffixes()).contains(suffix);
  }

  /**
   * The examples cut into a training part and a held-out one, by the rule of {@code cnnc train
   * --val-split} ({@link org.cnnc.runtime.Trainer#splitRows}: a {@code fraction} chosen by a
   * shuffle seeded with {@code seed}), over the examples in the order they are listed.
   *
   * @throws IllegalArgumentException when one part would be empty
   */
  public HadoopExamples[] split(double fraction, long seed) {
    long[][] rows = org.cnnc.runtime.Trainer.splitRows(refs.size(), fraction, seed);
    return new HadoopExamples[] {pick(rows[0]), pick(rows[1])};
  }

  private HadoopExamples pick(long[] rows) {
    List<Ref> picked = new ArrayList<>(rows.length);
    for (long r : rows) {
      picked.add(refs.get((int) r));
    }
    return new HadoopExamples(picked, classes, input);
  }

  /** The examples, in the order they are listed. */
  public List<Ref> refs() {
    return refs;
  }

  public List<String> classes() {
    return classes;
  }

  public int size() {
    return refs.size();
  }

  /**
   * One epoch's data: the examples in an order shuffled by {@code seed}, cut into
   * {@code partitions}, read and decoded on the executors into DataSets of {@code batch} examples.
   * Files that are no image are skipped (as {@code cnnc train} skips them).
   */
  public JavaRDD<DataSet> batches(JavaSparkContext sc, int batch, long seed, int partitions) {
    List<Ref> order = new ArrayList<>(refs);
    Collections.shuffle(order, new Random(seed));
    int classCount = classes.size();
    long[] in = input.clone();
    return sc.parallelize(order, Math.max(1, Math.min(partitions, order.size())))
        .mapPartitions(it -> read(it, batch, classCount, in).iterator());
  }

  /** Reads a partition's examples into batches (on an executor). */
  static List<DataSet> read(Iterator<Ref> it, int batch, int classCount, long[] in) throws IOException {
    int c = (int) in[0];
    int h = (int) in[1];
    int w = (int) in[2];
    int per = c * h * w;
    Configuration conf = new Configuration();
    Map<String, FileSystem> systems = new HashMap<>();
    List<DataSet> out = new ArrayList<>();
    List<float[]> pixels = new ArrayList<>();
    List<Integer> labels = new ArrayList<>();
    byte[] record = new byte[Cifar10.RECORD];
    while (it.hasNext()) {
      Ref r = it.next();
      Path p = new Path(URI.create(r.path()));
      FileSystem fs = systems.computeIfAbsent(p.toUri().getScheme() + "://" + p.toUri().getAuthority(), k -> {
        try {
          return p.getFileSystem(conf);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
      if (r.offset() >= 0) {
        try (FSDataInputStream s = fs.open(p)) {
          s.readFully(r.offset(), record);
        }
        float[] x = new float[per];
        labels.add(Cifar10.record(record, 0, x, 0, r.path()));
        pixels.add(x);
      } else {
        long len = fs.getFileStatus(p).getLen();
        if (len > Integer.MAX_VALUE - 8) {
          throw new IOException(r.path() + ": a file of " + len + " bytes is too large for an image");
        }
        byte[] bytes = new byte[(int) len];
        try (FSDataInputStream s = fs.open(p)) {
          s.readFully(0, bytes);
        }
        float[] x = ImageFolder.example(bytes, r.path(), c, h, w, ImageFolder.MAX_PIXELS);
        if (x == null) {
          continue;
        }
        pixels.add(x);
        labels.add(r.label());
      }
      if (pixels.size() == batch) {
        out.add(dataSet(pixels, labels, classCount, in));
      }
    }
    if (!pixels.isEmpty()) {
      out.add(dataSet(pixels, labels, classCount, in));
    }
    return out;
  }

  private static DataSet dataSet(List<float[]> pixels, List<Integer> labels, int classCount, long[] in) {
    int n = pixels.size();
    int per = pixels.get(0).length;
    float[] all = new float[n * per];
    INDArray y = Nd4j.zeros(DataType.FLOAT, n, classCount);
    for (int i = 0; i < n; i++) {
      System.arraycopy(pixels.get(i), 0, all, i * per, per);
      y.putScalar(i, labels.get(i), 1f);
    }
    pixels.clear();
    labels.clear();
    return new DataSet(Nd4j.create(all, new long[] {n, in[0], in[1], in[2]}, 'c'), y);
  }
}
