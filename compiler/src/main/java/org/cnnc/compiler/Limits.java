// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

/**
 * The sizes cnnc accepts, each checked before the work it bounds, so that a hostile or mistaken
 * spec costs at most a bounded time and memory and ends with a located message. README
 * ("Limits") lists them with their defaults and the options that raise them.
 *
 * @param maxFileBytes the largest spec file read, in bytes (a larger one is not read past the limit)
 * @param maxErrorsPerFile errors kept and shown per file; the rest are counted in one line
 * @param maxLayers layers a model may expand to; a block call or {@code repeat} that would pass it
 *     is refused before it is expanded
 * @param maxGraphNodes boxes {@code cnnc graph} draws
 */
public record Limits(long maxFileBytes, int maxErrorsPerFile, long maxLayers, int maxGraphNodes) {
  public static final long DEFAULT_MAX_FILE_BYTES = 8L << 20;
  public static final int DEFAULT_MAX_ERRORS_PER_FILE = 100;
  public static final long DEFAULT_MAX_LAYERS = 1_000_000;
  public static final int DEFAULT_MAX_GRAPH_NODES = 200_000;

  public Limits {
    if (maxFileBytes < 1 || maxErrorsPerFile < 1 || maxLayers < 1 || maxGraphNodes < 1) {
      throw new IllegalArgumentException("limits must be positive");
    }
  }

  public static Limits defaults() {
    return new Limits(DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_ERRORS_PER_FILE, DEFAULT_MAX_LAYERS, DEFAULT_MAX_GRAPH_NODES);
  }

  public Limits withMaxFileBytes(long v) {
    return new Limits(v, maxErrorsPerFile, maxLayers, maxGraphNodes);
  }

  public Limits withMaxErrorsPerFile(int v) {
    return new Limits(maxFileBytes, v, maxLayers, maxGraphNodes);
  }

  public Limits withMaxLayers(long v) {
    return new Limits(maxFileBytes, maxErrorsPerFile, v, maxGraphNodes);
  }

  public Limits withMaxGraphNodes(int v) {
    return new Limits(maxFileBytes, maxErrorsPerFile, maxLayers, v);
  }
}
