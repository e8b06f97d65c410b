// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@link ChannelKernels#affine}'s pass on the Vector API, loaded only when {@link Vectors#on()}:
 * vectors read from and written to the arrays' native memory, with no copy into a Java array and
 * back (the values are usually in cache, just written by a conv's product, and the two copies
 * cost as much as the pass: [8, 384, 14, 14] with relu6 took 0.31 ms that way, 0.15 ms this way).
 * The same operations in the same order as {@link ChannelKernels#affine}'s loops, so the same bits.
 */
final class VectorChannels {
  private VectorChannels() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  private static final ByteOrder ORDER = ByteOrder.nativeOrder();

  /** Whether every array (nulls skipped) has its values at byte offsets an int can hold. */
  static boolean addressable(INDArray... arrays) {
    for (INDArray a : arrays) {
      if (a != null && (a.offset() + a.length()) * Float.BYTES > Integer.MAX_VALUE) {
        return false;
      }
    }
    return true;
  }

  /**
   * {@code out = act(x * scale[c] + shift[c] (+ r))} on values {@code from .. from + len - 1} of
   * each of the {@code b * c} planes of {@code stride} values ({@code x3}, {@code r3} and
   * {@code out3} {@link ChannelKernels#direct} and {@link #addressable}); {@code cap} any of
   * {@link ChannelKernels#NONE}'s.
   */
  static void affine(INDArray x3, float[] scale, float[] shift, INDArray r3, float cap, INDArray out3, int from,
      int len) {
    int c = (int) x3.size(1);
    int planes = (int) (x3.size(0) * c);
    int stride = (int) x3.size(2);
    ByteBuffer xb = x3.data().asNio().order(ORDER);
    ByteBuffer ob = out3.data().asNio().order(ORDER);
    ByteBuffer rb = r3 == null ? null : r3.data().asNio().order(ORDER);
    long xBase = x3.offset();
    long oBase = out3.offset();
    long rBase = r3 == null ? 0 : r3.offset();
    int per = ChannelKernels.perTask(len);
    IntStream.range(0, (planes + per - 1) / per).parallel().forEach(part -> {
      for (int plane = part * per, end = Math.min(planes, plane + per); plane < end; plane++) {
        int ch = plane % c;
        float a = scale == null ? 1f : scale[ch];
        float s = shift == null ? 0f : shift[ch];
        long at = (long) plane * stride + from;
        plane(xb, (int) ((xBase + at) * 4), rb, (int) ((rBase + at) * 4), ob, (int) ((oBase + at) * 4), len, a, s,
            cap);
      }
    });
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
        v = v.div(VectorSilu.exp(v.neg()).add(1f));
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
