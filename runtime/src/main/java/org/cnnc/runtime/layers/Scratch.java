// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * Per-thread float arrays that the Java kernels of this package ({@link ChannelKernels},
 * {@link Im2col}, {@link CnncMaxPool}, {@link CnncAdam}, {@link VectorGemm}) work in, reused
 * across calls instead of allocated per task.
 * A parallel task takes at most {@link #SLOTS} of them, and tasks never nest, so the kernels can
 * share them.
 *
 * <p>Not found through a {@link ThreadLocal} on every call: ND4J and JavaCPP fill the threads'
 * maps with thread locals they drop, and a lookup then walks past their stale entries
 * ({@code ThreadLocalMap.getEntryAfterMiss} took 15% of the Java samples of MobileNetV2's
 * {@code predict}). A worker of {@link Parallel} holds its own arrays; a worker of the common
 * fork-join pool (where {@link Parallel}'s loops run when its workers are taken) finds its arrays
 * by its index in the pool; the thread that last called from outside the pool (the one running a
 * network's steps) finds them in a one-entry cache; any other thread through its thread local.
 */
final class Scratch {
  private Scratch() {}

  static final int SLOTS = 6;

  private static final ThreadLocal<float[][]> ARRAYS = ThreadLocal.withInitial(() -> new float[SLOTS][0]);

  /** Arrays by pool index, for the common pool's workers (an index is one live worker's at a time). */
  private static volatile float[][][] workers = new float[0][][];

  /** A thread outside the pool and its arrays. */
  private record Caller(Thread thread, float[][] arrays) {}

  private static volatile Caller last;

  /** This thread's array {@code slot}, at least {@code n} long; what it holds is left over. */
  static float[] floats(int slot, int n) {
    float[][] s = arrays();
    if (s[slot].length < n) {
      s[slot] = new float[n];
    }
    return s[slot];
  }

  private static float[][] arrays() {
    Thread t = Thread.currentThread();
    if (t instanceof Parallel.Worker w) {
      return w.scratch;
    }
    if (t instanceof ForkJoinWorkerThread w && w.getPool() == ForkJoinPool.commonPool()) {
      int i = w.getPoolIndex();
      float[][][] all = workers;
      if (i < all.length && all[i] != null) {
        return all[i];
      }
      return grow(i);
    }
    Caller c = last;
    if (c != null && c.thread() == t) {
      return c.arrays();
    }
    float[][] a = ARRAYS.get();
    last = new Caller(t, a);
    return a;
  }

  private static synchronized float[][] grow(int i) {
    float[][][] all = workers;
    if (i >= all.length) {
      all = Arrays.copyOf(all, Math.max(i + 1, 2 * all.length));
    } else {
      all = all.clone();
    }
    if (all[i] == null) {
      all[i] = new float[SLOTS][0];
    }
    workers = all;
    return all[i];
  }
}
