// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link LaidSqueeze}: a global average pooling and a squeeze-and-excitation scaling of an
 * activation in each of oneDNN's layouts (NHWC, channel blocks of 8 and 16), against the same on
 * NCHW: the means within a float's rounding of the exact mean (summed in double here), the
 * scaled values the same bits as one float product each (NaN, infinities and -0 included), into
 * the layout (its padded channels zero) and into NCHW; channel counts that fill no whole block,
 * batch 1 (NHWC split into channel ranges) and larger batches, one scale for every image.
 */
class LaidSqueezeTest {
  private static final int[] LAYOUTS = {ConvLayout.NHWC, 8, 16};

  /** n, c, h, w. */
  private static final int[][] SHAPES = {{1, 20, 7, 7}, {3, 24, 5, 9}, {1, 200, 14, 14}, {2, 1152, 7, 7}, {2, 3, 1, 2},
    {1, 96, 112, 112}};

  private static INDArray laid(INDArray a, int layout) {
    INDArray out = Nd4j.create(DataType.FLOAT, ConvLayout.rows(a.shape(), layout));
    ConvLayout.reorder(a, ConvLayout.NCHW, out, layout, a.shape());
    return out;
  }

  private static INDArray map(int[] s, long seed) {
    Random r = new Random(seed);
    float[] f = new float[s[0] * s[1] * s[2] * s[3]];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) (r.nextGaussian() * 3 + 1);
    }
    f[f.length / 3] = -0f;
    return Nd4j.createFromArray(f).reshape('c', s[0], s[1], s[2], s[3]);
  }

  @Test
  void meansOfEachLayoutAreTheNchwMeans() {
    for (int[] s : SHAPES) {
      INDArray x = map(s, s[1]);
      int c = s[1];
      int pixels = s[2] * s[3];
      float[] f = x.data().asFloat();
      for (int layout : LAYOUTS) {
        INDArray out = Nd4j.create(DataType.FLOAT, s[0], c, 1, 1);
        LaidSqueeze.means(laid(x, layout), x.shape(), layout, out, LayerWorkspaceMgr.noWorkspaces());
        for (int i = 0; i < s[0] * c; i++) {
          double exact = 0;
          for (int p = 0; p < pixels; p++) {
            exact += f[i * pixels + p];
          }
          exact /= pixels;
          float got = out.getFloat(i);
          assertTrue(Math.abs(got - exact) <= 1e-6 * Math.max(1, Math.abs(exact)),
              java.util.Arrays.toString(s) + " layout " + layout + ", mean " + i + ": " + got + " against " + exact);
        }
      }
    }
    // a NaN or an infinity in a plane is its mean
    INDArray x = map(new int[] {2, 20, 4, 4}, 5);
    x.putScalar(new long[] {1, 17, 2, 3}, Float.NaN);
    x.putScalar(new long[] {0, 3, 0, 0}, Float.POSITIVE_INFINITY);
    for (int layout : LAYOUTS) {
      INDArray out = Nd4j.create(DataType.FLOAT, 2, 20, 1, 1);
      LaidSqueeze.means(laid(x, layout), x.shape(), layout, out, LayerWorkspaceMgr.noWorkspaces());
      assertTrue(Float.isNaN(out.getFloat(1, 17, 0, 0)), "layout " + layout);
      assertEquals(Float.POSITIVE_INFINITY, out.getFloat(0, 3, 0, 0), "layout " + layout);
    }
  }

  @Test
  void scalesGiveTheNchwProductsBits() {
    for (int[] s : SHAPES) {
      INDArray x = map(s, 7 + s[1]);
      x.putScalar(new long[] {0, s[1] - 1, 0, s[3] - 1}, Float.NaN);
      x.putScalar(new long[] {s[0] - 1, 0, s[2] - 1, 0}, Float.NEGATIVE_INFINITY);
      for (boolean perImage : new boolean[] {true, false}) {
        INDArray scale = map(new int[] {perImage ? s[0] : 1, s[1], 1, 1}, 3);
        scale.putScalar(0, 0f);
        // the NCHW product: one float product each, as BroadcastMul's kernel
        INDArray expected = x.mul(scale.broadcast(x.shape()));
        for (int layout : LAYOUTS) {
          INDArray in = laid(x, layout);
          INDArray out = Nd4j.create(DataType.FLOAT, in.shape()).assign(Float.NaN);
          LaidSqueeze.scale(in, x.shape(), layout, scale, out, layout, LayerWorkspaceMgr.noWorkspaces());
          INDArray back = Nd4j.create(DataType.FLOAT, x.shape());
          ConvLayout.reorder(out, layout, back, ConvLayout.NCHW, x.shape());
          String what = java.util.Arrays.toString(s) + " layout " + layout + (perImage ? "" : ", one scale");
          assertArrayEquals(expected.data().asInt(), back.data().asInt(), what);
          // the padded channels of a blocked layout: zeros (the output was all NaN before)
          INDArray padding = Nd4j.create(DataType.FLOAT, in.shape());
          ConvLayout.reorder(Nd4j.ones(DataType.FLOAT, x.shape()), ConvLayout.NCHW, padding, layout, x.shape());
          float[] o = out.data().asFloat();
          float[] real = padding.data().asFloat();
          for (int i = 0; i < o.length; i++) {
            if (real[i] == 0f) {
              assertEquals(0, Float.floatToRawIntBits(o[i]), what + ": padded channel at " + i);
            }
          }
          INDArray nchw = Nd4j.create(DataType.FLOAT, x.shape()).assign(Float.NaN);
          LaidSqueeze.scale(in, x.shape(), layout, scale, nchw, ConvLayout.NCHW, LayerWorkspaceMgr.noWorkspaces());
          assertArrayEquals(expected.data().asInt(), nchw.data().asInt(), what + " into NCHW");
        }
      }
    }
  }

  @Test
  void refusesNchwInputAndOtherOutputLayouts() {
    INDArray x = Nd4j.rand(DataType.FLOAT, 1, 16, 4, 4);
    INDArray s = Nd4j.rand(DataType.FLOAT, 1, 16, 1, 1);
    assertThrows(IllegalArgumentException.class, () -> LaidSqueeze.scale(x, x.shape(), ConvLayout.NCHW, s,
        x.dup(), ConvLayout.NCHW, LayerWorkspaceMgr.noWorkspaces()));
    INDArray in = laid(x, 16);
    assertThrows(IllegalArgumentException.class, () -> LaidSqueeze.scale(in, x.shape(), 16, s,
        Nd4j.create(DataType.FLOAT, ConvLayout.rows(x.shape(), 8)), 8, LayerWorkspaceMgr.noWorkspaces()));
  }
}
