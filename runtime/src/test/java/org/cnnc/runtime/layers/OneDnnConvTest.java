// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.nd4j.linalg.indexing.NDArrayIndex.all;
import static org.nd4j.linalg.indexing.NDArrayIndex.interval;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * cnnc's own oneDNN conv primitives ({@link OneDnnConv}): equal to ND4J's own conv (helpers off),
 * with and without bias, NaN kept, and the ReLU after them keeps NaN as PyTorch's does (oneDNN's
 * fused ReLU would not: cnnc does not fuse it); callers on
 * several threads at once, on one shape and on several, each get their own result, the same
 * bits as alone; and a shape whose primitive was dropped (past {@link OneDnnConv#MAX_PLANS})
 * gets a new one that computes the same.
 */
class OneDnnConvTest {
  /** Batch, channels, height, width, outputs, kernel, stride, padding: odd sizes, strides, padding, a 2x2 kernel. */
  private static final int[][] SHAPES = {
    {2, 16, 9, 11, 24, 3, 1, 1}, {1, 20, 15, 15, 8, 5, 2, 2}, {3, 32, 8, 8, 40, 3, 2, 0}, {2, 17, 7, 6, 33, 2, 1, 1}};

  /** ND4J's own conv2d (its oneDNN helper is off outside {@link OneDnn}). */
  private static INDArray reference(INDArray x, INDArray w, INDArray b, ConvGemm.Geometry g) {
    long oh = g.outH(x.size(2));
    long ow = g.outW(x.size(3));
    INDArray out = Nd4j.create(DataType.FLOAT, x.size(0), w.size(0), oh, ow);
    DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv2d");
    op = b == null ? op.addInputs(x, w) : op.addInputs(x, w, b);
    Nd4j.exec(op.addOutputs(out).addIntegerArguments(OneDnn.args(g)).build());
    return out;
  }

  private static INDArray run(INDArray x, INDArray w, INDArray b, ConvGemm.Geometry g) {
    INDArray out = Nd4j.create(DataType.FLOAT, x.size(0), w.size(0), g.outH(x.size(2)), g.outW(x.size(3)));
    OneDnn.forward(x, w, b, g, out, null);
    return out;
  }

  private static void assertClose(INDArray expected, INDArray actual, String what) {
    assertArrayEquals(expected.shape(), actual.shape(), what);
    double scale = Math.max(1e-6, expected.amaxNumber().doubleValue());
    double err = expected.sub(actual).amaxNumber().doubleValue() / scale;
    assertTrue(err < 1e-5, what + ": " + err + " of the largest value");
  }

  @Test
  void equalsNd4jsConvWithAndWithoutBiasAndKeepsNaN() {
    assertNull(OneDnn.bindingFailure());
    Nd4j.getRandom().setSeed(31);
    for (int[] s : SHAPES) {
      ConvGemm.Geometry g = new ConvGemm.Geometry(s[5], s[5], s[6], s[6], s[7], s[7], 1, 1);
      INDArray x = Nd4j.randn(DataType.FLOAT, s[0], s[1], s[2], s[3]);
      INDArray w = Nd4j.randn(DataType.FLOAT, s[4], s[1], s[5], s[5]).muli(0.2);
      INDArray b = Nd4j.randn(DataType.FLOAT, s[4]);
      for (INDArray bias : new INDArray[] {null, b}) {
        String what = java.util.Arrays.toString(s) + " bias=" + (bias != null);
        assertClose(reference(x, w, bias, g), run(x, w, bias, g), what);
      }
      // NaN in, NaN out, and through a conv layer's ReLU too (a ReLU by max(x, 0) would give 0)
      INDArray nan = x.dup();
      nan.putScalar(new long[] {0, 0, s[2] / 2, s[3] / 2}, Float.NaN);
      assertTrue(run(nan, w, b, g).isNaN().any(), "a NaN in the input reaches the output: " + java.util.Arrays.toString(s));
      KernelSettings before = KernelSettings.use(KernelSettings.current().withOneDnn(true, 1, Long.MAX_VALUE));
      try {
        // a conv layer's forward goes to a primitive: a shape of its own (this batch of 5) makes one
        INDArray five = Nd4j.concat(0, nan, nan, nan, nan, nan).get(
            org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 5)).dup('c');
        long made = OneDnnConv.made();
        INDArray y = ConvGemm.forward(five, w, b, ChannelKernels.RELU, g,
            org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces(),
            org.deeplearning4j.nn.workspace.ArrayType.ACTIVATIONS);
        assertEquals(made + 1, OneDnnConv.made(), "ConvGemm made no primitive");
        assertTrue(y.isNaN().any(), "a NaN survives the conv's ReLU: " + java.util.Arrays.toString(s));
      } finally {
        KernelSettings.use(before);
      }
    }
  }

  /**
   * The backward primitives equal ND4J's own {@code conv2d_bp}: the input gradient (or none), the
   * weights' gradient and the bias's, overwriting whatever the arrays held.
   */
  @Test
  void backwardEqualsNd4jsConvBackward() {
    Nd4j.getRandom().setSeed(43);
    for (int[] s : SHAPES) {
      ConvGemm.Geometry g = new ConvGemm.Geometry(s[5], s[5], s[6], s[6], s[7], s[7], 1, 1);
      INDArray x = Nd4j.randn(DataType.FLOAT, s[0], s[1], s[2], s[3]);
      INDArray w = Nd4j.randn(DataType.FLOAT, s[4], s[1], s[5], s[5]).muli(0.2);
      INDArray delta = Nd4j.randn(DataType.FLOAT, s[0], s[4], g.outH(s[2]), g.outW(s[3]));
      INDArray dxRef = Nd4j.create(DataType.FLOAT, x.shape());
      INDArray dwRef = Nd4j.create(DataType.FLOAT, w.shape());
      INDArray dbRef = Nd4j.create(DataType.FLOAT, s[4]);
      Nd4j.exec(DynamicCustomOp.builder("conv2d_bp").addInputs(x, w, Nd4j.zeros(DataType.FLOAT, s[4]), delta)
          .addOutputs(dxRef, dwRef, dbRef).addIntegerArguments(OneDnn.args(g)).build());
      for (boolean bias : new boolean[] {false, true}) {
        for (boolean input : new boolean[] {false, true}) {
          String what = java.util.Arrays.toString(s) + " bias=" + bias + " dx=" + input;
          INDArray dx = input ? Nd4j.randn(DataType.FLOAT, x.shape()) : null;
          INDArray dw = Nd4j.randn(DataType.FLOAT, w.shape());
          INDArray db = bias ? Nd4j.randn(DataType.FLOAT, s[4]) : null;
          OneDnn.backward(x, w, delta, dx, dw, db, g);
          assertClose(dwRef, dw, "dW " + what);
          if (input) {
            assertClose(dxRef, dx, "dx " + what);
          }
          if (bias) {
            assertClose(dbRef, db, "db " + what);
          }
        }
      }
    }
  }

  @Test
  void concurrentCallersGetTheSameBitsAsAlone() throws Exception {
    Nd4j.getRandom().setSeed(37);
    ConvGemm.Geometry g = new ConvGemm.Geometry(3, 3, 1, 1, 1, 1, 1, 1);
    int threads = 4;
    // threads 0 and 2 share one shape, 1 and 3 another: same-shape callers take turns on one primitive
    List<INDArray[]> work = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      int c = t % 2 == 0 ? 32 : 48;
      work.add(new INDArray[] {Nd4j.randn(DataType.FLOAT, 2, c, 20, 20), Nd4j.randn(DataType.FLOAT, 32, c, 3, 3),
          Nd4j.randn(DataType.FLOAT, 32)});
    }
    List<INDArray> alone = new ArrayList<>();
    for (INDArray[] a : work) {
      alone.add(run(a[0], a[1], a[2], g));
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int me = t;
        Callable<Integer> body = () -> {
          INDArray[] a = work.get(me);
          for (int i = 0; i < 20; i++) {
            INDArray y = run(a[0], a[1], a[2], g);
            assertArrayEquals(alone.get(me).data().asFloat(), y.data().asFloat(), "thread " + me + ", call " + i);
          }
          return me;
        };
        results.add(pool.submit(body));
      }
      for (Future<Integer> f : results) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aDroppedShapeIsMadeAgain() {
    Nd4j.getRandom().setSeed(41);
    ConvGemm.Geometry g = new ConvGemm.Geometry(3, 3, 1, 1, 1, 1, 1, 1);
    INDArray x = Nd4j.randn(DataType.FLOAT, 1, 16, 6, 6);
    INDArray w = Nd4j.randn(DataType.FLOAT, 8, 16, 3, 3);
    INDArray first = run(x, w, null, g);
    // more shapes than are kept: the first one's primitive is dropped
    for (int o = 1; o <= OneDnnConv.MAX_PLANS + 1; o++) {
      run(x, Nd4j.randn(DataType.FLOAT, 8 + o, 16, 3, 3), null, g);
    }
    assertTrue(OneDnnConv.plans() <= OneDnnConv.MAX_PLANS, OneDnnConv.plans() + " primitives kept");
    INDArray again = run(x, w, null, g);
    assertArrayEquals(first.data().asFloat(), again.data().asFloat());
    assertEquals(first.length(), again.length());
  }

  /** Every layout {@link ConvLayout} has: NCHW, NHWC, and channel blocks of 8 and 16. */
  private static final int[] LAYOUTS = {ConvLayout.NCHW, ConvLayout.NHWC, 8, 16};

  /**
   * Asserts that the primitive computes {@code expected} (NCHW) from {@code x} (NCHW) with weights
   * {@code w} of {@code groups} groups and bias {@code b}, from every layout into every layout.
   */
  private static void assertEveryLayoutPair(INDArray x, INDArray w, int groups, INDArray b, ConvGemm.Geometry g,
      INDArray expected, String what) {
    for (int in : LAYOUTS) {
      for (int out : LAYOUTS) {
        INDArray y = Nd4j.create(DataType.FLOAT, ConvLayout.rows(expected.shape(), out));
        OneDnn.forwardLaid(laid(x, in), x.shape(), in, w, groups, b, g, y, out, null, false);
        INDArray back = Nd4j.create(DataType.FLOAT, expected.shape());
        ConvLayout.reorder(y, out, back, ConvLayout.NCHW, expected.shape());
        assertClose(expected, back, what + " from layout " + in + " to " + out);
      }
    }
  }

  /** {@code a} (NCHW) in {@code layout}, in an array of the floats that layout takes. */
  private static INDArray laid(INDArray a, int layout) {
    INDArray out = Nd4j.create(DataType.FLOAT, ConvLayout.rows(a.shape(), layout));
    ConvLayout.reorder(a, ConvLayout.NCHW, out, layout, a.shape());
    return out;
  }

  @Test
  void layoutsMapEachElementWhereTheirFormulaSaysAndPadWithZeros() {
    long n = 2;
    long c = 20;
    long h = 3;
    long w = 5;
    long[] shape = {n, c, h, w};
    INDArray x = Nd4j.rand(DataType.FLOAT, shape);
    assertTrue(OneDnnConv.preferred() != ConvLayout.NCHW, "oneDNN's convs prefer a layout of their own on x86");
    for (int layout : LAYOUTS) {
      INDArray y = laid(x, layout);
      long cp = layout > ConvLayout.NHWC ? (c + layout - 1) / layout * layout : c;
      assertEquals(n * cp * h * w, y.length(), "floats of layout " + layout);
      float[] f = y.data().asFloat();
      float[] padding = new float[(int) y.length()];
      java.util.Arrays.fill(padding, 1f);
      for (long i = 0; i < n; i++) {
        for (long k = 0; k < c; k++) {
          for (long r = 0; r < h; r++) {
            for (long q = 0; q < w; q++) {
              long at = switch (layout) {
                case ConvLayout.NCHW -> ((i * c + k) * h + r) * w + q;
                case ConvLayout.NHWC -> ((i * h + r) * w + q) * c + k;
                default -> (((i * (cp / layout) + k / layout) * h + r) * w + q) * layout + k % layout;
              };
              assertEquals(x.getFloat(i, k, r, q), f[(int) at], "layout " + layout + " at " + i + "," + k + "," + r + "," + q);
              padding[(int) at] = 0f;
            }
          }
        }
      }
      for (int i = 0; i < f.length; i++) {
        if (padding[i] != 0f) {
          assertEquals(0f, f[i], "layout " + layout + ": padded channel at " + i);
        }
      }
      INDArray back = Nd4j.create(DataType.FLOAT, shape);
      ConvLayout.reorder(y, layout, back, ConvLayout.NCHW, shape);
      assertArrayEquals(x.data().asFloat(), back.data().asFloat(), "round trip through layout " + layout);
    }
  }

  @Test
  void convsReadAndWriteEveryLayoutAsTheyComputeNchw() {
    int[][] shapes = {{2, 16, 9, 11, 24, 3, 1, 1}, {1, 20, 15, 15, 8, 5, 2, 2}, {3, 24, 8, 8, 20, 1, 1, 0},
      {2, 17, 7, 6, 33, 1, 2, 0}};
    for (int[] s : shapes) {
      INDArray x = Nd4j.rand(DataType.FLOAT, s[0], s[1], s[2], s[3]).subi(0.5);
      INDArray w = Nd4j.rand(DataType.FLOAT, s[4], s[1], s[5], s[5]).subi(0.5);
      INDArray b = Nd4j.rand(DataType.FLOAT, s[4]);
      ConvGemm.Geometry g = new ConvGemm.Geometry(s[5], s[5], s[6], s[6], s[7], s[7], 1, 1);
      assertEveryLayoutPair(x, w, 1, b, g, reference(x, w, b, g), java.util.Arrays.toString(s));
    }
  }

  @Test
  void groupedConvsReadAndWriteEveryLayoutAsEachGroupComputesApart() {
    Nd4j.getRandom().setSeed(7);
    // n, c, h, w, o, k, stride, padding, groups: depthwise (a full and a part channel block,
    // two outputs per channel, a 5x5 strided kernel), and groups of several channels
    int[][] shapes = {{2, 32, 9, 11, 32, 3, 1, 1, 32}, {1, 20, 15, 15, 20, 5, 2, 2, 20}, {2, 12, 8, 7, 24, 3, 2, 1, 12},
      {3, 16, 8, 8, 8, 3, 1, 1, 4}, {1, 24, 6, 6, 48, 1, 1, 0, 3}, {2, 48, 28, 28, 48, 3, 2, 1, 6},
      {2, 104, 14, 14, 104, 3, 1, 1, 13}, {1, 440, 7, 7, 440, 3, 1, 1, 55}};
    for (int[] s : shapes) {
      int groups = s[8];
      INDArray x = Nd4j.rand(DataType.FLOAT, s[0], s[1], s[2], s[3]).subi(0.5);
      INDArray w = Nd4j.rand(DataType.FLOAT, s[4], s[1] / groups, s[5], s[5]).subi(0.5);
      INDArray b = Nd4j.rand(DataType.FLOAT, s[4]);
      ConvGemm.Geometry g = new ConvGemm.Geometry(s[5], s[5], s[6], s[6], s[7], s[7], 1, 1);
      long cg = s[1] / groups;
      long og = s[4] / groups;
      INDArray expected = Nd4j.create(DataType.FLOAT, s[0], s[4], g.outH(s[2]), g.outW(s[3]));
      for (int i = 0; i < groups; i++) {
        INDArray xg = x.get(all(), interval(i * cg, (i + 1) * cg), all(), all()).dup('c');
        INDArray wg = w.get(interval(i * og, (i + 1) * og), all(), all(), all()).dup('c');
        INDArray bg = b.get(interval(i * og, (i + 1) * og)).dup('c');
        expected.get(all(), interval(i * og, (i + 1) * og), all(), all()).assign(reference(xg, wg, bg, g));
      }
      assertEveryLayoutPair(x, w, groups, b, g, expected, java.util.Arrays.toString(s));
    }
  }

  /**
   * SiLU as the primitive's post-op gives cnnc's SiLU of the conv's output within a float's
   * rounding, in every layout; a NaN input stays NaN through it, and so do the outputs an
   * infinite input makes NaN (-inf * sigmoid(-inf)), as PyTorch's {@code x / (1 + exp(-x))}.
   */
  @Test
  void siluPostOpIsCnncsSiluOfTheOutput() {
    Nd4j.getRandom().setSeed(17);
    int[][] shapes = {{2, 16, 9, 11, 24, 3, 1, 1, 1}, {1, 20, 15, 15, 20, 5, 2, 2, 20}, {3, 24, 8, 8, 40, 1, 1, 0, 1}};
    for (int[] s : shapes) {
      int groups = s[8];
      INDArray x = Nd4j.randn(DataType.FLOAT, s[0], s[1], s[2], s[3]).muli(4);
      x.putScalar(new long[] {0, 1, 2, 3}, Float.NaN);
      x.putScalar(new long[] {s[0] - 1, 0, 4, 4}, Float.NEGATIVE_INFINITY);
      x.putScalar(new long[] {0, s[1] - 1, 1, 1}, Float.POSITIVE_INFINITY);
      INDArray w = Nd4j.randn(DataType.FLOAT, s[4], s[1] / groups, s[5], s[5]).muli(0.3);
      INDArray b = Nd4j.randn(DataType.FLOAT, s[4]);
      ConvGemm.Geometry g = new ConvGemm.Geometry(s[5], s[5], s[6], s[6], s[7], s[7], 1, 1);
      long[] outShape = {s[0], s[4], g.outH(s[2]), g.outW(s[3])};
      INDArray plain = Nd4j.create(DataType.FLOAT, outShape);
      OneDnn.forwardLaid(x, x.shape(), ConvLayout.NCHW, w, groups, b, g, plain, ConvLayout.NCHW, null, false);
      INDArray expected = Nd4j.create(DataType.FLOAT, outShape);
      ChannelKernels.silu(plain, expected);
      int nan = 0;
      for (int layout : LAYOUTS) {
        INDArray y = Nd4j.create(DataType.FLOAT, ConvLayout.rows(outShape, layout));
        OneDnn.forwardLaid(laid(x, layout), x.shape(), layout, w, groups, b, g, y, layout, null, true);
        INDArray back = Nd4j.create(DataType.FLOAT, outShape);
        ConvLayout.reorder(y, layout, back, ConvLayout.NCHW, outShape);
        nan = 0;
        for (long i = 0; i < expected.length(); i++) {
          float e = expected.getFloat(i);
          float a = back.getFloat(i);
          String what = java.util.Arrays.toString(s) + " layout " + layout + " at " + i + ": " + e + " against " + a;
          if (Float.isNaN(e)) {
            assertTrue(Float.isNaN(a), what);
            nan++;
          } else {
            assertTrue(e == a || Math.abs(e - a) <= 1e-5 * Math.max(1, Math.abs(e)), what);
          }
        }
      }
      assertTrue(nan > 0, "the NaN reaches some outputs");
    }
  }
}
