// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.io;

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
import java.util.regex.Pattern;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

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
    /** A float32 array of that shape, its values in C order. */
    public static Array of(long[] shape, float[] data) {
      return new Array("<f4", shape.clone(), false, data);
    }
  }

  /** The most bytes of array data (and headers) one read takes by default: 2 GiB. */
  public static final long MAX_BYTES = 2L << 30;
  /** The longest {@code .npy} header accepted: 64 KiB (NumPy writes well under 1 KiB). */
  public static final int MAX_HEADER = 1 << 16;
  /** The most entries an archive may have. */
  public static final int MAX_ENTRIES = 100_000;

  /**
   * A malformed or over-limit file: the message names the file and, in an archive, the entry.
   * {@link #problem} is the same without the file's name.
   */
  public static final class NpzException extends IOException {
    private static final long serialVersionUID = 1L;
    private final String problem;

    NpzException(String file, String problem) {
      super(file + ": " + problem);
      this.problem = problem;
    }

    public String problem() {
      return problem;
    }
  }

  /** Reads every array of an archive, by name (without {@code .npy}), within {@link #MAX_BYTES}. */
  public static Map<String, Array> read(Path file) throws IOException {
    return read(file, null, MAX_BYTES);
  }

  /**
   * Reads an archive. With {@code expected} (tensor name to shape), only the data of float32
   * entries whose header has the expected shape is read; every other entry is returned with its
   * header's dtype and shape and null data. No more than {@code maxBytes} are decompressed in all:
   * each entry's size is computed from its header and checked against the archive's declared size
   * and the limit before any of its data is read, and reading stops at that size whatever the
   * archive says.
   */
  public static Map<String, Array> read(Path file, Map<String, long[]> expected, long maxBytes) throws IOException {
    String where = Escape.terminal(file.toString());
    Map<String, Array> out = new LinkedHashMap<>();
    long[] budget = {maxBytes};
    regularFile(file, where);
    try (ZipFile zip = new ZipFile(file.toFile())) {
      if (zip.size() > MAX_ENTRIES) {
        throw new NpzException(where, zip.size() + " entries; the limit is " + MAX_ENTRIES);
      }
      List<? extends ZipEntry> entries = Collections.list(zip.entries());
      for (ZipEntry e : entries) {
        String entry = "entry '" + Escape.terminal(e.getName()) + "'";
        if (e.isDirectory()) {
          throw new NpzException(where, entry + " is a directory, not an array");
        }
        String name = e.getName().endsWith(".npy") ? e.getName().substring(0, e.getName().length() - 4) : e.getName();
        if (out.containsKey(name)) {
          throw new NpzException(where, entry + " appears twice");
        }
        try (InputStream in = zip.getInputStream(e)) {
          out.put(name, readNpy(in, e.getSize(), where, entry, expected == null ? null : expected.get(name),
              expected != null, budget));
        } catch (ZipException | java.io.EOFException ex) {
          throw new NpzException(where, entry + ": corrupt or truncated (" + Escape.terminal(String.valueOf(ex.getMessage())) + ")");
        }
      }
    } catch (ZipException e) {
      throw new NpzException(where, "not a valid .npz archive (truncated or corrupt): " + Escape.terminal(String.valueOf(e.getMessage())));
    }
    return out;
  }

  /** A state dict that does not fit a network: the file's name (escaped) and every problem found, one per line. */
  public static final class StateDictException extends Exception {
    private static final long serialVersionUID = 1L;
    private final String file;
    private final List<String> problems;

    StateDictException(String file, List<String> problems) {
      super(file + ": " + String.join("; ", problems));
      this.file = file;
      this.problems = List.copyOf(problems);
    }

    public String file() {
      return file;
    }

    public List<String> problems() {
      return problems;
    }
  }

  /**
   * Reads a {@code .npz} state dict for a network whose tensors are {@code expected} (path to
   * shape, in the network's order), renaming the file's keys first ({@code file key -> path}) for
   * specs that do not mirror their PyTorch module tree. Only the expected tensors' data is read,
   * within their size. Every problem (a missing, extra or mis-shaped tensor, a dtype other than
   * float32, an unreadable file) is reported together; {@code num_batches_tracked} is ignored.
   *
   * @return every expected tensor, by path, in {@code expected}'s order
   */
  public static Map<String, Array> readStateDict(Path npz, Map<String, long[]> expected, Map<String, String> rename)
      throws StateDictException {
    String where = Escape.terminal(npz.toString());
    Map<String, String> fileKeyOf = new LinkedHashMap<>();
    rename.forEach((k, v) -> fileKeyOf.put(v, k));
    Map<String, long[]> byFileKey = new LinkedHashMap<>();
    long bytes = 0;
    for (var e : expected.entrySet()) {
      byFileKey.put(fileKeyOf.getOrDefault(e.getKey(), e.getKey()), e.getValue());
      long n = 1;
      for (long d : e.getValue()) {
        n = Math.multiplyExact(n, d);
      }
      bytes = Math.addExact(bytes, Math.multiplyExact(n, 4));
    }
    Map<String, Array> arrays;
    try {
      arrays = read(npz, byFileKey, bytes + (long) (expected.size() + 16) * MAX_HEADER);
    } catch (NpzException e) {
      throw new StateDictException(where, List.of(e.problem()));
    } catch (IOException e) {
      throw new StateDictException(where, List.of(Escape.terminal(String.valueOf(e.getMessage()))));
    }
    Map<String, Array> byPath = new LinkedHashMap<>();
    arrays.forEach((k, v) -> byPath.put(rename.getOrDefault(k, k), v));
    List<String> problems = new ArrayList<>();
    Map<String, Array> values = new LinkedHashMap<>();
    for (var e : expected.entrySet()) {
      String path = e.getKey();
      Array a = byPath.get(path);
      if (a == null) {
        problems.add("missing tensor " + path + " " + java.util.Arrays.toString(e.getValue()));
      } else if (!java.util.Arrays.equals(a.shape(), e.getValue())) {
        problems.add("tensor " + path + " has shape " + java.util.Arrays.toString(a.shape()) + ", expected "
            + java.util.Arrays.toString(e.getValue()));
      } else if (a.data() == null) {
        problems.add("tensor " + path + " has dtype " + Escape.terminal(a.dtype()) + " (" + dtypeName(a.dtype())
            + "); expected float32 ('<f4'): save it with tensor.float()");
      } else {
        values.put(path, a);
      }
    }
    for (String k : byPath.keySet()) {
      if (!expected.containsKey(k) && !k.endsWith("num_batches_tracked")) {
        problems.add("unexpected tensor " + Escape.terminal(k) + " " + java.util.Arrays.toString(byPath.get(k).shape())
            + ": the network has no such parameter");
      }
    }
    if (!problems.isEmpty()) {
      throw new StateDictException(where, problems);
    }
    return values;
  }

  private static String dtypeName(String d) {
    return switch (d.length() < 2 ? d : d.substring(1)) {
      case "f8" -> "float64";
      case "f2" -> "float16";
      case "i8" -> "int64";
      case "i4" -> "int32";
      default -> d;
    };
  }

  /** Reads one {@code .npy} file, within {@link #MAX_BYTES}. */
  public static Array readNpy(Path file) throws IOException {
    return readNpy(file, MAX_BYTES);
  }

  /** Reads one {@code .npy} file of at most {@code maxBytes} of data. */
  public static Array readNpy(Path file, long maxBytes) throws IOException {
    String where = Escape.terminal(file.toString());
    regularFile(file, where);
    try (InputStream in = Files.newInputStream(file)) {
      return readNpy(in, Files.size(file), where, "the array", null, false, new long[] {maxBytes});
    }
  }

  /** Refuses what is not a regular file by name (a directory, a device, a FIFO that would block). */
  private static void regularFile(Path file, String where) throws NpzException {
    if (!Files.exists(file)) {
      throw new NpzException(where, "no such file");
    }
    if (!Files.isRegularFile(file)) {
      throw new NpzException(where, Files.isDirectory(file) ? "is a directory, not a file" : "is not a regular file");
    }
    if (!Files.isReadable(file)) {
      throw new NpzException(where, "not readable (permission denied)");
    }
  }

  /**
   * One {@code .npy} stream: its header is parsed strictly and the data's size computed from it,
   * then checked against the declared size (-1: unknown), the expected shape and what is left of
   * the budget, all before the data is read; no more than the data's size (plus one byte, to find
   * trailing garbage) is ever read.
   */
  public static Array readNpy(InputStream in, long declared, String where, String entry, long[] expectedShape,
      boolean onlyExpected, long[] budget) throws IOException {
    byte[] pre = in.readNBytes(12);
    if (pre.length < 10 || pre[0] != (byte) 0x93 || !new String(pre, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
      throw new NpzException(where, entry + ": not a .npy array (bad magic)");
    }
    int major = pre[6];
    long headerLen;
    int offset;
    ByteBuffer bb = ByteBuffer.wrap(pre).order(ByteOrder.LITTLE_ENDIAN);
    if (major == 1) {
      headerLen = Short.toUnsignedInt(bb.getShort(8));
      offset = 10;
    } else if (major == 2 || major == 3) {
      if (pre.length < 12) {
        throw new NpzException(where, entry + ": truncated header");
      }
      headerLen = Integer.toUnsignedLong(bb.getInt(8));
      offset = 12;
    } else {
      throw new NpzException(where, entry + ": .npy format version " + (major & 0xff) + " (known: 1, 2, 3)");
    }
    if (headerLen > MAX_HEADER) {
      throw new NpzException(where, entry + ": a header of " + headerLen + " bytes; the limit is " + MAX_HEADER);
    }
    if (offset + headerLen > budget[0]) {
      throw new NpzException(where, entry + ": its header of " + headerLen + " bytes is past the limit of the read ("
          + Math.max(0, budget[0]) + " bytes left)");
    }
    byte[] headerBytes = new byte[(int) headerLen];
    int have = pre.length - offset;
    System.arraycopy(pre, offset, headerBytes, 0, Math.min(have, headerBytes.length));
    int got = Math.min(have, headerBytes.length);
    got += in.readNBytes(headerBytes, got, headerBytes.length - got);
    if (got < headerBytes.length) {
      throw new NpzException(where, entry + ": truncated header");
    }
    byte[] leftover = have > headerBytes.length ? java.util.Arrays.copyOfRange(pre, offset + headerBytes.length, pre.length)
        : new byte[0];
    budget[0] -= offset + headerLen;
    Header h = Header.parse(new String(headerBytes, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1),
        where, entry);
    boolean float32 = h.dtype().equals("<f4") || h.dtype().equals("|f4");
    if (!float32 || (onlyExpected && (expectedShape == null || !java.util.Arrays.equals(expectedShape, h.shape())))) {
      return new Array(h.dtype(), h.shape(), h.fortran(), null);
    }
    long n = h.elements();
    if (n > Integer.MAX_VALUE - 8) {
      throw new NpzException(where, entry + ": shape " + java.util.Arrays.toString(h.shape()) + " has " + n
          + " elements; the limit is " + (Integer.MAX_VALUE - 8));
    }
    long need = n * 4;
    if (need > budget[0]) {
      throw new NpzException(where, entry + ": shape " + java.util.Arrays.toString(h.shape()) + " needs " + need
          + " bytes, past the limit of the read (" + Math.max(0, budget[0]) + " bytes left)");
    }
    if (declared >= 0 && declared != offset + headerLen + need) {
      throw new NpzException(where, entry + ": " + declared + " bytes, but its header (shape "
          + java.util.Arrays.toString(h.shape()) + ") needs " + (offset + headerLen + need) + " (truncated?)");
    }
    budget[0] -= need;
    float[] values = new float[(int) n];
    InputStream data = leftover.length == 0 ? in : new java.io.SequenceInputStream(new java.io.ByteArrayInputStream(leftover), in);
    byte[] chunk = new byte[1 << 16];
    ByteBuffer cb = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
    long read = 0;
    int pending = 0;
    int filled = 0;
    while (read < need) {
      int r = data.read(chunk, pending, (int) Math.min(chunk.length - pending, need - read));
      if (r < 0) {
        throw new NpzException(where, entry + ": truncated: " + read + " bytes of data, its shape "
            + java.util.Arrays.toString(h.shape()) + " needs " + need);
      }
      read += r;
      int avail = pending + r;
      int whole = avail / 4;
      cb.position(0).limit(whole * 4);
      cb.asFloatBuffer().get(values, filled, whole);
      filled += whole;
      pending = avail - whole * 4;
      System.arraycopy(chunk, whole * 4, chunk, 0, pending);
    }
    if (data.read() != -1) {
      throw new NpzException(where, entry + ": data past the " + need + " bytes its shape "
          + java.util.Arrays.toString(h.shape()) + " needs");
    }
    if (h.fortran() && h.shape().length > 1) {
      values = fortranToC(values, h.shape());
    }
    return new Array(h.dtype(), h.shape(), h.fortran(), values);
  }

  /** A {@code .npy} header, parsed as the Python dict literal NumPy writes, and nothing else. */
  record Header(String dtype, boolean fortran, long[] shape) {
    private static final Pattern DTYPE = Pattern.compile("[<>|=][a-zA-Z][0-9]{0,3}");

    long elements() {
      long n = 1;
      for (long d : shape) {
        n = Math.multiplyExact(n, d);
      }
      return n;
    }

    static Header parse(String text, String where, String entry) throws NpzException {
      P p = new P(text, where, entry);
      String dtype = null;
      Boolean fortran = null;
      long[] shape = null;
      p.skip();
      p.expect('{');
      while (true) {
        p.skip();
        if (p.peek() == '}') {
          break;
        }
        String key = p.string();
        p.skip();
        p.expect(':');
        p.skip();
        switch (key) {
          case "descr" -> {
            if (dtype != null) {
              throw p.fail("descr twice");
            }
            dtype = p.string();
            if (!DTYPE.matcher(dtype).matches()) {
              throw p.fail("descr '" + Escape.terminal(dtype) + "' is not a dtype");
            }
          }
          case "fortran_order" -> {
            if (fortran != null) {
              throw p.fail("fortran_order twice");
            }
            fortran = p.bool();
          }
          case "shape" -> {
            if (shape != null) {
              throw p.fail("shape twice");
            }
            shape = p.shape();
          }
          default -> throw p.fail("unknown key '" + Escape.terminal(key) + "'");
        }
        p.skip();
        if (p.peek() == ',') {
          p.pos++;
          continue;
        }
        if (p.peek() != '}') {
          throw p.fail("expected ',' or '}'");
        }
      }
      p.expect('}');
      p.skip();
      if (p.pos != text.length()) {
        throw p.fail("text after the header's dict");
      }
      if (dtype == null || fortran == null || shape == null) {
        throw p.fail("the header lacks " + (dtype == null ? "descr" : fortran == null ? "fortran_order" : "shape"));
      }
      Header h = new Header(dtype, fortran, shape);
      try {
        h.elements();
      } catch (ArithmeticException e) {
        throw p.fail("shape " + java.util.Arrays.toString(shape) + " has more elements than a long holds");
      }
      return h;
    }

    private static final class P {
      final String s;
      final String where;
      final String entry;
      int pos;

      P(String s, String where, String entry) {
        this.s = s;
        this.where = where;
        this.entry = entry;
      }

      NpzException fail(String why) {
        return new NpzException(where, entry + ": malformed .npy header (" + why + ")");
      }

      char peek() {
        return pos < s.length() ? s.charAt(pos) : '\0';
      }

      void skip() {
        while (pos < s.length() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\n' || s.charAt(pos) == '\t'
            || s.charAt(pos) == '\r')) {
          pos++;
        }
      }

      void expect(char c) throws NpzException {
        if (peek() != c) {
          throw fail("expected '" + c + "' at character " + pos);
        }
        pos++;
      }

      String string() throws NpzException {
        char q = peek();
        if (q != '\'' && q != '"') {
          throw fail("expected a quoted string at character " + pos);
        }
        int end = s.indexOf(q, pos + 1);
        if (end < 0 || end - pos > 64) {
          throw fail("unterminated or over-long string at character " + pos);
        }
        String v = s.substring(pos + 1, end);
        pos = end + 1;
        return v;
      }

      boolean bool() throws NpzException {
        if (s.startsWith("True", pos)) {
          pos += 4;
          return true;
        }
        if (s.startsWith("False", pos)) {
          pos += 5;
          return false;
        }
        throw fail("fortran_order is neither True nor False");
      }

      long[] shape() throws NpzException {
        expect('(');
        List<Long> dims = new ArrayList<>();
        boolean comma = true;
        while (true) {
          skip();
          if (peek() == ')') {
            break;
          }
          if (!comma) {
            throw fail("expected ',' or ')' in the shape at character " + pos);
          }
          int start = pos;
          while (pos < s.length() && Character.isDigit(s.charAt(pos)) && s.charAt(pos) < 128) {
            pos++;
          }
          if (pos == start || pos - start > 18) {
            throw fail("a dimension of the shape is not a non-negative integer (character " + start + ")");
          }
          dims.add(Long.parseLong(s.substring(start, pos)));
          if (peek() == 'L') {
            pos++;
          }
          skip();
          comma = peek() == ',';
          if (comma) {
            pos++;
          }
        }
        pos++;
        if (dims.size() == 1 && !comma) {
          throw fail("a shape of one dimension is written (n,)");
        }
        if (dims.size() > 32) {
          throw fail(dims.size() + " dimensions; NumPy allows 32 at most");
        }
        return dims.stream().mapToLong(Long::longValue).toArray();
      }
    }
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
  public static byte[] npyBytes(long[] shape, float[] values) {
    StringBuilder dims = new StringBuilder();
    for (long d : shape) {
      dims.append(d).append(", ");
    }
    String shapeText = shape.length == 1 ? "(" + shape[0] + ",)" : "(" + (dims.length() > 0 ? dims.substring(0, dims.length() - 2) : "") + ")";
    String header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shapeText + ", }";
    int total = 10 + header.length() + 1;
    int padded = (total + 63) / 64 * 64;
    header = header + " ".repeat(padded - total) + "\n";
    ByteBuffer bb = ByteBuffer.allocate(10 + header.length() + values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bb.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
    bb.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
    bb.asFloatBuffer().put(values);
    return bb.array();
  }

  /** Writes an uncompressed archive of {@code .npy} files given as bytes, as {@code numpy.savez} does; entries in the map's order; atomically. */
  public static void writeEntries(Path file, Map<String, byte[]> npyFiles) throws IOException {
    SafeFiles.write(file, os -> {
      ZipOutputStream zip = new ZipOutputStream(os);
      for (var e : npyFiles.entrySet()) {
        stored(zip, e.getKey() + ".npy", e.getValue());
      }
      zip.finish(); // not close(): SafeFiles closes the file after forcing it to disk
    });
  }

  /** Writes an uncompressed archive of float32 arrays; entries in the map's order; atomically. */
  public static void write(Path file, Map<String, Array> arrays) throws IOException {
    Map<String, byte[]> bytes = new LinkedHashMap<>();
    arrays.forEach((k, v) -> bytes.put(k, npyBytes(v.shape(), v.data())));
    writeEntries(file, bytes);
  }

  /** One uncompressed entry, dated 0 (so equal contents give equal files), as numpy.savez writes them. */
  public static void stored(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
    ZipEntry entry = new ZipEntry(name);
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
}
