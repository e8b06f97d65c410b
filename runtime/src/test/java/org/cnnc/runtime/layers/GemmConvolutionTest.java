// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * cnnc's GEMM convolution against DL4J's own: the same network (a DL4J conv, then the conv under
 * test, then a squared-error loss) built twice, once with each, with the same parameters; the
 * outputs, the score and every gradient (the first conv's gradient carries the tested conv's
 * input gradient) must agree. The cases cover 1x1 without im2col, stride, padding, dilation,
 * non-square kernels, bias or not, a fused ReLU, and every layout: the whole batch in one GEMM,
 * and tiled, each sample's map whole or cut into bands of one or two output rows (an odd number
 * of rows leaves a short last band); im2col's stride-1 rows built in a Java array or copied buffer
 * to buffer; the products on MKL and on ND4J's OpenBLAS; and on oneDNN (cnnc's own primitives, OneDnnConv).
 */
class GemmConvolutionTest {
  static Stream<Arguments> cases() {
    return Stream.of(
        // batch, channels, h, w, out, kernel h, kernel w, stride, pad h, pad w, dilation, bias, relu
        Arguments.of(3, 5, 30, 30, 7, 1, 1, 1, 0, 0, 1, true, false),   // pointwise
        Arguments.of(3, 5, 9, 9, 7, 1, 1, 1, 0, 0, 1, true, false),     // pointwise, small map
        Arguments.of(2, 4, 31, 29, 6, 3, 3, 1, 1, 1, 1, true, false),   // 3x3 pad 1
        Arguments.of(4, 4, 7, 7, 6, 3, 3, 1, 1, 1, 1, false, false),    // no bias
        Arguments.of(2, 3, 35, 35, 5, 7, 7, 2, 3, 3, 1, true, false),   // GoogLeNet's stem shape
        Arguments.of(3, 3, 12, 11, 4, 5, 3, 2, 2, 1, 1, true, false),   // non-square, odd sizes
        Arguments.of(2, 3, 13, 13, 4, 3, 3, 1, 2, 2, 2, true, false),   // dilated
        Arguments.of(2, 6, 10, 10, 4, 1, 1, 2, 0, 0, 1, true, false),   // strided 1x1 goes through im2col
        Arguments.of(1, 4, 8, 8, 5, 3, 3, 1, 1, 1, 1, true, true),      // batch 1, fused ReLU
        Arguments.of(3, 4, 6, 6, 5, 3, 3, 1, 0, 0, 1, true, true),      // fused ReLU
        Arguments.of(2, 5, 11, 11, 6, 1, 1, 1, 0, 0, 1, true, true),    // pointwise, fused ReLU
        Arguments.of(2, 3, 15, 14, 4, 3, 3, 2, 1, 1, 1, false, true),   // strided bands, fused ReLU
        Arguments.of(2, 3, 27, 26, 4, 11, 11, 4, 0, 0, 1, true, false), // NiN's stem shape: stride 4
        Arguments.of(2, 3, 17, 16, 4, 3, 3, 3, 1, 2, 1, true, false),   // stride 3, padding wider than it
        Arguments.of(2, 2, 17, 18, 3, 3, 3, 2, 2, 1, 2, true, true),    // strided and dilated
        Arguments.of(2, 3, 19, 17, 4, 2, 2, 4, 1, 1, 1, true, false),   // stride past the kernel: rows, phases unread
        Arguments.of(2, 5, 13, 11, 3, 1, 1, 3, 0, 0, 1, false, true),   // 1x1 of stride 3: a row and phase in three
        Arguments.of(4, 16, 64, 63, 256, 1, 1, 1, 0, 0, 1, true, true), // MKL's products in bands, the last short
        Arguments.of(3, 8, 70, 70, 144, 3, 3, 1, 1, 1, 1, false, true)); // 3x3 in bands (K = 72)
  }

  @ParameterizedTest
  @MethodSource("cases")
  void equalsDl4jForwardAndBackward(int batch, int c, int h, int w, int out, int kh, int kw, int s, int ph, int pw,
      int d, boolean bias, boolean relu) {
    KernelSettings before = KernelSettings.current();
    long tile = before.tileColumns();
    long k = (long) c * kh * kw;
    long ow = (w + 2L * pw - (long) d * (kw - 1) - 1) / s + 1;
    // every path but Winograd's (tried on its own below)
    KernelSettings plain = before.withWinograd(false, 1, 1, 1, 0);
    try {
      // on oneDNN (every case that is not pointwise or dilated: the channel threshold lowered to 1)
      KernelSettings.use(plain.withOneDnn(true, 1, before.oneDnnMaxForwardMap()));
      compare(batch, c, h, w, out, kh, kw, s, ph, pw, d, bias, relu);
      // forward by GEMM, backward on oneDNN (as for large maps)
      KernelSettings.use(plain.withOneDnn(true, 1, 0));
      compare(batch, c, h, w, out, kh, kw, s, ph, pw, d, bias, relu);
      if (kh == 3 && kw == 3 && s == 1 && d == 1) {
        // forward by Winograd's F(4x4, 3x3), whatever the channels
        KernelSettings.use(before.withOneDnn(false).withWinograd(true, 1, 1, 1, 0));
        compare(batch, c, h, w, out, kh, kw, s, ph, pw, d, bias, relu);
      }
      // the products on MKL, on oneDNN's sgemm, on cnnc's vector product and on ND4J's OpenBLAS; im2col's rows
      // through a Java array (these maps are narrow), then buffer to buffer
      for (String blas : new String[] {"mkl", "onednn", "vector", "openblas"}) {
        for (int rowCopies : new int[] {before.directRow(), 1}) {
          KernelSettings gemm = plain.withOneDnn(false).withBlas(blas).withDirectRow(rowCopies);
          // the whole batch in one GEMM
          KernelSettings.use(gemm.withLayout(true, gemm.stridedMin(), tile));
          compare(batch, c, h, w, out, kh, kw, s, ph, pw, d, bias, relu);
          // tiled: each sample's map whole, then in bands of one and of two output rows
          for (long columns : new long[] {tile, 1, 2 * k * ow}) {
            KernelSettings.use(gemm.withLayout(false, gemm.stridedMin(), columns));
            compare(batch, c, h, w, out, kh, kw, s, ph, pw, d, bias, relu);
          }
        }
      }
    } finally {
      KernelSettings.use(before);
    }
  }

  /**
   * ND4J is the build with oneDNN, so the cases above do run on it, and ND4J's own helpers are off
   * once a cnnc layer exists (two of them are wrong: see {@link OneDnn}).
   */
  @Test
  void oneDnnForConvsOnlyOtherHelpersOff() {
    network(true, 3, 5, 5, 2, 3, 3, 1, 1, 1, 1, true, false);
    assertTrue(OneDnn.BUILT_IN, "ND4J's build information lacks HAVE_ONEDNN");
    assertTrue(OneDnn.enabled());
    assertFalse(Nd4j.getEnvironment().helpersAllowed());
  }

  private static void compare(int batch, int c, int h, int w, int out, int kh, int kw, int s, int ph, int pw, int d,
      boolean bias, boolean relu) {
    ComputationGraph theirs = network(false, c, h, w, out, kh, kw, s, ph, pw, d, bias, relu);
    ComputationGraph ours = network(true, c, h, w, out, kh, kw, s, ph, pw, d, bias, relu);
    ours.setParams(theirs.params().dup());
    Nd4j.getRandom().setSeed(batch * 31L + c);
    INDArray x = Nd4j.randn(dataType, batch, c, h, w);
    INDArray yTheirs = theirs.outputSingle(false, x);
    INDArray yOurs = ours.outputSingle(false, x);
    assertArrayEquals(yTheirs.shape(), yOurs.shape());
    assertClose(yTheirs, yOurs, 1e-5, "output");

    INDArray labels = Nd4j.randn(dataType, yTheirs.shape());
    TestGraphs.assertSameGradients(theirs, ours, x, labels, theirs.paramTable().keySet(), 1e-4);
    withoutInputGradient(batch, c, h, w, out, kh, kw, s, ph, pw, d, bias);
  }

  /** Without the input gradient the kernel gives the same bits for dW and db, and no dx. */
  private static void withoutInputGradient(int batch, int c, int h, int w, int out, int kh, int kw, int s, int ph,
      int pw, int d, boolean bias) {
    ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {kh, kw}, new int[] {s, s}, new int[] {ph, pw},
        new int[] {d, d});
    Nd4j.getRandom().setSeed(batch * 17L + out);
    INDArray x = Nd4j.randn(dataType, batch, c, h, w);
    INDArray wt = Nd4j.randn(dataType, out, c, kh, kw);
    INDArray delta = Nd4j.randn(dataType, batch, out, g.outH(h), g.outW(w));
    var mgr = org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();
    INDArray[] dW = new INDArray[2];
    INDArray[] db = new INDArray[2];
    INDArray[] dx = new INDArray[2];
    for (int i = 0; i < 2; i++) {
      dW[i] = Nd4j.create(dataType, wt.shape());
      db[i] = bias ? Nd4j.create(dataType, 1, out) : null;
      dx[i] = ConvGemm.backward(x, wt, delta, dW[i], db[i], g, i == 0, mgr);
    }
    org.junit.jupiter.api.Assertions.assertNotNull(dx[0]);
    org.junit.jupiter.api.Assertions.assertNull(dx[1], "input gradient computed when not asked for");
    assertEquals(dW[0], dW[1], "weight gradient");
    if (bias) {
      assertEquals(db[0], db[1], "bias gradient");
    }
  }

  @Test
  void trainingFollowsDl4jAndLowersTheLoss() {
    ComputationGraph theirs = network(false, 3, 12, 12, 4, 3, 3, 1, 1, 1, 1, true, false);
    ComputationGraph ours = network(true, 3, 12, 12, 4, 3, 3, 1, 1, 1, 1, true, false);
    ours.setParams(theirs.params().dup());
    Nd4j.getRandom().setSeed(7);
    INDArray x = Nd4j.randn(DataType.FLOAT, 4, 3, 12, 12);
    INDArray y = Nd4j.randn(DataType.FLOAT, 4, 4, 12, 12).muli(0.1);
    ours.setInputs(x);
    ours.setLabels(y);
    ours.computeGradientAndScore();
    double first = ours.score();
    for (int i = 0; i < 20; i++) {
      theirs.fit(new INDArray[] {x}, new INDArray[] {y});
      ours.fit(new INDArray[] {x}, new INDArray[] {y});
    }
    assertClose(theirs.params(), ours.params(), 1e-4, "parameters after 20 steps");
    ours.computeGradientAndScore();
    assertTrue(ours.score() < 0.5 * first, "loss " + first + " -> " + ours.score());
  }

  /** Double networks take ND4J's im2col and col2im, one sample at a time, instead of cnnc's float ones. */
  @Test
  void doubleNetworksEqualDl4j() {
    DataType before = dataType;
    try {
      dataType = DataType.DOUBLE;
      compare(2, 3, 9, 8, 4, 3, 3, 2, 1, 1, 1, true, false);
      compare(2, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, true, true);
      compare(2, 3, 9, 8, 4, 1, 1, 1, 0, 0, 1, false, true);
    } finally {
      dataType = before;
    }
  }

  static DataType dataType = DataType.FLOAT;

  static ComputationGraph network(boolean gemm, int c, int h, int w, int out, int kh, int kw, int s, int ph, int pw,
      int d, boolean bias, boolean relu) {
    ConvolutionLayer.Builder tested = new ConvolutionLayer.Builder(new int[] {kh, kw}, new int[] {s, s},
        new int[] {ph, pw})
        .dilation(d, d)
        .nOut(out)
        .hasBias(bias)
        .activation(relu ? Activation.RELU : Activation.IDENTITY)
        .convolutionMode(ConvolutionMode.Truncate);
    return TestGraphs.convThen("tested", gemm ? new GemmConvolution(tested) : tested.build(), c, h, w, c, dataType,
        Activation.TANH, 0.002);
  }

  /**
   * A fused SiLU ({@link ChannelKernels#SILU}) gives, on every path a conv takes (Winograd,
   * oneDNN, MKL's batched products, the whole-batch GEMM, bands, 1x1 and strided, batch 1 and
   * more), the bits of the conv followed by SiLU's own kernel: applied once, after the bias.
   */
  @Test
  void fusedSiluOnEveryPath() {
    KernelSettings before = KernelSettings.current();
    KernelSettings d = KernelSettings.DEFAULTS;
    KernelSettings[] settings = {d, d.withWinograd(true, 16, 1, 1, 0), d.withOneDnn(false), d.withWinograd(false, 16, 192, 7, 128),
        d.withOneDnn(false).withWinograd(false, 16, 192, 7, 128), d.withLayout(false, d.stridedMin(), 512),
        d.withOneDnn(false).withLayout(true, 1, d.tileColumns()).withBlas("openblas")};
    // batch, channels, size, out, kernel, stride, padding
    int[][] shapes = {{3, 16, 20, 16, 3, 1, 1}, {1, 16, 20, 16, 3, 1, 1}, {3, 8, 11, 12, 1, 1, 0}, {2, 6, 13, 5, 3, 2, 1},
        {1, 5, 9, 7, 1, 1, 0}};
    try {
      for (KernelSettings k : settings) {
        KernelSettings.use(k);
        for (int[] sh : shapes) {
          Nd4j.getRandom().setSeed(sh[0] * 100 + sh[1]);
          INDArray x = Nd4j.randn(DataType.FLOAT, sh[0], sh[1], sh[2], sh[2]).muli(2);
          INDArray w = Nd4j.randn(DataType.FLOAT, sh[3], sh[1], sh[4], sh[4]).muli(0.3);
          INDArray bias = Nd4j.randn(DataType.FLOAT, sh[3]);
          ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {sh[4], sh[4]}, new int[] {sh[5], sh[5]},
              new int[] {sh[6], sh[6]}, new int[] {1, 1});
          var mgr = org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();
          var type = org.deeplearning4j.nn.workspace.ArrayType.ACTIVATIONS;
          INDArray apart = ConvGemm.forward(x, w, bias, ChannelKernels.NONE, g, mgr, type);
          ChannelKernels.silu(apart, apart);
          INDArray fused = ConvGemm.forward(x, w, bias, ChannelKernels.SILU, g, mgr, type);
          assertArrayEquals(apart.data().asFloat(), fused.data().asFloat(), k + " " + java.util.Arrays.toString(sh));
        }
        // depthwise: the SiLU on each chunk of planes before it is written
        INDArray x = Nd4j.randn(DataType.FLOAT, 2, 6, 15, 15).muli(2);
        INDArray w = Nd4j.randn(DataType.FLOAT, 6, 1, 5, 5);
        for (int stride : new int[] {1, 2}) {
          ConvGemm.Geometry g = new ConvGemm.Geometry(new int[] {5, 5}, new int[] {stride, stride}, new int[] {2, 2},
              new int[] {1, 1});
          var mgr = org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();
          var type = org.deeplearning4j.nn.workspace.ArrayType.ACTIVATIONS;
          INDArray apart = GroupedConv.forward(x, w, null, ChannelKernels.NONE, g, 6, true, mgr, type);
          ChannelKernels.silu(apart, apart);
          INDArray fused = GroupedConv.forward(x, w, null, ChannelKernels.SILU, g, 6, true, mgr, type);
          assertArrayEquals(apart.data().asFloat(), fused.data().asFloat(), k + " depthwise, stride " + stride);
        }
      }
    } finally {
      KernelSettings.use(before);
    }
  }

  /** oneDNN takes a 3x3 conv's forward pass at batch 1 (when it is on), its backward only from batch 2. */
  @Test
  void oneDnnForwardAtBatchOneBackwardFromTwo() {
    ConvGemm.Geometry three = new ConvGemm.Geometry(3, 3, 1, 1, 1, 1, 1, 1);
    INDArray w = Nd4j.create(DataType.FLOAT, 64, 256, 3, 3);
    INDArray one = Nd4j.create(DataType.FLOAT, 1, 256, 14, 14);
    INDArray two = Nd4j.create(DataType.FLOAT, 2, 256, 14, 14);
    assertEquals(OneDnn.enabled(), OneDnn.takesForward(one, w, three, 14 * 14), "forward at batch 1");
    assertFalse(OneDnn.takesBackward(one, w, three), "backward at batch 1");
    assertEquals(OneDnn.enabled(), OneDnn.takesForward(two, w, three, 14 * 14), "forward at batch 2");
    assertEquals(OneDnn.enabled(), OneDnn.takesBackward(two, w, three), "backward at batch 2");
    KernelSettings before = KernelSettings.use(KernelSettings.current().withOneDnn(false));
    try {
      assertFalse(OneDnn.takesForward(one, w, three, 14 * 14), "switched off");
    } finally {
      KernelSettings.use(before);
    }
  }

  @Test
  void oneDnnTakesNoOneByOne() {
    INDArray x = Nd4j.create(DataType.FLOAT, 8, 256, 56, 56);
    ConvGemm.Geometry strided = new ConvGemm.Geometry(1, 1, 2, 2, 0, 0, 1, 1);
    ConvGemm.Geometry three = new ConvGemm.Geometry(3, 3, 1, 1, 1, 1, 1, 1);
    assertFalse(OneDnn.takesForward(x, Nd4j.create(DataType.FLOAT, 512, 256, 1, 1), strided, 28 * 28),
        "a strided 1x1 conv is a product of the subsampled input");
    assertFalse(OneDnn.takesBackward(x, Nd4j.create(DataType.FLOAT, 512, 256, 1, 1), strided), "nor its backward");
    // a 3x3 conv goes to oneDNN wherever ND4J has it (the 1x1 rule above holds either way)
    assertEquals(OneDnn.enabled(),
        OneDnn.takesForward(x, Nd4j.create(DataType.FLOAT, 64, 256, 3, 3), three, 56 * 56));
  }
}
