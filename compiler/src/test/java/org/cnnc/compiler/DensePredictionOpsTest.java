// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.cnnc.compiler.ZooOpsTest.errors;
import static org.cnnc.compiler.ZooOpsTest.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.summary.Summary;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upsampling for dense prediction through the compiler: {@code upsample} (scale or size, nearest
 * or bilinear) and {@code conv_transpose}: PyTorch's output sizes, keys, MACs, diagnostics at
 * their place, and the generated Java.
 */
class DensePredictionOpsTest {
  @TempDir Path dir;

  static Node node(Network n, String name) {
    return n.nodes().stream().filter(x -> x.name().equals(name)).findFirst().orElseThrow();
  }

  static String shapeOf(String input, String item) {
    Network n = ok("model M {\n    input " + input + "\n    y: " + item + "\n}\n").networks().get(0);
    return node(n, "y").shape().toString();
  }

  @Test
  void upsampleSizes() {
    // floor(in * scale), per side (F.interpolate's rule: 5 * 1.5 = 7.5 -> 7, 7 * 0.5 = 3.5 -> 3)
    assertEquals("[3, 10, 14]", shapeOf("[3, 5, 7]", "upsample(2)"));
    assertEquals("[3, 7, 10]", shapeOf("[3, 5, 7]", "upsample(1.5, mode = \"bilinear\")"));
    assertEquals("[3, 10, 3]", shapeOf("[3, 5, 7]", "upsample([2, 0.5])"));
    assertEquals("[3, 3, 4]", shapeOf("[3, 5, 7]", "upsample(scale = 0.6)"));
    assertEquals("[2, 224, 224]", shapeOf("[2, 28, 28]", "upsample(size = 224, mode = \"bilinear\")"));
    assertEquals("[2, 9, 4]", shapeOf("[2, 28, 28]", "upsample(size = [9, 4], mode = \"bilinear\", align_corners = true)"));
    Network n = ok("model M {\n    input [4, 5, 5]\n    y: upsample(3)\n}\n").networks().get(0);
    Summary s = new Summary(n);
    assertEquals(0, s.params());
    assertEquals(0, s.macs());
  }

  @Test
  void upsampleScaleMatchesFloorOfTheProductOnSeededSizes() {
    // a seeded generator of sizes and scales: the output side is floor(in * scale) computed in double
    Random r = new Random(17);
    for (int i = 0; i < 50; i++) {
      int h = 1 + r.nextInt(40);
      int w = 1 + r.nextInt(40);
      double sh = 1 + r.nextInt(30) / 10.0;
      double sw = 1 + r.nextInt(30) / 10.0;
      String y = shapeOf("[1, " + h + ", " + w + "]", "upsample([" + sh + ", " + sw + "], mode = \"bilinear\")");
      assertEquals("[1, " + (long) Math.floor(h * sh) + ", " + (long) Math.floor(w * sw) + "]", y, h + "x" + w);
    }
  }

  @Test
  void upsampleDiagnosticsAreLocated() {
    List<Diagnostic> both = errors("model M {\n    input [3, 4, 4]\n    upsample(2, size = 8)\n}\n");
    assertEquals("INVALID_ARGUMENT", both.get(0).id());
    assertEquals("8", both.get(0).span().text());
    assertEquals(24, both.get(0).span().column());
    assertTrue(both.get(0).message().contains("not both"), both.get(0).message());
    List<Diagnostic> none = errors("model M {\n    input [3, 4, 4]\n    upsample(mode = \"bilinear\")\n}\n");
    assertEquals("INVALID_ARGUMENT", none.get(0).id());
    assertEquals(3, none.get(0).span().line());
    List<Diagnostic> corners = errors("model M {\n    input [3, 4, 4]\n    upsample(2, align_corners = true)\n}\n");
    assertEquals("INVALID_ARGUMENT", corners.get(0).id());
    assertEquals("true", corners.get(0).span().text());
    List<Diagnostic> mode = errors("model M {\n    input [3, 4, 4]\n    upsample(2, mode = \"bicubic\")\n}\n");
    assertEquals("\"bicubic\"", mode.get(0).span().text());
    assertEquals("INVALID_ARGUMENT", errors("model M {\n    input [3, 4, 4]\n    upsample(0.1)\n}\n").get(0).id());
    assertEquals("INVALID_ARGUMENT", errors("model M {\n    input [3, 4, 4]\n    upsample(0)\n}\n").get(0).id());
    assertEquals("RANK_MISMATCH", errors("model M {\n    input [12]\n    upsample(2)\n}\n").get(0).id());
  }

  @Test
  void convTransposeShapesKeysAndMacs() {
    Network n = ok("model M {\n    input [6, 7, 10]\n"
        + "    y: conv_transpose(6 -> 8, 3, stride = 2, padding = 1, output_padding = 1, groups = 2)\n}\n").networks().get(0);
    Node y = node(n, "y");
    // (in - 1) * s - 2p + d(k - 1) + output_padding + 1: 6 * 2 - 2 + 2 + 1 + 1 = 14, 9 * 2 - 2 + 2 + 2 = 20
    assertEquals("[8, 14, 20]", y.shape().toString());
    List<String> keys = n.stateDict().stream().map(t -> t.path() + Arrays.toString(t.dims())).toList();
    assertEquals(List.of("y.weight[6, 4, 3, 3]", "y.bias[8]"), keys);
    // in.numel * out/groups * kh * kw
    assertEquals(6L * 7 * 10 * 4 * 9, new Summary(n).macs());
    // dilation and a kernel pair: (5 - 1) * 1 - 0 + 2 * (3 - 1) + 1 + 1 = 10, (5 - 1) * 3 + 1 * 1 + 2 + 1 = 16
    assertEquals("[4, 10, 16]", shapeOf("[2, 5, 5]", "conv_transpose(4, [3, 2], stride = [1, 3], dilation = [2, 1], "
        + "output_padding = [1, 2], bias = false)"));
  }

  @Test
  void convTransposeDiagnosticsAreLocated() {
    List<Diagnostic> op = errors("model M {\n    input [3, 4, 4]\n    conv_transpose(8, 3, stride = 2, output_padding = 2)\n}\n");
    assertEquals("INVALID_ARGUMENT", op.get(0).id());
    assertEquals("2", op.get(0).span().text());
    assertEquals(55, op.get(0).span().column());
    assertTrue(op.get(0).message().contains("smaller than the stride"), op.get(0).message());
    assertEquals("GROUPS_MISMATCH", errors("model M {\n    input [3, 4, 4]\n    conv_transpose(8, 3, groups = 2)\n}\n")
        .get(0).id());
    assertEquals("CHANNEL_MISMATCH", errors("model M {\n    input [3, 4, 4]\n    conv_transpose(4 -> 8, 3)\n}\n")
        .get(0).id());
    List<Diagnostic> empty = errors("model M {\n    input [3, 1, 1]\n    conv_transpose(8, 1, padding = 1)\n}\n");
    assertEquals("1", empty.get(0).span().text());
    assertEquals(36, empty.get(0).span().column());
  }

  @Test
  void generatedJavaCompiles() throws Exception {
    var c = ok("model M {\n    input [3, 5, 7]\n    upsample([1.5, 2], mode = \"bilinear\")\n    upsample(size = [9, 4])\n"
        + "    conv_transpose(4, 3, stride = 2, output_padding = 1)\n    upsample(2.5)\n}\n");
    List<Generator.Output> java = Generator.generate(c, c.networks(), null);
    assertTrue(java.get(0).text().contains("new double[] {1.5, 2}"), java.get(0).text());
    assertEquals(List.of(), GeneratedJava.errors(java, dir));
  }
}
