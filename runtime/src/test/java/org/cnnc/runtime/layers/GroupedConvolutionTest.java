// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.cnnc.runtime.layers.GradientCheckTest.Ref;
import org.cnnc.runtime.layers.KernelHarness.Op;
import org.cnnc.runtime.layers.KernelHarness.Paths;
import org.cnnc.runtime.layers.KernelHarness.Result;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Grouped and depthwise convolution ({@link GroupedConvolution}) on each of its ways: cnnc's
 * direct depthwise kernel with the Vector API and with its scalar loops, cnnc's per-group GEMM on
 * each conv path, and ND4J's ops only (the CUDA lowering): outputs and gradients against finite
 * differences of a plain double-precision grouped conv, every way against the others on
 * MobileNet-like shapes, and the same bits on every run.
 */
class GroupedConvolutionTest {
  /** How the layer computes. */
  enum Way {
    CNNC_VECTOR,
    CNNC_SCALAR,
    CNNC_GEMM_ONEDNN,
    CNNC_GEMM_MKL,
    CNNC_GEMM_BANDS,
    ND4J;

    boolean cnnc() {
      return this != ND4J;
    }

    <T> T on(Supplier<T> body) {
      KernelSettings before = KernelSettings.current();
      try {
        KernelSettings.use(before.withVectors(this != CNNC_SCALAR));
        Paths path = switch (this) {
          case CNNC_GEMM_ONEDNN -> Paths.ONEDNN;
          case CNNC_GEMM_BANDS -> Paths.OPENBLAS_BANDS;
          default -> Paths.MKL_ONE_GEMM;
        };
        return path.on(body);
      } finally {
        KernelSettings.use(before);
      }
    }
  }

  static GroupedConvolution conf(int c, int o, int groups, int kh, int kw, int s, int ph, int pw, int d, boolean bias,
      boolean relu, boolean cnnc) {
    ConvolutionLayer.Builder b = new ConvolutionLayer.Builder(new int[] {kh, kw}, new int[] {s, s}, new int[] {ph, pw})
        .dilation(d, d)
        .nIn(c / groups)
        .nOut(o)
        .hasBias(bias)
        .activation(relu ? Activation.RELU : Activation.IDENTITY)
        .convolutionMode(ConvolutionMode.Truncate);
    return new GroupedConvolution(b, groups, cnnc);
  }

  static Stream<Arguments> cases() {
    int[][] geometries = {
        // batch, c, h, w, out, groups, kh, kw, stride, pad h, pad w, dilation, bias, relu
        {2, 4, 7, 7, 4, 4, 3, 3, 1, 1, 1, 1, 1, 0},    // depthwise 3x3
        {2, 3, 9, 8, 6, 3, 3, 3, 2, 1, 1, 1, 0, 0},    // depthwise, 2 outputs per channel, stride 2
        {1, 5, 11, 9, 5, 5, 5, 3, 2, 2, 1, 1, 1, 1},   // depthwise 5x3, stride 2, fused ReLU
        {2, 4, 9, 9, 4, 4, 3, 3, 1, 2, 2, 2, 1, 0},    // depthwise, dilated
        {2, 3, 5, 6, 3, 3, 3, 3, 3, 0, 0, 1, 0, 0},    // depthwise, stride 3, unpadded
        {1, 2, 5, 37, 2, 2, 3, 3, 1, 1, 1, 1, 1, 0},   // depthwise, rows of several vectors
        {1, 2, 6, 41, 2, 2, 3, 5, 2, 1, 2, 1, 0, 1},   // the same, stride 2
        {2, 5, 7, 7, 5, 5, 3, 3, 1, 1, 1, 1, 0, 1},    // depthwise, a 7x7 map (a row shorter than a vector), ReLU
        {1, 3, 11, 23, 3, 3, 5, 5, 2, 2, 2, 1, 1, 0},  // depthwise 5x5, stride 2 (EfficientNet's)
        {2, 2, 6, 6, 4, 2, 3, 3, 1, 3, 3, 1, 0, 0},    // depthwise, padding past the kernel (no flipped conv), 2 outputs per channel
        {1, 2, 9, 10, 2, 2, 3, 3, 2, 0, 0, 1, 1, 0},   // depthwise, stride 2, unpadded
        {2, 3, 5, 3, 3, 3, 5, 5, 2, 2, 2, 1, 1, 0},    // depthwise 5x5 on rows of 3: a row's vector runs over several rows
        {1, 2, 9, 4, 4, 2, 3, 3, 2, 2, 2, 2, 0, 1},    // depthwise, dilated, stride 2, 2 outputs per channel, rows of 4
        {1, 2, 4, 20, 2, 2, 3, 3, 1, 1, 1, 1, 0, 0},   // depthwise, rows of 20 (a vector and a part, or two and a half)
        {1, 2, 3, 2, 2, 2, 3, 3, 1, 2, 1, 1, 0, 0},    // depthwise, a map narrower than the kernel, padded more in height
        {2, 6, 7, 7, 9, 3, 3, 3, 1, 1, 1, 1, 1, 0},    // 3 groups
        {2, 4, 8, 7, 6, 2, 3, 3, 2, 1, 1, 1, 0, 1},    // 2 groups, stride 2, fused ReLU
        {2, 8, 9, 9, 4, 2, 3, 3, 1, 2, 2, 2, 1, 0},    // 2 groups, dilated, fewer outputs
        {3, 6, 6, 5, 6, 2, 1, 1, 1, 0, 0, 1, 1, 0}};   // grouped pointwise (ShuffleNet)
    List<Arguments> cases = new ArrayList<>();
    for (Way way : Way.values()) {
      for (int[] g : geometries) {
        cases.add(Arguments.of(way, g));
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void matchesFiniteDifferences(Way way, int[] g) {
    boolean bias = g[12] == 1;
    boolean relu = g[13] == 1;
    Op op = KernelHarness.layer(conf(g[1], g[4], g[5], g[6], g[7], g[8], g[9], g[10], g[11], bias, relu, way.cnnc()),
        3);
    INDArray x = GradientCheckTest.awayFromKinks(KernelHarness.randn(g[0] * 7L + g[1], g[0], g[1], g[2], g[3]));
    INDArray w = op.params().get("W");
    assertEquals(List.of((long) g[4], (long) (g[1] / g[5]), (long) g[6], (long) g[7]),
        List.of(w.size(0), w.size(1), w.size(2), w.size(3)), "PyTorch's weight layout");
    if (bias) {
      op.params().get("b").assign(KernelHarness.randn(5, 1, g[4]).muli(0.1));
    }
    INDArray b = bias ? op.params().get("b") : null;
    Function<double[][], double[]> f = v -> Ref.conv(v[0], x.shape(), v[1], w.shape(), bias ? v[2] : null, g[8], g[9],
        g[10], g[11], g[5], relu);
    List<INDArray> args = bias ? List.of(x, w, b) : List.of(x, w);
    INDArray dy = KernelHarness.randn(40, way.on(() -> op.forward(List.of(x))).shape());
    GradientCheckTest.check(way.name(), way.on(() -> op.run(List.of(x), dy)), dy, f, args,
        bias ? List.of("W", "b") : List.of("W"), 1);
  }

  static Stream<Arguments> realistic() {
    List<Arguments> cases = new ArrayList<>();
    int[][] shapes = {
        // batch, c, h, w, out, groups, k, stride, pad, bias, relu: MobileNetV2's depthwise convs,
        // a channel multiplier, RegNet's and ResNeXt's grouped 3x3s
        {4, 32, 56, 56, 32, 32, 3, 1, 1, 0, 1},
        {4, 96, 28, 28, 96, 96, 3, 2, 1, 1, 0},
        {4, 576, 7, 7, 576, 576, 3, 1, 1, 0, 0},
        {2, 16, 20, 20, 32, 16, 5, 1, 2, 1, 0},
        {8, 960, 7, 7, 960, 960, 3, 1, 1, 1, 1},  // MobileNetV2's last: tasks of many small planes
        {2, 40, 56, 56, 40, 40, 5, 2, 2, 0, 0},   // EfficientNet's 5x5 stride 2, a row of 28 outputs
        {2, 48, 14, 14, 48, 6, 3, 1, 1, 0, 1},
        {2, 64, 14, 14, 128, 32, 3, 2, 1, 1, 0}};
    for (Way way : Way.values()) {
      if (way != Way.ND4J) {
        for (int[] s : shapes) {
          cases.add(Arguments.of(way, s));
        }
      }
    }
    return cases.stream();
  }

  /** cnnc's ways against ND4J's ops on realistic shapes: outputs and every gradient within 1e-5. */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("realistic")
  void cnncEqualsNd4jOnRealisticShapes(Way way, int[] s) {
    Result expected = run(Way.ND4J, s, 8);
    Result actual = run(way, s, 8);
    List<INDArray> e = expected.all();
    List<INDArray> a = actual.all();
    assertEquals(e.size(), a.size());
    for (int i = 0; i < e.size(); i++) {
      TestGraphs.assertClose(e.get(i), a.get(i), 1e-5, way + " array " + i);
    }
  }

  private static Result run(Way way, int[] s, long seed) {
    Op op = KernelHarness.layer(conf(s[1], s[4], s[5], s[6], s[6], s[7], s[8], s[8], 1, s[9] == 1, s[10] == 1,
        way.cnnc()), seed);
    if (s[9] == 1) {
      op.params().get("b").assign(KernelHarness.randn(5, 1, s[4]));
    }
    INDArray x = KernelHarness.randn(1, s[0], s[1], s[2], s[3]);
    INDArray dy = KernelHarness.randn(2, way.on(() -> op.forward(List.of(x))).shape());
    return way.on(() -> op.run(List.of(x), dy));
  }

  /** Every way, every thread on, gives the same bits on every run (see {@link RaceTest}). */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("realistic")
  void givesTheSameBitsEveryRun(Way way, int[] s) {
    Op op = KernelHarness.layer(conf(s[1], s[4], s[5], s[6], s[6], s[7], s[8], s[8], 1, s[9] == 1, s[10] == 1,
        way.cnnc()), 4);
    INDArray x = KernelHarness.randn(1, s[0], s[1], s[2], s[3]);
    INDArray dy = KernelHarness.randn(2, way.on(() -> op.forward(List.of(x))).shape());
    RaceTest.repeat(way + " grouped conv", () -> way.on(() -> op.run(List.of(x), dy)));
  }

  /**
   * The depthwise kernel reads and writes the arrays' native memory through buffers, which do not
   * keep the arrays alive: with collections running all the time, a fused ReLU's temporary
   * output gradient (referenced by nothing else) must still not be freed while the kernel reads
   * it (it was: garbage in the first planes' gradients).
   */
  @Test
  void keepsItsArraysAliveWhileCollectionsRun() {
    int[] s = {4, 32, 28, 28, 32, 32, 3, 1, 1, 0, 1};
    Way way = Way.CNNC_VECTOR;
    Op op = KernelHarness.layer(conf(s[1], s[4], s[5], s[6], s[6], s[7], s[8], s[8], 1, false, true, true), 4);
    INDArray x = KernelHarness.randn(1, s[0], s[1], s[2], s[3]);
    INDArray dy = KernelHarness.randn(2, way.on(() -> op.forward(List.of(x))).shape());
    KernelHarness.underCollections(0, () -> {
      // compiled code first: the interpreter keeps every local alive to the end of its method
      for (int i = 0; i < 400; i++) {
        way.on(() -> op.run(List.of(x), dy));
      }
      RaceTest.repeat("depthwise under collections", () -> way.on(() -> op.run(List.of(x), dy)));
    });
  }

  /** Without its input's gradient (a conv that reads a network input), the layer returns none, and the same weights' gradient. */
  @Test
  void skipsTheInputGradientWhenAsked() {
    for (Way way : new Way[] {Way.CNNC_VECTOR, Way.CNNC_GEMM_MKL, Way.ND4J}) {
      int groups = way == Way.CNNC_GEMM_MKL ? 2 : 8;
      GroupedConvolution with = conf(8, 8, groups, 3, 3, 1, 1, 1, 1, true, false, way.cnnc());
      GroupedConvolution without = conf(8, 8, groups, 3, 3, 1, 1, 1, 1, true, false, way.cnnc());
      without.setInputGradient(false);
      INDArray x = KernelHarness.randn(1, 2, 8, 9, 9);
      INDArray dy = KernelHarness.randn(2, 2, 8, 9, 9);
      Result a = way.on(() -> KernelHarness.layer(with, 5).run(List.of(x), dy));
      Result b = way.on(() -> KernelHarness.layer(without, 5).run(List.of(x), dy));
      assertEquals(1, a.inputGradients().size());
      assertTrue(b.inputGradients().isEmpty(), way + ": no input gradient");
      assertEquals(a.paramGradients().get("W"), b.paramGradients().get("W"), way + ": weight gradient");
      assertEquals(a.paramGradients().get("b"), b.paramGradients().get("b"), way + ": bias gradient");
    }
  }
}
