// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Every method of cnnc's kernels compiles with C1, the JIT's first tier. A method C1 gives up on
 * ("out of virtual registers", too large) is never profiled, so it never reaches C2 either: with
 * the Vector API it then runs its vectors as boxed objects, a hundred times slower, and only a
 * benchmark would notice (a 5x5 depthwise kernel that held its 25 weights in registers did this:
 * 51 ms for a conv ONNX Runtime runs in 0.4). A JVM that compiles each method of this package on
 * its first call, at C1's top tier only, runs {@link CompileProbe}; none may be skipped.
 */
class VectorKernelsCompileTest {
  @Test
  void everyKernelMethodCompilesWithC1() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-Xmx2g", "--add-modules", "jdk.incubator.vector",
        "-XX:TieredStopAtLevel=3", "-Xcomp", "-XX:CompileCommand=quiet",
        "-XX:CompileCommand=compileonly,org.cnnc.runtime.layers.*::*", "-XX:+PrintCompilation",
        "-cp", System.getProperty("java.class.path"), CompileProbe.class.getName()));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    List<String> skipped = new ArrayList<>();
    boolean probed = false;
    int compiled = 0;
    try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
      for (String line = r.readLine(); line != null; line = r.readLine()) {
        if (line.contains("org.cnnc.runtime.layers.")) {
          compiled++;
          // a skip the JIT retries ("concurrent class loading") is no failure of the method
          if ((line.contains("COMPILE SKIPPED") || line.contains("not compilable"))
              && !line.contains("concurrent class loading")) {
            skipped.add(line.trim());
          }
        }
        probed |= line.equals("probed");
      }
    }
    assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the probe JVM ended");
    assertEquals(0, p.exitValue(), "the probe JVM's exit");
    assertTrue(probed, "the probe ran every kernel");
    assertTrue(compiled > 50, "the JVM compiled the package's methods: " + compiled);
    assertEquals(List.of(), skipped, "methods C1 could not compile");
  }
}
