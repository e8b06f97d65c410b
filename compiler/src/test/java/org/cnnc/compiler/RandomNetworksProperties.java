// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.summary.Summary;
import org.junit.jupiter.api.Test;

/** Properties of random networks built from the language's constructs (seeded JUnit generator). */
class RandomNetworksProperties {

  /** A random model of 1 to 25 items of the language's constructs (seeded: {@code -Dcnnc.test.seed=N}). */
  static String layers(Random r) {
    int n = 1 + r.nextInt(25);
    List<String> items = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      items.add(switch (r.nextInt(5)) {
        case 0 -> "conv(" + between(r, 1, 16) + ", " + between(r, 1, 5) + ", stride = " + between(r, 1, 3) + ", padding = "
            + between(r, 0, 2) + ")";
        case 1 -> (r.nextBoolean() ? "maxpool" : "avgpool") + "(" + between(r, 1, 4) + ", ceil = " + r.nextBoolean() + ")";
        case 2 -> pick(r, "relu", "batchnorm", "dropout(0.3)", "identity", "sigmoid", "lrn(3)", "zeropad(1)");
        case 3 -> "concat(conv(" + between(r, 1, 8) + ", 1), { conv(" + between(r, 1, 8) + ", 3, padding = 1) -> relu })";
        default -> "add(identity, repeat " + between(r, 1, 3) + " { relu })";
      });
    }
    return "model R {\n  input [3, 32, 32]\n  " + String.join("\n  ", items) + "\n}\n";
  }

  private static int between(Random r, int lo, int hi) {
    return lo + r.nextInt(hi - lo + 1);
  }

  private static String pick(Random r, String... options) {
    return options[r.nextInt(options.length)];
  }

  @Test
  void compilingNeverCrashesAndValidNetworksAreConsistent() {
    long seed = Long.getLong("cnnc.test.seed", 1L);
    Random r = new Random(seed);
    for (int i = 0; i < 300; i++) {
      String spec = layers(r);
      try {
        check(spec);
      } catch (AssertionError e) {
        throw new AssertionError("seed " + seed + ", spec " + i + ":\n" + spec + e.getMessage(), e);
      }
    }
  }

  private static void check(String spec) {
    var c = Compiler.compileText("random.cnn", spec, Map.of());
    c.diagnostics().sorted().forEach(d -> assertTrue(d.span().end() <= spec.length()));
    if (!c.ok()) {
      // Only shape errors can arise from these constructs, never syntax or name errors.
      assertTrue(c.diagnostics().sorted().stream().allMatch(d -> List.of("KERNEL_TOO_LARGE", "PADDING_TOO_LARGE",
          "SHAPE_MISMATCH").contains(d.id())), () -> spec + c.diagnostics().sorted());
      return;
    }
    Network n = c.networks().get(0);
    Summary s = new Summary(n);
    long rows = s.rows().stream().filter(r -> r.depth() == 0).mapToLong(Summary.Row::params).sum();
    assertEquals(n.paramCount(), rows, "top-level rows add up to the total");
    Set<String> paths = new HashSet<>();
    for (Tensor t : n.stateDict()) {
      assertTrue(paths.add(t.path()), "unique parameter path " + t.path());
    }
    for (Node node : n.nodes()) {
      for (int in : node.inputs()) {
        assertTrue(in < node.id(), "topological order");
      }
      for (int d : node.shape().dims()) {
        assertTrue(d >= 1, "positive sizes");
      }
    }
    var again = Compiler.compileText("random.cnn", spec, Map.of()).networks().get(0);
    assertEquals(n.nodes().size(), again.nodes().size(), "deterministic");
  }
}
