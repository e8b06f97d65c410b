// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile {@code .npy} and {@code .npz} files: each is refused with an {@link IOException} naming
 * the file and the entry, before its data is read, and nothing else is ever thrown.
 */
class NpzLimitsTest {
  @TempDir Path dir;

  /** A .npy file's bytes: version 1 with the given header text, then the data. */
  static byte[] npy(String header, byte[] data) {
    return npy(1, header, data);
  }

  static byte[] npy(int version, String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
    int pre = version == 1 ? 10 : 12;
    ByteBuffer b = ByteBuffer.allocate(pre + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) version).put((byte) 0);
    if (version == 1) {
      b.putShort((short) h.length);
    } else {
      b.putInt(h.length);
    }
    return b.put(h).put(data).array();
  }

  static String header(String descr, String shape) {
    return "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }        \n";
  }

  /** A zip of one entry whose deflated data and declared sizes are given as they are, true or not. */
  static byte[] zip(String name, byte[] deflated, long declaredSize, long crc) {
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(30 + n.length + deflated.length + 46 + n.length + 22).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(0x04034b50).putShort((short) 20).putShort((short) 0).putShort((short) 8).putInt(0).putInt((int) crc)
        .putInt(deflated.length).putInt((int) declaredSize).putShort((short) n.length).putShort((short) 0).put(n)
        .put(deflated);
    int cd = b.position();
    b.putInt(0x02014b50).putShort((short) 20).putShort((short) 20).putShort((short) 0).putShort((short) 8).putInt(0)
        .putInt((int) crc).putInt(deflated.length).putInt((int) declaredSize).putShort((short) n.length)
        .putShort((short) 0).putShort((short) 0).putShort((short) 0).putShort((short) 0).putInt(0).putInt(0).put(n);
    int cdSize = b.position() - cd;
    b.putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) 1).putShort((short) 1)
        .putInt(cdSize).putInt(cd).putShort((short) 0);
    return b.array();
  }

  /**
   * A zip bomb: an entry whose header says float32 of {@code floats} values, followed by
   * {@code zeroMiB} MiB of zeros, deflated as one repeated block (about 1 KB per MiB).
   */
  static byte[] bomb(String name, long floats, int zeroMiB, long declared) {
    Deflater d = new Deflater(9, true);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[1 << 21];
    byte[] head = npy(header("<f4", "(" + floats + ",)"), new byte[0]);
    d.setInput(head);
    out.write(buf, 0, d.deflate(buf, 0, buf.length, Deflater.FULL_FLUSH));
    byte[] zeros = new byte[1 << 20];
    d.setInput(zeros);
    int len = d.deflate(buf, 0, buf.length, Deflater.FULL_FLUSH);
    byte[] block = java.util.Arrays.copyOf(buf, len);
    for (int i = 0; i < zeroMiB; i++) {
      out.write(block, 0, block.length);
    }
    d.finish();
    out.write(buf, 0, d.deflate(buf, 0, buf.length, Deflater.FULL_FLUSH));
    return zip(name, out.toByteArray(), declared, 0);
  }

  static byte[] deflate(byte[] data) {
    Deflater d = new Deflater(9, true);
    d.setInput(data);
    d.finish();
    byte[] buf = new byte[data.length + 1024];
    int n = d.deflate(buf);
    return java.util.Arrays.copyOf(buf, n);
  }

  static byte[] zipOf(String name, byte[] content) {
    CRC32 crc = new CRC32();
    crc.update(content);
    return zip(name, deflate(content), content.length, crc.getValue());
  }

  private Path file(String name, byte[] bytes) throws IOException {
    Path f = dir.resolve(name);
    Files.write(f, bytes);
    return f;
  }

  private IOException refused(Path f, String... texts) {
    IOException e = assertThrows(IOException.class, () -> Npz.read(f));
    for (String t : texts) {
      assertTrue(e.getMessage().contains(t), "'" + t + "' not in: " + e.getMessage());
    }
    assertTrue(e.getMessage().startsWith(f.toString() + ": "), e.getMessage());
    return e;
  }

  @Test
  void aShapeOfTenToTheTwentyTwoIsRefusedByName() throws Exception {
    Path f = file("huge.npz", zipOf("w.npy", npy(header("<f4", "(100000000000, 100000000000)"), new byte[8])));
    refused(f, "entry 'w.npy'", "shape");
    Path g = file("huge.npy", npy(header("<f4", "(100000000000, 100000000000)"), new byte[8]));
    IOException e = assertThrows(IOException.class, () -> Npz.readNpy(g));
    assertTrue(e.getMessage().startsWith(g + ": "), e.getMessage());
  }

  @Test
  void aShapeThatIsNotNumbersIsAMalformedHeader() throws Exception {
    Path f = file("abc.npz", zipOf("w.npy", npy(header("<f4", "(abc, 3)"), new byte[8])));
    refused(f, "entry 'w.npy'", "malformed .npy header");
  }

  @Test
  void anEmptyDescrIsAMalformedHeader() throws Exception {
    Path f = file("descr.npz", zipOf("w.npy", npy(header("", "(2,)"), new byte[8])));
    refused(f, "entry 'w.npy'", "descr '' is not a dtype");
  }

  @Test
  void aNegativeVersion2HeaderLengthIsRefused() throws Exception {
    byte[] bytes = npy(2, header("<f4", "(2,)"), new byte[8]);
    ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(8, -5);
    Path f = file("neg.npz", zipOf("w.npy", bytes));
    refused(f, "entry 'w.npy'", "header of 4294967291 bytes");
  }

  /** 3 GiB in 3 MB: refused by the limit before any data is inflated (it was an OutOfMemoryError). */
  @Test
  void aZipBombIsRefusedBeforeItIsInflated() throws Exception {
    long floats = 3L << 28;
    Path f = file("bomb.npz", bomb("w.npy", floats, 3072, 0xffffffffL));
    long t0 = System.nanoTime();
    refused(f, "entry 'w.npy'", "past the limit");
    // weights: a tensor of the wrong shape is never read, only its header
    Map<String, Npz.Array> read = Npz.read(f, Map.of("w", new long[] {2, 3}), 1 << 20);
    assertNull(read.get("w").data());
    assertArrayEquals(new long[] {floats}, read.get("w").shape());
    assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "took " + (System.nanoTime() - t0) / 1e9 + " s");
  }

  /** The archive says 1 KB, the entry inflates to 64 MiB: reading stops after the header's size. */
  @Test
  void dataPastTheHeadersSizeIsRefusedWithoutReadingIt() throws Exception {
    Path f = file("lie.npz", bomb("w.npy", 6, 64, 1024));
    refused(f, "entry 'w.npy'");
    Path g = file("long.npz", bomb("w.npy", 6, 64, -1L & 0xffffffffL));
    refused(g, "entry 'w.npy'");
  }

  /** Headers count towards the limit too: many entries of long headers cannot inflate past it. */
  @Test
  void headersCountTowardsTheLimit() throws Exception {
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
    try (java.util.zip.ZipOutputStream zip = new java.util.zip.ZipOutputStream(bytes)) {
      for (int i = 0; i < 40; i++) {
        zip.putNextEntry(new java.util.zip.ZipEntry("e" + i + ".npy"));
        zip.write(npy(header("<f4", "(1,)") + " ".repeat(60_000) + "\n", new byte[4]));
        zip.closeEntry();
      }
    }
    Path f = file("headers.npz", bytes.toByteArray());
    assertEquals(40, Npz.read(f, Map.of(), 40 * 61_000).size());
    IOException e = assertThrows(IOException.class, () -> Npz.read(f, Map.of(), 20 * 61_000));
    assertTrue(e.getMessage().contains("entry 'e20.npy': its header of "), e.getMessage());
  }

  @Test
  void truncatedDataNamesTheEntry() throws Exception {
    byte[] whole = npy(header("<f4", "(4,)"), new byte[16]);
    Path f = file("short.npz", zipOf("w.npy", java.util.Arrays.copyOf(whole, whole.length - 5)));
    refused(f, "entry 'w.npy'");
  }

  @Test
  void validArraysStillRead() throws Exception {
    ByteBuffer data = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < 6; i++) {
      data.putFloat(i);
    }
    Path f = file("ok.npz", zipOf("w.npy", npy(header("<f4", "(2, 3)"), data.array())));
    Npz.Array a = Npz.read(f).get("w");
    assertArrayEquals(new long[] {2, 3}, a.shape());
    assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, a.data());
    Path fortran = file("f.npy", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", data.array()));
    assertArrayEquals(new float[] {0, 2, 4, 1, 3, 5}, Npz.readNpy(fortran).data());
    Path scalar = file("s.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", new byte[4]));
    assertEquals(0, Npz.readNpy(scalar).shape().length);
  }

  /** Seeded random corruptions of a valid file: each reads, or is refused by an IOException naming the file. */
  @Test
  void corruptedFilesAreRefusedByNameAndNothingElseIsThrown() throws Exception {
    byte[] valid = npy(header("<f4", "(2, 3)"), new byte[24]);
    Random r = new Random(42);
    for (int i = 0; i < 3000; i++) {
      byte[] b = valid.clone();
      int edits = 1 + r.nextInt(4);
      for (int k = 0; k < edits; k++) {
        int at = r.nextInt(b.length);
        b[at] = switch (r.nextInt(4)) {
          case 0 -> (byte) r.nextInt(256);
          case 1 -> (byte) "(),:'0123456789-LTF{} ".charAt(r.nextInt(22));
          case 2 -> 0;
          default -> (byte) (b[at] ^ (1 << r.nextInt(8)));
        };
      }
      if (r.nextInt(5) == 0) {
        b = java.util.Arrays.copyOf(b, r.nextInt(b.length));
      }
      Path f = file("fuzz.npy", b);
      try {
        Npz.readNpy(f);
      } catch (IOException e) {
        assertTrue(e.getMessage().startsWith(f + ": "), e.getMessage());
      } catch (RuntimeException e) {
        throw new AssertionError("case " + i + ": " + e, e);
      }
    }
  }
}
