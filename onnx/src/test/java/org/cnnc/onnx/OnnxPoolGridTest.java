// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Average and max pooling exported at every opset cnnc writes, on a grid of kernels, strides,
 * paddings (equal and unequal in height and width), ceil mode, count_include_pad and dilation, on
 * ONNX Runtime, against PyTorch's output (tools/pytorch/pool_grid.py): the pools' edge cases are
 * where runtimes differ.
 */
class OnnxPoolGridTest {
  @TempDir static Path dir;

  @Test
  void everyPoolOnEveryOpsetEqualsPyTorch() throws Exception {
    OnnxExportTest.python("tools/pytorch/pool_grid.py", "--out", dir.toString());
    Map<String, Npz.Array> cases = Npz.read(dir.resolve("pool_grid.npz"));
    List<String> wrong = new ArrayList<>();
    int n = 0;
    for (int i = 0; cases.containsKey("case" + i + "_args"); i++) {
      float[] a = cases.get("case" + i + "_args").data();
      Npz.Array x = cases.get("case" + i + "_input");
      Npz.Array want = cases.get("case" + i + "_output");
      String op = a[0] == 1
          ? String.format("avgpool([%d, %d], stride = [%d, %d], padding = [%d, %d], ceil = %b, count_include_pad = %b)",
              (int) a[1], (int) a[2], (int) a[3], (int) a[4], (int) a[5], (int) a[6], a[7] == 1, a[8] == 1)
          : String.format("maxpool([%d, %d], stride = [%d, %d], padding = [%d, %d], ceil = %b, dilation = %d)",
              (int) a[1], (int) a[2], (int) a[3], (int) a[4], (int) a[5], (int) a[6], a[7] == 1, (int) a[9]);
      Path spec = dir.resolve("case" + i + ".cnn");
      Files.writeString(spec, "model M {\n  input [" + x.shape()[1] + ", " + x.shape()[2] + ", " + x.shape()[3] + "]\n  "
          + op + "\n}\n");
      Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec));
      assertTrue(c.ok(), () -> op + ": " + c.diagnostics().sorted());
      Network net = c.networks().get(0);
      for (int opset = OnnxExport.MIN_OPSET; opset <= OnnxExport.MAX_OPSET; opset++) {
        try (OrtModel m = OrtModel.of(net, null, new OnnxExport.Options(opset, "test", 0), 1)) {
          Npz.Array y = m.predict(Map.of(net.node(net.inputs().get(0)).name(), x)).values().iterator().next();
          assertArrayEquals(want.shape(), y.shape(), op + " at opset " + opset);
          double diff = 0;
          for (int k = 0; k < y.data().length; k++) {
            diff = Math.max(diff, Math.abs(y.data()[k] - want.data()[k]));
          }
          if (diff > 1e-5) {
            wrong.add(op + " on " + x.shape()[2] + "x" + x.shape()[3] + " at opset " + opset + ": " + diff);
          }
        }
        n++;
      }
    }
    System.out.printf("pools on ONNX Runtime against PyTorch: %d cases x opsets%n", n);
    assertTrue(n > 200, "cases: " + n);
    assertEquals(List.of(), wrong);
  }
}
