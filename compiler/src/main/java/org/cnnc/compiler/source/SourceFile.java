// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.source;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * The text of one spec file, with the line index needed to turn offsets into 1-based lines and
 * columns. Columns count UTF-16 code units, as editors and LSP do.
 */
public final class SourceFile {
  private final Path path;
  private final String name;
  private final String text;
  private final int[] lineStarts;

  public SourceFile(Path path, String name, String text) {
    this.path = path;
    this.name = Objects.requireNonNull(name);
    this.text = Objects.requireNonNull(text);
    int[] starts = new int[16];
    int n = 0;
    starts[n++] = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '\n' || (c == '\r' && (i + 1 >= text.length() || text.charAt(i + 1) != '\n'))) {
        if (n == starts.length) {
          starts = Arrays.copyOf(starts, n * 2);
        }
        starts[n++] = i + 1;
      }
    }
    this.lineStarts = Arrays.copyOf(starts, n);
  }

  /** A file that exists only in memory (tests, the language server, stdin). */
  public static SourceFile of(String name, String text) {
    return new SourceFile(null, name, text);
  }

  /** A file longer than the limit; nothing past the limit was read. */
  public static final class TooLargeException extends IOException {
    public TooLargeException(long limit) {
      super("larger than the limit of " + limit + " bytes");
    }
  }

  /**
   * The text of a file as strict UTF-8, reading at most {@code maxBytes + 1} bytes: a file past
   * the limit (or an endless one, as {@code /dev/zero}) throws {@link TooLargeException} without
   * being read whole; text that is not UTF-8 throws {@link java.nio.charset.MalformedInputException}.
   */
  public static String readText(Path path, long maxBytes) throws IOException {
    try (InputStream in = Files.newInputStream(path)) {
      return readText(in, maxBytes);
    }
  }

  /** As {@link #readText(Path, long)}, from a stream (standard input); the stream is not closed. */
  public static String readText(InputStream in, long maxBytes) throws IOException {
    int cap = (int) Math.min(maxBytes, Integer.MAX_VALUE - 16);
    byte[] bytes = in.readNBytes(cap + 1);
    if (bytes.length > cap) {
      throw new TooLargeException(cap);
    }
    return StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT)
        .decode(ByteBuffer.wrap(bytes))
        .toString();
  }

  /** The file on disk, or null for in-memory sources. */
  public Path path() {
    return path;
  }

  /** The name shown in diagnostics. */
  public String name() {
    return name;
  }

  public String text() {
    return text;
  }

  public int lineCount() {
    return lineStarts.length;
  }

  /** The 1-based line of a 0-based character offset. */
  public int line(int offset) {
    int i = Arrays.binarySearch(lineStarts, Math.max(0, Math.min(offset, text.length())));
    return (i >= 0 ? i : -i - 2) + 1;
  }

  /** The 1-based column of a 0-based character offset. */
  public int column(int offset) {
    int clamped = Math.max(0, Math.min(offset, text.length()));
    return clamped - lineStarts[line(clamped) - 1] + 1;
  }

  /** The offset of the first character of a 1-based line. */
  public int lineStart(int line) {
    return lineStarts[line - 1];
  }

  /** The text of a 1-based line, without its line terminator. */
  public String lineText(int line) {
    int start = lineStarts[line - 1];
    int end = line < lineStarts.length ? lineStarts[line] : text.length();
    while (end > start && (text.charAt(end - 1) == '\n' || text.charAt(end - 1) == '\r')) {
      end--;
    }
    return text.substring(start, end);
  }

  @Override
  public String toString() {
    return name;
  }
}
