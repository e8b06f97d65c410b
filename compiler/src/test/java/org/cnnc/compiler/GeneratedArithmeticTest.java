// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.sema.Value;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random arithmetic (seeded) on block parameters and constants, small and beyond 32 bits: for every
 * model the compiler accepts, the generated Java, run against recording stubs, passes exactly the
 * value the compiler checked; every other model gets a located error.
 */
class GeneratedArithmeticTest {
  @TempDir Path dir;

  private static final String[] LEAVES = {"n", "m", "n", "m", "1", "2", "3", "7", "10", "46341", "65536", "100000",
      "2147483647", "3000000000", "1000000000"};
  private static final long[] VALUES = {1, 2, 5, 17, 100, 46341, 65536, 100000, 2000000000};

  static String expr(Random rnd, int depth) {
    if (depth == 0 || rnd.nextInt(4) == 0) {
      return LEAVES[rnd.nextInt(LEAVES.length)];
    }
    if (rnd.nextInt(8) == 0) {
      return "-(" + expr(rnd, depth - 1) + ")";
    }
    return "(" + expr(rnd, depth - 1) + " " + "+-*/%".charAt(rnd.nextInt(5)) + " " + expr(rnd, depth - 1) + ")";
  }

  @Test
  void theGeneratedJavaPassesWhatTheCompilerChecked() throws Exception {
    Random rnd = new Random(20261204);
    int count = 300;
    StringBuilder spec = new StringBuilder();
    for (int i = 0; i < count; i++) {
      spec.append("block B").append(i).append("(n, m) {\n    conv(").append(expr(rnd, 4)).append(", 1)\n}\n")
          .append("model M").append(i).append(" {\n    input [1, 2, 2]\n    B").append(i).append('(')
          .append(VALUES[rnd.nextInt(VALUES.length)]).append(", ").append(VALUES[rnd.nextInt(VALUES.length)]).append(")\n}\n");
    }
    Path file = Files.writeString(dir.resolve("random.cnn"), spec.toString());
    var c = Compiler.compile(Compiler.Request.of(file));
    Set<String> ids = c.diagnostics().sorted().stream().map(Diagnostic::id).collect(Collectors.toSet());
    assertTrue(Set.of("INT_OVERFLOW", "DIVISION_BY_ZERO", "INVALID_ARGUMENT").containsAll(ids), ids::toString);
    long narrow = c.diagnostics().sorted().stream().filter(d -> d.message().contains("32-bit")).count();
    List<Network> ok = c.networks();
    System.out.printf("random arithmetic: %d of %d models accepted, %d refused for 32 bits%n", ok.size(), count, narrow);
    assertTrue(ok.size() >= count / 4 && narrow >= 10, ok.size() + " accepted, " + narrow + " refused for 32 bits");

    List<Generator.Output> outputs = Generator.generate(c, ok, "g");
    assertEquals(List.of(), GeneratedJava.errors(outputs, dir));
    // the generated classes and the runtime's stubs; ModulePath (the compiler's) from this test's loader
    try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.resolve("classes").toUri().toURL()},
        GeneratedArithmeticTest.class.getClassLoader())) {
      Class<?> builder = loader.loadClass("org.cnnc.runtime.NetBuilder");
      for (Network n : ok) {
        Object model = loader.loadClass("g." + n.name()).getConstructor().newInstance();
        Object b = builder.getConstructor().newInstance();
        model.getClass().getMethod("build", builder).invoke(model, b);
        @SuppressWarnings("unchecked")
        List<Object[]> calls = (List<Object[]>) builder.getField("calls").get(b);
        assertTrue(!calls.isEmpty() && calls.get(0).length > 0, () -> n.name() + " " + calls.size() + " "
            + outputs.stream().filter(o -> o.relativePath().endsWith(n.name() + ".java")).findFirst().orElseThrow().text());
        Node conv = n.nodes().stream().filter(x -> x.op().equals("conv")).findFirst().orElseThrow();
        assertEquals(((Value.IntV) conv.arg("out")).value(), ((Integer) calls.get(0)[1]).longValue(),
            () -> n.name() + ": " + spec.toString().lines().filter(l -> l.contains("conv(")).skip(
                Long.parseLong(n.name().substring(1))).findFirst().orElseThrow());
      }
    }
  }
}
