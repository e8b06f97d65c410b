// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Winograd's F(4x4, 3x3) against a direct convolution summed in double: every output within
 * {@link #TOLERANCE} of the sum of |w x| it is made of (the scale a float sum's rounding error is
 * relative to), on maps that are not multiples of the 4x4 tile, 1x1 and 2x3 maps, paddings 0, 1
 * and 2, odd channel counts, with and without bias, each fused activation, and blocks of one tile
 * row as well as the whole batch at once. The im2col path is held to the same bound, to show the
 * bound is about float's rounding, not loose. Non-finite inputs, weights and overflows must leave
 * Winograd's path ({@link Winograd#forward} answers false) and give the direct path's bits.
 */
class WinogradTest {
  /** Largest error over the sum of |w x| of the output: about 40 float epsilons. */
  static final double TOLERANCE = 5e-6;

  static Stream<Arguments> cases() {
    return Stream.of(
        // batch, in, out, h, w, pad
        Arguments.of(1, 16, 16, 8, 8, 1),
        Arguments.of(2, 17, 19, 13, 7, 1),
        Arguments.of(3, 16, 24, 5, 9, 0),
        Arguments.of(2, 32, 16, 2, 3, 1),
        Arguments.of(2, 16, 16, 1, 1, 1),
        Arguments.of(2, 20, 18, 11, 12, 2),
        Arguments.of(1, 16, 16, 3, 3, 0),
        Arguments.of(2, 64, 48, 28, 29, 1));
  }

  @ParameterizedTest(name = "b={0} c={1} o={2} {3}x{4} pad {5}")
  @MethodSource("cases")
  void matchesTheDirectSumWithinFloatRounding(int b, int c, int o, int h, int w, int pad) {
    ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {3, 3}, new int[] {1, 1}, new int[] {pad, pad},
        new int[] {1, 1});
    Nd4j.getRandom().setSeed(31L * c + h);
    INDArray x = Nd4j.randn(DataType.FLOAT, b, c, h, w);
    INDArray wt = Nd4j.randn(DataType.FLOAT, o, c, 3, 3).muli(0.3);
    INDArray bias = Nd4j.randn(DataType.FLOAT, o);
    int oh = (int) g.outH(h);
    int ow = (int) g.outW(w);
    double[][] ref = direct(x, wt, bias, pad, oh, ow);
    for (float cap : new float[] {ChannelKernels.NONE, ChannelKernels.RELU, 6f}) {
      for (boolean withBias : new boolean[] {true, false}) {
        for (long block : new long[] {Winograd.BLOCK_FLOATS, 1}) {
          INDArray out = Nd4j.createUninitialized(DataType.FLOAT, b, o, oh, ow);
          assertTrue(Winograd.forward(x, wt, withBias ? ChannelKernels.floats(bias) : null, cap, g, out,
              LayerWorkspaceMgr.noWorkspaces(), ArrayType.FF_WORKING_MEM, block, null), "finite data left Winograd's path");
          assertWithin(ref, out, withBias ? ChannelKernels.floats(bias) : null, cap,
              "winograd cap=" + cap + " bias=" + withBias + " block=" + block);
        }
        // the im2col path meets the same bound
        KernelSettings before = KernelSettings.use(KernelSettings.current().withWinograd(false, 1, 1, 1, 0).withOneDnn(false));
        try {
          INDArray out = ConvGemm.forward(x, wt, withBias ? bias : null, cap, g, LayerWorkspaceMgr.noWorkspaces(),
              ArrayType.ACTIVATIONS);
          assertWithin(ref, out, withBias ? ChannelKernels.floats(bias) : null, cap, "im2col cap=" + cap);
        } finally {
          KernelSettings.use(before);
        }
      }
    }
  }

  /** {@code {sum w x (without bias), sum |w x|}} per output in double, flattened as the output is. */
  private static double[][] direct(INDArray x, INDArray wt, INDArray bias, int pad, int oh, int ow) {
    int b = (int) x.size(0);
    int c = (int) x.size(1);
    int h = (int) x.size(2);
    int w = (int) x.size(3);
    int o = (int) wt.size(0);
    float[] xs = x.dup().data().asFloat();
    float[] ws = wt.dup().data().asFloat();
    double[] sum = new double[b * o * oh * ow];
    double[] abs = new double[sum.length];
    for (int n = 0; n < b; n++) {
      for (int oc = 0; oc < o; oc++) {
        for (int y = 0; y < oh; y++) {
          for (int xx = 0; xx < ow; xx++) {
            double s = 0;
            double a = 0;
            for (int ic = 0; ic < c; ic++) {
              for (int ky = 0; ky < 3; ky++) {
                int iy = y + ky - pad;
                for (int kx = 0; kx < 3; kx++) {
                  int ix = xx + kx - pad;
                  if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                    double p = (double) ws[((oc * c + ic) * 3 + ky) * 3 + kx] * xs[((n * c + ic) * h + iy) * w + ix];
                    s += p;
                    a += Math.abs(p);
                  }
                }
              }
            }
            int i = ((n * o + oc) * oh + y) * ow + xx;
            sum[i] = s;
            abs[i] = a;
          }
        }
      }
    }
    return new double[][] {sum, abs};
  }

  /** Every output within {@link #TOLERANCE} of the sum of |w x| (plus |bias|) it is made of; returns the worst error. */
  private static double assertWithin(double[][] ref, INDArray out, float[] bias, float cap, String what) {
    float[] got = out.dup().data().asFloat();
    int o = (int) out.size(1);
    int plane = (int) (out.size(2) * out.size(3));
    double worst = 0;
    for (int i = 0; i < got.length; i++) {
      double add = bias == null ? 0 : bias[(i / plane) % o];
      double want = activate(ref[0][i] + add, cap);
      double err = Math.abs(got[i] - want) / (ref[1][i] + Math.abs(add) + 1e-30);
      worst = Math.max(worst, err);
    }
    assertTrue(worst <= TOLERANCE, what + ": worst error " + worst + " of the sum of |w x|");
    return worst;
  }

  private static double activate(double v, float cap) {
    return cap > 0 ? Math.min(Math.max(v, 0), cap) : v;
  }

  /**
   * An infinity or NaN in the input or the weights, or inputs so large that the transforms
   * overflow, leave Winograd's path, and the conv gives the bits of the direct path (which
   * PyTorch's NaN and infinity pattern is).
   */
  @Test
  void nonFiniteValuesTakeTheDirectPath() {
    ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {3, 3}, new int[] {1, 1}, new int[] {1, 1},
        new int[] {1, 1});
    Nd4j.getRandom().setSeed(5);
    KernelSettings base = KernelSettings.current();
    // Winograd takes every 3x3 conv (these maps are below the default tile minimum), or none
    KernelSettings on = base.withWinograd(true, 1, 1, 1, 0);
    KernelSettings off = base.withWinograd(false, 1, 1, 1, 0);
    try {
      for (String kind : new String[] {"inf input", "nan input", "huge input", "inf weight", "nan weight"}) {
        INDArray x = Nd4j.randn(DataType.FLOAT, 2, 16, 9, 10);
        INDArray wt = Nd4j.randn(DataType.FLOAT, 16, 16, 3, 3);
        switch (kind) {
          case "inf input" -> x.putScalar(new long[] {1, 3, 4, 9}, Float.POSITIVE_INFINITY);
          case "nan input" -> x.putScalar(new long[] {0, 0, 0, 0}, Float.NaN);
          case "huge input" -> x.putScalar(new long[] {1, 7, 8, 2}, 3e37f);
          case "inf weight" -> wt.putScalar(new long[] {2, 5, 1, 1}, Float.NEGATIVE_INFINITY);
          default -> wt.putScalar(new long[] {9, 0, 2, 0}, Float.NaN);
        }
        INDArray out = Nd4j.createUninitialized(DataType.FLOAT, 2, 16, 9, 10);
        assertFalse(Winograd.forward(x, wt, null, ChannelKernels.NONE, g, out, LayerWorkspaceMgr.noWorkspaces(),
            ArrayType.FF_WORKING_MEM, null), kind + " stayed on Winograd's path");
        // through the conv: Winograd is tried, gives up, and the direct path computes it
        KernelSettings.use(on);
        assertTrue(ConvGemm.winograd(x, wt, g, out), kind + ": Winograd not even tried");
        INDArray viaWinograd = ConvGemm.forward(x, wt, null, ChannelKernels.NONE, g, LayerWorkspaceMgr.noWorkspaces(),
            ArrayType.ACTIVATIONS);
        KernelSettings.use(off);
        INDArray direct = ConvGemm.forward(x, wt, null, ChannelKernels.NONE, g, LayerWorkspaceMgr.noWorkspaces(),
            ArrayType.ACTIVATIONS);
        // the same bits, NaNs included
        assertArrayEquals(direct.dup().data().asFloat(), viaWinograd.dup().data().asFloat(), kind);
      }
    } finally {
      KernelSettings.use(base);
    }
  }

  /**
   * The default settings send a 3x3 conv of stride 1 with 16 channels or more and 192 output tiles
   * or more to Winograd, one that oneDNN would take (at any map size) only when it is wide, and
   * nothing else.
   */
  @Test
  void takesOnly3x3OfStride1OnLargeMapsOrWideLayers() {
    INDArray x = Nd4j.zeros(DataType.FLOAT, 1, 16, 56, 56);
    INDArray out = Nd4j.zeros(DataType.FLOAT, 1, 16, 56, 56);
    INDArray w3 = Nd4j.zeros(DataType.FLOAT, 16, 16, 3, 3);
    KernelSettings before = KernelSettings.use(KernelSettings.DEFAULTS);
    try {
      // batch 1 at 56x56 and 64x64, a narrow layer: oneDNN's forward (when it is on)
      assertEquals(!OneDnn.enabled(), ConvGemm.winograd(x, w3, geometry(3, 1, 1), out), "batch 1, 14x14 tiles");
      INDArray x64 = Nd4j.zeros(DataType.FLOAT, 1, 16, 64, 64);
      assertEquals(!OneDnn.enabled(), ConvGemm.winograd(x64, w3, geometry(3, 1, 1), x64), "batch 1, 16x16 tiles");
      KernelSettings.use(KernelSettings.DEFAULTS.withOneDnn(false));
      assertTrue(ConvGemm.winograd(x64, w3, geometry(3, 1, 1), x64), "batch 1, 16x16 tiles, oneDNN off");
      KernelSettings.use(KernelSettings.DEFAULTS);
      assertFalse(ConvGemm.winograd(x, w3, geometry(3, 2, 1), out), "stride 2");
      assertFalse(ConvGemm.winograd(x, Nd4j.zeros(DataType.FLOAT, 16, 16, 5, 5), geometry(5, 1, 1), out), "5x5");
      assertFalse(ConvGemm.winograd(x, w3, geometry(3, 1, 2), out), "dilated");
      assertFalse(ConvGemm.winograd(Nd4j.zeros(DataType.FLOAT, 1, 8, 56, 56), Nd4j.zeros(DataType.FLOAT, 16, 8, 3, 3),
          geometry(3, 1, 1), out), "8 input channels");
      assertFalse(ConvGemm.winograd(x, Nd4j.zeros(DataType.FLOAT, 8, 16, 3, 3), geometry(3, 1, 1),
          Nd4j.zeros(DataType.FLOAT, 1, 8, 56, 56)), "8 output channels");
      assertFalse(ConvGemm.winograd(Nd4j.zeros(DataType.FLOAT, 1, 16, 52, 56), w3, geometry(3, 1, 1),
          Nd4j.zeros(DataType.FLOAT, 1, 16, 52, 56)), "13x14 tiles");
      // batch 2 at 56x56: oneDNN's, unless the layer is wide
      assertFalse(ConvGemm.winograd(Nd4j.zeros(DataType.FLOAT, 2, 64, 56, 56), Nd4j.zeros(DataType.FLOAT, 64, 64, 3, 3),
          geometry(3, 1, 1), Nd4j.zeros(DataType.FLOAT, 2, 64, 56, 56)), "64 -> 64 that oneDNN takes");
      assertTrue(ConvGemm.winograd(Nd4j.zeros(DataType.FLOAT, 2, 256, 56, 56),
          Nd4j.zeros(DataType.FLOAT, 256, 256, 3, 3), geometry(3, 1, 1), Nd4j.zeros(DataType.FLOAT, 2, 256, 56, 56)),
          "256 -> 256 that oneDNN would take");
      // batch 2 at 112x112: oneDNN's too, unless the layer is wide
      assertEquals(!OneDnn.enabled(), ConvGemm.winograd(Nd4j.zeros(DataType.FLOAT, 2, 64, 112, 112),
          Nd4j.zeros(DataType.FLOAT, 64, 64, 3, 3), geometry(3, 1, 1), Nd4j.zeros(DataType.FLOAT, 2, 64, 112, 112)),
          "64 -> 64 at 112x112");
      // 28x28 at batch 1 (49 tiles): not Winograd's, even with the weights' transform kept; 32x32
      // (64 tiles) only with it kept (a wide layer, which oneDNN does not take from Winograd)
      INDArray x28 = Nd4j.zeros(DataType.FLOAT, 1, 256, 28, 28);
      INDArray w28 = Nd4j.zeros(DataType.FLOAT, 256, 256, 3, 3);
      assertFalse(ConvGemm.winograd(x28, w28, geometry(3, 1, 1), x28, false), "28x28, batch 1, transform per call");
      assertFalse(ConvGemm.winograd(x28, w28, geometry(3, 1, 1), x28, true), "28x28, batch 1, transform kept");
      INDArray x32 = Nd4j.zeros(DataType.FLOAT, 1, 256, 32, 32);
      assertFalse(ConvGemm.winograd(x32, w28, geometry(3, 1, 1), x32, false), "32x32, batch 1, transform per call");
      assertTrue(ConvGemm.winograd(x32, w28, geometry(3, 1, 1), x32, true), "32x32, batch 1, transform kept");
      // 14x14 (4 tiles a row) at batch 16: enough tiles, but a row fills too few lanes
      INDArray x14 = Nd4j.zeros(DataType.FLOAT, 16, 256, 14, 14);
      INDArray w14 = Nd4j.zeros(DataType.FLOAT, 256, 256, 3, 3);
      assertFalse(ConvGemm.winograd(x14, w14, geometry(3, 1, 1), x14, false), "14x14, batch 16");
      assertFalse(ConvGemm.winograd(x14, w14, geometry(3, 1, 1), x14, true), "14x14, batch 16, kept");
      KernelSettings.use(KernelSettings.DEFAULTS.withWinograd(false, 16, 1, 1, 0));
      assertFalse(ConvGemm.winograd(x, w3, geometry(3, 1, 1), out), "switched off");
    } finally {
      KernelSettings.use(before);
    }
  }

  private static ConvGemm.Geometry geometry(int k, int stride, int dilation) {
    return new ConvGemm.Geometry(new int[] {k, k}, new int[] {stride, stride}, new int[] {1, 1},
        new int[] {dilation, dilation});
  }

  /**
   * A kept transform ({@link WinogradWeights}) gives the bits of one made per call, is reused
   * while the weights keep their bits, and is made again on any change of a bit: one weight
   * moved by one ulp, or 0 turned into -0.
   */
  @Test
  void keptTransformIsRemadeOnAnyChangeOfTheWeights() {
    ConvGemm.Geometry g = geometry(3, 1, 1);
    Nd4j.getRandom().setSeed(11);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, 16, 9, 10);
    INDArray wt = Nd4j.randn(DataType.FLOAT, 24, 16, 3, 3);
    INDArray bias = Nd4j.randn(DataType.FLOAT, 24);
    wt.putScalar(new long[] {3, 4, 1, 2}, 0f);
    KernelSettings before = KernelSettings.use(KernelSettings.current().withOneDnn(false)
        .withWinograd(true, 1, 1, 1, 0).withWinogradKept(true, 1));
    try {
      WinogradWeights kept = new WinogradWeights();
      for (int change = 0; change < 3; change++) {
        if (change == 1) {
          wt.putScalar(new long[] {3, 4, 1, 2}, -0f);
        } else if (change == 2) {
          float v = wt.getFloat(new long[] {17, 9, 0, 0});
          wt.putScalar(new long[] {17, 9, 0, 0}, Math.nextUp(v));
        }
        float[] perCall = ConvGemm.forward(x, wt, bias, ChannelKernels.RELU, g, LayerWorkspaceMgr.noWorkspaces(),
            ArrayType.ACTIVATIONS, null).dup().data().asFloat();
        for (int call = 0; call < 2; call++) {
          float[] viaKept = ConvGemm.forward(x, wt, bias, ChannelKernels.RELU, g, LayerWorkspaceMgr.noWorkspaces(),
              ArrayType.ACTIVATIONS, kept).dup().data().asFloat();
          assertArrayEquals(perCall, viaKept, "change " + change + ", call " + call);
          assertEquals(change + 1, kept.transforms(), "transforms made after change " + change + ", call " + call);
        }
      }
      // switched off, the layer's transform is not used
      KernelSettings.use(KernelSettings.current().withWinogradKept(false, 1));
      wt.putScalar(new long[] {0, 0, 0, 0}, 1f);
      ConvGemm.forward(x, wt, bias, ChannelKernels.RELU, g, LayerWorkspaceMgr.noWorkspaces(), ArrayType.ACTIVATIONS,
          kept);
      assertEquals(3, kept.transforms(), "kept while switched off");
    } finally {
      KernelSettings.use(before);
    }
  }

  /**
   * A conv layer keeps its transform outside training, and what it computes follows its weights
   * whatever changes them: a training step, or a user's assign in place. After each, its inference
   * output equals, bit for bit, that of the same network with nothing kept.
   */
  @Test
  void layerInferenceFollowsTrainingAndAssignedWeights() {
    KernelSettings base = KernelSettings.current().withOneDnn(false).withWinograd(true, 1, 1, 1, 0);
    KernelSettings before = KernelSettings.use(base.withWinogradKept(true, 1));
    try {
      ComputationGraph net = GemmConvolutionTest.network(true, 16, 9, 10, 16, 3, 3, 1, 1, 1, 1, true, true);
      Nd4j.getRandom().setSeed(3);
      INDArray x = Nd4j.randn(DataType.FLOAT, 2, 16, 9, 10);
      INDArray y = Nd4j.randn(DataType.FLOAT, 2, 16, 9, 10);
      float[] first = net.outputSingle(false, x).dup().data().asFloat();
      for (String change : new String[] {"a training step", "an assign in place"}) {
        if (change.equals("a training step")) {
          net.fit(new INDArray[] {x}, new INDArray[] {y});
        } else {
          net.getLayer("tested").getParam("W").muli(-0.5);
        }
        float[] keptOut = net.outputSingle(false, x).dup().data().asFloat();
        KernelSettings.use(base.withWinogradKept(false, 1));
        float[] fresh = net.outputSingle(false, x).dup().data().asFloat();
        KernelSettings.use(base.withWinogradKept(true, 1));
        assertArrayEquals(fresh, keptOut, "after " + change);
        assertFalse(java.util.Arrays.equals(first, keptOut), "the output did not change after " + change);
        first = keptOut;
      }
    } finally {
      KernelSettings.use(before);
    }
  }
}
