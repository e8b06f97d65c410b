package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.summary.Summary;

/** Properties of random networks built from the language's constructs. */
class RandomNetworksProperties {

  @Provide
  Arbitrary<String> layers() {
    Arbitrary<String> conv = Combinators.combine(Arbitraries.integers().between(1, 16), Arbitraries.integers().between(1, 5),
        Arbitraries.integers().between(1, 3), Arbitraries.integers().between(0, 2))
        .as((c, k, s, p) -> "conv(" + c + ", " + k + ", stride = " + s + ", padding = " + p + ")");
    Arbitrary<String> pool = Combinators.combine(Arbitraries.of("maxpool", "avgpool"), Arbitraries.integers().between(1, 4),
        Arbitraries.of(true, false)).as((op, k, ceil) -> op + "(" + k + ", ceil = " + ceil + ")");
    Arbitrary<String> simple = Arbitraries.of("relu", "batchnorm", "dropout(0.3)", "identity", "sigmoid", "lrn(3)",
        "zeropad(1)");
    Arbitrary<String> merge = Combinators.combine(Arbitraries.integers().between(1, 8), Arbitraries.integers().between(1, 8))
        .as((a, b) -> "concat(conv(" + a + ", 1), { conv(" + b + ", 3, padding = 1) -> relu })");
    Arbitrary<String> residual = Arbitraries.integers().between(1, 3)
        .map(n -> "add(identity, repeat " + n + " { relu })");
    return Arbitraries.oneOf(conv, pool, simple, merge, residual).list().ofMinSize(1).ofMaxSize(25)
        .map(l -> "model R {\n  input [3, 32, 32]\n  " + String.join("\n  ", l) + "\n}\n");
  }

  @Property(tries = 300)
  void compilingNeverCrashesAndValidNetworksAreConsistent(@ForAll("layers") String spec) {
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
