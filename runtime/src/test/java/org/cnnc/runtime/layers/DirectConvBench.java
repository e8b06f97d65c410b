// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The forward pass of first convs (on 3-channel 224x224 images, with bias and ReLU) computed
 * directly ({@link DirectConv}, whatever its rule) beside im2col and MKL's product (the direct
 * kernel off), in one
 * run, the two taking turns run by run, in a workspace as a network's layers run: the median of
 * {@code iters} runs after 3 warm-up runs, with each path's GFLOP/s (2 x multiply-adds over the
 * time). The shapes are the zoo's and the article's stems, and the convs around
 * {@link DirectConv#MAX_OUTPUTS} that set its rule. Run with the test classpath,
 * {@code --add-modules jdk.incubator.vector} and {@code OMP_WAIT_POLICY=PASSIVE}:
 *
 * <pre>DirectConvBench [iters 21] [batch 8]</pre>
 */
public final class DirectConvBench {
  private DirectConvBench() {}

  // out, kernel, stride, pad
  private static final int[][] SHAPES = {
      {64, 7, 2, 3}, // ResNet's and GoogLeNet's stem
      {32, 3, 2, 1}, // MobileNet's and EfficientNet's
      {64, 3, 1, 1}, // VGG's
      {64, 11, 4, 2}, // AlexNet's
      {96, 11, 4, 0}, // NiN's (stays on MKL)
      {96, 7, 2, 3}, {128, 7, 2, 3}, {128, 3, 1, 1}, // around the rule
  };

  private static final WorkspaceConfiguration WS = WorkspaceConfiguration.builder()
      .policyLearning(LearningPolicy.FIRST_LOOP).policyAllocation(AllocationPolicy.OVERALLOCATE)
      .overallocationLimit(0.2).policySpill(SpillPolicy.REALLOCATE).build();

  public static void main(String[] args) {
    int iters = args.length > 0 ? Integer.parseInt(args[0]) : 21;
    int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
    KernelSettings base = KernelSettings.current();
    KernelSettings[] paths = {base, base.withDirect(0)};
    System.out.printf("batch %d%n%-26s %16s %16s %8s%n", batch, "out kernel/stride pad", "direct ms", "im2col ms",
        "speed-up");
    for (int[] s : SHAPES) {
      int o = s[0];
      int k = s[1];
      ConvGemm.Geometry g = new ConvGemm.Geometry(k, k, s[2], s[2], s[3], s[3], 1, 1);
      Nd4j.getRandom().setSeed(1);
      INDArray x = Nd4j.randn(DataType.FLOAT, batch, 3, 224, 224);
      INDArray w = Nd4j.randn(DataType.FLOAT, o, 3, k, k).muli(0.1);
      INDArray bias = Nd4j.randn(DataType.FLOAT, 1, o);
      double[][] ms = new double[paths.length][iters];
      for (int i = -3; i < iters; i++) {
        for (int p = 0; p < paths.length; p++) {
          KernelSettings before = KernelSettings.use(paths[p]);
          String name = "DIRECT_BENCH_" + p;
          LayerWorkspaceMgr mgr = LayerWorkspaceMgr.builder().defaultWorkspace(name, WS).build();
          try (var ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WS, name)) {
            long t = System.nanoTime();
            if (p == 0) {
              // the direct kernel whatever its rule says, with the bias as ConvGemm reads it
              INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT,
                  new long[] {batch, o, g.outH(224), g.outW(224)}, 'c');
              DirectConv.forward(x, w, ChannelKernels.floats(bias), ChannelKernels.RELU, g, out);
            } else {
              ConvGemm.forward(x, w, bias, ChannelKernels.RELU, g, mgr, ArrayType.ACTIVATIONS);
            }
            if (i >= 0) {
              ms[p][i] = (System.nanoTime() - t) / 1e6;
            }
          } finally {
            KernelSettings.use(before);
          }
        }
      }
      double flops = 2.0 * batch * o * 3 * k * k * g.outH(224) * g.outW(224);
      double direct = median(ms[0]);
      double gemm = median(ms[1]);
      System.out.printf("%-26s %8.2f (%5.0f) %8.2f (%5.0f) %7.2fx%s%n", o + " " + k + "x" + k + "/" + s[2] + " p" + s[3],
          direct, flops / direct / 1e6, gemm, flops / gemm / 1e6, gemm / direct,
          DirectConv.takes(x, w, g, Nd4j.create(DataType.FLOAT, batch, o, g.outH(224), g.outW(224))) ? ""
              : "   (rule: im2col)");
    }
  }

  private static double median(double[] v) {
    double[] c = v.clone();
    Arrays.sort(c);
    return c[c.length / 2];
  }
}
