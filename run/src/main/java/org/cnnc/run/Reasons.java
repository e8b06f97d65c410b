// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/** An I/O failure as a sentence that names its file (the JDK's messages are often just the path). */
final class Reasons {
  private Reasons() {}

  static String of(IOException e) {
    if (e instanceof NoSuchFileException f) {
      return "no such file or folder: " + f.getFile();
    }
    if (e instanceof AccessDeniedException f) {
      return "permission denied: " + f.getFile() + (f.getReason() != null ? " (" + f.getReason() + ")" : "");
    }
    if (e instanceof FileSystemException f && f.getFile() != null) {
      return f.getFile() + ": " + (f.getReason() != null ? f.getReason() : e.getClass().getSimpleName());
    }
    return String.valueOf(e.getMessage());
  }
}
