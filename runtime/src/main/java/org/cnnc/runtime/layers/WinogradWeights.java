// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One conv layer's weights as {@link Winograd} transforms them ({@code U = G g G^T}), kept across
 * inference calls: the transform writes 4x the weights (36 floats per 3x3 pair) and cost more than
 * the products on small maps (512 -> 512 at 14x14, batch 1: 16.7 ms through Winograd with the
 * transform, 5.0 ms direct).
 *
 * <p>The weights are not trusted to stay put (a user may assign to a parameter in place, or load
 * others): every call compares them, bit for bit, with the copy the kept transform was made from,
 * and transforms them again on any difference, so a result never comes from stale weights. The
 * comparison reads the weights once (a vectorized mismatch of their bits); the cost in memory is
 * the copy and the transform, 5x the layer's 3x3 weights, held while the layer lives. Used for
 * forward passes outside training only (in training the weights change every step), and safe to
 * share between threads (an entry is immutable and published whole).
 */
public final class WinogradWeights {
  /** The weights' bits the transform {@code u} was made from, and their shape {@code [o, c]}. */
  private record Entry(int[] bits, long o, long c, INDArray u) {}

  private volatile Entry entry;

  /** Transforms made (a kept one reused does not count): for tests. */
  private volatile int transforms;

  /**
   * {@code U} for {@code w [o, c, 3, 3]} (float, C order, contiguous): the kept one when {@code w}
   * holds exactly the bits it was made from, else a new one, kept from then on.
   */
  INDArray transformed(INDArray w) {
    long o = w.size(0);
    long c = w.size(1);
    int n = (int) w.length();
    IntBuffer now = w.data().asNio().duplicate().order(ByteOrder.nativeOrder()).asIntBuffer()
        .slice((int) w.offset(), n);
    Entry e = entry;
    if (e != null && e.o == o && e.c == c && now.mismatch(IntBuffer.wrap(e.bits)) == -1) {
      return e.u;
    }
    int[] bits = new int[n];
    now.get(0, bits);
    float[] floats = new float[n];
    for (int i = 0; i < n; i++) {
      floats[i] = Float.intBitsToFloat(bits[i]);
    }
    INDArray u = Nd4j.createUninitializedDetached(DataType.FLOAT, 36L * o * c);
    // transformed from the copy, so that what is kept is what is compared
    Winograd.weights(FloatBuffer.wrap(floats), 0, (int) (o * c), u);
    entry = new Entry(bits, o, c, u);
    transforms++;
    return u;
  }

  int transforms() {
    return transforms;
  }
}
