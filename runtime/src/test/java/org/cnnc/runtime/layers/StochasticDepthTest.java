// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * torchvision's {@code stochastic_depth}: the identity in inference and for p = 0; in training
 * each example's input (row) or the whole batch's is kept, scaled by 1 / (1 - p), or zeroed, with
 * the survival rate 1 - p; seeded draws repeat; the gradient is the output gradient times the same noise.
 */
class StochasticDepthTest {
  static final LayerWorkspaceMgr MGR = LayerWorkspaceMgr.noWorkspaces();

  static StochasticDepth.Impl vertex(double p, boolean row) {
    return (StochasticDepth.Impl) new StochasticDepth(p, row).instantiate(null, "sd", 0, null, false, DataType.FLOAT);
  }

  static INDArray input(long n) {
    Nd4j.getRandom().setSeed(3);
    return Nd4j.rand(DataType.FLOAT, n, 3, 4, 5).addi(0.5); // no zeros: a kept row is never all zero
  }

  @Test
  void identityInInferenceAndForPZero() {
    INDArray x = input(4);
    StochasticDepth.Impl v = vertex(0.5, true);
    v.setInputs(new INDArray[] {x});
    assertEquals(x, v.doForward(false, MGR));
    assertNull(v.lastNoise());
    StochasticDepth.Impl zero = vertex(0.0, true);
    zero.setInputs(new INDArray[] {x});
    assertEquals(x, zero.doForward(true, MGR));
    INDArray dy = input(4).muli(2);
    zero.setEpsilon(dy);
    assertEquals(dy, zero.doBackward(false, MGR).getSecond()[0]);
  }

  @Test
  void rowModeKeepsOrDropsEachExampleWithScaling() {
    double p = 0.3;
    int n = 2000;
    INDArray x = input(n);
    StochasticDepth.Impl v = vertex(p, true);
    v.setInputs(new INDArray[] {x});
    Nd4j.getRandom().setSeed(11);
    INDArray y = v.doForward(true, MGR);
    float scale = (float) (1 / (1 - p));
    int kept = 0;
    for (int i = 0; i < n; i++) {
      INDArray yi = y.slice(i);
      if (yi.sumNumber().doubleValue() == 0) {
        continue;
      }
      kept++;
      assertEquals(x.slice(i).mul(scale), yi, "example " + i + " is kept whole, scaled by 1 / (1 - p)");
    }
    // the survival rate: 1400 of 2000 expected, sd 20.5; 5 sd either way
    assertTrue(Math.abs(kept - n * (1 - p)) < 5 * Math.sqrt(n * p * (1 - p)), "kept " + kept + " of " + n);
    // backward: the output gradient times the same noise, example by example
    INDArray dy = Nd4j.ones(DataType.FLOAT, x.shape());
    v.setEpsilon(dy);
    INDArray dx = v.doBackward(false, MGR).getSecond()[0];
    float[] noise = v.lastNoise();
    for (int i = 0; i < n; i++) {
      assertTrue(noise[i] == 0f || noise[i] == scale, "noise " + noise[i]);
      assertEquals(Nd4j.ones(DataType.FLOAT, 3, 4, 5).muli(noise[i]), dx.slice(i), "gradient of example " + i);
      assertEquals(noise[i] != 0, y.slice(i).sumNumber().doubleValue() != 0, "noise and output of example " + i);
    }
  }

  @Test
  void seededDrawsRepeat() {
    INDArray x = input(64);
    StochasticDepth.Impl v = vertex(0.5, true);
    v.setInputs(new INDArray[] {x});
    Nd4j.getRandom().setSeed(5);
    v.doForward(true, MGR);
    float[] first = v.lastNoise();
    Nd4j.getRandom().setSeed(5);
    v.doForward(true, MGR);
    assertArrayEquals(first, v.lastNoise());
    Nd4j.getRandom().setSeed(6);
    v.doForward(true, MGR);
    assertNotEquals(java.util.Arrays.toString(first), java.util.Arrays.toString(v.lastNoise()));
  }

  @Test
  void batchModeDrawsOnceAndPOneDropsAll() {
    INDArray x = input(8);
    StochasticDepth.Impl batch = vertex(0.5, false);
    batch.setInputs(new INDArray[] {x});
    boolean sawKept = false;
    boolean sawDropped = false;
    for (int seed = 0; seed < 40; seed++) {
      Nd4j.getRandom().setSeed(100 + seed);
      INDArray y = batch.doForward(true, MGR);
      assertEquals(1, batch.lastNoise().length);
      if (batch.lastNoise()[0] == 0) {
        sawDropped = true;
        assertEquals(0.0, y.amaxNumber().doubleValue());
      } else {
        sawKept = true;
        assertEquals(x.mul(2f), y);
      }
    }
    assertTrue(sawKept && sawDropped, "40 draws of a fair coin");
    StochasticDepth.Impl all = vertex(1.0, true);
    all.setInputs(new INDArray[] {x});
    assertEquals(0.0, all.doForward(true, MGR).amaxNumber().doubleValue(), "p = 1 drops everything, unscaled");
    assertThrows(IllegalArgumentException.class, () -> new StochasticDepth(1.5, true));
  }
}
