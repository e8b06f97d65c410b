// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import org.cnnc.compiler.Limits;
import picocli.CommandLine.Option;

/** The limits every command that compiles accepts (README, "Limits"). */
public final class LimitOptions {
  @Option(names = "--max-file-size", paramLabel = "BYTES",
      description = "The largest spec file read, in bytes (default: ${DEFAULT-VALUE}).")
  long maxFileBytes = Limits.DEFAULT_MAX_FILE_BYTES;

  @Option(names = "--max-errors", paramLabel = "N",
      description = "Errors shown per file; the rest are counted in one line (default: ${DEFAULT-VALUE}).")
  int maxErrors = Limits.DEFAULT_MAX_ERRORS_PER_FILE;

  @Option(names = "--max-layers", paramLabel = "N",
      description = "Layers a model may expand to; checked before a block or repeat is expanded (default: ${DEFAULT-VALUE}).")
  long maxLayers = Limits.DEFAULT_MAX_LAYERS;

  /** The limits asked for; a limit below 1 is a usage error. */
  public Limits limits() {
    if (maxFileBytes < 1 || maxErrors < 1 || maxLayers < 1) {
      throw new Main.UsageError("--max-file-size, --max-errors and --max-layers must be at least 1");
    }
    return Limits.defaults().withMaxFileBytes(maxFileBytes).withMaxErrorsPerFile(maxErrors).withMaxLayers(maxLayers);
  }
}
