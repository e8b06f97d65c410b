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
    if (!made && !Files.exists(DIR.resolve("done"))) {
      Files.createDirectories(DIR);
      Process p = new ProcessBuilder("/usr/bin/python3", Generated.ROOT.resolve("tools/pytorch/parity.py").toString(),
          "--out", DIR.toString())
          .redirectErrorStream(true).start();
      String log = new String(p.getInputStream().readAllBytes());
      if (p.waitFor() != 0) {
        throw new IllegalStateException("tools/pytorch/parity.py failed (needs /usr/bin/python3 with Debian's "
            + "python3-torch; `apt-get install python3-torch`):\n" + log);
      }
      Files.writeString(DIR.resolve("done"), log);
    }
    made = true;
    return DIR;
  }
}
