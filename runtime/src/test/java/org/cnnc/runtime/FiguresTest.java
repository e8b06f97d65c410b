// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeSet;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.Ops;
import org.junit.jupiter.api.Test;

/** An instance's figures are those of its own arguments; every op of the registry has a lowering. */
class FiguresTest {
  @Test
  void anInstanceReportsTheFiguresOfItsArguments() throws Exception {
    Compiler.Compilation c = Compiler.compile(new Compiler.Request(java.util.List.of(Generated.ROOT.resolve("models.cnn")),
        java.util.List.of(), Map.of("classes", new Value.IntV(10))));
    Network ten = c.network("GoogLeNet").orElseThrow();
    CnnModel.Figures f = Generated.model("GoogLeNet", 10).figures();
    assertEquals(ten.paramCount(), f.params());
    assertEquals(ten.bufferCount(), f.buffers());
    assertEquals(ten.macs(), f.macs());
    for (Output o : ten.outputs()) {
      assertArrayEquals(new long[] {10}, f.shape(o.name()), o.name());
    }
    for (Node n : ten.nodes()) {
      assertArrayEquals(Arrays.stream(n.shape().dims()).asLongStream().toArray(), f.shape(n.name()), n.name());
    }
    assertArrayEquals(new long[] {3, 224, 224}, Generated.model("GoogLeNet", 10).inputShape());
    CnnModel.Figures byDefault = Generated.model("GoogLeNet").figures();
    assertEquals(Generated.network("GoogLeNet").paramCount(), byDefault.params());
    assertNotEquals(byDefault.params(), f.params());
    f.shape("main")[0] = 99;
    assertArrayEquals(new long[] {10}, f.shape("main"), "figures are immutable");
  }

  /** An instance whose arguments break an op's rule is refused as it is built, by the rule's own words. */
  @Test
  void anInstanceTheRulesRefuseIsRefusedByName(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path spec = java.nio.file.Files.writeString(dir.resolve("k.cnn"),
        "package p\nmodel K(k: int = 3) {\n    input [3, 8, 8]\n    conv(4, k)\n}\n");
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec));
    ClassLoader loader = Generated.compile(c, dir.resolve("g"));
    CnnModel big = (CnnModel) loader.loadClass("p.K").getConstructor(int.class).newInstance(20);
    IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        big::figures);
    assertEquals("0: kernel 20x20 is larger than the padded input 8x8", e.getMessage());
    CnnModel negative = (CnnModel) loader.loadClass("p.K").getConstructor(int.class).newInstance(-1);
    e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
        () -> negative.build(new NetBuilder(1)));
    assertEquals("0: argument `kernel` of `conv` must be at least 1, found [-1, -1]", e.getMessage());
  }

  @Test
  void everyOpOfTheRegistryHasALowering() {
    TreeSet<String> registry = new TreeSet<>();
    Ops.all().forEach(o -> registry.add(o.name()));
    assertEquals(registry, new TreeSet<>(Lowerings.ops()));
  }
}
