package org.cnnc.runtime;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Files written whole or not at all: the bytes go to a temporary file created exclusively (a new,
 * randomly named file, never an existing one or a link) in the target's own directory, which is
 * then renamed onto the target in one atomic move. A link at the target is replaced, never written
 * through; a reader sees the old file or the new one, never half of one.
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** What writes the contents. */
  @FunctionalInterface
  public interface Contents {
    void writeTo(OutputStream out) throws IOException;
  }

  public static void write(Path target, Contents contents) throws IOException {
    Path dir = checkWritable(target);
    Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
    try {
      try (OutputStream os = Files.newOutputStream(tmp)) {
        contents.writeTo(os);
      }
      Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * Checks, before any work, that {@code target} can be written: its directory exists and is
   * writable (a probe file is created there and deleted),
   * and the target is not a directory. Returns the directory. The messages name the path.
   */
  public static Path checkWritable(Path target) throws IOException {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    if (dir == null || abs.getFileName() == null) {
      throw new IOException(target + " is not a file name");
    }
    if (Files.isDirectory(abs, LinkOption.NOFOLLOW_LINKS)) {
      throw new IOException(target + " is a directory");
    }
    if (!Files.isDirectory(dir)) {
      throw new IOException("cannot write " + target + ": the directory " + dir + " does not exist");
    }
    if (!Files.isWritable(dir)) {
      throw new AccessDeniedException(target.toString(), null, "the directory " + dir + " is not writable");
    }
    // the file system may still refuse (read-only mount, quota, ACLs that access(2) does not see)
    Files.delete(Files.createTempFile(dir, "." + abs.getFileName() + ".", ".probe"));
    return dir;
  }
}
