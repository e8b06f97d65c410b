// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.junit.jupiter.api.Test;

/**
 * {@code every-op.cnn}, a network that uses every op of the registry, exported at every opset cnnc
 * writes: ONNX Runtime gives the same outputs at each (the lowerings that change with the opset,
 * as {@code gelu}'s, agree), and the spec does use every op (a new op must join it, and so is run
 * on both engines by the run module's OrtEngineTest).
 */
class OnnxOpsetsTest {
  static final Path SPEC = OnnxExportTest.ROOT.resolve("onnx/src/test/resources/every-op.cnn");

  @Test
  void theSpecUsesEveryOp() {
    Network net = network();
    Set<String> used = new TreeSet<>();
    net.nodes().forEach(n -> used.add(n.op()));
    Set<String> all = new TreeSet<>();
    Ops.all().stream().map(OpDef::name).forEach(all::add);
    all.removeAll(used);
    assertEquals(Set.of(), all, "ops every-op.cnn does not use");
  }

  static Network network() {
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(SPEC));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    return c.networks().get(0);
  }

  @Test
  void everyOpsetComputesTheSame() throws Exception {
    Network net = network();
    Node input = net.node(net.inputs().get(0));
    SplittableRandom r = new SplittableRandom(5);
    float[] x = new float[(int) input.shape().numel() * 2];
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) (r.nextGaussian() * 4);
    }
    Map<String, Npz.Array> in = Map.of(input.name(), Npz.Array.of(OnnxRepositoryTest.shape(2, input.shape().dims()), x));
    Map<Integer, float[]> out = new LinkedHashMap<>();
    for (int opset = OnnxExport.MIN_OPSET; opset <= OnnxExport.MAX_OPSET; opset++) {
      try (OrtModel m = OrtModel.of(net, null, new OnnxExport.Options(opset, "test", 9), 1)) {
        out.put(opset, m.predict(in).values().iterator().next().data());
      }
    }
    float[] base = out.get(OnnxExport.DEFAULT_OPSET);
    double max = 0;
    for (float f : base) {
      max = Math.max(max, Math.abs(f));
    }
    for (var e : out.entrySet()) {
      double diff = 0;
      for (int i = 0; i < base.length; i++) {
        diff = Math.max(diff, Math.abs(base[i] - e.getValue()[i]));
      }
      assertTrue(diff / max <= 1e-5, "opset " + e.getKey() + " differs from " + OnnxExport.DEFAULT_OPSET + " by " + diff / max);
    }
  }
}
