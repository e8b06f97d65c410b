// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** The elementwise maximum of two runs of floats on the Vector API; loaded only when {@link Vectors#on()}. */
final class VectorMax {
  private VectorMax() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  /**
   * {@code a[ai + i] = max(a[ai + i], x[xi + i])} for whole vectors of {@code i < len}, as
   * {@code Math.max} (a NaN wins, +0 over -0); returns where the whole vectors end (the caller
   * does the rest).
   */
  static int maxInto(float[] a, int ai, float[] x, int xi, int len) {
    int i = 0;
    for (int end = S.loopBound(len); i < end; i += S.length()) {
      FloatVector.fromArray(S, a, ai + i).max(FloatVector.fromArray(S, x, xi + i)).intoArray(a, ai + i);
    }
    return i;
  }
}
