// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import java.util.Arrays;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** What the timing commands share: a seeded random batch, and the median time of a repeated action. */
final class Timing {
  private Timing() {}

  /** A random normal batch of {@code batch} examples of shape {@code example}. */
  static INDArray batch(long[] example, int batch, long seed) {
    long[] shape = new long[example.length + 1];
    shape[0] = batch;
    System.arraycopy(example, 0, shape, 1, example.length);
    Nd4j.getRandom().setSeed(org.cnnc.runtime.NetBuilder.nd4jSeed(seed));
    return Nd4j.randn(DataType.FLOAT, shape);
  }

  /** A random batch with one-hot labels (example i of class i mod classes) for each output of {@code g}. */
  static MultiDataSet trainingBatch(ComputationGraph g, long[] inShape, int batch) {
    INDArray x = batch(inShape, batch, 1);
    // labels of each loss's own shape (a class per example, or per pixel of a feature map): one
    // hot along the channels, the class of example r being r mod channels
    INDArray[] outputs = g.output(false, x);
    INDArray[] labels = new INDArray[outputs.length];
    for (int i = 0; i < labels.length; i++) {
      labels[i] = Nd4j.zeros(DataType.FLOAT, outputs[i].shape());
      long classes = outputs[i].size(1);
      for (int r = 0; r < batch; r++) {
        labels[i].get(NDArrayIndex.point(r), NDArrayIndex.point(r % classes)).assign(1f);
      }
    }
    return new MultiDataSet(new INDArray[] {x}, labels);
  }

  /** At most this many warm-up runs, however short a run is. */
  static final int MAX_WARMUP_RUNS = 5000;

  /**
   * The median milliseconds of {@code iters} runs, after warm-up runs: at least one, then more
   * until {@code warmupSeconds} have passed (at most {@value #MAX_WARMUP_RUNS}). The JIT compiles a
   * kernel only after thousands of calls, so one warm-up run leaves a small network's kernels
   * interpreted or half-compiled (NiN's forward takes 30 ms), and it goes on compiling the code of
   * DL4J that each layer runs for seconds more (NiN's training step: 87 ms after 3 s, 65 ms after
   * 7 s, 57 ms after 25 s).
   */
  static double median(Runnable r, int iters, double warmupSeconds) {
    long start = System.nanoTime();
    int runs = 0;
    do {
      r.run();
      runs++;
    } while (runs < MAX_WARMUP_RUNS && System.nanoTime() - start < (long) (warmupSeconds * 1e9));
    double[] t = new double[iters];
    for (int i = 0; i < iters; i++) {
      long t0 = System.nanoTime();
      r.run();
      t[i] = (System.nanoTime() - t0) / 1e6;
    }
    Arrays.sort(t);
    return t[iters / 2];
  }
}
