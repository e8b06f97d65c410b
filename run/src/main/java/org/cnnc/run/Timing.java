package org.cnnc.run;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** What the timing commands share: a seeded random batch, and the median time of a repeated action. */
final class Timing {
  private Timing() {}

  /** A random normal batch of {@code batch} examples of shape {@code example}. */
  static INDArray batch(long[] example, int batch, long seed) {
    long[] shape = new long[example.length + 1];
    shape[0] = batch;
    System.arraycopy(example, 0, shape, 1, example.length);
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.FLOAT, shape);
  }

  /** The median milliseconds of {@code iters} runs, after one warm-up run. */
  static double median(Runnable r, int iters) {
    r.run();
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
