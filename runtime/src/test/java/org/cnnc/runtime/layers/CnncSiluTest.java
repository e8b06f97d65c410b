// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * cnnc's SiLU against the formulas in double and PyTorch's special values, on the Vector API's
 * lanes and without them, over several parallel chunks; and the layer against DL4J's swish
 * activation layer (outputs and every gradient through it).
 */
class CnncSiluTest {
  /** Special values as PyTorch 1.13 gives them (torch.nn.functional.silu and its gradient, ones in). */
  private static final float[] X = {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -100f, -0f, 0f, 88f};
  private static final float[] Y = {Float.NaN, Float.POSITIVE_INFINITY, Float.NaN, -0f, -0f, 0f, 88f};
  private static final float[] DX = {Float.NaN, Float.NaN, Float.NaN, -0f, 0.5f, 0.5f, 1f};

  @Test
  void kernelsFollowTheFormulasAndPyTorchsSpecialValues() {
    int n = 40_003;
    java.util.Random random = new java.util.Random(11);
    float[] x = new float[n];
    float[] e = new float[n];
    for (int i = 0; i < n; i++) {
      x[i] = i < X.length ? X[i] : (float) (random.nextGaussian() * (i % 3 == 0 ? 20 : 3));
      e[i] = i < X.length ? 1f : (float) random.nextGaussian();
    }
    KernelSettings was = KernelSettings.current();
    float[][] outputs = new float[2][];
    float[][] gradients = new float[2][];
    try {
      for (boolean vectors : new boolean[] {false, true}) {
        KernelSettings.use(was.withVectors(vectors));
        INDArray y = Nd4j.create(DataType.FLOAT, n);
        INDArray dx = Nd4j.create(DataType.FLOAT, n);
        ChannelKernels.silu(Nd4j.createFromArray(x), y);
        ChannelKernels.siluBackward(Nd4j.createFromArray(x), Nd4j.createFromArray(e), dx);
        String path = vectors ? "vectors" : "scalar";
        outputs[vectors ? 1 : 0] = y.data().asFloat();
        gradients[vectors ? 1 : 0] = dx.data().asFloat();
        for (int i = 0; i < X.length; i++) {
          assertEquals(Y[i], y.getFloat(i), path + " silu(" + X[i] + ")");
          assertEquals(DX[i], dx.getFloat(i), path + " silu'(" + X[i] + ")");
        }
        for (int i = X.length; i < n; i++) {
          double v = x[i];
          double s = 1 / (1 + Math.exp(-v));
          double yRef = v * s;
          double dRef = e[i] * s * (1 + v * (1 - s));
          // a few float ulps of the value, or of the terms it is made of
          assertTrue(Math.abs(y.getFloat(i) - yRef) <= 4e-7 * Math.max(Math.abs(yRef), 1e-30) + 1e-37,
              path + " silu(" + v + ") = " + y.getFloat(i) + ", not " + yRef);
          assertTrue(Math.abs(dx.getFloat(i) - dRef) <= 1e-6 * Math.abs(e[i]) * Math.max(1, Math.abs(v)),
              path + " silu'(" + v + ") = " + dx.getFloat(i) + ", not " + dRef);
        }
      }
    } finally {
      KernelSettings.use(was);
    }
    // the same steps of the same exp on lanes as in scalars: the same bits
    org.junit.jupiter.api.Assertions.assertArrayEquals(outputs[0], outputs[1], "silu: vectors against scalars");
    org.junit.jupiter.api.Assertions.assertArrayEquals(gradients[0], gradients[1], "silu': vectors against scalars");
  }

  /** {@code exp} against the JDK's in double, over its whole range: within 2 ulps, 0 and infinity at the ends. */
  @Test
  void expIsWithinTwoUlps() {
    for (float x = -110f; x <= 95f; x = Math.nextUp(x + 1e-3f * Math.max(1f, Math.abs(x)))) {
      double ref = Math.exp(x);
      float got = ChannelKernels.exp(x);
      if (ref > Float.MAX_VALUE) {
        assertEquals(Float.POSITIVE_INFINITY, got, "exp(" + x + ")");
      } else if (ref >= Float.MIN_NORMAL) {
        assertTrue(Math.abs(got - ref) <= 2 * Math.ulp((float) ref), "exp(" + x + ") = " + got + ", not " + ref);
      } else {
        assertTrue(Math.abs(got - ref) <= 2 * Float.MIN_VALUE + 2e-7 * ref, "exp(" + x + ") = " + got + ", not " + ref);
      }
    }
    assertEquals(0f, ChannelKernels.exp(Float.NEGATIVE_INFINITY));
    assertEquals(Float.POSITIVE_INFINITY, ChannelKernels.exp(Float.POSITIVE_INFINITY));
    assertTrue(Float.isNaN(ChannelKernels.exp(Float.NaN)));
  }

  @Test
  void layerEqualsDl4jsSwish() {
    CnncReluTest.equalsDl4jsActivationLayer(Activation.SWISH, 4, 8, 1e-6, 1e-5);
  }
}
