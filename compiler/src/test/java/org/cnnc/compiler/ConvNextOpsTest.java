// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.cnnc.compiler.ZooOpsTest.errors;
import static org.cnnc.compiler.ZooOpsTest.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.summary.Summary;
import org.junit.jupiter.api.Test;

/**
 * ConvNeXt's constructs through the compiler: {@code permute} and channels-last maps,
 * {@code layernorm} (last dim), {@code layernorm2d} (channels), {@code linear} (last dim, any
 * rank) and {@code scale} (a free parameter keyed by its label): shapes, keys, MACs and the
 * diagnostics of a channels-last map where a [C, H, W] one is needed.
 */
class ConvNextOpsTest {
  static final String BLOCK = """
      model M {
          input [8, 5, 6]
          x: identity
          "block": {
              conv(8, 3, padding = 1, groups = 8)
              permute([0, 2, 3, 1])
              layernorm(eps = 1e-6)
              linear(32)
              gelu
              linear(8)
              permute([0, 3, 1, 2])
          }
          layer_scale: scale([8, 1, 1], init = 1e-6)
          add(from layer_scale, from x)
          layernorm2d
      }
      """;

  static Node node(Network n, String name) {
    return n.nodes().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow(() -> new AssertionError(name));
  }

  @Test
  void aConvNextBlockHasTorchvisionsShapesKeysAndMacs() {
    Network n = ok(BLOCK).networks().get(0);
    assertEquals("[5, 6, 8]", node(n, "block.1").shape().toString());
    assertTrue(node(n, "block.1").shape().isChannelsLast());
    assertEquals("[5, 6, 32]", node(n, "block.3").shape().toString());
    assertTrue(node(n, "block.4").shape().isChannelsLast(), "gelu keeps the layout");
    assertEquals("[8, 5, 6]", node(n, "block.6").shape().toString());
    assertTrue(node(n, "block.6").shape().isMap());
    Map<String, String> keys = new TreeMap<>();
    n.stateDict().forEach(t -> keys.put(t.path(), Arrays.toString(t.dims())));
    assertEquals(Map.of(
        "block.0.weight", "[8, 1, 3, 3]", "block.0.bias", "[8]",
        "block.2.weight", "[8]", "block.2.bias", "[8]",
        "block.3.weight", "[32, 8]", "block.3.bias", "[32]",
        "block.5.weight", "[8, 32]", "block.5.bias", "[8]",
        "layer_scale", "[8, 1, 1]",
        "4.weight", "[8]"), without(keys, "4.bias"));
    assertEquals("[8]", keys.get("4.bias"));
    // the Linears count positions * in * out; norms and the scale count nothing
    long conv = 8L * 9 * 5 * 6;
    long linears = 2L * 5 * 6 * 8 * 32;
    assertEquals(conv + linears, new Summary(n).macs());
    assertEquals(1e-6, ((org.cnnc.compiler.sema.Value.FloatV) node(n, "block.2").args().get("eps")).value());
    assertEquals(1e-6, ((org.cnnc.compiler.sema.Value.FloatV) node(n, "layer_scale").args().get("init")).value());
  }

  private static Map<String, String> without(Map<String, String> m, String key) {
    Map<String, String> copy = new TreeMap<>(m);
    copy.remove(key);
    return copy;
  }

  @Test
  void linearActsOnTheLastDimOfAnyRank() {
    Network vec = ok("model M {\n input [12]\n linear(12 -> 5)\n}\n").networks().get(0);
    assertEquals("[5]", vec.node(vec.outputs().get(0).node()).shape().toString());
    assertEquals(60, new Summary(vec).macs());
    // on a [C, H, W] map it is PyTorch's Linear on the width, not a flattening dense
    Network map = ok("model M {\n input [2, 3, 4]\n linear(7, bias = false)\n}\n").networks().get(0);
    assertEquals("[2, 3, 7]", map.node(map.outputs().get(0).node()).shape().toString());
    assertEquals(2L * 3 * 4 * 7, new Summary(map).macs());
    assertEquals(List.of("0.weight"), map.stateDict().stream().map(t -> t.path()).toList());
    List<Diagnostic> stated = errors("model M {\n input [2, 3, 4]\n linear(5 -> 7)\n}\n");
    assertEquals("CHANNEL_MISMATCH", stated.get(0).id());
    assertTrue(stated.get(0).message().contains("4 flow in"), stated.get(0).message());
  }

  @Test
  void aChannelsLastMapIsRefusedWhereAMapIsNeeded() {
    for (String op : List.of("conv(4, 3)", "maxpool(2)", "global_avgpool", "batchnorm", "layernorm2d", "chunk(2, 0)")) {
      List<Diagnostic> d = errors("model M {\n input [4, 6, 6]\n permute([0, 2, 3, 1])\n " + op + "\n}\n");
      assertEquals("RANK_MISMATCH", d.get(0).id(), op);
      assertTrue(d.get(0).message().contains("found [6, 6, 4] (channels last)"), d.get(0).message());
      assertEquals(op.replaceAll("\\(.*", ""), d.get(0).span().text());
    }
    List<Diagnostic> cat = errors("model M {\n input [4, 6, 6]\n permute([0, 2, 3, 1])\n concat(identity, identity)\n}\n");
    assertEquals("SHAPE_MISMATCH", cat.get(0).id());
    // a channels-last map and a [C, H, W] map of the same dims do not add
    List<Diagnostic> add = errors("model M {\n input [4, 4, 4]\n x: identity\n permute([0, 2, 3, 1])\n add(identity, from x)\n}\n");
    assertEquals("SHAPE_MISMATCH", add.get(0).id());
  }

  @Test
  void permuteChecksItsDims() {
    assertEquals("INVALID_ARGUMENT", errors("model M {\n input [4, 6, 6]\n permute([0, 2, 2, 1])\n}\n").get(0).id());
    assertEquals("INVALID_ARGUMENT", errors("model M {\n input [4, 6, 6]\n permute([0, 1, 2])\n}\n").get(0).id());
    assertEquals("INVALID_ARGUMENT", errors("model M {\n input [4, 6, 6]\n permute([1, 0, 2, 3])\n}\n").get(0).id());
    List<Diagnostic> middle = errors("model M {\n input [4, 6, 7]\n permute([0, 2, 1, 3])\n}\n");
    assertTrue(middle.get(0).message().contains("between height and width"), middle.get(0).message());
    assertEquals("[0, 2, 1, 3]", middle.get(0).span().text());
    // swapping height and width keeps a [C, H, W] map
    Network hw = ok("model M {\n input [4, 6, 7]\n permute([0, 1, 3, 2])\n conv(2, 1)\n}\n").networks().get(0);
    assertEquals("[2, 7, 6]", hw.node(hw.outputs().get(0).node()).shape().toString());
  }

  @Test
  void scaleBroadcastsFromTheLastDimAndIsKeyedByItsLabel() {
    Network n = ok("model M {\n input [4, 3, 3]\n gamma: scale([3])\n scale([4, 1, 1])\n}\n").networks().get(0);
    assertEquals(List.of("gamma", "1"), n.stateDict().stream().map(t -> t.path()).toList());
    assertEquals(7, new Summary(n).params());
    List<Diagnostic> d = errors("model M {\n input [4, 3, 3]\n scale([2, 1, 1])\n}\n");
    assertEquals("INVALID_ARGUMENT", d.get(0).id());
    assertEquals("[2, 1, 1]", d.get(0).span().text());
    assertFalse(errors("model M {\n input [4, 3, 3]\n scale([1, 4, 3, 3])\n}\n").isEmpty());
  }
}
