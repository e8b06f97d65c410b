// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.util.HexFormat;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.Path;
import org.cnnc.compiler.io.Escape;
import org.cnnc.runtime.Checkpoint;
import org.cnnc.runtime.CnnNetwork;

/**
 * Checkpoints on a path every node of a cluster reaches (hdfs://, s3a://, file:// on a shared
 * disk), in {@link Checkpoint}'s format, through Hadoop's {@code FileSystem}. Written as
 * {@code SafeFiles} writes a local file: to a new temporary file of a random name in the target's
 * directory (created exclusively), then renamed over the target in one step ({@code FileContext}'s
 * rename with {@code OVERWRITE}: atomic on HDFS and local disks; on S3 a rename is a copy, which
 * readers see whole or not at all). A target that is a symbolic link or no regular file is
 * refused; a missing directory is an error, not created. Every message names the URI.
 */
public final class HadoopCheckpoints {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final long MAX_BYTES = Integer.MAX_VALUE - 8;

  private final Configuration conf;

  public HadoopCheckpoints(Configuration conf) {
    this.conf = conf;
  }

  private Path path(String uri) throws IOException {
    Path p;
    try {
      p = new Path(URI.create(uri));
    } catch (IllegalArgumentException e) {
      throw new IOException("not a URI Hadoop reads: " + Escape.terminal(uri) + " (" + e.getMessage() + ")");
    }
    if (p.getParent() == null || p.getName().isEmpty()) {
      throw new IOException(Escape.terminal(uri) + " is not a file name");
    }
    return p;
  }

  /** The file system of {@code p}; the local one without Hadoop's .crc side files. */
  private FileSystem fs(Path p) throws IOException {
    FileSystem fs = p.getFileSystem(conf);
    return fs instanceof LocalFileSystem local ? local.getRawFileSystem() : fs;
  }

  /**
   * Checks, before training, that {@code uri} can be written: its directory exists, it is not a
   * link, a directory or another non-file, and a probe file can be created next to it.
   */
  public void checkWritable(String uri) throws IOException {
    Path target = path(uri);
    FileSystem fs = fs(target);
    check(fs, target, uri);
    Path probe = temp(fs, target, uri, out -> { });
    fs.delete(probe, false);
  }

  /** Writes a checkpoint of {@code net} after {@code epochsDone} epochs to {@code uri}, atomically. */
  public void write(String uri, CnnNetwork net, int epochsDone) throws IOException {
    write(uri, local -> Checkpoint.write(local, net, epochsDone));
  }

  /** Writes {@code net}'s weights (the {@code .npz} of {@code cnnc train --save}) to {@code uri}, atomically. */
  public void writeWeights(String uri, CnnNetwork net) throws IOException {
    write(uri, net::saveWeights);
  }

  /** Makes a local file. */
  private interface LocalFile {
    void writeTo(java.nio.file.Path local) throws IOException;
  }

  /** The file {@code content} makes, copied to {@code uri} through a temporary file beside it and one rename. */
  private void write(String uri, LocalFile content) throws IOException {
    Path target = path(uri);
    FileSystem fs = fs(target);
    check(fs, target, uri);
    java.nio.file.Path dir = Files.createTempDirectory("cnnc-ckpt");
    java.nio.file.Path local = dir.resolve("content");
    Path tmp = null;
    try {
      content.writeTo(local);
      tmp = temp(fs, target, uri, out -> Files.copy(local, out));
      // checked again: the target may have changed while the content was written (a link put
      // there now would be replaced by the rename, never written through)
      check(fs, target, uri);
      FileContext.getFileContext(fs.getUri(), conf).rename(tmp, target, Options.Rename.OVERWRITE);
      tmp = null;
    } catch (IOException e) {
      String m = String.valueOf(e.getMessage());
      if (m.startsWith("refusing to write ") || m.startsWith("cannot write ")) {
        throw e;
      }
      throw new IOException("cannot write " + Escape.terminal(uri) + ": " + Escape.terminal(m), e);
    } finally {
      if (tmp != null) {
        try {
          fs.delete(tmp, false);
        } catch (IOException ignored) {
          // the first failure is the one to report
        }
      }
      Files.deleteIfExists(local);
      Files.deleteIfExists(dir);
    }
  }

  /**
   * Restores {@code net} from the checkpoint at {@code uri} ({@link Checkpoint#restore}'s checks);
   * returns the epochs it has done.
   */
  public int restore(String uri, CnnNetwork net) throws IOException {
    Path source = path(uri);
    FileSystem fs = fs(source);
    String where = Escape.terminal(uri);
    FileStatus s;
    try {
      s = fs.getFileStatus(source);
    } catch (java.io.FileNotFoundException e) {
      throw new IOException(where + ": no such file");
    }
    if (!s.isFile()) {
      throw new IOException(where + ": not a regular file");
    }
    if (s.getLen() > MAX_BYTES) {
      throw new IOException(where + ": " + s.getLen() + " bytes is too large for a checkpoint");
    }
    java.nio.file.Path dir = Files.createTempDirectory("cnnc-ckpt");
    java.nio.file.Path local = dir.resolve("checkpoint");
    try {
      try (InputStream in = fs.open(source)) {
        Files.copy(in, local);
      }
      try {
        return Checkpoint.restore(local, net).epochsDone();
      } catch (IOException e) {
        // Checkpoint's message names the copy; the user gave the URI
        String m = String.valueOf(e.getMessage());
        String copy = Escape.terminal(local.toString());
        throw new IOException(m.startsWith(copy) ? where + m.substring(copy.length()) : where + ": " + m, e);
      }
    } finally {
      Files.deleteIfExists(local);
      Files.deleteIfExists(dir);
    }
  }

  /** The target is a regular file or absent, and its directory exists. */
  private static void check(FileSystem fs, Path target, String uri) throws IOException {
    String where = Escape.terminal(uri);
    FileStatus parent;
    try {
      parent = fs.getFileStatus(target.getParent());
    } catch (java.io.FileNotFoundException e) {
      throw new IOException("cannot write " + where + ": the directory " + Escape.terminal(target.getParent().toString())
          + " does not exist");
    }
    if (!parent.isDirectory()) {
      throw new IOException("cannot write " + where + ": " + Escape.terminal(target.getParent().toString())
          + " is not a directory");
    }
    if ("file".equals(fs.getUri().getScheme())) {
      // Hadoop's local file system sees no links unless its symlinks are enabled: asked directly
      java.nio.file.Path local = java.nio.file.Path.of(fs.makeQualified(target).toUri());
      java.nio.file.attribute.BasicFileAttributes a;
      try {
        a = Files.readAttributes(local, java.nio.file.attribute.BasicFileAttributes.class,
            java.nio.file.LinkOption.NOFOLLOW_LINKS);
      } catch (java.nio.file.NoSuchFileException e) {
        return;
      }
      if (a.isSymbolicLink()) {
        throw new IOException("refusing to write " + where + ": it is a symbolic link (cnnc does not write through links)");
      }
    }
    FileStatus s;
    try {
      s = fs.getFileLinkStatus(target);
    } catch (java.io.FileNotFoundException e) {
      return;
    } catch (UnsupportedOperationException e) {
      s = fs.getFileStatus(target);
    }
    if (s.isSymlink()) {
      throw new IOException("refusing to write " + where + ": it is a symbolic link (cnnc does not write through links)");
    }
    if (s.isDirectory()) {
      throw new IOException("cannot write " + where + ": it is a directory");
    }
    if (!s.isFile()) {
      throw new IOException("refusing to write " + where + ": it is not a regular file");
    }
  }

  /** Writes a file's content to a stream. */
  @FunctionalInterface
  private interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  /** A new file next to the target, of a random name, created exclusively with {@code content} (synced). */
  private static Path temp(FileSystem fs, Path target, String uri, Content content) throws IOException {
    String name = target.getName();
    String base = "." + (name.length() > 100 ? name.substring(0, 100) : name) + ".";
    for (int attempt = 0; ; attempt++) {
      byte[] r = new byte[8];
      RANDOM.nextBytes(r);
      Path tmp = new Path(target.getParent(), base + HexFormat.of().formatHex(r) + ".tmp");
      FSDataOutputStream out;
      try {
        out = fs.create(tmp, false);
      } catch (org.apache.hadoop.fs.FileAlreadyExistsException e) {
        if (attempt >= 10) {
          throw e;
        }
        continue;
      } catch (IOException e) {
        throw new IOException("cannot write " + Escape.terminal(uri) + ": cannot create a file in "
            + Escape.terminal(target.getParent().toString()) + ": " + Escape.terminal(String.valueOf(e.getMessage())), e);
      }
      try (out) {
        content.writeTo(out);
        out.hsync();
      } catch (IOException e) {
        fs.delete(tmp, false);
        throw e;
      }
      return tmp;
    }
  }
}
