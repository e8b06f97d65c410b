// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Batch norm's per-channel loops in training ({@link ChannelKernels#sum},
 * {@link ChannelKernels#squaredDeviations}, {@link ChannelKernels#dotDeviations}) and the masks of
 * a fused ReLU's or relu6's backward ({@link ChannelKernels#positiveOnly},
 * {@link ChannelKernels#insideOnly}) on the Vector API, used only when {@link Vectors#on()} and
 * {@link #USABLE}. The JIT vectorizes none of the scalar loops (the sums add floats into doubles, the masks move floats'
 * bits into ints): they ran at 0.6 to 1.1 ns a value, MobileNetV2's training step spent a third of
 * its batch norm backward pass in {@code insideOnly} alone.
 *
 * <p>Same bits as the scalar loops. Their eight partial sums {@code s0..s7} (value {@code k} into
 * {@code s(k mod 8)}) are the lanes of one 8-lane double vector (two 4-lane ones on AVX2), each
 * added to in the loops' order; the scalar loops then go on from the lanes ({@code
 * ChannelKernels.sumFrom} and its siblings) over the values short of a vector, and add the lanes
 * up. Products and differences are rounded as the scalar code rounds them (no fused
 * multiply-add). The masks compare the same int bits.
 *
 * <p>Only the species the other vector kernels use ({@code SPECIES_PREFERRED} of float, int and
 * double): a float vector of half the width, tried first for its conversion of equal lane counts,
 * made the JIT's type profiles inside the Vector API see two float classes, and the depthwise
 * kernels then ran their vectors boxed: MobileNetV2's training step went from about 415 to 500 ms
 * (probably why an earlier vector version of these sums was slower in whole steps too).
 */
final class VectorSums {
  private VectorSums() {}

  /** The machine's widest floats: 16 (AVX-512) or 8 (AVX2), the species every vector kernel of cnnc uses. */
  private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

  /** Half as many doubles: a float vector widens into two of them (its parts 0 and 1). */
  private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

  /** Values a step of the sums takes: 16 (two parts into the same eight partial sums) or 8 (one part into s0..s3, one into s4..s7). */
  private static final int STEP = F.length();

  private static final VectorSpecies<Integer> I = F.withLanes(int.class);

  private static final int NAN_MIN = 0x7f800001;

  /** Whether this machine's vectors hold 8 or 16 floats (else the scalar loops run). */
  static final boolean USABLE = (F.length() == 8 || F.length() == 16) && D.length() * 2 == F.length();

  /** {@code sum_k p[k]} for {@code k < n}, as {@link ChannelKernels#sum}. */
  static double sum(float[] p, int n) {
    DoubleVector lo = DoubleVector.zero(D);
    DoubleVector hi = DoubleVector.zero(D);
    int k = 0;
    if (STEP == 16) {
      for (; k + 16 <= n; k += 16) {
        FloatVector v = FloatVector.fromArray(F, p, k);
        lo = lo.add(part(v, 0)).add(part(v, 1));
      }
    } else {
      for (; k + 8 <= n; k += 8) {
        FloatVector v = FloatVector.fromArray(F, p, k);
        lo = lo.add(part(v, 0));
        hi = hi.add(part(v, 1));
      }
    }
    return ChannelKernels.sumFrom(p, k, n, lanes(lo, hi));
  }

  /** {@code sum_k (p[k] - mean)^2} for {@code k < n}, in double, as {@link ChannelKernels#squaredDeviations}. */
  static double squaredDeviations(float[] p, int n, double mean) {
    DoubleVector lo = DoubleVector.zero(D);
    DoubleVector hi = DoubleVector.zero(D);
    int k = 0;
    if (STEP == 16) {
      for (; k + 16 <= n; k += 16) {
        FloatVector v = FloatVector.fromArray(F, p, k);
        DoubleVector d0 = part(v, 0).sub(mean);
        DoubleVector d1 = part(v, 1).sub(mean);
        lo = lo.add(d0.mul(d0)).add(d1.mul(d1));
      }
    } else {
      for (; k + 8 <= n; k += 8) {
        FloatVector v = FloatVector.fromArray(F, p, k);
        DoubleVector d0 = part(v, 0).sub(mean);
        DoubleVector d1 = part(v, 1).sub(mean);
        lo = lo.add(d0.mul(d0));
        hi = hi.add(d1.mul(d1));
      }
    }
    return ChannelKernels.squaredDeviationsFrom(p, k, n, mean, lanes(lo, hi));
  }

  /**
   * {@code sum_k d[k] * (x[k] - mu)} for {@code from <= k < from + n}, each product in float, as
   * {@link ChannelKernels#dotDeviations}.
   */
  static double dotDeviations(float[] d, float[] x, int from, int n, float mu) {
    DoubleVector lo = DoubleVector.zero(D);
    DoubleVector hi = DoubleVector.zero(D);
    int k = from;
    int end = from + n;
    if (STEP == 16) {
      for (; k + 16 <= end; k += 16) {
        FloatVector v = FloatVector.fromArray(F, d, k).mul(FloatVector.fromArray(F, x, k).sub(mu));
        lo = lo.add(part(v, 0)).add(part(v, 1));
      }
    } else {
      for (; k + 8 <= end; k += 8) {
        FloatVector v = FloatVector.fromArray(F, d, k).mul(FloatVector.fromArray(F, x, k).sub(mu));
        lo = lo.add(part(v, 0));
        hi = hi.add(part(v, 1));
      }
    }
    return ChannelKernels.dotDeviationsFrom(d, x, k, end, mu, lanes(lo, hi));
  }

  /**
   * {@code d[at + k] = y[k] > 0 ? d[at + k] : +0} for {@code k < n}, {@code y}'s bits compared as
   * ints, as {@link ChannelKernels#positiveOnly} (a NaN of either sign's bits decides as they order).
   */
  static void positiveOnly(float[] d, int at, float[] y, int n) {
    IntVector zero = IntVector.zero(I);
    int l = F.length();
    int k = 0;
    for (; k + l <= n; k += l) {
      IntVector bits = FloatVector.fromArray(F, y, k).reinterpretAsInts();
      IntVector dv = FloatVector.fromArray(F, d, at + k).reinterpretAsInts();
      zero.blend(dv, bits.compare(VectorOperators.GT, 0)).reinterpretAsFloats().intoArray(d, at + k);
    }
    if (k < n) {
      ChannelKernels.positiveOnlyScalar(d, at + k, y, k, n - k);
    }
  }

  /**
   * {@code d[at + k] = 0 < y[k] < cap || isNaN(y[k]) ? d[at + k] : +0} for {@code k < n}, as
   * {@link ChannelKernels#insideOnly}: the same int comparisons of {@code y}'s bits.
   */
  static void insideOnly(float[] d, int at, float[] y, int n, float cap) {
    int capBits = Float.floatToRawIntBits(cap);
    IntVector zero = IntVector.zero(I);
    int l = F.length();
    int k = 0;
    for (; k + l <= n; k += l) {
      IntVector bits = FloatVector.fromArray(F, y, k).reinterpretAsInts();
      VectorMask<Integer> keep = bits.compare(VectorOperators.GT, 0)
          .and(bits.compare(VectorOperators.LT, capBits))
          .or(bits.and(0x7fffffff).compare(VectorOperators.GE, NAN_MIN));
      IntVector dv = FloatVector.fromArray(F, d, at + k).reinterpretAsInts();
      zero.blend(dv, keep).reinterpretAsFloats().intoArray(d, at + k);
    }
    if (k < n) {
      ChannelKernels.insideOnlyScalar(d, at + k, y, k, n - k, cap);
    }
  }

  /** Part {@code i} of {@code v} (its lower or upper half) widened to doubles. */
  private static DoubleVector part(FloatVector v, int i) {
    return (DoubleVector) v.convertShape(VectorOperators.F2D, D, i);
  }

  /** The eight partial sums s0..s7. */
  private static double[] lanes(DoubleVector lo, DoubleVector hi) {
    double[] s = new double[8];
    lo.intoArray(s, 0);
    if (STEP == 8) {
      hi.intoArray(s, 4);
    }
    return s;
  }
}
