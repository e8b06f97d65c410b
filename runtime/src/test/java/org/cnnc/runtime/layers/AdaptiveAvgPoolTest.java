// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Adaptive average pooling's windows (PyTorch's start and end indices) and its backward pass
 * against central finite differences in double precision, on overlapping, uneven and repeated
 * windows.
 */
class AdaptiveAvgPoolTest {
  @Test
  void windowsArePyTorchs() {
    // torch: start = floor(i * in / out), end = ceil((i + 1) * in / out)
    assertArrayEquals(new long[] {0, 3}, AdaptiveAvgPool.window(0, 11, 5));
    assertArrayEquals(new long[] {2, 5}, AdaptiveAvgPool.window(1, 11, 5));
    assertArrayEquals(new long[] {8, 11}, AdaptiveAvgPool.window(4, 11, 5));
    assertArrayEquals(new long[] {2, 5}, AdaptiveAvgPool.window(1, 7, 3));
    assertArrayEquals(new long[] {0, 1}, AdaptiveAvgPool.window(0, 4, 6));
    assertArrayEquals(new long[] {0, 2}, AdaptiveAvgPool.window(1, 4, 6));
  }

  @Test
  void gradientsMatchFiniteDifferences() {
    int[][] cases = {{11, 7, 5, 3}, {4, 9, 6, 6}, {5, 5, 2, 3}, {4, 5, 4, 5}};
    int seed = 30;
    for (int[] c : cases) {
      Nd4j.getRandom().setSeed(seed++);
      INDArray x = Nd4j.randn(DataType.DOUBLE, 2, 3, c[0], c[1]);
      GraphVertex v = new AdaptiveAvgPool(c[2], c[3]).instantiate(null, "p", 0, null, false, DataType.DOUBLE);
      v.setInputs(new INDArray[] {x});
      INDArray y = v.doForward(true, LayerWorkspaceMgr.noWorkspaces()).dup();
      assertArrayEquals(new long[] {2, 3, c[2], c[3]}, y.shape());
      INDArray dy = Nd4j.randn(DataType.DOUBLE, y.shape());
      v.setEpsilon(dy);
      INDArray dx = v.doBackward(false, LayerWorkspaceMgr.noWorkspaces()).getSecond()[0];
      INDArray numeric = Nd4j.create(DataType.DOUBLE, x.shape());
      INDArray flat = x.reshape(x.length());
      INDArray nflat = numeric.reshape(numeric.length());
      for (long k = 0; k < x.length(); k++) {
        double x0 = flat.getDouble(k);
        flat.putScalar(k, x0 + 1e-6);
        double up = v.doForward(true, LayerWorkspaceMgr.noWorkspaces()).mul(dy).sumNumber().doubleValue();
        flat.putScalar(k, x0 - 1e-6);
        double down = v.doForward(true, LayerWorkspaceMgr.noWorkspaces()).mul(dy).sumNumber().doubleValue();
        flat.putScalar(k, x0);
        nflat.putScalar(k, (up - down) / 2e-6);
      }
      double err = Transforms.abs(dx.sub(numeric)).maxNumber().doubleValue()
          / Transforms.abs(numeric).maxNumber().doubleValue();
      assertTrue(err < 1e-7, java.util.Arrays.toString(c) + ": max rel err " + err);
      // the total gradient is conserved: each output's spread over its window
      assertEquals(dy.sumNumber().doubleValue(), dx.sumNumber().doubleValue(), 1e-9);
    }
  }
}
