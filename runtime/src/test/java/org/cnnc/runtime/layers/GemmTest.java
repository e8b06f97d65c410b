// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link Gemm} on MKL and on cnnc's Vector API product ({@link VectorGemm}) against ND4J's own
 * product, on the operands convolutions hand it: whole matrices, row ranges of a larger buffer
 * (views at an offset, with a leading dimension wider than the row), transposes, accumulation into
 * C, and arrays inside a workspace; for the vector product also sizes past each of its blocks.
 */
class GemmTest {
  private final KernelSettings before = KernelSettings.current();

  @AfterEach
  void restore() {
    KernelSettings.use(before);
  }

  /** The libraries cnnc multiplies on itself, which every test runs on. */
  static Stream<String> libraries() {
    return Stream.of("mkl", "onednn", "vector");
  }

  /**
   * The runtime depends on MKL and oneDNN: both load. {@code auto} takes MKL where MKL runs code for
   * this CPU's instruction sets and oneDNN's sgemm where it would run its generic code (its
   * processor string names no extensions: "Intel(R) Architecture processors", as MKL 2022 says
   * on AMD's CPUs); the others are asked for, and {@code onednn} does not need oneDNN's convs.
   */
  @Test
  void autoTakesOneDnnWhereMklRunsGenericCode() {
    assertTrue(Gemm.generic("Intel(R) Architecture processors"));
    assertFalse(Gemm.generic("Intel(R) Advanced Vector Extensions 512 (Intel(R) AVX-512) enabled processors"));
    assertFalse(Gemm.generic("Intel(R) Advanced Vector Extensions 2 (Intel(R) AVX2) enabled processors"));
    assertEquals(Gemm.generic(Gemm.Mkl.processor()) ? Gemm.Library.ONEDNN : Gemm.Library.MKL, Gemm.use("auto"));
    assertEquals(Gemm.Library.ND4J, Gemm.use("openblas"));
    assertEquals(Gemm.Library.MKL, Gemm.use("mkl"));
    assertEquals(Gemm.Library.ONEDNN, Gemm.use("onednn"));
    assertEquals(Gemm.Library.VECTOR, Gemm.use("vector"));
    KernelSettings.use(before.withOneDnn(false));
    assertEquals(Gemm.Library.ONEDNN, Gemm.use("onednn"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.use("atlas"));
    assertTrue(e.getMessage().contains("auto, mkl, onednn, vector or openblas"), e.getMessage());
  }

  /**
   * Random operands of an {@code m x k} by {@code k x n} product for one of four variants: bit 0
   * transposes A, bit 1 B; alpha is 0.5 in variant 3, beta 0 in variant 1 (else 1 and 0.75).
   */
  private record Operands(boolean ta, boolean tb, INDArray a, INDArray b, INDArray c0, double alpha, double beta) {
    static Operands of(int variant, int m, int k, int n) {
      boolean ta = (variant & 1) != 0;
      boolean tb = (variant & 2) != 0;
      return new Operands(ta, tb, ta ? Nd4j.randn(DataType.FLOAT, k, m) : Nd4j.randn(DataType.FLOAT, m, k),
          tb ? Nd4j.randn(DataType.FLOAT, n, k) : Nd4j.randn(DataType.FLOAT, k, n), Nd4j.randn(DataType.FLOAT, m, n),
          variant == 3 ? 0.5 : 1.0, variant == 1 ? 0.0 : 0.75);
    }
  }


  /**
   * Products on oneDNN's sgemm ({@code onednn}) equal ND4J's product and the same products on MKL
   * alone: through {@code gemm} for every transpose, alpha and beta, a thin product and a wide
   * one; a batch with a shared A and a stride between its B's; and a sum over samples (a 1x1
   * conv's weight gradient).
   */
  @Test
  void oneDnnProductsEqualNd4j() {
    Nd4j.getRandom().setSeed(23);
    int m = 70;
    int k = 700;
    int n = 350;
    for (int variant = 0; variant < 8; variant++) {
      // variants 4-7 are thin: 5 rows, 9 terms
      Operands o = variant < 4 ? Operands.of(variant, m, k, n) : Operands.of(variant - 4, 5, 9, n);
      INDArray expected = o.c0().dup();
      Nd4j.gemm(o.a(), o.b(), expected, o.ta(), o.tb(), o.alpha(), o.beta());
      INDArray[] results = new INDArray[2];
      for (String library : new String[] {"mkl", "onednn"}) {
        Gemm.use(library);
        INDArray c = o.c0().dup();
        Gemm.gemm(o.a(), o.b(), c, o.ta(), o.tb(), o.alpha(), o.beta());
        results[library.equals("mkl") ? 0 : 1] = c;
      }
      String what = "ta=" + o.ta() + " tb=" + o.tb() + " alpha=" + o.alpha() + " beta=" + o.beta();
      assertClose(expected, results[1], 1e-5, "oneDNN against ND4J, " + what);
      assertClose(results[0], results[1], 1e-5, "oneDNN against MKL, " + what);
      if (variant < 4) {
        assertFalse(java.util.Arrays.equals(results[0].data().asFloat(), results[1].data().asFloat()),
            "oneDNN's sums are not MKL's: the same bits mean the product did not go to oneDNN, " + what);
      }
    }

    int count = 3;
    INDArray shared = Nd4j.randn(DataType.FLOAT, k, m); // used transposed: op(A) is [m, k]
    INDArray x = Nd4j.randn(DataType.FLOAT, count + 1, k, n); // B_i = x[i + 1]: the batch starts one sample in
    INDArray c = Nd4j.randn(DataType.FLOAT, count, m, n);
    INDArray expected = c.dup();
    for (int i = 0; i < count; i++) {
      INDArray ci = expected.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
      ci.assign(shared.transpose().mmul(x.get(NDArrayIndex.point(i + 1), NDArrayIndex.all(), NDArrayIndex.all()))
          .addi(ci.mul(0.5)));
    }
    Gemm.use("onednn");
    Gemm.stridedBatch(true, false, m, n, k, shared, m, 0, x, (long) k * n, n, (long) k * n, 0.5, c, 0, n, (long) m * n,
        count);
    assertClose(expected, c, 1e-5, "stridedBatch on oneDNN");

    assertStridedSum(Nd4j.randn(DataType.FLOAT, count, m, n), x, m, k, n, count, "stridedSum on oneDNN");
  }

  /**
   * {@code stridedSum}'s {@code sum_i d_i x_i^T} over the first {@code count} samples of
   * {@code d [count, m, n]} and {@code x [count or more, k, n]} against ND4J's products, written
   * over whatever its output held.
   */
  private static void assertStridedSum(INDArray d, INDArray x, int m, int k, int n, int count, String what) {
    INDArray sum = Nd4j.zeros(DataType.FLOAT, m, k);
    for (int i = 0; i < count; i++) {
      sum.addi(d.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all())
          .mmul(x.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).transpose()));
    }
    INDArray dw = Nd4j.randn(DataType.FLOAT, m, k); // overwritten, not added to
    Gemm.stridedSum(false, true, m, k, n, d, n, (long) m * n, x, n, (long) k * n, dw, k, count);
    assertClose(sum, dw, 1e-5, what);
  }

  /**
   * A product of few columns (an SE block's 1x1 conv on a 1x1 map, a layer at batch 1) is summed
   * in double: each element within half a float ulp of the exact sum (computed in double here),
   * for every transpose, beta 0 and 1, and a batch of products with and without a shared A.
   */
  @Test
  void vectorProductOfFewColumnsIsSummedInDouble() {
    Nd4j.getRandom().setSeed(29);
    int m = 37;
    int k = 1000;
    int count = 3;
    for (int n : new int[] {1, 2}) {
      // the products' columns together are fewer than half a tile's, on 8-float vectors too
      assertTrue(n * count < VectorGemm.NR / 2);
      for (boolean ta : new boolean[] {false, true}) {
        for (boolean tb : new boolean[] {false, true}) {
          for (long strideA : new long[] {0, (long) m * k}) {
            for (double beta : new double[] {0, 1}) {
              INDArray a = Nd4j.randn(DataType.FLOAT, strideA == 0 ? 1 : count, ta ? k : m, ta ? m : k);
              INDArray b = Nd4j.rand(DataType.FLOAT, count, tb ? n : k, tb ? k : n);
              INDArray c0 = Nd4j.randn(DataType.FLOAT, count, m, n);
              INDArray c = c0.dup();
              Gemm.use("vector");
              Gemm.stridedBatch(ta, tb, m, n, k, a, ta ? m : k, strideA, b, tb ? k : n, (long) k * n, beta, c, n,
                  (long) m * n, count);
              for (int i = 0; i < count; i++) {
                INDArray ai = a.get(NDArrayIndex.point(strideA == 0 ? 0 : i), NDArrayIndex.all(), NDArrayIndex.all())
                    .castTo(DataType.DOUBLE);
                INDArray bi = b.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).castTo(DataType.DOUBLE);
                INDArray exact = (ta ? ai.transpose() : ai).mmul(tb ? bi.transpose() : bi)
                    .addi(c0.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).castTo(DataType.DOUBLE)
                        .muli(beta));
                for (int r = 0; r < m; r++) {
                  for (int j = 0; j < n; j++) {
                    double want = exact.getDouble(r, j);
                    float got = c.getFloat(i, r, j);
                    assertTrue(Math.abs(got - want) <= Math.ulp((float) want) * 0.5 + 1e-12,
                        "n=" + n + " ta=" + ta + " tb=" + tb + " strideA=" + strideA + " beta=" + beta + " (" + i + ", "
                            + r + ", " + j + "): " + got + " against " + want);
                  }
                }
              }
            }
          }
        }
      }
    }
  }

  /** C = alpha op(A) op(B) + beta C for every transpose and both betas, against ND4J. */
  @ParameterizedTest
  @MethodSource("libraries")
  void equalsNd4jForEveryTranspose(String library) {
    Nd4j.getRandom().setSeed(7);
    int m = 37;
    int n = 53;
    int k = 29;
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        INDArray a = Nd4j.randn(DataType.FLOAT, ta ? k : m, ta ? m : k);
        INDArray b = Nd4j.randn(DataType.FLOAT, tb ? n : k, tb ? k : n);
        INDArray c0 = Nd4j.randn(DataType.FLOAT, m, n);
        for (double beta : new double[] {0, 1}) {
          INDArray expected = c0.dup();
          Nd4j.gemm(a, b, expected, ta, tb, 0.5, beta);
          INDArray actual = c0.dup();
          Gemm.use(library);
          Gemm.gemm(a, b, actual, ta, tb, 0.5, beta);
          assertClose(expected, actual, 1e-5, "ta=" + ta + " tb=" + tb + " beta=" + beta);
        }
      }
    }
  }

  /**
   * Operands that are views of a larger buffer: rows 3..9 of a matrix (offset, rows of the
   * parent's width), a column range (a leading dimension wider than the row), and a C that is a
   * view: only the view's elements change.
   */
  @ParameterizedTest
  @MethodSource("libraries")
  void viewsAtAnOffset(String library) {
    Nd4j.getRandom().setSeed(11);
    INDArray bigA = Nd4j.randn(DataType.FLOAT, 12, 20);
    INDArray a = bigA.get(NDArrayIndex.interval(3, 9), NDArrayIndex.interval(2, 17)); // [6, 15], ld 20
    INDArray b = Nd4j.randn(DataType.FLOAT, 30, 8).get(NDArrayIndex.interval(10, 25), NDArrayIndex.all()); // [15, 8]
    INDArray bigC = Nd4j.randn(DataType.FLOAT, 10, 11);
    INDArray before = bigC.dup();
    INDArray c = bigC.get(NDArrayIndex.interval(2, 8), NDArrayIndex.interval(1, 9)); // [6, 8], ld 11
    INDArray expected = c.dup();
    Nd4j.gemm(a.dup(), b.dup(), expected, false, false, 1.0, 1.0);
    Gemm.use(library);
    assertTrue(Gemm.rowMajor(a) && Gemm.rowMajor(b) && Gemm.rowMajor(c));
    Gemm.gemm(a, b, c, false, false, 1.0, 1.0);
    assertClose(expected, c, 1e-5, "the view C");
    INDArray outside = bigC.dup();
    outside.get(NDArrayIndex.interval(2, 8), NDArrayIndex.interval(1, 9)).assign(0);
    before.get(NDArrayIndex.interval(2, 8), NDArrayIndex.interval(1, 9)).assign(0);
    assertEquals(before, outside, "elements outside the view C");
  }

  /**
   * The batched forms against one ND4J product per sample: {@code C_i = op(A) op(B_i)} with a
   * shared A (stride 0) and B's rows spaced wider than they are long, and {@code C = sum_i A_i B_i^T}.
   */
  @ParameterizedTest
  @MethodSource("libraries")
  void stridedBatchAndSumEqualOneProductPerSample(String library) {
    Nd4j.getRandom().setSeed(5);
    int count = 3;
    int m = 6;
    int k = 7;
    int n = 5;
    INDArray shared = Nd4j.randn(DataType.FLOAT, k, m); // used transposed: op(A) is [m, k]
    INDArray b = Nd4j.randn(DataType.FLOAT, k, count, n); // B_i = b[:, i, :], rows count * n apart
    INDArray c = Nd4j.randn(DataType.FLOAT, count, m, n);
    INDArray expected = c.dup();
    for (int i = 0; i < count; i++) {
      INDArray bi = b.get(NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.all()).dup();
      INDArray ci = expected.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
      ci.assign(shared.transpose().mmul(bi).addi(ci.mul(0.5)));
    }
    Gemm.use(library);
    Gemm.stridedBatch(true, false, m, n, k, shared, m, 0, b, count * n, n, 0.5, c, n, (long) m * n, count);
    assertClose(expected, c, 1e-5, "stridedBatch");

    assertStridedSum(Nd4j.randn(DataType.FLOAT, count, m, n), Nd4j.randn(DataType.FLOAT, count, k, n), m, k, n, count,
        "stridedSum");
  }

  /** Arrays in a workspace (as layers allocate them), and an F-ordered operand, which goes to ND4J. */
  @ParameterizedTest
  @MethodSource("libraries")
  void workspaceArraysAndOtherLayouts(String library) {
    Nd4j.getRandom().setSeed(3);
    INDArray a0 = Nd4j.randn(DataType.FLOAT, 16, 24);
    INDArray b0 = Nd4j.randn(DataType.FLOAT, 24, 40);
    INDArray expected = a0.mmul(b0);
    Gemm.use(library);
    try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace("CNNC_GEMM_TEST")) {
      Nd4j.create(DataType.FLOAT, 5); // so the next arrays start past the workspace's beginning
      INDArray a = a0.dup();
      INDArray b = b0.dup();
      INDArray c = Nd4j.createUninitialized(DataType.FLOAT, 16, 40);
      Gemm.gemm(a, b, c, false, false, 1.0, 0.0);
      assertClose(expected, c.detach(), 1e-5, "in a workspace");
    }
    INDArray f = a0.dup('f');
    assertFalse(Gemm.rowMajor(f));
    INDArray c = Nd4j.create(DataType.FLOAT, 16, 40);
    Gemm.gemm(f, b0, c, false, false, 1.0, 0.0);
    assertClose(expected, c, 1e-5, "F order");
  }

  /**
   * The vector product past each of its blocks ({@link VectorGemm#MR} rows, {@link VectorGemm#NR}
   * columns, {@link VectorGemm#KC} terms, {@link VectorGemm#NB} columns and {@link VectorGemm#MC}
   * rows a task): a shared A against the columns of several products, whose runs cross the
   * slivers and tasks, and one A per product, every transpose, against ND4J product by product.
   */
  @Test
  void vectorProductPastItsBlocks() {
    Nd4j.getRandom().setSeed(17);
    int m = VectorGemm.MC + 17;
    int k = VectorGemm.KC + 45;
    int n = 71; // 5 products: 355 columns, past NB, not a whole number of slivers
    int count = 5;
    for (boolean ta : new boolean[] {false, true}) {
      for (boolean tb : new boolean[] {false, true}) {
        for (long strideA : new long[] {0, (long) m * k}) {
          INDArray a = Nd4j.randn(DataType.FLOAT, strideA == 0 ? 1 : count, ta ? k : m, ta ? m : k);
          INDArray b = Nd4j.randn(DataType.FLOAT, count, tb ? n : k, tb ? k : n);
          INDArray c = Nd4j.randn(DataType.FLOAT, count, m, n);
          INDArray expected = c.dup();
          for (int i = 0; i < count; i++) {
            INDArray ai = a.get(NDArrayIndex.point(strideA == 0 ? 0 : i), NDArrayIndex.all(), NDArrayIndex.all()).dup();
            INDArray bi = b.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).dup();
            INDArray ci = expected.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).dup();
            Nd4j.gemm(ai, bi, ci, ta, tb, 1.0, 0.25);
            expected.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).assign(ci);
          }
          Gemm.use("vector");
          Gemm.stridedBatch(ta, tb, m, n, k, a, ta ? m : k, strideA, b, tb ? k : n, (long) k * n, 0.25, c, n,
              (long) m * n, count);
          assertClose(expected, c, 1e-4, "ta=" + ta + " tb=" + tb + " strideA=" + strideA);
        }
      }
    }
  }

  /**
   * Each element of C is summed by one task in one order: the vector product gives the same bits
   * on one thread as on all, call after call (a race between tasks would not).
   */
  @ParameterizedTest
  @CsvSource({
      // blocks of rows, terms and columns: 2 MC + 5, 2 KC + 3, 3 NB + 9
      "773, 515, 777",
      // one block of rows and one of columns (ResNet-50's 256 x 1024 conv at batch 1): its columns cut
      // into blocks of whole slivers, so that every thread has tasks
      "256, 1024, 196"})
  void vectorProductIsTheSameOnAnyNumberOfThreads(int m, int k, int n) throws Exception {
    Nd4j.getRandom().setSeed(23);
    INDArray a = Nd4j.randn(DataType.FLOAT, m, k);
    INDArray b = Nd4j.randn(DataType.FLOAT, k, n);
    Gemm.use("vector");
    ForkJoinPool one = new ForkJoinPool(1);
    INDArray single = Nd4j.create(DataType.FLOAT, m, n);
    try {
      // parallel streams run in the pool of the thread that starts them
      one.submit(() -> Gemm.gemm(a, b, single, false, false, 1.0, 0.0)).get();
    } finally {
      one.shutdown();
    }
    for (int run = 0; run < 5; run++) {
      INDArray all = Nd4j.create(DataType.FLOAT, m, n);
      Gemm.gemm(a, b, all, false, false, 1.0, 0.0);
      assertEquals(single, all, "run " + run);
    }
    assertClose(a.mmul(b), single, 1e-4, "against ND4J");
  }

  /**
   * MKL's single products cut over cnnc's threads (by columns, or by rows when the columns are few)
   * give the bits of one call on MKL's own threads: through {@code gemm} and a batch of one, for
   * every transpose, alpha and beta, on shapes below, at and past the cuts' limits.
   */
  @Test
  void mklProductsCutOverTheThreadsGiveTheSameBits() {
    Gemm.use("mkl");
    KernelSettings settings = KernelSettings.current();
    int threads = Parallel.threads();
    int[][] shapes = {
        {160, 192, 1024}, {96, 160, 1024}, {64, 576, 3136}, {256, 1024, 196}, {512, 4608, 49}, {2048, 512, 49},
        {192, 1728, 225}, {Gemm.SPLIT_ROWS * threads - 1, 300, 200}, {7, 5, Gemm.SPLIT_COLUMNS * threads + 3},
        {64, 16, 512}, {33, 1000, 1}};
    if (threads > 1) {
      // the shapes take every way: cut by columns, by rows, not at all
      assertEquals(Gemm.Cut.COLUMNS, Gemm.cut(160, 1024, 192, threads));
      assertEquals(Gemm.Cut.ROWS, Gemm.cut(512, 49, 4608, threads));
      assertEquals(Gemm.Cut.NONE, Gemm.cut(Gemm.SPLIT_ROWS * threads - 1, 200, 300, threads));
      assertEquals(Gemm.Cut.NONE, Gemm.cut(33, 1, 1000, threads));
    }
    Nd4j.getRandom().setSeed(31);
    try {
      for (int[] shape : shapes) {
        int m = shape[0];
        int k = shape[1];
        int n = shape[2];
        for (int variant = 0; variant < 4; variant++) {
          Operands o = Operands.of(variant, m, k, n);
          boolean ta = o.ta();
          boolean tb = o.tb();
          INDArray a = o.a();
          INDArray b = o.b();
          INDArray c0 = o.c0();
          double alpha = o.alpha();
          double beta = o.beta();
          INDArray[] results = new INDArray[4];
          for (int split = 0; split < 2; split++) {
            KernelSettings.use(settings.withSplitMkl(split == 1));
            INDArray c = c0.dup();
            Gemm.gemm(a, b, c, ta, tb, alpha, beta);
            results[split] = c;
            INDArray batch = c0.dup();
            // MKL's batched call checks the strides even for one product: leaves C as it was on a stride below a matrix
            Gemm.stridedBatch(ta, tb, m, n, k, a, ta ? m : k, (long) m * k, b, tb ? k : n, (long) k * n, beta, batch, n,
                (long) m * n, 1);
            results[2 + split] = batch;
          }
          String what = m + " x " + k + " x " + n + (ta ? ", A^T" : "") + (tb ? ", B^T" : "");
          // bit for bit (INDArray.equals allows a relative difference)
          assertArrayEquals(results[0].data().asFloat(), results[1].data().asFloat(), "gemm " + what);
          assertArrayEquals(results[2].data().asFloat(), results[3].data().asFloat(), "a batch of one, " + what);
          INDArray expected = (ta ? a.transpose() : a).mmul(tb ? b.transpose() : b).muli(alpha).addi(c0.mul(beta));
          assertClose(expected, results[1], 1e-4, "against ND4J, " + what);
          assertClose(expected.sub(c0.mul(beta)).divi(alpha).addi(c0.mul(beta)), results[3], 1e-4,
              "a batch of one against ND4J, " + what);
        }
      }
    } finally {
      KernelSettings.use(settings);
    }
  }

  /**
   * A product in parallel has at least two tasks a thread when it has the columns for them: its
   * columns are cut into blocks of whole slivers, fewer than {@link VectorGemm#NB} when need be.
   */
  @Test
  void vectorProductCutsFewColumnsForEveryThread() {
    long threads = ForkJoinPool.getCommonPoolParallelism() + 1L;
    long big = 64L * VectorGemm.PARALLEL_WORK;
    for (int columns : new int[] {49, 196, 255, 784}) {
      for (int rowTasks : new int[] {1, 2, 3}) {
        int nb = VectorGemm.columnsPerTask(columns, rowTasks, big);
        long slivers = (columns + VectorGemm.NR - 1) / VectorGemm.NR;
        long blocks = (columns + nb - 1) / nb;
        assertEquals(0, nb % VectorGemm.NR, columns + " columns: " + nb);
        assertTrue(nb <= VectorGemm.NB, columns + " columns: " + nb);
        assertTrue(rowTasks * blocks >= Math.min(2 * threads, rowTasks * slivers),
            columns + " columns, " + rowTasks + " row tasks: blocks of " + nb + " on " + threads + " threads");
      }
    }
    // a product run on the calling thread alone, or with tasks enough, keeps whole blocks
    assertEquals(VectorGemm.NB, VectorGemm.columnsPerTask(196, 1, VectorGemm.PARALLEL_WORK - 1));
    assertEquals(VectorGemm.NB, VectorGemm.columnsPerTask(196, 2 * threads, big));
  }
}
