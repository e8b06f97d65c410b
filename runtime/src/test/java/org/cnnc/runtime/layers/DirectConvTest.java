// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link DirectConv} (a conv of few input channels computed without im2col) against a plain
 * loop in double, on geometries drawn from a seeded generator and on the zoo's first convs: every
 * stride, padding and dilation, kernels of 1 to 11, output rows shorter than a vector, a whole
 * number of vectors, and longer than four, output channels that fill no block, and each fused
 * activation. Arrays are views at an offset inside larger ones whose other values must stay as
 * they were (nothing written past a row or a plane), and the input holds a NaN whose outputs, and
 * only those, must be NaN (padding is a zero, never a neighbour's value).
 */
class DirectConvTest {
  private static final float[] CAPS = {ChannelKernels.NONE, ChannelKernels.RELU, 6f, ChannelKernels.SILU};

  /** batch, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw */
  static Stream<Arguments> geometries() {
    List<Arguments> cases = new ArrayList<>();
    int[][] fixed = {
        {2, 3, 32, 32, 64, 7, 7, 2, 2, 3, 3, 1, 1},   // ResNet's and GoogLeNet's stem, on a small image
        {1, 3, 40, 40, 32, 3, 3, 2, 2, 1, 1, 1, 1},   // MobileNet's and EfficientNet's
        {2, 3, 20, 20, 64, 3, 3, 1, 1, 1, 1, 1, 1},   // VGG's
        {1, 3, 51, 51, 64, 11, 11, 4, 4, 2, 2, 1, 1}, // AlexNet's
        {2, 1, 28, 28, 20, 5, 5, 1, 1, 0, 0, 1, 1},   // LeNet's, one channel
        {1, 4, 9, 150, 7, 3, 5, 1, 3, 0, 2, 1, 1},    // rows of many vectors, a stride of 3 in columns only
        {1, 2, 12, 70, 13, 3, 3, 2, 1, 1, 1, 2, 2}};  // dilated, more than four vectors a row
    for (int[] s : fixed) {
      cases.add(Arguments.of(s, CAPS[cases.size() % CAPS.length], cases.size() % 2 == 0));
    }
    Random r = new Random(20261206L);
    for (int i = 0; i < 40; i++) {
      int kh = 1 + r.nextInt(7);
      int kw = 1 + r.nextInt(7);
      int dh = 1 + r.nextInt(2);
      int dw = 1 + r.nextInt(2);
      int sh = 1 + r.nextInt(4);
      int sw = 1 + r.nextInt(4);
      int ph = r.nextInt(kh + 1);
      int pw = r.nextInt(kw + 1);
      int h = Math.max(1, dh * (kh - 1) + 1 - 2 * ph) + r.nextInt(30);
      int w = Math.max(1, dw * (kw - 1) + 1 - 2 * pw) + r.nextInt(i % 3 == 0 ? 300 : 60);
      int[] s = {1 + r.nextInt(3), 1 + r.nextInt(4), h, w, 1 + r.nextInt(20), kh, kw, sh, sw, ph, pw, dh, dw};
      cases.add(Arguments.of(s, CAPS[r.nextInt(CAPS.length)], r.nextBoolean()));
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} cap {1} bias {2}")
  @MethodSource("geometries")
  void agreesWithALoopInDouble(int[] s, float cap, boolean withBias) {
    assertTrue(Vectors.on(), "the tests run with the Vector API");
    int b = s[0];
    int c = s[1];
    int h = s[2];
    int w = s[3];
    int o = s[4];
    ConvGemm.Geometry g = new ConvGemm.Geometry(s[5], s[6], s[7], s[8], s[9], s[10], s[11], s[12]);
    int oh = (int) g.outH(h);
    int ow = (int) g.outW(w);
    Random r = new Random(s.length * 31L + h * 7L + w);
    // the input and the output as samples 1 .. b of arrays of b + 2, the others sentinels
    INDArray xAll = Nd4j.rand(DataType.FLOAT, b + 2, c, h, w).subi(0.5);
    INDArray x = xAll.get(NDArrayIndex.interval(1, b + 1));
    int nanY = r.nextInt(h);
    int nanX = r.nextInt(w);
    x.putScalar(new long[] {b - 1, c - 1, nanY, nanX}, Float.NaN);
    INDArray wt = Nd4j.rand(DataType.FLOAT, o, c, s[5], s[6]).subi(0.5);
    INDArray bias = withBias ? Nd4j.rand(DataType.FLOAT, 1, o).subi(0.5) : null;
    INDArray outAll = Nd4j.create(DataType.FLOAT, b + 2, o, oh, ow).assign(1234.5f);
    INDArray out = outAll.get(NDArrayIndex.interval(1, b + 1));
    assertTrue(DirectConv.takes(x, wt, g, out), "the conv is computed directly");
    DirectConv.forward(x, wt, bias == null ? null : ChannelKernels.floats(bias), cap, g, out);

    float[] xs = x.dup().data().asFloat();
    float[] ws = wt.data().asFloat();
    float[] ys = out.dup().data().asFloat();
    for (int n = 0; n < b; n++) {
      for (int oc = 0; oc < o; oc++) {
        for (int oy = 0; oy < oh; oy++) {
          for (int ox = 0; ox < ow; ox++) {
            double sum = 0;
            double size = 0;
            boolean nan = false;
            for (int ch = 0; ch < c; ch++) {
              for (int ky = 0; ky < g.kh(); ky++) {
                int iy = oy * g.sh() + ky * g.dh() - g.ph();
                for (int kx = 0; kx < g.kw(); kx++) {
                  int ix = ox * g.sw() + kx * g.dw() - g.pw();
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                    continue;
                  }
                  float v = xs[((n * c + ch) * h + iy) * w + ix];
                  float k = ws[((oc * c + ch) * g.kh() + ky) * g.kw() + kx];
                  nan |= Float.isNaN(v);
                  sum += (double) v * k;
                  size += Math.abs((double) v * k);
                }
              }
            }
            double want = sum + (bias == null ? 0 : bias.getDouble(oc));
            if (cap == ChannelKernels.SILU) {
              want = want / (1 + Math.exp(-want));
            } else if (cap > 0) {
              want = Math.min(Math.max(want, 0), cap);
            }
            float got = ys[((n * o + oc) * oh + oy) * ow + ox];
            String at = "sample " + n + ", channel " + oc + ", row " + oy + ", column " + ox;
            if (nan) {
              assertTrue(Float.isNaN(got), at + ": reads the NaN, gave " + got);
            } else {
              assertEquals(want, got, 1e-5 * (size + 1), at);
            }
          }
        }
      }
    }
    // the samples around the views: untouched
    for (int n : new int[] {0, b + 1}) {
      INDArray around = outAll.get(NDArrayIndex.point(n));
      assertEquals(1234.5f, around.minNumber().floatValue(), "output sample " + n + " is not the conv's");
      assertEquals(1234.5f, around.maxNumber().floatValue(), "output sample " + n + " is not the conv's");
    }
  }

  @Test
  void takesFirstConvsOnly() {
    ConvGemm.Geometry g = new ConvGemm.Geometry(3, 3, 1, 1, 1, 1, 1, 1);
    INDArray out = Nd4j.create(DataType.FLOAT, 1, 64, 8, 8);
    assertTrue(DirectConv.takes(Nd4j.create(DataType.FLOAT, 1, 3, 8, 8), Nd4j.create(DataType.FLOAT, 64, 3, 3, 3), g,
        out));
    assertFalse(DirectConv.takes(Nd4j.create(DataType.FLOAT, 1, 16, 8, 8), Nd4j.create(DataType.FLOAT, 64, 16, 3, 3),
        g, out), "16 input channels: im2col and a GEMM");
    assertFalse(DirectConv.takes(Nd4j.create(DataType.DOUBLE, 1, 3, 8, 8), Nd4j.create(DataType.DOUBLE, 64, 3, 3, 3),
        g, Nd4j.create(DataType.DOUBLE, 1, 64, 8, 8)), "doubles");
    ConvGemm.Geometry big = new ConvGemm.Geometry(11, 11, 4, 4, 0, 0, 1, 1);
    assertFalse(DirectConv.takes(Nd4j.create(DataType.FLOAT, 1, 3, 51, 51), Nd4j.create(DataType.FLOAT, 96, 3, 11, 11),
        big, Nd4j.create(DataType.FLOAT, 1, 96, 11, 11)), "96 outputs of 363 taps: MKL's products pay for the columns");
    KernelSettings before = KernelSettings.use(KernelSettings.current().withDirect(0));
    try {
      assertFalse(DirectConv.takes(Nd4j.create(DataType.FLOAT, 1, 3, 8, 8), Nd4j.create(DataType.FLOAT, 64, 3, 3, 3),
          g, out), "switched off");
    } finally {
      KernelSettings.use(before);
    }
  }

  @Test
  void convGemmTakesItAndKeepsTheGemmPathsResult() {
    // the stem of ResNet on a small image through ConvGemm.forward, direct and through im2col
    INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 30, 30).subi(0.5);
    INDArray w = Nd4j.rand(DataType.FLOAT, 16, 3, 7, 7).subi(0.5);
    INDArray bias = Nd4j.rand(DataType.FLOAT, 1, 16);
    ConvGemm.Geometry g = new ConvGemm.Geometry(7, 7, 2, 2, 3, 3, 1, 1);
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    INDArray direct = ConvGemm.forward(x, w, bias, ChannelKernels.RELU, g, mgr, ArrayType.ACTIVATIONS);
    KernelSettings before = KernelSettings.use(KernelSettings.current().withDirect(0));
    INDArray gemm;
    try {
      gemm = ConvGemm.forward(x, w, bias, ChannelKernels.RELU, g, mgr, ArrayType.ACTIVATIONS);
    } finally {
      KernelSettings.use(before);
    }
    assertEquals(0, direct.sub(gemm).amaxNumber().doubleValue(), 1e-5);
    assertTrue(direct.minNumber().doubleValue() >= 0, "the ReLU is applied");
  }
}
