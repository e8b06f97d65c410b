// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Gradient sharing leaves no Aeron directory behind: a child JVM trains NiN for an epoch on
 * local[2] with gradient sharing ({@link SparkProgressTest#train}), lists the Aeron directories
 * that appeared while it trained (its embedded media driver's, {@link StandaloneCluster#aeronDirs}),
 * and exits; after it has exited, none of them may remain. Without
 * {@link SparkTrainer#AERON_DELETE_ON_SHUTDOWN} each run left about 600 MB there.
 */
class AeronCleanupTest {
  /** The child: trains, then prints each Aeron directory made meanwhile on a line of its own. */
  public static void main(String[] args) throws Exception {
    Set<String> before = StandaloneCluster.aeronDirs();
    SparkProgressTest.train(Path.of(args[0]), false, 1);
    Set<String> made = new TreeSet<>(StandaloneCluster.aeronDirs());
    made.removeAll(before);
    for (String d : made) {
      System.out.println("AERON-DIR " + d);
    }
    System.out.flush();
    // exit as a JVM ends: shutdown hooks run (DL4J's closes the media driver)
    System.exit(0);
  }

  @Test
  void gradientSharingDeletesItsAeronDirectoryWhenTheJvmExits(@TempDir Path tmp) throws Exception {
    List<String> cmd = StandaloneCluster.javaCommand("-Xmx2g", AeronCleanupTest.class.getName());
    // before the main class: the vector module and the spec's root, then the main's argument
    cmd.addAll(1, List.of("--add-modules", "jdk.incubator.vector", "-Dcnnc.root=" + System.getProperty("cnnc.root", "..")));
    cmd.add(tmp.resolve("work").toString());
    Path log = tmp.resolve("child.log");
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the child did not finish in 5 minutes");
    } finally {
      p.destroyForcibly();
    }
    String out = Files.readString(log);
    assertEquals(0, p.exitValue(), out);
    List<String> made = out.lines().filter(l -> l.startsWith("AERON-DIR ")).map(l -> l.substring(10)).toList();
    // the test means something only if gradient sharing did make a directory there
    assertFalse(made.isEmpty(), "gradient sharing made no Aeron directory in " + StandaloneCluster.AERON_BASE + ":\n"
        + out);
    Set<String> left = StandaloneCluster.aeronDirs();
    for (String d : made) {
      assertFalse(left.contains(d), "left behind after the JVM exited: " + StandaloneCluster.AERON_BASE.resolve(d));
    }
  }
}
