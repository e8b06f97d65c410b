// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.cnnc.runtime.layers.KernelHarness.Op;
import org.cnnc.runtime.layers.KernelHarness.Paths;
import org.cnnc.runtime.layers.KernelHarness.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/**
 * A race detector: every kernel's forward and backward pass, repeated {@link #RUNS} times on the
 * same arrays with every thread on (cnnc's Java kernels over the common pool, MKL's and oneDNN's
 * OpenMP threads), must give the same bits every time. A kernel that races on a shared buffer, a
 * library thread that reads what another still writes, or a reduction whose order depends on
 * timing shows up as a difference. The shapes are the article's networks' own, where the kernels
 * split work across threads. {@code TrainingDeterminismTest} does the same for whole networks.
 */
class RaceTest {
  static final int RUNS = 50;

  static Stream<Arguments> convs() {
    return Stream.of(Paths.values()).flatMap(p -> Stream.of(
        // GoogLeNet inception4c's 3x3, its 1x1 reductions, NiN's 5x5 with bias
        Arguments.of(p, new int[] {2, 128, 14, 14, 256, 3, 1, 0}),
        Arguments.of(p, new int[] {2, 192, 28, 28, 64, 1, 0, 0}),
        Arguments.of(p, new int[] {4, 96, 15, 15, 192, 5, 2, 1})));
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("convs")
  void convGivesTheSameBitsEveryRun(Paths path, int[] g) {
    Op op = KernelHarness.layer(KernelHarness.cnncConv(g[1], g[4], g[5], g[5], 1, g[6], g[6], 1, g[7] == 1, false), 4);
    INDArray x = KernelHarness.randn(1, g[0], g[1], g[2], g[3]);
    INDArray dy = KernelHarness.randn(2, g[0], g[4], g[2], g[3]);
    repeat(path + " conv", () -> path.on(() -> op.run(List.of(x), dy)));
  }

  @Test
  void batchNormGivesTheSameBitsEveryRun() {
    for (boolean relu : new boolean[] {false, true}) {
      Op op = KernelHarness.layer(KernelHarness.cnncBatchNorm(64, relu), 1);
      INDArray x = KernelHarness.randn(3, 8, 64, 28, 28);
      INDArray dy = KernelHarness.randn(4, x.shape());
      // the running statistics move with each run; output and gradients must not
      repeat("batchnorm relu=" + relu, () -> op.run(List.of(x), dy).only("gamma", "beta"));
    }
  }

  @Test
  void maxPoolReluDenseConcatGiveTheSameBitsEveryRun() {
    INDArray x = KernelHarness.randn(5, 4, 64, 56, 56);
    Op pool = KernelHarness.layer(new CnncMaxPool(new int[] {3, 3}, new int[] {2, 2}, new int[] {0, 0},
        new int[] {1, 1}, true), 1);
    INDArray dp = KernelHarness.randn(6, pool.forward(List.of(x)).shape());
    repeat("maxpool", () -> pool.run(List.of(x), dp));
    repeat("maxpool inference", () -> new KernelHarness.Result(pool.infer(List.of(x)), List.of(), Map.of()));

    Op add = KernelHarness.vertex(new CnncAdd(true));
    repeat("add relu", () -> add.run(List.of(x, x.mul(-0.5)), x));

    Op relu = KernelHarness.layer(new CnncRelu(), 1);
    repeat("relu", () -> relu.run(List.of(x), x));

    Op relu6 = KernelHarness.layer(new CnncRelu(org.nd4j.linalg.activations.Activation.RELU6), 1);
    INDArray wide = x.mul(4);
    repeat("relu6", () -> relu6.run(List.of(wide), x));

    Op dense = KernelHarness.layer(new CnncDense(KernelHarness.denseBuilder(1024, 1000, true)), 2);
    INDArray v = KernelHarness.randn(7, 8, 1024);
    INDArray dv = KernelHarness.randn(8, 8, 1000);
    repeat("dense", () -> dense.run(List.of(v), dv));

    Op concat = KernelHarness.concat();
    INDArray a = KernelHarness.randn(9, 8, 128, 28, 28);
    INDArray b = KernelHarness.randn(10, 8, 192, 28, 28);
    INDArray dc = KernelHarness.randn(11, 8, 320, 28, 28);
    repeat("concat", () -> concat.run(List.of(a, b), dc));
  }

  @Test
  void adamGivesTheSameBitsEveryRun() {
    long n = 3_000_000;
    INDArray grad0 = KernelHarness.randn(12, 1, n);
    INDArray first = null;
    for (int run = 0; run < 10; run++) {
      INDArray state = Nd4j.zeros(DataType.FLOAT, 1, 2 * n);
      var updater = CnncAdam.of(new Adam(1e-3)).instantiate(state, true);
      INDArray grad = null;
      for (int step = 0; step < 3; step++) {
        grad = grad0.mul(step + 1);
        updater.applyUpdater(grad, step, 0);
      }
      INDArray result = Nd4j.concat(1, grad, state);
      if (first == null) {
        first = result;
      } else {
        assertEquals(first, result, "Adam, run " + run);
      }
    }
  }

  /** Runs {@code body} {@link #RUNS} times; every result equals the first, bit for bit. */
  static void repeat(String what, Supplier<Result> body) {
    List<INDArray> first = body.get().all();
    for (int run = 1; run < RUNS; run++) {
      List<INDArray> now = body.get().all();
      for (int i = 0; i < first.size(); i++) {
        if (!first.get(i).equals(now.get(i))) {
          double diff = now.get(i).sub(first.get(i)).norm2Number().doubleValue()
              / Math.max(1e-30, first.get(i).norm2Number().doubleValue());
          throw new AssertionError(what + ": run " + run + " differs from run 0 in array " + i
              + " (relative difference " + diff + ")");
        }
      }
    }
  }
}
