// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * cnnc's max pooling: its output equals a plain loop over each window clipped to the input
 * (PyTorch's semantics, ceil mode included; ParityTest checks the ceil cases against PyTorch
 * itself), and where DL4J's subsampling layer computes the same pooling (floor mode) the outputs
 * and every gradient through it equal DL4J's.
 */
class CnncMaxPoolTest {
  @ParameterizedTest
  @CsvSource({
      // h, w, kernel h, kernel w, stride, padding, dilation, ceil
      "9, 9, 3, 3, 2, 0, 1, false",
      "9, 9, 3, 3, 2, 0, 1, true",
      "8, 8, 3, 3, 1, 1, 1, false",
      "10, 7, 2, 2, 2, 0, 1, true",
      "11, 11, 3, 3, 2, 1, 2, false",
      "12, 9, 3, 2, 3, 1, 1, true",
      "7, 7, 2, 2, 2, 1, 1, false"})
  void equalsTheDefinitionAndDl4j(int h, int w, int kh, int kw, int s, int p, int d, boolean ceil) {
    onEachKernel(() -> equalsTheDefinitionAndDl4j(h, w, kh, kw, s, p, d, ceil, 0));
  }

  private void equalsTheDefinitionAndDl4j(int h, int w, int kh, int kw, int s, int p, int d, boolean ceil, int unused) {
    int[] k = {kh, kw};
    int[] st = {s, s};
    int[] pd = {p, p};
    int[] dl = {d, d};
    ComputationGraph ours = network(new CnncMaxPool(k, st, pd, dl, ceil), h, w);
    Nd4j.getRandom().setSeed(h * 31L + w);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, 3, h, w);
    INDArray conv = ours.feedForward(new INDArray[] {x}, false, false).get("conv").dup();
    INDArray pooled = ours.feedForward(new INDArray[] {x}, false, false).get("pool");
    INDArray expected = naive(conv, k, st, pd, dl, ceil);
    assertArrayEquals(expected.shape(), pooled.shape());
    assertClose(expected, pooled, 0, "output");
    if (ceil) {
      return;
    }
    ComputationGraph theirs = network(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(k).stride(st)
        .padding(pd).dilation(dl).convolutionMode(ConvolutionMode.Truncate).build(), h, w);
    theirs.getParam("conv_W").assign(ours.getParam("conv_W"));
    theirs.getParam("conv_b").assign(ours.getParam("conv_b"));
    INDArray y = Nd4j.randn(DataType.FLOAT, pooled.shape());
    TestGraphs.assertSameGradients(theirs, ours, x, y, theirs.paramTable().keySet(), 1e-5);
  }

  /**
   * With ties (values from {0, 1, 2}) and NaNs, the gradient goes where PyTorch's scan sends it:
   * the window is read row by row and a value is kept only when it is greater than the one kept, or
   * NaN; so the first maximum wins, and the last NaN.
   */
  @ParameterizedTest
  @CsvSource({
      // h, w, kernel, stride, padding, ceil, a NaN every this many elements (0: none)
      "9, 9, 3, 1, 1, false, 0",
      "10, 9, 3, 2, 0, true, 0",
      "8, 8, 2, 2, 0, false, 7",
      "9, 11, 3, 2, 1, true, 7",
      "9, 9, 3, 1, 1, false, 2",   // several NaNs in one window row
      "10, 10, 3, 2, 1, true, 3"})
  void gradientGoesWherePyTorchsScanSendsIt(int h, int w, int k, int s, int p, boolean ceil, int nanEvery) {
    onEachKernel(() -> scanCase(h, w, k, s, p, ceil, nanEvery));
  }

  private void scanCase(int h, int w, int k, int s, int p, boolean ceil, int nanEvery) {
    int[] kk = {k, k};
    int[] ss = {s, s};
    int[] pp = {p, p};
    int[] dd = {1, 1};
    ComputationGraph g = network(new CnncMaxPool(kk, ss, pp, dd, ceil), h, w);
    org.deeplearning4j.nn.api.Layer pool = g.getLayer("pool");
    java.util.Random random = new java.util.Random(h * 17L + w);
    INDArray x = Nd4j.create(DataType.FLOAT, 2, 3, h, w);
    for (int i = 0; i < x.length(); i++) {
      x.putScalar(i, random.nextInt(3));
    }
    if (nanEvery > 0) {
      for (int i = 0; i < x.length(); i += nanEvery) {
        x.putScalar(i, Float.NaN);
      }
    }
    var mgr = org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();
    pool.setInput(x, mgr);
    INDArray y = pool.activate(true, mgr);
    INDArray dy = Nd4j.rand(DataType.FLOAT, y.shape()).addi(1);
    INDArray dx = pool.backpropGradient(dy, mgr).getSecond();
    long oh = y.size(2);
    long ow = y.size(3);
    INDArray expected = Nd4j.zeros(DataType.FLOAT, x.shape());
    for (int n = 0; n < 2; n++) {
      for (int c = 0; c < 3; c++) {
        for (int oy = 0; oy < oh; oy++) {
          for (int ox = 0; ox < ow; ox++) {
            float best = Float.NEGATIVE_INFINITY;
            long at = -1;
            for (int i = 0; i < k; i++) {
              for (int j = 0; j < k; j++) {
                long iy = (long) oy * s - p + i;
                long ix = (long) ox * s - p + j;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                  continue;
                }
                float v = x.getFloat(n, c, iy, ix);
                if (at < 0 || v > best || Float.isNaN(v)) {
                  best = v;
                  at = iy * w + ix;
                }
              }
            }
            assertTrue(Float.compare(best, y.getFloat(n, c, oy, ox)) == 0, "output at " + oy + ", " + ox);
            long[] pos = {n, c, at / w, at % w};
            expected.putScalar(pos, expected.getFloat(pos) + dy.getFloat(n, c, oy, ox));
          }
        }
      }
    }
    assertClose(expected, dx, 1e-6, "input gradient");
  }

  /**
   * The Vector API kernel ({@link VectorPool}) and the scalar one give the same bits: outputs in
   * inference and training, and the input gradient (so the argmax), on maps wide enough for several
   * vectors and a partial one per row, every stride and dilation, with ties, NaNs and -inf.
   */
  @ParameterizedTest
  @CsvSource({
      // h, w, kernel h, kernel w, stride h, stride w, padding h, padding w, dilation, ceil
      "112, 112, 3, 3, 2, 2, 0, 0, 1, true",
      "28, 28, 3, 3, 1, 1, 1, 1, 1, false",
      "14, 14, 3, 3, 2, 2, 0, 0, 1, true",
      "7, 7, 3, 3, 1, 1, 1, 1, 1, false",
      "33, 45, 5, 4, 3, 2, 2, 1, 2, true",
      "19, 23, 2, 3, 1, 3, 1, 1, 1, true",
      "17, 40, 4, 4, 4, 4, 0, 0, 1, false",
      "6, 5, 6, 5, 1, 1, 0, 0, 1, false",
      // the separable inference kernel (no dilation): NiN's, ceil with padding, a stride of 3
      // over a row of several vectors and a tail, one pixel
      "32, 32, 3, 3, 2, 2, 0, 0, 1, false",
      "56, 57, 3, 3, 2, 2, 1, 1, 1, true",
      "9, 70, 2, 5, 2, 3, 1, 2, 1, true",
      "1, 1, 1, 1, 1, 1, 0, 0, 1, false",
      // stride 2 across, split by phase on vectors: VGG's 2x2 (odd width), rows of several
      // vectors and a tail, 5 wide with padding and ceil, 1 wide, stride 1 down
      "15, 17, 2, 2, 2, 2, 0, 0, 1, false",
      "7, 70, 3, 3, 2, 2, 1, 1, 1, false",
      "11, 41, 5, 5, 2, 2, 2, 2, 1, true",
      "9, 9, 1, 1, 2, 2, 0, 0, 1, false",
      "12, 35, 3, 2, 1, 2, 1, 0, 1, true",
      // stride 1, the plane as one flat row: GoogLeNet's 3x3 at 14x14, a wide row, a 3x5 kernel
      // with padding 1 and 2, no padding
      "14, 14, 3, 3, 1, 1, 1, 1, 1, false",
      "5, 50, 3, 3, 1, 1, 1, 1, 1, true",
      "13, 9, 3, 5, 1, 1, 1, 2, 1, true",
      // stride 1, same size, pooled where the plane lies (row shifts, masked column shifts):
      // GoogLeNet's 28x28 and 7x7, a 5x3 kernel, one row, a plane shorter than a vector
      "28, 28, 3, 3, 1, 1, 1, 1, 1, false",
      "7, 7, 3, 3, 1, 1, 1, 1, 1, true",
      "9, 17, 5, 3, 1, 1, 2, 1, 1, false",
      "1, 40, 3, 3, 1, 1, 1, 1, 1, false",
      "3, 3, 3, 3, 1, 1, 1, 1, 1, false",
      "8, 11, 2, 2, 1, 1, 0, 0, 1, false",
      // strided, output rows narrower than a vector, also as one flat row: GoogLeNet's 28x28 and
      // (above) 14x14 with ceil, VGG16's last 2x2, stride 3 down and 2 across with padding and
      // ceil, a 15-wide output
      "28, 28, 3, 3, 2, 2, 0, 0, 1, true",
      "14, 14, 2, 2, 2, 2, 0, 0, 1, false",
      "13, 10, 3, 2, 3, 2, 1, 1, 1, true",
      "5, 29, 3, 3, 2, 2, 1, 1, 1, true"})
  void vectorKernelGivesTheScalarKernelsBits(int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int d,
      boolean ceil) {
    vectorKernelGivesTheScalarKernelsBits(h, w, kh, kw, sh, sw, ph, pw, d, ceil, 3, 5);
  }

  /**
   * Inference reads and pools planes in groups of about {@code GROUP_FLOATS} per task: many small
   * planes (groups of many, a task's last group short) and planes larger than a group (one each).
   */
  @ParameterizedTest
  @CsvSource({
      // h, w, kernel, stride, padding, ceil, batch, channels
      "7, 7, 3, 1, 1, false, 4, 150",
      "14, 14, 3, 2, 0, true, 3, 97",
      "200, 190, 2, 2, 0, false, 1, 3"})
  void planesInGroupsGiveTheScalarKernelsBits(int h, int w, int k, int s, int p, boolean ceil, int batch, int channels) {
    vectorKernelGivesTheScalarKernelsBits(h, w, k, k, s, s, p, p, 1, ceil, batch, channels);
  }

  private void vectorKernelGivesTheScalarKernelsBits(int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
      int d, boolean ceil, int batch, int channels) {
    org.junit.jupiter.api.Assumptions.assumeTrue(Vectors.present(), "the JVM has no Vector API");
    ComputationGraph g = network(new CnncMaxPool(new int[] {kh, kw}, new int[] {sh, sw}, new int[] {ph, pw},
        new int[] {d, d}, ceil), h, w);
    org.deeplearning4j.nn.api.Layer pool = g.getLayer("pool");
    java.util.Random random = new java.util.Random(h * 7919L + w * 31L + kh);
    INDArray x = Nd4j.create(DataType.FLOAT, batch, channels, h, w);
    for (int i = 0; i < x.length(); i++) {
      int r = random.nextInt(40);
      x.putScalar(i, r == 0 ? Float.NaN : r == 1 ? Float.NEGATIVE_INFINITY : r < 12 ? random.nextInt(3) - 1
          : (float) random.nextGaussian());
    }
    var mgr = org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();
    INDArray[][] results = new INDArray[2][];
    KernelSettings was = KernelSettings.current();
    try {
      for (int v = 0; v < 2; v++) {
        KernelSettings.use(was.withVectors(v == 1));
        pool.setInput(x, mgr);
        INDArray inference = pool.activate(false, mgr).dup();
        pool.setInput(x, mgr);
        INDArray training = pool.activate(true, mgr).dup();
        INDArray dy = Nd4j.linspace(DataType.FLOAT, 1, training.length(), 1).reshape(training.shape());
        INDArray dx = pool.backpropGradient(dy, mgr).getSecond().dup();
        results[v] = new INDArray[] {inference, training, dx};
      }
    } finally {
      KernelSettings.use(was);
    }
    String[] what = {"inference output", "training output", "input gradient"};
    for (int i = 0; i < 3; i++) {
      assertArrayEquals(KernelHarness.bits(results[0][i]), KernelHarness.bits(results[1][i]), what[i]);
    }
  }

  /**
   * Pooling an activation in oneDNN's layouts ({@link LaidPool}: NHWC, 8- and 16-channel blocks,
   * channels that do not fill the last block) into the same layout or into NCHW gives the bits
   * of pooling it in NCHW, with NaNs, infinities, signed zeros and ties, on either kernel, and
   * leaves a block's padded channels zero.
   */
  @ParameterizedTest
  @CsvSource({
      // h, w, kernel h, kernel w, stride h, stride w, padding, dilation, ceil, batch, channels
      "8, 8, 2, 2, 2, 2, 0, 1, false, 2, 20",      // VGG16's pools
      "15, 15, 3, 3, 2, 2, 1, 1, true, 1, 16",     // the ResNet stem's, ceil: the last window short
      "14, 14, 3, 3, 1, 1, 1, 1, false, 2, 24",    // stride 1 (one run per tap), GoogLeNet's branch
      "13, 11, 3, 2, 3, 2, 1, 1, true, 3, 7",      // strides apart, fewer channels than a block
      "11, 11, 3, 3, 2, 2, 1, 2, false, 2, 33",    // dilated
      "40, 37, 3, 3, 2, 2, 0, 1, true, 1, 64"})    // rows in tasks of several
  void laidPoolingGivesTheNchwBits(int h, int w, int kh, int kw, int sh, int sw, int p, int d, boolean ceil,
      int batch, int channels) {
    ComputationGraph g = network(new CnncMaxPool(new int[] {kh, kw}, new int[] {sh, sw}, new int[] {p, p},
        new int[] {d, d}, ceil), h, w);
    CnncMaxPool.Impl pool = (CnncMaxPool.Impl) g.getLayer("pool");
    java.util.Random random = new java.util.Random(h * 7919L + w * 31L + channels);
    INDArray x = Nd4j.create(DataType.FLOAT, batch, channels, h, w);
    for (int i = 0; i < x.length(); i++) {
      int r = random.nextInt(40);
      x.putScalar(i, r == 0 ? Float.NaN : r == 1 ? Float.NEGATIVE_INFINITY : r == 2 ? Float.POSITIVE_INFINITY
          : r == 3 ? -0f : r < 12 ? random.nextInt(3) - 1 : (float) random.nextGaussian());
    }
    var mgr = org.deeplearning4j.nn.workspace.LayerWorkspaceMgr.noWorkspaces();
    pool.setInput(x, mgr);
    INDArray expected = pool.activate(false, mgr).dup();
    long[] shape = x.shape();
    long[] outShape = expected.shape();
    KernelSettings was = KernelSettings.current();
    try {
      for (boolean vectors : Vectors.present() ? new boolean[] {false, true} : new boolean[] {false}) {
        KernelSettings.use(was.withVectors(vectors));
        for (int layout : new int[] {ConvLayout.NHWC, 8, 16}) {
          INDArray laid = toLayout(x, layout);
          INDArray same = Nd4j.create(DataType.FLOAT, ConvLayout.rows(outShape, layout));
          same.assign(Float.NaN);
          pool.forwardLaid(laid, shape, layout, same, layout, 0f, mgr);
          INDArray nchw = Nd4j.create(DataType.FLOAT, outShape);
          pool.forwardLaid(laid, shape, layout, nchw, ConvLayout.NCHW, 0f, mgr);
          String at = ConvLayout.name(layout) + (vectors ? ", vectors" : ", scalar");
          assertArrayEquals(KernelHarness.bits(expected), KernelHarness.bits(nchw), at + " into NCHW");
          assertArrayEquals(KernelHarness.bits(toLayout(expected, layout)), KernelHarness.bits(same),
              at + " into its layout (padded channels zero)");
          // NCHW into a concatenation's slice, strided at batch > 1
          INDArray wide = Nd4j.create(DataType.FLOAT, outShape[0], outShape[1] + 2, outShape[2], outShape[3]);
          INDArray slice = wide.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 1 + outShape[1]), NDArrayIndex.all(),
              NDArrayIndex.all());
          pool.forwardLaid(laid, shape, layout, slice, ConvLayout.NCHW, 0f, mgr);
          assertArrayEquals(KernelHarness.bits(expected), KernelHarness.bits(slice.dup('c')), at + " into a slice");
          assertEquals(0, wide.get(NDArrayIndex.all(), NDArrayIndex.point(0)).amaxNumber().doubleValue(), at);
          // a conv's ReLU or relu6 applied after the pooling: the bits of pooling the activated
          // input (max commutes with both; NaN kept, -0.0 made +0.0 either way)
          for (float cap : new float[] {Float.POSITIVE_INFINITY, 6f}) {
            float[] v = x.dup('c').data().asFloat();
            for (int i = 0; i < v.length; i++) {
              v[i] = Math.min(Math.max(v[i], 0f), cap);
            }
            INDArray activated = Nd4j.create(v, x.shape());
            pool.setInput(activated, mgr);
            INDArray pooledActivated = pool.activate(false, mgr).dup();
            INDArray capped = Nd4j.create(DataType.FLOAT, ConvLayout.rows(outShape, layout));
            pool.forwardLaid(laid, shape, layout, capped, layout, cap, mgr);
            assertArrayEquals(KernelHarness.bits(toLayout(pooledActivated, layout)), KernelHarness.bits(capped),
                at + " with the activation " + cap + " after");
            INDArray cappedNchw = Nd4j.create(DataType.FLOAT, outShape);
            pool.forwardLaid(laid, shape, layout, cappedNchw, ConvLayout.NCHW, cap, mgr);
            assertArrayEquals(KernelHarness.bits(pooledActivated), KernelHarness.bits(cappedNchw),
                at + " with the activation " + cap + " after, into NCHW");
          }
        }
      }
    } finally {
      KernelSettings.use(was);
    }
  }

  /** {@code x} (NCHW) in {@code layout}, a blocked layout's padded channels zero: a plain loop, apart from oneDNN's reorders. */
  private static INDArray toLayout(INDArray x, int layout) {
    long n = x.size(0);
    long c = x.size(1);
    long h = x.size(2);
    long w = x.size(3);
    long b = layout == ConvLayout.NHWC ? c : layout;
    float[] out = new float[(int) ConvLayout.floats(x.shape(), layout)];
    for (long i = 0; i < n; i++) {
      for (long q = 0; q < c; q++) {
        for (long y = 0; y < h; y++) {
          for (long z = 0; z < w; z++) {
            long block = q / b;
            long at = ((((i * ((c + b - 1) / b) + block) * h + y) * w + z) * b) + q % b;
            out[(int) at] = x.getFloat(i, q, y, z);
          }
        }
      }
    }
    return Nd4j.createFromArray(out).reshape(ConvLayout.rows(x.shape(), layout));
  }

  /** The surefire execution says whether its JVM was started with the Vector API; the gate must agree. */
  @org.junit.jupiter.api.Test
  void gateSeesWhetherTheJvmHasTheVectorApi() {
    String expected = System.getProperty("cnnc.test.vectorApi");
    org.junit.jupiter.api.Assumptions.assumeTrue(expected != null, "run outside the module's surefire executions");
    org.junit.jupiter.api.Assertions.assertEquals(expected.equals("present"), Vectors.present());
    org.junit.jupiter.api.Assertions.assertEquals(Vectors.present(), Vectors.on());
  }


  /** Runs a check with the scalar kernel, then with the Vector API kernel when the JVM has it. */
  private static void onEachKernel(Runnable check) {
    KernelSettings was = KernelSettings.current();
    try {
      KernelSettings.use(was.withVectors(false));
      check.run();
      if (Vectors.present()) {
        KernelSettings.use(was.withVectors(true));
        check.run();
      }
    } finally {
      KernelSettings.use(was);
    }
  }

  /** Max over each window, clipped to the input; PyTorch's output size. */
  static INDArray naive(INDArray x, int[] k, int[] s, int[] p, int[] d, boolean ceil) {
    long h = x.size(2);
    long w = x.size(3);
    long oh = CnncMaxPool.outSize(h, k[0], s[0], p[0], d[0], ceil);
    long ow = CnncMaxPool.outSize(w, k[1], s[1], p[1], d[1], ceil);
    INDArray out = Nd4j.create(DataType.FLOAT, x.size(0), x.size(1), oh, ow);
    for (int n = 0; n < x.size(0); n++) {
      for (int c = 0; c < x.size(1); c++) {
        for (int oy = 0; oy < oh; oy++) {
          for (int ox = 0; ox < ow; ox++) {
            double best = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < k[0]; i++) {
              for (int j = 0; j < k[1]; j++) {
                long iy = (long) oy * s[0] - p[0] + (long) i * d[0];
                long ix = (long) ox * s[1] - p[1] + (long) j * d[1];
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) {
                  best = Math.max(best, x.getDouble(n, c, iy, ix));
                }
              }
            }
            out.putScalar(new long[] {n, c, oy, ox}, best);
          }
        }
      }
    }
    return out;
  }

  static ComputationGraph network(Layer pool, int h, int w) {
    return TestGraphs.convThen("pool", pool, 3, h, w, 3);
  }
}
