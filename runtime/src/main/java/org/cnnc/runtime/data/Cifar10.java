// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The CIFAR-10 binary format: records of one label byte then 3,072 pixel bytes (1,024 red, 1,024
 * green, 1,024 blue, row-major 32 x 32), as in {@code data_batch_1.bin}. Reads a file, or every
 * {@code .bin} file of a directory in name order.
 */
public final class Cifar10 {
  public static final List<String> CLASSES = List.of(
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck");
  /** The bytes of one record: a label byte and 3,072 pixel bytes. */
  public static final int RECORD = 1 + 3 * 32 * 32;
  /** The most records read at once (the pixels of all of them must fit one float array). */
  public static final int MAX_RECORDS = (Integer.MAX_VALUE - 8) / 3072;

  private Cifar10() {}

  /** Reads at most {@code limit} examples (0: all). */
  public static LabeledData load(Path fileOrDir, int limit) throws IOException {
    List<Path> files = new ArrayList<>();
    if (Files.isDirectory(fileOrDir)) {
      try (Stream<Path> s = Files.list(fileOrDir)) {
        s.filter(p -> p.toString().endsWith(".bin")).sorted().forEach(files::add);
      }
    } else {
      files.add(fileOrDir);
    }
    if (files.isEmpty()) {
      throw new IOException("no .bin files in " + fileOrDir);
    }
    // sizes checked before anything is read: whole records, and all of them within memory's limit
    long total = 0;
    for (Path f : files) {
      if (!Files.isRegularFile(f)) {
        throw new IOException(Files.exists(f) ? f + " is not a regular file" : "no such file: " + f);
      }
      long size = Files.size(f);
      if (size == 0 || size % RECORD != 0) {
        throw new IOException(f + ": " + size + " bytes is not a whole number of CIFAR-10 records of " + RECORD
            + " bytes (a label byte and 3,072 pixels)");
      }
      total += size / RECORD;
    }
    long wanted = limit > 0 ? Math.min(limit, total) : total;
    if (wanted > MAX_RECORDS) {
      throw new IOException(fileOrDir + ": " + wanted + " records; at most " + MAX_RECORDS + " fit in memory at once (use --limit)");
    }
    List<byte[]> records = new ArrayList<>();
    List<Path> origin = new ArrayList<>();
    for (Path f : files) {
      if (records.size() >= wanted) {
        break;
      }
      byte[] bytes = Files.readAllBytes(f);
      if (bytes.length % RECORD != 0) {
        throw new IOException(f + ": changed while being read");
      }
      for (int off = 0; off < bytes.length && records.size() < wanted; off += RECORD) {
        records.add(java.util.Arrays.copyOfRange(bytes, off, off + RECORD));
        origin.add(f);
      }
    }
    int n = records.size();
    float[] pixels = new float[n * 3072];
    INDArray labels = Nd4j.zeros(DataType.FLOAT, n, 10);
    for (int i = 0; i < n; i++) {
      labels.putScalar(i, record(records.get(i), 0, pixels, i * 3072, origin.get(i).toString()), 1f);
    }
    return new LabeledData(Nd4j.create(pixels, new long[] {n, 3, 32, 32}, 'c'), labels, CLASSES);
  }

  /**
   * Decodes the record at {@code bytes[offset]}: its 3,072 pixels in [0, 1] into
   * {@code pixels[to...]}; returns its label, checked to be a CIFAR-10 class (an IOException naming
   * {@code where} otherwise). The Spark trainer reads records with it too.
   */
  public static int record(byte[] bytes, int offset, float[] pixels, int to, String where) throws IOException {
    int label = bytes[offset] & 0xff;
    if (label > 9) {
      throw new IOException(where + ": a record has label " + label + "; CIFAR-10 labels are 0 to 9");
    }
    for (int j = 0; j < 3072; j++) {
      pixels[to + j] = (bytes[offset + 1 + j] & 0xff) / 255f;
    }
    return label;
  }
}
