// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Max pooling's forward pass outside training ({@link CnncMaxPool} on the Vector API), on the
 * pools of VGG16 (2x2, stride 2), ResNet-50 (3x3, stride 2, padding 1) and GoogLeNet (3x3, stride
 * 2, ceil; 3x3 stride 1 padding 1 in its inception blocks): the median of {@code iters} runs after
 * 3 warm-up runs, and the rate of input read (GB/s). Run with the test classpath,
 * {@code --add-modules jdk.incubator.vector} and {@code OMP_WAIT_POLICY=PASSIVE}:
 *
 * <pre>PoolBench [iters 9] [batch 8]</pre>
 */
public final class PoolBench {
  private PoolBench() {}

  // channels, map, kernel, stride, padding, ceil
  private static final int[][] SHAPES = {
      {64, 224, 2, 2, 0, 0}, {128, 112, 2, 2, 0, 0}, {256, 56, 2, 2, 0, 0}, {512, 28, 2, 2, 0, 0},
      {512, 14, 2, 2, 0, 0}, // VGG16
      {64, 112, 3, 2, 1, 0}, // ResNet-50
      {64, 112, 3, 2, 0, 1}, {192, 56, 3, 2, 0, 1}, {480, 28, 3, 2, 0, 1}, {192, 28, 3, 1, 1, 0},
      {832, 14, 3, 1, 1, 0}, // GoogLeNet
  };

  public static void main(String[] args) {
    int iters = args.length > 0 ? Integer.parseInt(args[0]) : 9;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    System.out.printf("%-34s %10s %8s%n", "pool", "ms", "GB/s");
    double total = 0;
    for (int[] s : SHAPES) {
      Layer pool = CnncMaxPoolTest.network(new CnncMaxPool(new int[] {s[2], s[2]}, new int[] {s[3], s[3]},
          new int[] {s[4], s[4]}, new int[] {1, 1}, s[5] == 1), s[1], s[1]).getLayer("pool");
      INDArray x = Nd4j.randn(DataType.FLOAT, batch, s[0], s[1], s[1]);
      double[] t = new double[iters];
      for (int i = -3; i < iters; i++) {
        pool.setInput(x, mgr);
        long t0 = System.nanoTime();
        pool.activate(false, mgr);
        if (i >= 0) {
          t[i] = (System.nanoTime() - t0) / 1e6;
        }
      }
      Arrays.sort(t);
      double ms = t[iters / 2];
      total += ms;
      System.out.printf("%-34s %10.2f %8.1f%n", String.format("[%d, %d, %d^2] k%d s%d p%d%s", batch, s[0], s[1], s[2],
          s[3], s[4], s[5] == 1 ? " ceil" : ""), ms, x.length() * 4.0 / ms / 1e6);
    }
    System.out.printf("%-34s %10.2f%n", "total", total);
  }
}
