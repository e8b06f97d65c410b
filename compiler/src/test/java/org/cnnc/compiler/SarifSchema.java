// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The official SARIF 2.1.0 JSON schema (rtm.5), as the npm package @microsoft/jest-sarif ships it:
 * fetched with `npm pack` into target/ on first use, so the repository does not hold a copy.
 */
final class SarifSchema {
  static final String PACKAGE = "@microsoft/jest-sarif@1.0.0-beta.0";
  static final String ENTRY = "package/lib/schemas/sarif-2.1.0-rtm.5.json";

  private SarifSchema() {}

  static synchronized Path path() throws Exception {
    Path dir = Path.of("target/sarif-schema").toAbsolutePath();
    Path schema = dir.resolve(ENTRY);
    if (Files.isRegularFile(schema)) {
      return schema;
    }
    Files.createDirectories(dir);
    run(dir, "npm", "pack", "--silent", PACKAGE);
    try (var files = Files.list(dir)) {
      Path tgz = files.filter(p -> p.toString().endsWith(".tgz")).findFirst()
          .orElseThrow(() -> new IllegalStateException("npm pack " + PACKAGE + " wrote no archive"));
      run(dir, "tar", "xzf", tgz.toString(), ENTRY);
    }
    return schema;
  }

  private static void run(Path dir, String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + " failed (the SARIF schema comes from the npm registry): " + out);
    }
  }
}
