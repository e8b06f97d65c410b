// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.math.BigDecimal;
import java.math.MathContext;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Batch norm's sums in double over a channel's values ({@link ChannelKernels#sum},
 * {@link ChannelKernels#squaredDeviations}, {@link ChannelKernels#dotDeviations}): eight partial
 * sums and a tail, against exact sums (BigDecimal), on lengths with and without a tail, values
 * of mixed sign and magnitude.
 */
class ChannelSumsTest {
  @ParameterizedTest
  @ValueSource(ints = {0, 1, 7, 8, 9, 15, 1000, 12_345})
  void sumsAreExactToDoublePrecision(int n) {
    Random r = new Random(n);
    float[] p = new float[n];
    float[] q = new float[n];
    for (int i = 0; i < n; i++) {
      p[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3) + 5);
      q[i] = (float) r.nextGaussian();
    }
    BigDecimal sum = BigDecimal.ZERO;
    for (float v : p) {
      sum = sum.add(new BigDecimal(v));
    }
    double mean = n == 0 ? 0 : sum.doubleValue() / n;
    float mu = (float) mean;
    BigDecimal sq = BigDecimal.ZERO;
    BigDecimal dot = BigDecimal.ZERO;
    for (int i = 0; i < n; i++) {
      BigDecimal d = new BigDecimal(p[i]).subtract(new BigDecimal(mean));
      sq = sq.add(d.multiply(d));
      // the product in float, as batch norm's backward forms it
      dot = dot.add(new BigDecimal(q[i] * (p[i] - mu)));
    }
    assertClose(sum.doubleValue(), ChannelKernels.sum(p, n), sum.abs(MathContext.DECIMAL64).doubleValue());
    assertClose(sq.doubleValue(), ChannelKernels.squaredDeviations(p, n, mean), sq.doubleValue());
    double scale = 0;
    for (int i = 0; i < n; i++) {
      scale += Math.abs(q[i] * (p[i] - mu));
    }
    assertClose(dot.doubleValue(), ChannelKernels.dotDeviations(q, p, n, mu), scale);
    // a range that starts past the first value (a plane of several)
    if (n > 3) {
      BigDecimal part = BigDecimal.ZERO;
      for (int i = 3; i < n; i++) {
        part = part.add(new BigDecimal(q[i] * p[i]));
      }
      assertClose(part.doubleValue(), ChannelKernels.dotDeviations(q, p, 3, n - 3, 0f), scale);
    }
  }

  private static void assertClose(double exact, double actual, double scale) {
    assertEquals(exact, actual, 1e-13 * Math.max(scale, 1e-300) + 1e-300);
  }
}
