// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.io.SafeFiles;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** ND4J's side of {@link Npz}: arrays read become {@link INDArray}s, and {@link INDArray}s are written as float32. */
public final class NdNpz {
  private NdNpz() {}

  /** The array as an ND4J array, C order. */
  public static INDArray toNd4j(Npz.Array a) {
    return Nd4j.create(a.data(), a.shape().length == 0 ? new long[0] : a.shape(), 'c');
  }

  /** The bytes of a {@code .npy} file: little-endian float32, C order. */
  public static byte[] npyBytes(INDArray array) {
    INDArray a = array.castTo(DataType.FLOAT).dup('c');
    return Npz.npyBytes(a.shape(), a.data().asFloat());
  }

  /** Writes one {@code .npy} file atomically ({@link SafeFiles}). */
  public static void writeNpy(Path file, INDArray array) throws IOException {
    SafeFiles.write(file, npyBytes(array));
  }

  /** Writes an uncompressed archive, as {@code numpy.savez} does; entries in the map's order; atomically. */
  public static void write(Path file, Map<String, INDArray> arrays) throws IOException {
    Map<String, byte[]> bytes = new LinkedHashMap<>();
    arrays.forEach((k, v) -> bytes.put(k, npyBytes(v)));
    Npz.writeEntries(file, bytes);
  }
}
