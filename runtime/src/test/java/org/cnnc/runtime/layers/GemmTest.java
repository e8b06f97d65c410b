// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link Gemm} on MKL and on OpenBLAS against ND4J's own product, on the operands convolutions hand it: whole
 * matrices, row ranges of a larger buffer (views at an offset, with a leading dimension wider than
 * the row), transposes, accumulation into C, and arrays inside a workspace.
 */
class GemmTest {
  private final Gemm.Library before = Gemm.library();

  @AfterEach
  void restore() {
    Gemm.use(before.name());
  }

  /**
   * The runtime depends on MKL and OpenBLAS: both load; the default is MKL on an Intel CPU and
   * OpenBLAS on another (MKL's code path on AMD ran at half OpenBLAS's rate or less).
   */
  @Test
  void mklOnIntelOpenBlasElsewhere() {
    assertEquals(Cpu.intel() ? Gemm.Library.MKL : Gemm.Library.OPENBLAS, Gemm.use("auto"));
    assertEquals(Gemm.Library.OPENBLAS, Gemm.use("openblas"));
    assertEquals(Gemm.Library.ND4J, Gemm.use("nd4j"));
    assertEquals(Gemm.Library.MKL, Gemm.use("mkl"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gemm.use("atlas"));
    assertTrue(e.getMessage().contains("auto, mkl, openblas or nd4j"), e.getMessage());
  }

  /** C = alpha op(A) op(B) + beta C for every transpose and both betas, MKL and OpenBLAS against ND4J. */
  @ParameterizedTest
  @ValueSource(strings = {"mkl", "openblas"})
  void equalsNd4jForEveryTranspose(String blas) {
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
          Gemm.use(blas);
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
  @ValueSource(strings = {"mkl", "openblas"})
  void viewsAtAnOffset(String blas) {
    Nd4j.getRandom().setSeed(11);
    INDArray bigA = Nd4j.randn(DataType.FLOAT, 12, 20);
    INDArray a = bigA.get(NDArrayIndex.interval(3, 9), NDArrayIndex.interval(2, 17)); // [6, 15], ld 20
    INDArray b = Nd4j.randn(DataType.FLOAT, 30, 8).get(NDArrayIndex.interval(10, 25), NDArrayIndex.all()); // [15, 8]
    INDArray bigC = Nd4j.randn(DataType.FLOAT, 10, 11);
    INDArray before = bigC.dup();
    INDArray c = bigC.get(NDArrayIndex.interval(2, 8), NDArrayIndex.interval(1, 9)); // [6, 8], ld 11
    INDArray expected = c.dup();
    Nd4j.gemm(a.dup(), b.dup(), expected, false, false, 1.0, 1.0);
    Gemm.use(blas);
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
  @ValueSource(strings = {"mkl", "openblas"})
  void stridedBatchAndSumEqualOneProductPerSample(String blas) {
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
    Gemm.use(blas);
    Gemm.stridedBatch(true, false, m, n, k, shared, m, 0, b, count * n, n, 0.5, c, n, (long) m * n, count);
    assertClose(expected, c, 1e-5, "stridedBatch");

    INDArray d = Nd4j.randn(DataType.FLOAT, count, m, n);
    INDArray x = Nd4j.randn(DataType.FLOAT, count, k, n);
    INDArray sum = Nd4j.zeros(DataType.FLOAT, m, k);
    for (int i = 0; i < count; i++) {
      sum.addi(d.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all())
          .mmul(x.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).transpose()));
    }
    INDArray dw = Nd4j.randn(DataType.FLOAT, m, k); // overwritten, not added to
    Gemm.stridedSum(false, true, m, k, n, d, n, (long) m * n, x, n, (long) k * n, dw, k, count);
    assertClose(sum, dw, 1e-5, "stridedSum");
  }

  /** Arrays in a workspace (as layers allocate them), and an F-ordered operand, which goes to ND4J. */
  @ParameterizedTest
  @ValueSource(strings = {"mkl", "openblas"})
  void workspaceArraysAndOtherLayouts(String blas) {
    Nd4j.getRandom().setSeed(3);
    INDArray a0 = Nd4j.randn(DataType.FLOAT, 16, 24);
    INDArray b0 = Nd4j.randn(DataType.FLOAT, 24, 40);
    INDArray expected = a0.mmul(b0);
    Gemm.use(blas);
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
   * OpenBLAS's products past {@link Gemm.OpenBlas#SPLIT_MACS} run in bands on the common pool:
   * split by columns and by rows, widths that are not a multiple of a band, every transpose, C a
   * view with a wider row; the result equals ND4J's product, is the same bits on every repeat
   * (no race between the bands), and OpenBLAS's own thread count is put back.
   */
  @Test
  void openBlasBandsEqualOneProductAndRepeat() {
    Nd4j.getRandom().setSeed(13);
    int threads = org.bytedeco.openblas.global.openblas_nolapack.blas_get_num_threads();
    Gemm.use("openblas");
    int[][] shapes = {{40, 1001, 300}, {903, 37, 200}, {65, 517, 96}};
    for (int[] sh : shapes) {
      int m = sh[0];
      int n = sh[1];
      int k = sh[2];
      assertTrue((long) m * n * k >= Gemm.OpenBlas.SPLIT_MACS);
      for (boolean ta : new boolean[] {false, true}) {
        for (boolean tb : new boolean[] {false, true}) {
          INDArray a = Nd4j.randn(DataType.FLOAT, ta ? k : m, ta ? m : k);
          INDArray b = Nd4j.randn(DataType.FLOAT, tb ? n : k, tb ? k : n);
          INDArray big = Nd4j.randn(DataType.FLOAT, m, n + 5);
          INDArray c = big.get(NDArrayIndex.all(), NDArrayIndex.interval(2, n + 2));
          INDArray expected = c.dup();
          Nd4j.gemm(a, b, expected, ta, tb, 1.0, 0.5);
          INDArray start = c.dup();
          INDArray edges = big.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2)).dup();
          Gemm.gemm(a, b, c, ta, tb, 1.0, 0.5);
          String what = m + "x" + n + "x" + k + " ta=" + ta + " tb=" + tb;
          assertClose(expected, c, 1e-4, what);
          assertEquals(edges, big.get(NDArrayIndex.all(), NDArrayIndex.interval(0, 2)), what + ": outside the view");
          INDArray first = c.dup();
          for (int r = 0; r < 5; r++) {
            c.assign(start);
            Gemm.gemm(a, b, c, ta, tb, 1.0, 0.5);
            assertEquals(first, c, what + ": repeat " + r);
          }
        }
      }
    }
    assertEquals(threads, org.bytedeco.openblas.global.openblas_nolapack.blas_get_num_threads());
  }

  /** A batch of products large enough to run one task each (OpenBLAS) equals one ND4J product per sample. */
  @ParameterizedTest
  @ValueSource(strings = {"mkl", "openblas"})
  void largeStridedBatchEqualsOneProductPerSample(String blas) {
    Nd4j.getRandom().setSeed(17);
    int count = 5;
    int m = 48;
    int k = 70;
    int n = 333;
    assertTrue((long) m * n * k * count >= Gemm.OpenBlas.SPLIT_MACS);
    INDArray w = Nd4j.randn(DataType.FLOAT, m, k);
    INDArray x = Nd4j.randn(DataType.FLOAT, count, k, n);
    INDArray c = Nd4j.randn(DataType.FLOAT, count, m, n);
    INDArray expected = c.dup();
    for (int i = 0; i < count; i++) {
      INDArray ci = expected.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
      ci.assign(w.mmul(x.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all()).dup()));
    }
    Gemm.use(blas);
    Gemm.stridedBatch(false, false, m, n, k, w, k, 0, x, n, (long) k * n, 0.0, c, n, (long) m * n, count);
    assertClose(expected, c, 1e-4, blas);
  }
}
