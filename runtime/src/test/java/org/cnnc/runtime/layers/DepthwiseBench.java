// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.List;
import org.cnnc.runtime.layers.KernelHarness.Op;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Prints, for MobileNetV2-like shapes (batch 8), the training forward time of cnnc's depthwise
 * kernel and of cnnc's dense conv on the same map (groups 1), each as ns per FLOP
 * (2 * outputs * taps * in-channels-per-group). Run with the test classpath and
 * {@code --add-modules jdk.incubator.vector}; PyTorch's figures: tools/pytorch/depthwise_bench.py.
 */
public final class DepthwiseBench {
  private DepthwiseBench() {}

  public static void main(String[] args) {
    int[][] shapes = {{32, 112, 112, 1}, {96, 112, 112, 2}, {144, 56, 56, 1}, {576, 14, 14, 1}};
    System.out.println("shape              depthwise ms  ns/FLOP   dense ms  ns/FLOP");
    for (int[] s : shapes) {
      int c = s[0];
      double dw = time(GroupedConvolutionTest.conf(c, c, c, 3, 3, s[3], 1, 1, 1, false, false, true), c, s);
      double dense = time(KernelHarness.cnncConv(c, c, 3, 3, s[3], 1, 1, 1, false, false), c, s);
      long outputs = 8L * c * ((s[1] + 2 - 3) / s[3] + 1) * ((s[2] + 2 - 3) / s[3] + 1);
      double fDw = 2.0 * outputs * 9;
      double fDense = fDw * c;
      System.out.printf("%4dx%3dx%3d s%d   %10.2f  %7.4f  %9.2f  %7.4f%n", c, s[1], s[2], s[3], dw, dw * 1e6 / fDw,
          dense, dense * 1e6 / fDense);
    }
  }

  /** Median of 9 timed forward passes after 3 warm-up passes, ms. */
  private static double time(org.deeplearning4j.nn.conf.layers.Layer conf, int c, int[] s) {
    Op op = KernelHarness.layer(conf, 1);
    INDArray x = KernelHarness.randn(1, 8, c, s[1], s[2]);
    for (int i = 0; i < 3; i++) {
      op.forward(List.of(x));
    }
    double[] t = new double[9];
    for (int i = 0; i < t.length; i++) {
      long t0 = System.nanoTime();
      op.forward(List.of(x));
      t[i] = (System.nanoTime() - t0) / 1e6;
    }
    java.util.Arrays.sort(t);
    return t[t.length / 2];
  }
}
