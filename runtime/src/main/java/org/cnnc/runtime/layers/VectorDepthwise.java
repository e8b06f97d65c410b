// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The inner loops of {@link Depthwise} on the Vector API, loaded only when {@link Vectors#on()}.
 * Both work on whole vectors ({@code n} a multiple of {@link #L}) and carry no vector across
 * iterations (JDK 17's compiler boxes one a loop carries: see {@link VectorPool}).
 */
final class VectorDepthwise {
  private VectorDepthwise() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  /** The vector length in floats. */
  static final int L = S.length();

  /** {@code acc[at + i] += a * p[base + i]} for {@code i < n}. */
  static void axpy(float[] acc, int at, float a, float[] p, int base, int n) {
    FloatVector av = FloatVector.broadcast(S, a);
    for (int i = 0; i < n; i += L) {
      FloatVector.fromArray(S, p, base + i).fma(av, FloatVector.fromArray(S, acc, at + i)).intoArray(acc, at + i);
    }
  }

  /** {@code acc[at + i] += d[dAt + i] * p[base + i]} for {@code i < n}. */
  static void mulAdd(float[] acc, int at, float[] d, int dAt, float[] p, int base, int n) {
    for (int i = 0; i < n; i += L) {
      FloatVector.fromArray(S, d, dAt + i).fma(FloatVector.fromArray(S, p, base + i), FloatVector.fromArray(S, acc, at + i))
          .intoArray(acc, at + i);
    }
  }
}
