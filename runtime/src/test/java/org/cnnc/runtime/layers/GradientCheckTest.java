// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.cnnc.runtime.layers.KernelHarness.Op;
import org.cnnc.runtime.layers.KernelHarness.Paths;
import org.cnnc.runtime.layers.KernelHarness.Result;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Every cnnc kernel with a backward pass, checked two ways.
 *
 * <ul>
 *   <li><b>Against finite differences in double precision</b>, on small shapes: the op's function
 *       is written out here a second time, plainly, in doubles ({@link Ref}); its output must equal
 *       the kernel's, and the kernel's gradients of {@code L = sum(y * dy)} for every input and
 *       parameter element must equal the central differences of that double function (step
 *       1e-6). Inputs keep clear of the kinks of ReLU and max (no element within 1e-3 of one), so
 *       the differences are exact up to rounding.
 *   <li><b>Against DL4J's own layer</b> on shapes from the article's networks (GoogLeNet's 3x3 conv
 *       128->256 at 14x14, batch norm at 28x28, its pools), with the same parameters and output
 *       gradient.
 * </ul>
 *
 * The conv is checked on each of its paths ({@link Paths}).
 */
class GradientCheckTest {
  /** The kernel's gradients within this of the double differences, relative to the largest. */
  static final double FD_TOL = 2e-5;

  static Stream<Arguments> convCases() {
    List<Arguments> cases = new ArrayList<>();
    int[][] geometries = {
        // batch, c, h, w, out, kh, kw, stride, pad h, pad w, dilation, bias, relu
        {2, 4, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 0},
        {2, 4, 6, 5, 3, 1, 1, 1, 0, 0, 1, 1, 1},  // pointwise
        {3, 3, 9, 8, 4, 5, 3, 2, 2, 1, 1, 0, 0},  // non-square, strided
        {2, 3, 9, 9, 4, 3, 3, 1, 2, 2, 2, 1, 0},  // dilated
        {2, 5, 8, 7, 6, 3, 3, 2, 1, 1, 1, 0, 1}}; // strided, fused ReLU
    for (Paths path : Paths.values()) {
      for (int[] g : geometries) {
        cases.add(Arguments.of(path, g));
      }
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("convCases")
  void convMatchesFiniteDifferences(Paths path, int[] g) {
    boolean bias = g[11] == 1;
    boolean relu = g[12] == 1;
    Op op = KernelHarness.layer(KernelHarness.cnncConv(g[1], g[4], g[5], g[6], g[7], g[8], g[9], g[10], bias, relu), 3);
    INDArray x = awayFromKinks(KernelHarness.randn(g[0] * 7L + g[1], g[0], g[1], g[2], g[3]));
    INDArray w = op.params().get("W");
    if (bias) {
      op.params().get("b").assign(KernelHarness.randn(5, 1, g[4]).muli(0.1));
    }
    INDArray b = bias ? op.params().get("b") : null;
    Function<double[][], double[]> f = v -> Ref.conv(v[0], x.shape(), v[1], w.shape(), bias ? v[2] : null, g[7], g[8],
        g[9], g[10], relu);
    List<INDArray> args = bias ? List.of(x, w, b) : List.of(x, w);
    INDArray dy = KernelHarness.randn(40, path.on(() -> op.forward(List.of(x))).shape());
    check(path.name(), path.on(() -> op.run(List.of(x), dy)), dy, f, args, bias ? List.of("W", "b") : List.of("W"), 1);
  }

  /** Plain, with a fused ReLU, and with a fused relu6 (gamma large enough that outputs pass 6). */
  @ParameterizedTest
  @ValueSource(strings = {"IDENTITY", "RELU", "RELU6"})
  void batchNormMatchesFiniteDifferences(org.nd4j.linalg.activations.Activation fused) {
    int c = 3;
    Op op = KernelHarness.layer(KernelHarness.cnncBatchNorm(c, fused), 1);
    double scale = fused == org.nd4j.linalg.activations.Activation.RELU6 ? 4 : 1;
    op.params().get("gamma").assign(KernelHarness.randn(8, 1, c).addi(1).muli(scale));
    op.params().get("beta").assign(KernelHarness.randn(9, 1, c).muli(0.5));
    INDArray x = KernelHarness.randn(10, 4, c, 3, 5).muli(2).addi(0.5);
    INDArray gamma = op.params().get("gamma");
    INDArray beta = op.params().get("beta");
    double cap = fused == org.nd4j.linalg.activations.Activation.RELU6 ? 6
        : fused == org.nd4j.linalg.activations.Activation.RELU ? Double.POSITIVE_INFINITY : Double.NaN;
    if (!Double.isNaN(cap) && cap < Double.POSITIVE_INFINITY) {
      assertTrue(op.forward(List.of(x)).maxNumber().doubleValue() >= cap, "outputs reach the cap");
    }
    Function<double[][], double[]> f = v -> Ref.batchNorm(v[0], x.shape(), v[1], v[2], 1e-5, cap);
    INDArray dy = KernelHarness.randn(11, x.shape());
    check("batchnorm", op.run(List.of(x), dy), dy, f, List.of(x, gamma, beta), List.of("gamma", "beta"), 1);
  }

  static Stream<Boolean> bools() {
    return Stream.of(false, true);
  }

  @ParameterizedTest
  @MethodSource("poolCases")
  void maxPoolMatchesFiniteDifferences(int h, int w, int k, int s, int p, int d, boolean ceil) {
    Op op = KernelHarness.layer(new CnncMaxPool(new int[] {k, k}, new int[] {s, s}, new int[] {p, p},
        new int[] {d, d}, ceil), 1);
    INDArray x = distinct(2, 3, h, w);
    Function<double[][], double[]> f = v -> Ref.maxPool(v[0], x.shape(), k, s, p, d, ceil);
    INDArray dy = KernelHarness.randn(12, op.forward(List.of(x)).shape());
    check("maxpool", op.run(List.of(x), dy), dy, f, List.of(x), List.of(), 1);
  }

  static Stream<Arguments> poolCases() {
    return Stream.of(
        Arguments.of(9, 9, 3, 2, 0, 1, false),
        Arguments.of(9, 9, 3, 2, 0, 1, true),
        Arguments.of(8, 7, 3, 1, 1, 1, false),
        Arguments.of(11, 11, 3, 2, 1, 2, false),
        Arguments.of(12, 9, 2, 3, 1, 1, true));
  }

  /**
   * Maps with a dimension of size 1 (one channel, 1x1 maps): ND4J does not call their strides its
   * default, which made cnnc's max pooling refuse a one-channel input.
   */
  @Test
  void mapsWithUnitDimensionsTakeTheKernels() {
    Op pool = KernelHarness.layer(new CnncMaxPool(new int[] {3, 3}, new int[] {2, 2}, new int[] {0, 0},
        new int[] {1, 1}, true), 1);
    INDArray x = distinct(2, 1, 9, 18);
    INDArray dy = KernelHarness.randn(41, pool.forward(List.of(x)).shape());
    check("maxpool, one channel", pool.run(List.of(x), dy), dy, v -> Ref.maxPool(v[0], x.shape(), 3, 2, 0, 1, true),
        List.of(x), List.of(), 1);
    Op bn = KernelHarness.layer(KernelHarness.cnncBatchNorm(3, false), 1);
    INDArray m = KernelHarness.randn(42, 4, 3, 1, 1);
    INDArray dm = KernelHarness.randn(43, m.shape());
    INDArray gamma = bn.params().get("gamma");
    INDArray beta = bn.params().get("beta");
    check("batchnorm, 1x1 maps", bn.run(List.of(m), dm), dm, v -> Ref.batchNorm(v[0], m.shape(), v[1], v[2], 1e-5, Double.NaN),
        List.of(m, gamma, beta), List.of("gamma", "beta"), 1);
    assertTrue(ChannelKernels.direct(x, m), "unit dimensions are dense C order");
  }

  @Test
  void reluMatchesFiniteDifferences() {
    Op op = KernelHarness.layer(new CnncRelu(), 1);
    INDArray x = awayFromKinks(KernelHarness.randn(13, 2, 3, 4, 5));
    INDArray dy = KernelHarness.randn(14, x.shape());
    check("relu", op.run(List.of(x), dy), dy, v -> Ref.relu(v[0]), List.of(x), List.of(), 1);
  }

  @Test
  void relu6MatchesFiniteDifferences() {
    Op op = KernelHarness.layer(new CnncRelu(org.nd4j.linalg.activations.Activation.RELU6), 1);
    // spread over both bends, 0 and 6, and kept 1e-3 from each
    INDArray x = awayFromKinks(KernelHarness.randn(15, 2, 3, 4, 5).mul(4)).addi(3);
    x = awayFromKinks(x.sub(6)).addi(6);
    INDArray dy = KernelHarness.randn(16, x.shape());
    assertTrue(x.gt(6).any() && x.lt(0).any(), "inputs on both sides of both bends");
    check("relu6", op.run(List.of(x), dy), dy, v -> Ref.relu6(v[0]), List.of(x), List.of(), 1);
  }

  @ParameterizedTest
  @MethodSource("bools")
  void denseMatchesFiniteDifferences(boolean relu) {
    Op op = KernelHarness.layer(new CnncDense(KernelHarness.denseBuilder(7, 5, relu)), 2);
    op.params().get("b").assign(KernelHarness.randn(15, 1, 5).muli(0.1));
    INDArray x = awayFromKinks(KernelHarness.randn(16, 3, 7));
    INDArray w = op.params().get("W");
    INDArray b = op.params().get("b");
    INDArray dy = KernelHarness.randn(17, 3, 5);
    check("dense", op.run(List.of(x), dy), dy, v -> Ref.dense(v[0], 3, 7, v[1], 5, v[2], relu), List.of(x, w, b),
        List.of("W", "b"), 1);
  }

  @Test
  void concatMatchesFiniteDifferences() {
    Op op = KernelHarness.concat();
    INDArray a = KernelHarness.randn(18, 2, 3, 4, 4);
    INDArray b = KernelHarness.randn(19, 2, 5, 4, 4);
    INDArray dy = KernelHarness.randn(20, 2, 8, 4, 4);
    check("concat", op.run(List.of(a, b), dy), dy, v -> Ref.concat(v[0], a.shape(), v[1], b.shape()), List.of(a, b),
        List.of(), 2);
  }

  /** cnnc's add, plain and with its fused ReLU (inputs that sum to both signs). */
  @ParameterizedTest
  @ValueSource(booleans = {false, true})
  void addMatchesFiniteDifferences(boolean relu) {
    Op op = KernelHarness.vertex(new CnncAdd(relu));
    INDArray a = KernelHarness.randn(21, 2, 3, 4, 5);
    INDArray b = KernelHarness.randn(22, 2, 3, 4, 5);
    INDArray c = KernelHarness.randn(23, 2, 3, 4, 5);
    INDArray dy = KernelHarness.randn(24, 2, 3, 4, 5);
    check("add relu=" + relu, op.run(List.of(a, b, c), dy), dy, v -> {
      double[] y = new double[v[0].length];
      for (int i = 0; i < y.length; i++) {
        y[i] = v[0][i] + v[1][i] + v[2][i];
        y[i] = relu ? Math.max(y[i], 0) : y[i];
      }
      return y;
    }, List.of(a, b, c), List.of(), 3);
    // each input's gradient is an array of its own (DL4J adds into a vertex's first gradient)
    Result r = op.run(List.of(a, b, c), dy);
    r.inputGradients().get(0).addi(1);
    assertTrue(!r.inputGradients().get(0).equals(r.inputGradients().get(1)), "gradients share an array");
  }

  // --- against DL4J's own layers, on the networks' shapes ---

  static Stream<Arguments> realisticConvs() {
    List<Arguments> cases = new ArrayList<>();
    for (Paths path : Paths.values()) {
      // GoogLeNet inception4c's 3x3 (the shape whose weight gradient was wrong on AMD), a 1x1
      // reduction, NiN's 5x5
      cases.add(Arguments.of(path, new int[] {2, 128, 14, 14, 256, 3, 1, 0}));
      cases.add(Arguments.of(path, new int[] {2, 192, 28, 28, 64, 1, 0, 1}));
      cases.add(Arguments.of(path, new int[] {2, 96, 15, 15, 192, 5, 2, 1}));
    }
    return cases.stream();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("realisticConvs")
  void convEqualsDl4jOnRealisticShapes(Paths path, int[] g) {
    boolean bias = g[7] == 1;
    Op ours = KernelHarness.layer(KernelHarness.cnncConv(g[1], g[4], g[5], g[5], 1, g[6], g[6], 1, bias, false), 4);
    Op theirs = KernelHarness.layer(KernelHarness.convBuilder(g[1], g[4], g[5], g[5], 1, g[6], g[6], 1, bias, false)
        .build(), 4);
    INDArray x = KernelHarness.randn(21, g[0], g[1], g[2], g[3]);
    Result expected = theirs.run(List.of(x), KernelHarness.randn(22, g[0], g[4], g[2], g[3]));
    Result actual = path.on(() -> ours.run(List.of(x), KernelHarness.randn(22, g[0], g[4], g[2], g[3])));
    assertSame(expected, actual, 1e-4, path.name());
  }

  @Test
  void batchNormPoolReluDenseConcatEqualDl4jOnRealisticShapes() {
    INDArray x = KernelHarness.randn(23, 8, 64, 28, 28).muli(3).addi(1);
    INDArray dy = KernelHarness.randn(24, x.shape());
    Op ours = KernelHarness.layer(KernelHarness.cnncBatchNorm(64, false), 5);
    Op theirs = KernelHarness.layer(KernelHarness.dl4jBatchNorm(64), 5);
    ours.params().get("gamma").assign(KernelHarness.randn(25, 1, 64));
    theirs.params().get("gamma").assign(ours.params().get("gamma"));
    // the running statistics' updates differ on purpose (cnnc's variance is unbiased, as in
    // PyTorch; DL4J's biased): gamma's and beta's gradients only
    assertSame(theirs.run(List.of(x), dy).only("gamma", "beta"), ours.run(List.of(x), dy).only("gamma", "beta"), 1e-4,
        "batchnorm");

    INDArray p = KernelHarness.randn(26, 4, 64, 56, 56);
    Op pool = KernelHarness.layer(new CnncMaxPool(new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1},
        new int[] {1, 1}, false), 1);
    Op dl4jPool = KernelHarness.layer(KernelHarness.dl4jMaxPool(3, 2, 1), 1);
    INDArray dp = KernelHarness.randn(27, 4, 64, 28, 28);
    assertSame(dl4jPool.run(List.of(p), dp), pool.run(List.of(p), dp), 0, "maxpool");

    assertSame(KernelHarness.layer(KernelHarness.dl4jRelu(), 1).run(List.of(p), p.mul(0.5)),
        KernelHarness.layer(new CnncRelu(), 1).run(List.of(p), p.mul(0.5)), 0, "relu");

    INDArray v = KernelHarness.randn(28, 8, 1024);
    INDArray dv = KernelHarness.randn(29, 8, 1000);
    Op dense = KernelHarness.layer(new CnncDense(KernelHarness.denseBuilder(1024, 1000, false)), 6);
    Op dl4jDense = KernelHarness.layer(KernelHarness.denseBuilder(1024, 1000, false).build(), 6);
    assertSame(dl4jDense.run(List.of(v), dv), dense.run(List.of(v), dv), 1e-4, "dense");

    INDArray a = KernelHarness.randn(30, 8, 64, 28, 28);
    INDArray b = KernelHarness.randn(31, 8, 128, 28, 28);
    INDArray dc = KernelHarness.randn(32, 8, 192, 28, 28);
    Result cat = KernelHarness.concat().run(List.of(a, b), dc);
    assertEquals(Nd4j.concat(1, a, b), cat.output(), "concat output");
    assertEquals(dc.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
        org.nd4j.linalg.indexing.NDArrayIndex.interval(64, 192)), cat.inputGradients().get(1), "concat gradient");
  }

  // --- the check ---

  /**
   * Compares the kernel's result {@code r} (its output and gradients for output gradient
   * {@code dy}) with {@code f}: the output with {@code f} on the same values, and each gradient
   * with central differences of {@code L = sum(f(...) * dy)} in double precision. {@code args} are
   * the function's arguments: first the op's {@code inputs} inputs, then its parameters, whose
   * gradients the kernel reports under {@code keys}.
   */
  static void check(String what, Result r, INDArray dyArray, Function<double[][], double[]> f,
      List<INDArray> args, List<String> keys, int inputs) {
    double[][] v = new double[args.size()][];
    for (int i = 0; i < v.length; i++) {
      v[i] = args.get(i).dup().castTo(DataType.DOUBLE).data().asDouble();
    }
    double[] y = f.apply(v);
    double[] yk = r.output().dup().castTo(DataType.DOUBLE).data().asDouble();
    assertEquals(y.length, yk.length, what + ": output size");
    assertClose(y, yk, 1e-5, what + ": output");
    double[] dy = dyArray.dup().castTo(DataType.DOUBLE).data().asDouble();
    for (int i = 0; i < args.size(); i++) {
      double[] numeric = new double[v[i].length];
      for (int j = 0; j < v[i].length; j++) {
        double keep = v[i][j];
        double h = 1e-6 * Math.max(1, Math.abs(keep));
        v[i][j] = keep + h;
        double up = dot(f.apply(v), dy);
        v[i][j] = keep - h;
        double down = dot(f.apply(v), dy);
        v[i][j] = keep;
        numeric[j] = (up - down) / (2 * h);
      }
      INDArray analytic = i < inputs ? r.inputGradients().get(i) : r.paramGradients().get(keys.get(i - inputs));
      assertTrue(analytic != null, what + ": no gradient for argument " + i);
      assertEquals(numeric.length, analytic.length(), what + ": gradient size of argument " + i);
      assertClose(numeric, analytic.dup().castTo(DataType.DOUBLE).data().asDouble(), FD_TOL,
          what + ": gradient of argument " + i + (i < inputs ? " (input)" : " (" + keys.get(i - inputs) + ")"));
    }
  }

  private static double dot(double[] a, double[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      s += a[i] * b[i];
    }
    return s;
  }

  private static void assertClose(double[] expected, double[] actual, double tol, String what) {
    double scale = 1e-12;
    for (double e : expected) {
      scale = Math.max(scale, Math.abs(e));
    }
    double worst = 0;
    int at = -1;
    for (int i = 0; i < expected.length; i++) {
      double d = Math.abs(expected[i] - actual[i]);
      if (!(d <= worst)) {
        worst = d;
        at = i;
      }
    }
    assertTrue(worst <= tol * scale, what + ": element " + at + " is " + (at < 0 ? "" : actual[at]) + ", expected "
        + (at < 0 ? "" : expected[at]) + " (relative error " + worst / scale + ")");
  }

  private static void assertSame(Result expected, Result actual, double tol, String what) {
    List<INDArray> e = expected.all();
    List<INDArray> a = actual.all();
    assertEquals(e.size(), a.size(), what + ": number of arrays");
    for (int i = 0; i < e.size(); i++) {
      assertArrayEquals(e.get(i).shape(), a.get(i).shape(), what + ": shape of array " + i);
      TestGraphs.assertClose(e.get(i), a.get(i), tol, what + ": array " + i);
    }
  }

  /** {@code x} with every element at least 1e-3 from zero (ReLU's kink). */
  static INDArray awayFromKinks(INDArray x) {
    float[] v = x.data().asFloat();
    for (int i = 0; i < v.length; i++) {
      if (Math.abs(v[i]) < 1e-3f) {
        v[i] = v[i] < 0 ? -1e-3f - v[i] : 1e-3f + v[i];
      }
    }
    return Nd4j.create(v, x.shape(), 'c');
  }

  /** Distinct values at least 0.01 apart, shuffled (no ties in a pooling window). */
  private static INDArray distinct(long... shape) {
    int n = (int) java.util.Arrays.stream(shape).reduce(1, (p, q) -> p * q);
    java.util.List<Float> vals = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      vals.add((i - n / 2) * 0.01f);
    }
    java.util.Collections.shuffle(vals, new java.util.Random(n));
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = vals.get(i);
    }
    return Nd4j.create(v, shape, 'c');
  }

  /** The ops again, plainly, in doubles (NCHW, row-major). */
  static final class Ref {
    private Ref() {}

    static double[] conv(double[] x, long[] xs, double[] w, long[] ws, double[] b, int s, int ph, int pw, int d,
        boolean relu) {
      return conv(x, xs, w, ws, b, s, ph, pw, d, 1, relu);
    }

    /** A grouped conv: weights {@code [o, c/groups, kh, kw]}, output channel oc reads group oc / (o/groups). */
    static double[] conv(double[] x, long[] xs, double[] w, long[] ws, double[] b, int s, int ph, int pw, int d,
        int groups, boolean relu) {
      int n = (int) xs[0], c = (int) xs[1], h = (int) xs[2], wd = (int) xs[3];
      int cg = c / groups;
      int o = (int) ws[0], kh = (int) ws[2], kw = (int) ws[3];
      int oh = (h + 2 * ph - d * (kh - 1) - 1) / s + 1;
      int ow = (wd + 2 * pw - d * (kw - 1) - 1) / s + 1;
      double[] y = new double[n * o * oh * ow];
      for (int bi = 0; bi < n; bi++) {
        for (int oc = 0; oc < o; oc++) {
          for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
              double acc = b == null ? 0 : b[oc];
              int og = o / groups;
              for (int ic = oc / og * cg; ic < (oc / og + 1) * cg; ic++) {
                for (int u = 0; u < kh; u++) {
                  int yy = i * s - ph + u * d;
                  if (yy < 0 || yy >= h) {
                    continue;
                  }
                  for (int t = 0; t < kw; t++) {
                    int xx = j * s - pw + t * d;
                    if (xx < 0 || xx >= wd) {
                      continue;
                    }
                    acc += x[((bi * c + ic) * h + yy) * wd + xx] * w[((oc * cg + ic % cg) * kh + u) * kw + t];
                  }
                }
              }
              y[((bi * o + oc) * oh + i) * ow + j] = relu ? Math.max(0, acc) : acc;
            }
          }
        }
      }
      return y;
    }

    /** Training-mode batch norm: the batch's mean and biased variance per channel. */
    /** Batch norm in training, then {@code min(max(y, 0), cap)} ({@code cap} NaN: none). */
    static double[] batchNorm(double[] x, long[] xs, double[] gamma, double[] beta, double eps, double cap) {
      int n = (int) xs[0], c = (int) xs[1], m = (int) (xs[2] * xs[3]);
      double[] y = new double[x.length];
      for (int ch = 0; ch < c; ch++) {
        double mean = 0;
        for (int bi = 0; bi < n; bi++) {
          for (int i = 0; i < m; i++) {
            mean += x[(bi * c + ch) * m + i];
          }
        }
        mean /= (double) n * m;
        double var = 0;
        for (int bi = 0; bi < n; bi++) {
          for (int i = 0; i < m; i++) {
            double t = x[(bi * c + ch) * m + i] - mean;
            var += t * t;
          }
        }
        var /= (double) n * m;
        double inv = 1 / Math.sqrt(var + eps);
        for (int bi = 0; bi < n; bi++) {
          for (int i = 0; i < m; i++) {
            int at = (bi * c + ch) * m + i;
            double v = gamma[ch] * (x[at] - mean) * inv + beta[ch];
            y[at] = Double.isNaN(cap) ? v : Math.min(Math.max(0, v), cap);
          }
        }
      }
      return y;
    }

    /** PyTorch's max pooling: -inf padding, ceil mode's last window starting inside the input or left padding. */
    static double[] maxPool(double[] x, long[] xs, int k, int s, int p, int d, boolean ceil) {
      int n = (int) xs[0], c = (int) xs[1], h = (int) xs[2], w = (int) xs[3];
      int oh = (int) CnncMaxPool.outSize(h, k, s, p, d, ceil);
      int ow = (int) CnncMaxPool.outSize(w, k, s, p, d, ceil);
      double[] y = new double[n * c * oh * ow];
      for (int plane = 0; plane < n * c; plane++) {
        for (int i = 0; i < oh; i++) {
          for (int j = 0; j < ow; j++) {
            double best = Double.NEGATIVE_INFINITY;
            for (int u = 0; u < k; u++) {
              for (int t = 0; t < k; t++) {
                int yy = i * s - p + u * d;
                int xx = j * s - p + t * d;
                if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                  best = Math.max(best, x[(plane * h + yy) * w + xx]);
                }
              }
            }
            y[(plane * oh + i) * ow + j] = best;
          }
        }
      }
      return y;
    }

    static double[] relu(double[] x) {
      double[] y = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        y[i] = Math.max(0, x[i]);
      }
      return y;
    }

    static double[] relu6(double[] x) {
      double[] y = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        y[i] = Math.min(Math.max(0, x[i]), 6);
      }
      return y;
    }

    /** {@code x [n, in]} times DL4J's {@code W [in, out]}, plus {@code b}. */
    static double[] dense(double[] x, int n, int in, double[] w, int out, double[] b, boolean relu) {
      double[] y = new double[n * out];
      for (int i = 0; i < n; i++) {
        for (int o = 0; o < out; o++) {
          double acc = b[o];
          for (int k = 0; k < in; k++) {
            acc += x[i * in + k] * w[k * out + o];
          }
          y[i * out + o] = relu ? Math.max(0, acc) : acc;
        }
      }
      return y;
    }

    static double[] concat(double[] a, long[] as, double[] b, long[] bs) {
      int n = (int) as[0];
      int pa = (int) (a.length / n);
      int pb = (int) (b.length / n);
      double[] y = new double[a.length + b.length];
      for (int i = 0; i < n; i++) {
        System.arraycopy(a, i * pa, y, i * (pa + pb), pa);
        System.arraycopy(b, i * pb, y, i * (pa + pb) + pa, pb);
      }
      return y;
    }
  }

}
