// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * PyTorch's outputs for the article's networks, made at test time by tools/pytorch/parity.py with
 * Debian's python3-torch (installed by .ci/run), so the repository holds no weights.
 */
final class Fixtures {
  static final Path DIR = Path.of("target/parity");
  private static boolean made;

  private Fixtures() {}

  static synchronized Path dir() throws IOException, InterruptedException {
    // made again whenever the script changes (the marker holds the script's text)
    String script = Files.readString(Generated.ROOT.resolve("tools/pytorch/parity.py"));
    Path done = DIR.resolve("done");
    if (!made && !(Files.exists(done) && Files.readString(done).equals(script))) {
      Files.createDirectories(DIR);
      Process p = new ProcessBuilder("/usr/bin/python3", Generated.ROOT.resolve("tools/pytorch/parity.py").toString(),
          "--out", DIR.toString())
          .redirectErrorStream(true).start();
      String log = new String(p.getInputStream().readAllBytes());
      if (p.waitFor() != 0) {
        throw new IllegalStateException("tools/pytorch/parity.py failed (needs /usr/bin/python3 with Debian's "
            + "python3-torch; `apt-get install python3-torch`):\n" + log);
      }
      Files.writeString(done, script);
    }
    made = true;
    return DIR;
  }
}
