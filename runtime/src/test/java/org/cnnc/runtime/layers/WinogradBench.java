// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The forward pass of the 3x3 convs of stride 1 of VGG16, ResNet-50 and GoogLeNet (batch 8),
 * by Winograd's F(4x4, 3x3) (whatever the map: oneDNN's forward off) beside the path cnnc takes
 * without it (oneDNN for maps up to 56x56, else im2col and MKL's GEMM), in
 * one run, the two taking turns run by run: the median of {@code iters} runs after 3 warm-up
 * runs, with each path's GFLOP/s (2 x the direct conv's multiply-adds over the time). A third
 * column runs Winograd with the weights' transform kept across calls ({@link WinogradWeights}),
 * as inference does.
 * Run with the test classpath, {@code --add-modules jdk.incubator.vector} and
 * {@code OMP_WAIT_POLICY=PASSIVE}:
 *
 * <pre>WinogradBench [iters 7] [batch 8]</pre>
 */
public final class WinogradBench {
  private WinogradBench() {}

  // in, out, map (square), pad 1; the networks' own
  private static final int[][] SHAPES = {
      {64, 64, 224}, {128, 128, 112}, {256, 256, 56}, {512, 512, 28}, {512, 512, 14}, // VGG16
      {64, 64, 56}, {128, 128, 28}, {256, 256, 14}, {512, 512, 7}, // ResNet-50
      {96, 128, 28}, {128, 192, 28}, {96, 208, 14}, {160, 320, 7}, // GoogLeNet
  };

  public static void main(String[] args) {
    int iters = args.length > 0 ? Integer.parseInt(args[0]) : 7;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    KernelSettings base = KernelSettings.current();
    System.out.printf("%-22s %12s %12s %8s %12s %8s%n", "in->out map", "direct ms", "winograd ms", "speed-up",
        "kept U ms", "speed-up");
    double[] totals = new double[3];
    for (int[] s : SHAPES) {
      ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1},
          new int[] {1, 1});
      INDArray x = Nd4j.randn(DataType.FLOAT, batch, s[0], s[2], s[2]);
      INDArray w = Nd4j.randn(DataType.FLOAT, s[1], s[0], 3, 3);
      INDArray b = Nd4j.randn(DataType.FLOAT, s[1]);
      double flops = 2.0 * batch * s[0] * s[1] * 9.0 * s[2] * s[2];
      double[] ms = new double[3];
      // the third path keeps the weights' transform across calls, as inference does
      WinogradWeights kept = new WinogradWeights();
      // the two paths take turns, run by run, so that a slow spell of the machine hits both
      KernelSettings[] paths = {base.withWinograd(false, 1, 1, 1, 0),
          base.withOneDnn(base.oneDnn(), base.oneDnnMinChannels(), 0).withWinograd(true, 1, 1, 1, 0)};
      double[][] t = new double[3][iters];
      for (int i = -3; i < iters; i++) {
        for (int path = 0; path < 3; path++) {
          KernelSettings.use(paths[Math.min(path, 1)]);
          long t0 = System.nanoTime();
          ConvGemm.forward(x, w, b, ChannelKernels.RELU, g, LayerWorkspaceMgr.noWorkspaces(), ArrayType.ACTIVATIONS,
              path == 2 ? kept : null);
          if (i >= 0) {
            t[path][i] = (System.nanoTime() - t0) / 1e6;
          }
        }
      }
      for (int path = 0; path < 3; path++) {
        Arrays.sort(t[path]);
        ms[path] = t[path][iters / 2];
        totals[path] += ms[path];
      }
      KernelSettings.use(base);
      System.out.printf("%-22s %7.2f (%3.0f) %7.2f (%3.0f) %7.2fx %7.2f (%3.0f) %7.2fx%n",
          s[0] + "->" + s[1] + " " + s[2] + "^2", ms[0], flops / ms[0] / 1e6, ms[1], flops / ms[1] / 1e6,
          ms[0] / ms[1], ms[2], flops / ms[2] / 1e6, ms[0] / ms[2]);
    }
    System.out.printf("%-22s %12.2f %12.2f %7.2fx %12.2f %7.2fx%n", "total", totals[0], totals[1],
        totals[0] / totals[1], totals[2], totals[0] / totals[2]);
  }
}
