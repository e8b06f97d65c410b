// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SiLU on the Vector API's lanes, loaded only when {@link Vectors#on()}; {@link CnncRelu}'s SiLU
 * kernels. PyTorch's formulas: {@code x / (1 + exp(-x))} forward, {@code e * s * (1 + x * (1 - s))}
 * with {@code s = 1 / (1 + exp(-x))} backward, {@code exp} as {@link ChannelKernels#exp} computes
 * it, step for step, so vectors and the scalar tail (and the scalar path) give the same bits.
 */
final class VectorSilu {
  private VectorSilu() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  private static final int ROUND_BITS = Float.floatToRawIntBits(ChannelKernels.ROUND);

  /**
   * {@link ChannelKernels#exp} on each lane. The integer {@code n} is read from the bits of
   * {@code x log2(e) + 1.5 * 2^23}, whose low mantissa bits hold it (no conversion instruction).
   */
  static FloatVector exp(FloatVector x) {
    x = x.max(-104f).min(89f);
    FloatVector t = x.mul(ChannelKernels.LOG2E).add(ChannelKernels.ROUND);
    FloatVector n = t.sub(ChannelKernels.ROUND);
    FloatVector neg = n.neg();
    FloatVector r = neg.fma(FloatVector.broadcast(S, ChannelKernels.LN2_HI), x);
    r = neg.fma(FloatVector.broadcast(S, ChannelKernels.LN2_LO), r);
    float[] c = ChannelKernels.EXP_POLY;
    FloatVector p = FloatVector.broadcast(S, c[0]).fma(r, FloatVector.broadcast(S, c[1]));
    p = p.fma(r, FloatVector.broadcast(S, c[2]));
    p = p.fma(r, FloatVector.broadcast(S, c[3]));
    p = p.fma(r, FloatVector.broadcast(S, c[4]));
    p = p.fma(r, FloatVector.broadcast(S, c[5]));
    p = p.fma(r.mul(r), r).add(1f);
    IntVector ni = t.reinterpretAsInts().sub(ROUND_BITS);
    IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1);
    IntVector n2 = ni.sub(n1);
    FloatVector f1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    FloatVector f2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
    return p.mul(f1).mul(f2);
  }

  /** SiLU of each lane: {@code v / (1 + exp(-v))}, as {@link ChannelKernels#silu(float)} computes it. */
  static FloatVector silu(FloatVector v) {
    return v.div(exp(v.neg()).add(1f));
  }

  /** {@code x[0 .. len)} replaced by its SiLU. */
  static void forward(float[] x, int len) {
    int k = 0;
    for (int end = S.loopBound(len); k < end; k += S.length()) {
      FloatVector v = FloatVector.fromArray(S, x, k);
      silu(v).intoArray(x, k);
    }
    for (; k < len; k++) {
      x[k] = ChannelKernels.silu(x[k]);
    }
  }

  /** {@code e[0 .. len)} replaced by the input gradient of SiLU at {@code x} for output gradient {@code e}. */
  static void backward(float[] x, float[] e, int len) {
    int k = 0;
    for (int end = S.loopBound(len); k < end; k += S.length()) {
      FloatVector v = FloatVector.fromArray(S, x, k);
      FloatVector s = FloatVector.broadcast(S, 1f).div(exp(v.neg()).add(1f));
      FloatVector g = s.mul(v.mul(s.neg().add(1f)).add(1f));
      FloatVector.fromArray(S, e, k).mul(g).intoArray(e, k);
    }
    for (; k < len; k++) {
      e[k] = ChannelKernels.siluGrad(x[k], e[k]);
    }
  }
}
