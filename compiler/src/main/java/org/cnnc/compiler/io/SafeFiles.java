// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.io;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * How cnnc writes every file (fmt, generate, lint -o, graph -o, the Maven plugin, saved weights):
 * the new content goes to a fresh temporary file, created exclusively under a random name in the
 * target's directory (never following a link), then replaces the target in one atomic rename. A
 * reader sees the old file or the new one, never half of one, and a failure leaves the target as
 * it was and no temporary file behind.
 *
 * <p>The target must be a regular file or absent. cnnc refuses, with an {@link IOException} whose
 * message names the file, to write:
 * <ul>
 *   <li>through a symbolic link (the link is not followed and not replaced: whatever it points to
 *       is not cnnc's to overwrite);
 *   <li>a file that is read-only (no write permission for anyone, or not writable by this user);
 *   <li>anything that is not a regular file (a directory, a FIFO, a device).
 * </ul>
 * A replaced file keeps its POSIX permissions (a 0600 file stays 0600) but not its owner (it
 * belongs to the user running cnnc, as with any editor that saves by renaming) nor its other hard
 * links (they keep the old content); a new file gets the default permissions of new files (0666
 * less the umask).
 */
public final class SafeFiles {
  private SafeFiles() {}

  private static final SecureRandom RANDOM = new SecureRandom();

  /** Writes the content of a file to a stream. */
  @FunctionalInterface
  public interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  /** Writes {@code text} as UTF-8. */
  public static void write(Path target, String text) throws IOException {
    write(target, text.getBytes(StandardCharsets.UTF_8));
  }

  public static void write(Path target, byte[] bytes) throws IOException {
    write(target, out -> out.write(bytes));
  }

  /**
   * Checks that {@code target} may be written (see the class comment), without writing it.
   *
   * @return whether it exists
   */
  public static boolean check(Path target) throws IOException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(target, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException e) {
      return false;
    }
    if (a.isSymbolicLink()) {
      throw new Refused(target, "it is a symbolic link (cnnc does not write through links)");
    }
    if (!a.isRegularFile()) {
      throw new Refused(target, "it is not a regular file");
    }
    Set<PosixFilePermission> perms = permissions(target);
    boolean anyWrite = perms == null || perms.contains(PosixFilePermission.OWNER_WRITE)
        || perms.contains(PosixFilePermission.GROUP_WRITE) || perms.contains(PosixFilePermission.OTHERS_WRITE);
    if (!anyWrite || !Files.isWritable(target)) {
      throw new Refused(target, "it is read-only");
    }
    return true;
  }

  /**
   * Checks, before any long work (training), that {@code target} can be written when the work is
   * done: {@link #check} holds, its directory exists and is writable (a probe file is created
   * there and deleted: a read-only mount or a quota refuses what access(2) allows), and it is not a
   * directory. The messages name the path.
   */
  public static void checkWritable(Path target) throws IOException {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    if (dir == null || abs.getFileName() == null) {
      throw new IOException(target + " is not a file name");
    }
    if (Files.isDirectory(abs, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(target + " is a directory");
    }
    if (!Files.isDirectory(dir)) {
      throw new IOException("cannot write " + target + ": the directory "
          + dir + " does not exist");
    }
    check(target);
    if (!Files.isWritable(dir)) {
      throw new Refused(target, "the directory " + dir + " is not writable");
    }
    Files.delete(createTemp(dir, abs.getFileName().toString(), true));
  }

  /** Why a target is not written: a link, a read-only file, not a regular file. */
  public static final class Refused extends IOException {
    Refused(Path target, String why) {
      super("refusing to write " + target + ": " + why);
    }
  }

  /** Writes what {@code content} produces to {@code target}, as the class comment says. */
  public static void write(Path target, Content content) throws IOException {
    boolean exists = check(target);
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      throw new IOException("cannot write " + target + ": no directory " + (dir == null ? "" : dir));
    }
    Set<PosixFilePermission> keep = exists ? permissions(target) : null;
    Path tmp = null;
    try {
      tmp = createTemp(dir, abs.getFileName().toString(), keep != null);
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
          OutputStream out = Channels.newOutputStream(ch)) {
        content.writeTo(out);
        out.flush();
        ch.force(true);
      }
      if (keep != null) {
        Files.setPosixFilePermissions(tmp, keep);
      }
      // checked again: the target may have changed while the content was written (were a link put
      // there after this, the rename would replace the link, never write through it)
      check(target);
      Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      tmp = null;
    } catch (Refused e) {
      throw e;
    } catch (FileSystemException e) {
      throw new IOException("cannot write " + target + ": " + reason(e), e);
    } catch (IOException e) {
      throw new IOException("cannot write " + target + ": " + e.getMessage(), e);
    } finally {
      if (tmp != null) {
        try {
          Files.deleteIfExists(tmp);
        } catch (IOException ignored) {
          // the first failure is the one to report
        }
      }
    }
  }

  /** A new empty file next to the target: random name, created exclusively, links not followed. */
  private static Path createTemp(Path dir, String name, boolean ownerOnly) throws IOException {
    String base = "." + (name.length() > 100 ? name.substring(0, 100) : name) + ".";
    List<FileAttribute<?>> attrs = new ArrayList<>();
    if (ownerOnly && dir.getFileSystem().supportedFileAttributeViews().contains("posix")) {
      // while it is written; it gets the target's permissions before the rename
      attrs.add(PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    }
    for (int attempt = 0; ; attempt++) {
      byte[] r = new byte[8];
      RANDOM.nextBytes(r);
      Path tmp = dir.resolve(base + HexFormat.of().formatHex(r) + ".tmp");
      try {
        Files.newByteChannel(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS),
            attrs.toArray(FileAttribute[]::new)).close();
        return tmp;
      } catch (java.nio.file.FileAlreadyExistsException e) {
        if (attempt >= 10) {
          throw e;
        }
      }
    }
  }

  private static Set<PosixFilePermission> permissions(Path p) throws IOException {
    PosixFileAttributeView v = Files.getFileAttributeView(p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
    return v == null ? null : v.readAttributes().permissions();
  }

  /** The reason of a file system error in words (Java's messages are often only the path). */
  private static String reason(FileSystemException e) {
    if (e.getReason() != null) {
      return e.getReason().toLowerCase(java.util.Locale.ROOT);
    }
    if (e instanceof AccessDeniedException) {
      return "permission denied";
    }
    if (e instanceof NoSuchFileException) {
      return "no such file or directory";
    }
    return e.getClass().getSimpleName();
  }
}
