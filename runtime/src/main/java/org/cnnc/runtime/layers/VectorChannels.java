// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The row pass of {@link ChannelKernels#affine}, {@link ChannelKernels#copyRows} and
 * {@link ChannelKernels#swapAxes} (a conv's bias, scale, residual and activation) on the Vector
 * API, loaded only when {@link Vectors#on()}: vectors read from and written to the arrays' native
 * memory, with no copy into a Java array and back. The values are usually in cache, just written
 * by a conv's product, and the two copies cost as much as the pass: [8, 384, 14, 14] with relu6
 * took 0.31 ms that way, 0.15 ms this way. The same operations in the same order as
 * {@link ChannelKernels}' loops, so the same bits.
 */
final class VectorChannels {
  private VectorChannels() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  private static final ByteOrder ORDER = ByteOrder.nativeOrder();

  /**
   * The row pass of {@link ChannelKernels.RowPass} on vectors over the native memory of
   * {@code x}, {@code r} (or null) and {@code out} (all {@link #addressable}): element offsets
   * become byte offsets into each array's buffer.
   */
  static ChannelKernels.RowPass rows(INDArray x, INDArray r, INDArray out) {
    ByteBuffer xb = x.data().asNio().order(ORDER);
    ByteBuffer rb = r == null ? null : r.data().asNio().order(ORDER);
    ByteBuffer ob = out.data().asNio().order(ORDER);
    return (xAt, rAt, oAt, n, a, s, cap) -> plane(xb, (int) (xAt * 4), rb, (int) (rAt * 4), ob, (int) (oAt * 4), n, a,
        s, cap);
  }

  /**
   * One plane's {@code n} values at byte offsets {@code x}, {@code r} (when {@code rb} is not
   * null) and {@code o}. Without a residual, {@code x * a + s} is skipped for {@code a = 1, s = 0}
   * without a ReLU (as {@link ChannelKernels#affine} skips it, which keeps a -0.0); before a ReLU
   * it is always computed (max and min make a -0.0 +0.0 either way). SiLU as {@link VectorSilu}
   * computes it.
   */
  private static void plane(ByteBuffer xb, int x, ByteBuffer rb, int r, ByteBuffer ob, int o, int n, float a, float s,
      float cap) {
    boolean relu = cap > 0;
    boolean silu = cap == ChannelKernels.SILU;
    boolean capped = relu && cap != ChannelKernels.RELU;
    boolean affine = relu || a != 1f || s != 0f;
    FloatVector zero = FloatVector.zero(S);
    FloatVector top = FloatVector.broadcast(S, cap);
    int l = S.length();
    int k = 0;
    for (; k + l <= n; k += l) {
      FloatVector v = FloatVector.fromByteBuffer(S, xb, x + 4 * k, ORDER);
      if (affine) {
        v = v.mul(a).add(s);
      }
      if (rb != null) {
        v = v.add(FloatVector.fromByteBuffer(S, rb, r + 4 * k, ORDER));
      }
      if (relu) {
        v = v.max(zero);
        if (capped) {
          v = v.min(top);
        }
      } else if (silu) {
        v = VectorSilu.silu(v);
      }
      v.intoByteBuffer(ob, o + 4 * k, ORDER);
    }
    for (; k < n; k++) {
      float v = xb.getFloat(x + 4 * k);
      if (affine) {
        v = v * a + s;
      }
      if (rb != null) {
        v += rb.getFloat(r + 4 * k);
      }
      if (relu) {
        v = Math.max(v, 0f);
        if (capped) {
          v = Math.min(v, cap);
        }
      } else if (silu) {
        v = ChannelKernels.silu(v);
      }
      ob.putFloat(o + 4 * k, v);
    }
  }
}
