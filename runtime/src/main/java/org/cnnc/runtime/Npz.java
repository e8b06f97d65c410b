package org.cnnc.runtime;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.cnnc.compiler.io.SafeFiles;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * NumPy's {@code .npy} and {@code .npz} formats, read and written here rather than by ND4J, whose
 * reader misreads Fortran-order arrays without an error and cannot open compressed archives. Both
 * C and Fortran order are read correctly; stored and deflated ({@code savez_compressed}) archives
 * are both read. Only little-endian float32 is accepted: anything else is refused by name.
 */
public final class Npz {
  private Npz() {}

  /** An array as read: its dtype and shape from the header, and its values in C order. */
  public record Array(String dtype, long[] shape, boolean fortranOrder, float[] data) {
    public INDArray toNd4j() {
      return Nd4j.create(data, shape.length == 0 ? new long[0] : shape, 'c');
    }
  }

  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  /** Reads every array of an archive, by name (without {@code .npy}). */
  public static Map<String, Array> read(Path file) throws IOException {
    Map<String, Array> out = new LinkedHashMap<>();
    try (ZipFile zip = new ZipFile(file.toFile())) {
      List<? extends ZipEntry> entries = Collections.list(zip.entries());
      for (ZipEntry e : entries) {
        String name = e.getName().endsWith(".npy") ? e.getName().substring(0, e.getName().length() - 4) : e.getName();
        try (InputStream in = zip.getInputStream(e)) {
          out.put(name, readNpy(in.readAllBytes(), name));
        } catch (ZipException | java.io.EOFException ex) {
          throw new IOException("tensor " + name + ": the archive entry is corrupt or truncated (" + ex.getMessage() + ")");
        }
      }
    } catch (ZipException e) {
      throw new IOException("not a valid .npz archive (truncated or corrupt): " + e.getMessage());
    }
    return out;
  }

  /** Reads one {@code .npy} file. */
  public static Array readNpy(Path file) throws IOException {
    return readNpy(Files.readAllBytes(file), file.getFileName().toString());
  }

  static Array readNpy(byte[] bytes, String name) throws IOException {
    if (bytes.length < 10 || bytes[0] != (byte) 0x93 || !new String(bytes, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
      throw new IOException("tensor " + name + ": not a .npy array (bad magic)");
    }
    int major = bytes[6];
    int headerLen;
    int offset;
    ByteBuffer bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (major == 1) {
      headerLen = Short.toUnsignedInt(bb.getShort(8));
      offset = 10;
    } else {
      headerLen = bb.getInt(8);
      offset = 12;
    }
    if (offset + headerLen > bytes.length) {
      throw new IOException("tensor " + name + ": truncated header");
    }
    String header = new String(bytes, offset, headerLen, StandardCharsets.ISO_8859_1);
    String dtype = group(DESCR, header, name, "descr");
    boolean fortran = group(FORTRAN, header, name, "fortran_order").equals("True");
    String dims = group(SHAPE, header, name, "shape").trim();
    List<Long> shapeList = new ArrayList<>();
    for (String d : dims.split(",")) {
      if (!d.isBlank()) {
        shapeList.add(Long.parseLong(d.trim()));
      }
    }
    long[] shape = shapeList.stream().mapToLong(Long::longValue).toArray();
    if (!dtype.equals("<f4") && !dtype.equals("|f4")) {
      return new Array(dtype, shape, fortran, null);
    }
    long n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, d);
    }
    int data = offset + headerLen;
    if ((long) bytes.length - data != n * 4) {
      throw new IOException("tensor " + name + ": expected " + n * 4 + " bytes of data for shape "
          + java.util.Arrays.toString(shape) + ", found " + (bytes.length - data) + " (truncated?)");
    }
    float[] values = new float[(int) n];
    bb.position(data);
    bb.asFloatBuffer().get(values);
    if (fortran && shape.length > 1) {
      values = fortranToC(values, shape);
    }
    return new Array(dtype, shape, fortran, values);
  }

  private static String group(Pattern p, String header, String name, String key) throws IOException {
    Matcher m = p.matcher(header);
    if (!m.find()) {
      throw new IOException("tensor " + name + ": the .npy header has no " + key);
    }
    return m.group(1);
  }

  /** Reorders column-major values into row-major. */
  static float[] fortranToC(float[] f, long[] shape) {
    int rank = shape.length;
    float[] c = new float[f.length];
    long[] fStride = new long[rank];
    long s = 1;
    for (int i = 0; i < rank; i++) {
      fStride[i] = s;
      s *= shape[i];
    }
    long[] idx = new long[rank];
    for (int ci = 0; ci < c.length; ci++) {
      long fi = 0;
      for (int i = 0; i < rank; i++) {
        fi += idx[i] * fStride[i];
      }
      c[ci] = f[(int) fi];
      for (int i = rank - 1; i >= 0; i--) {
        if (++idx[i] < shape[i]) {
          break;
        }
        idx[i] = 0;
      }
    }
    return c;
  }

  /** The bytes of a {@code .npy} file: little-endian float32, C order. */
  public static byte[] npyBytes(INDArray array) {
    INDArray a = array.castTo(DataType.FLOAT).dup('c');
    long[] shape = a.shape();
    StringBuilder dims = new StringBuilder();
    for (long d : shape) {
      dims.append(d).append(", ");
    }
    String shapeText = shape.length == 1 ? "(" + shape[0] + ",)" : "(" + (dims.length() > 0 ? dims.substring(0, dims.length() - 2) : "") + ")";
    String header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeText + ", }";
    int total = 10 + header.length() + 1;
    int padded = (total + 63) / 64 * 64;
    header = header + " ".repeat(padded - total) + "\n";
    float[] values = a.data().asFloat();
    ByteBuffer bb = ByteBuffer.allocate(10 + header.length() + values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bb.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
    bb.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
    bb.asFloatBuffer().put(values);
    return bb.array();
  }

  public static void writeNpy(Path file, INDArray array) throws IOException {
    SafeFiles.write(file, npyBytes(array));
  }

  /** Writes an uncompressed archive, as {@code numpy.savez} does; entries in the map's order. */
  public static void write(Path file, Map<String, INDArray> arrays) throws IOException {
    SafeFiles.write(file, os -> {
      ZipOutputStream zip = new ZipOutputStream(os);
      for (var e : arrays.entrySet()) {
        byte[] bytes = npyBytes(e.getValue());
        ZipEntry entry = new ZipEntry(e.getKey() + ".npy");
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(bytes.length);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        entry.setCrc(crc.getValue());
        entry.setTime(0);
        zip.putNextEntry(entry);
        zip.write(bytes);
        zip.closeEntry();
      }
      zip.finish(); // not close(): SafeFiles closes the file after forcing it to disk
    });
  }

}
