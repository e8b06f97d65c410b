// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The products of the zoo's convolutions on MKL beside cnnc's own product on the Vector API
 * ({@link VectorGemm}), in one run, the two taking turns run by run: each a batch of {@code
 * batch} samples' products {@code W [m x k] X_i [k x n]} in one strided call, as a 1x1 conv (or an
 * im2col conv's columns) hands them to {@link Gemm#stridedBatch}; the median of {@code iters} runs
 * after 3 warm-up runs, with each library's GFLOP/s and the largest relative difference of their
 * results. Run with the test classpath, {@code --add-modules jdk.incubator.vector} and
 * {@code OMP_WAIT_POLICY=PASSIVE}:
 *
 * <pre>GemmBench [iters 15] [batch 8]</pre>
 */
public final class GemmBench {
  private GemmBench() {}

  // m (outputs), k (terms), n (columns a sample): the networks' own
  private static final int[][] SHAPES = {
      {64, 256, 3136}, {256, 64, 3136}, {128, 512, 784}, {512, 128, 784}, {256, 1024, 196}, {1024, 256, 196},
      {512, 2048, 49}, {2048, 512, 49}, // ResNet-50's 1x1 convs
      {96, 16, 12544}, {144, 24, 3136}, {24, 144, 3136}, {192, 32, 784}, {384, 64, 196}, {576, 96, 196},
      {960, 160, 49}, {1280, 320, 49}, // MobileNetV2's
      {64, 576, 3136}, {512, 4608, 196}, {192, 1600, 225}, // 3x3 on im2col; NiN's 5x5
  };

  public static void main(String[] args) {
    int iters = args.length > 0 ? Integer.parseInt(args[0]) : 15;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    OneDnn.init();
    System.out.printf("batch %d, median of %d (ms, GFLOP/s)%n%-20s %16s %16s %8s %9s%n", batch, iters, "m x k x n",
        "MKL", "vector", "speed-up", "rel diff");
    KernelSettings before = KernelSettings.current();
    try {
      for (int[] s : SHAPES) {
        int m = s[0];
        int k = s[1];
        int n = s[2];
        INDArray w = Nd4j.rand(DataType.FLOAT, m, k).subi(0.5);
        INDArray x = Nd4j.rand(DataType.FLOAT, batch, k, n).subi(0.5);
        INDArray[] out = {Nd4j.create(DataType.FLOAT, batch, m, n), Nd4j.create(DataType.FLOAT, batch, m, n)};
        String[] libs = {"mkl", "vector"};
        double[][] t = new double[2][iters];
        for (int it = -3; it < iters; it++) {
          for (int l = 0; l < 2; l++) {
            Gemm.use(libs[l]);
            INDArray o = out[l];
            long t0 = System.nanoTime();
            Gemm.stridedBatch(false, false, m, n, k, w, k, 0, x, n, (long) k * n, 0.0, o, n, (long) m * n, batch);
            if (it >= 0) {
              t[l][it] = (System.nanoTime() - t0) / 1e6;
            }
          }
        }
        double flop = 2.0 * m * k * n * batch;
        double mkl = median(t[0]);
        double vec = median(t[1]);
        double diff = out[0].sub(out[1]).amaxNumber().doubleValue() / out[0].amaxNumber().doubleValue();
        System.out.printf("%-20s %7.3f (%5.0f) %7.3f (%5.0f) %7.2fx %9.1e%n", m + " x " + k + " x " + n, mkl,
            flop / mkl / 1e6, vec, flop / vec / 1e6, mkl / vec, diff);
      }
    } finally {
      KernelSettings.use(before);
    }
  }

  private static double median(double[] t) {
    double[] c = t.clone();
    Arrays.sort(c);
    return c[c.length / 2];
  }
}
