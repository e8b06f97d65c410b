// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.stream.IntStream;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The passes of {@link ChannelKernels#affine}, {@link ChannelKernels#copyRows} and
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
    // the buffers are views of the arrays' native memory, which a collection of an unreachable
    // array frees (a caller's temporary is otherwise dead once passed here)
    Reference.reachabilityFence(x3);
    Reference.reachabilityFence(r3);
    Reference.reachabilityFence(out3);
  }

  /**
   * Whether the memory of {@code a} and of {@code b} (whole arrays) do not overlap: a pass that
   * reads a vector of one and writes the other then gives what a pass through a copy gives.
   */
  static boolean disjoint(INDArray a, INDArray b) {
    long a0 = Gemm.address(a);
    long b0 = Gemm.address(b);
    return a0 + a.length() * Float.BYTES <= b0 || b0 + b.length() * Float.BYTES <= a0;
  }

  /**
   * Whether rows {@code srcAt + r * srcStride} of {@code src} and {@code dstAt + r * dstStride} of
   * {@code dst} are the same memory, row for row (a pass in place, each vector read before it is
   * written).
   */
  static boolean inPlace(INDArray src, long srcAt, long srcStride, INDArray dst, long dstAt, long dstStride) {
    return srcStride == dstStride && Gemm.address(src) + srcAt * Float.BYTES == Gemm.address(dst) + dstAt * Float.BYTES;
  }

  /**
   * {@link ChannelKernels#copyRows} on vectors: {@code rows} runs of {@code len} floats from
   * {@code src} (from element {@code srcAt}, {@code srcStride} apart) to {@code dst} (likewise),
   * each plus {@code add[row]} (when not null), then the activation of {@code cap}.
   */
  static void copyRows(INDArray src, long srcAt, long srcStride, INDArray dst, long dstAt, long dstStride, int rows,
      int len, float[] add, float cap) {
    ByteBuffer sb = src.data().asNio().order(ORDER);
    ByteBuffer db = dst.data().asNio().order(ORDER);
    long sBase = src.offset() + srcAt;
    long dBase = dst.offset() + dstAt;
    int per = ChannelKernels.perTask(len);
    IntStream.range(0, (rows + per - 1) / per).parallel().forEach(part -> {
      for (int row = part * per, end = Math.min(rows, row + per); row < end; row++) {
        plane(sb, (int) ((sBase + row * srcStride) * 4), null, 0, db, (int) ((dBase + row * dstStride) * 4), len, 1f,
            add == null ? 0f : add[row], cap);
      }
    });
    Reference.reachabilityFence(src);
    Reference.reachabilityFence(dst);
  }

  /**
   * {@link ChannelKernels#swapAxes} on vectors: {@code dst[j][i] = act(src[i][j] + add[i])} for
   * {@code src [A, B, n]} and {@code dst [B, A, n]}.
   */
  static void swapAxes(INDArray src3, INDArray dst3, float[] add, float cap) {
    int a = (int) src3.size(0);
    int bb = (int) src3.size(1);
    int n = (int) src3.size(2);
    ByteBuffer sb = src3.data().asNio().order(ORDER);
    ByteBuffer db = dst3.data().asNio().order(ORDER);
    long sBase = src3.offset();
    long dBase = dst3.offset();
    int planes = a * bb;
    int per = ChannelKernels.perTask(n);
    IntStream.range(0, (planes + per - 1) / per).parallel().forEach(part -> {
      for (int plane = part * per, end = Math.min(planes, plane + per); plane < end; plane++) {
        int i = plane / bb;
        int j = plane % bb;
        plane(sb, (int) ((sBase + (long) plane * n) * 4), null, 0, db, (int) ((dBase + ((long) j * a + i) * n) * 4), n,
            1f, add == null ? 0f : add[i], cap);
      }
    });
    Reference.reachabilityFence(src3);
    Reference.reachabilityFence(dst3);
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
