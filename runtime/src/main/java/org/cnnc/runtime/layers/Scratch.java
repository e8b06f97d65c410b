// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

/**
 * Per-thread float arrays that the Java kernels of this package ({@link ChannelKernels},
 * {@link Im2col}, {@link CnncMaxPool}, {@link CnncAdam}) work in, reused across calls instead of allocated per task.
 * A parallel task takes at most {@link #SLOTS} of them, and tasks never nest, so the kernels can
 * share them.
 */
final class Scratch {
  private Scratch() {}

  static final int SLOTS = 6;

  private static final ThreadLocal<float[][]> ARRAYS = ThreadLocal.withInitial(() -> new float[SLOTS][0]);

  /** This thread's array {@code slot}, at least {@code n} long; what it holds is left over. */
  static float[] floats(int slot, int n) {
    float[][] s = ARRAYS.get();
    if (s[slot].length < n) {
      s[slot] = new float[n];
    }
    return s[slot];
  }
}
