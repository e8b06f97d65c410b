// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.FloatBuffer;
import java.util.function.IntConsumer;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * cnnc's own single-precision matrix product on the Vector API, for {@link Gemm.Library#VECTOR}:
 * {@code C_i = alpha op(A_i) op(B_i) + beta C_i} for a batch of row-major matrices in native
 * memory. Loaded only when {@link Vectors#on()}.
 *
 * <p>The blocked layout of Goto's GEMM: each {@code A_i} is copied once per call into a Java array
 * as it is stored (rows, or for a transposed A rows of terms), padded with zeros to whole
 * {@link #MR}-row panels; the columns of {@code op(B)} are cut into blocks of {@link #NB}, and the
 * rows into blocks of {@link #MC}, each pair a parallel task, which packs its columns {@link #KC}
 * terms at a time into slivers of {@link #NR} columns. A micro-kernel keeps an {@code MR x NR}
 * tile of sums in 12 vector registers and adds one rank-1 update per term (two vector loads, six
 * broadcasts, twelve fused multiply-adds), each sliver against every panel of the task while the
 * sliver is in the first-level cache. When every product shares one {@code A} (a stride of 0: a
 * conv's weights against each sample's columns), the samples' columns are one long row of
 * columns, so 49 columns a sample (a 7x7 map) waste few lanes.
 *
 * <p>Each element of {@code C} is summed by one task in a fixed order, whatever the threads do:
 * the result does not depend on the number of threads or on timing.
 *
 * <p>Why it exists: on AMD CPUs MKL 2022 runs its non-Intel code path. On a 2-core AMD EPYC (Zen
 * 5, AVX-512) its batched products of ResNet-50's 1x1 convs ran at 130-180 GFLOP/s on both cores,
 * while this micro-kernel alone ran at about 300 GFLOP/s on one (docs/performance-history.md,
 * session 21).
 */
final class VectorGemm {
  private VectorGemm() {}

  private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

  /** The vector length in floats. */
  static final int L = S.length();

  /** Rows of a micro-kernel's tile. */
  static final int MR = 6;

  /** Columns of a micro-kernel's tile: two vectors. */
  static final int NR = 2 * L;

  /** Terms of the products packed and summed at a time (a sliver of B is {@code KC x NR}). */
  static final int KC = 256;

  /** Columns of a task (rounded to whole slivers): a packed block of B is at most {@code KC x NB} floats, 256 KiB. */
  static final int NB = 256;

  /** Rows (or terms, transposed) of A a copying task takes. */
  static final int COPY_UNITS = 64;

  /** Rows of a task: its part of A, {@code MC x KC} floats, stays in the second-level cache. */
  static final int MC = 384;

  /** Whether this CPU's vectors suit the kernel: 8 floats (AVX2) or more. */
  static boolean suits() {
    return L >= 8;
  }

  /**
   * A task's {@link Scratch} slots (tasks are leaves: a product is never started from inside a
   * task): B's packed block, the tile sums of the task's columns, one row of A, B or C.
   */
  private static final int SLOT_B = 0;

  private static final int SLOT_SUMS = 1;

  private static final int SLOT_ROW = 2;

  /**
   * Packed A's between calls. Not per thread: on the common fork-join pool (where a loop runs when
   * {@link Parallel}'s workers are taken), a thread waiting for its call's tasks may run a task of
   * another call meanwhile (work stealing), which may itself multiply.
   */
  private static final java.util.concurrent.ConcurrentLinkedDeque<float[]> PACKED =
      new java.util.concurrent.ConcurrentLinkedDeque<>();

  /**
   * {@code C_i = alpha op(A_i) op(B_i) + beta C_i} for {@code i < count}: {@code op(A_i)} is
   * {@code m x k}, {@code op(B_i)} {@code k x n}; matrix {@code X_i} starts at float
   * {@code i * strideX} of buffer {@code x}, its rows {@code ldx} floats apart. With
   * {@code beta} 0, {@code C} is not read.
   */
  static void multiply(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatBuffer a, int lda, long strideA,
      FloatBuffer b, int ldb, long strideB, float beta, FloatBuffer c, int ldc, long strideC, int count) {
    if (m <= 0 || n <= 0 || count <= 0) {
      return;
    }
    if (k <= 0) {
      // no terms: C = beta C
      for (int i = 0; i < count; i++) {
        for (int r = 0; r < m; r++) {
          int at = Math.toIntExact(i * strideC + (long) r * ldc);
          for (int j = 0; j < n; j++) {
            c.put(at + j, beta == 0f ? 0f : beta * c.get(at + j));
          }
        }
      }
      return;
    }
    boolean shared = strideA == 0;
    int groups = shared ? 1 : count; // products that share a packed A
    int perGroup = shared ? count : 1; // products whose columns form one row of columns
    if ((long) perGroup * n < NR / 2) {
      dots(ta, tb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, count);
      return;
    }
    int panels = (m + MR - 1) / MR;
    long packedSize = (long) groups * panels * MR * k;
    if (packedSize > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("gemm: A of " + groups + " x " + m + " x " + k + " is too large to pack");
    }
    float[] pooled = PACKED.poll();
    float[] packed = pooled != null && pooled.length >= packedSize ? pooled : new float[(int) packedSize];
    try {
      run(ta, tb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, count, groups, perGroup,
          panels, packed);
    } finally {
      if (PACKED.size() < 4) {
        PACKED.push(packed);
      }
    }
  }

  private static void run(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatBuffer a, int lda,
      long strideA, FloatBuffer b, int ldb, long strideB, float beta, FloatBuffer c, int ldc, long strideC, int count,
      int groups, int perGroup, int panels, float[] packed) {
    int mPad = panels * MR;
    int groupSize = mPad * k;
    // A as it is stored, rows (or, transposed, columns) padded with zeros to whole panels
    int units = ta ? k : mPad;
    int chunks = (units + COPY_UNITS - 1) / COPY_UNITS;
    // a copy of 2^18 floats (1 MiB) and more in parallel
    tasks(groups * chunks, 4L * groups * mPad * k, t -> {
      int gi = t / chunks;
      int u0 = t % chunks * COPY_UNITS;
      copyA(ta, a, Math.toIntExact(gi * strideA), lda, m, k, mPad, u0, Math.min(units, u0 + COPY_UNITS), packed,
          gi * groupSize);
    });
    long columns = (long) perGroup * n;
    int rowBlocks = (panels + MC / MR - 1) / (MC / MR);
    long work = (long) groups * mPad * k * columns;
    int nb = columnsPerTask(columns, (long) groups * rowBlocks, work);
    int blocks = (int) ((columns + nb - 1) / nb);
    long tasks = (long) groups * blocks * rowBlocks;
    if (tasks > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("gemm: too many columns");
    }
    tasks((int) tasks, work, t -> {
      int gi = t / (blocks * rowBlocks);
      int rest = t % (blocks * rowBlocks);
      long j0 = (long) (rest / rowBlocks) * nb;
      int p0 = rest % rowBlocks * (MC / MR);
      int width = (int) Math.min(nb, columns - j0);
      block(ta, tb, m, n, k, alpha, packed, gi * groupSize, p0, Math.min(panels, p0 + MC / MR), b,
          gi * strideB, ldb, strideB, beta, c, gi * strideC, ldc, strideC, j0, width);
    });
  }

  /**
   * Columns of a task: {@link #NB}, or fewer (whole slivers) when blocks of {@code NB} would give
   * the threads fewer than two tasks each, as a product in parallel ({@link #tasks}) with
   * {@code rowTasks} tasks of rows a block of columns. At batch 1 ResNet-50's {@code 256 x 1024}
   * conv by 196 columns was one task, run on one core. How the columns are cut changes no sum:
   * each element is summed in the same order in any block.
   */
  static int columnsPerTask(long columns, long rowTasks, long work) {
    long threads = Parallel.threads();
    long blocks = (columns + NB - 1) / NB;
    if (work < PARALLEL_WORK || rowTasks * blocks >= 2 * threads) {
      return NB;
    }
    long slivers = (columns + NR - 1) / NR;
    long wanted = Math.min(slivers, (2 * threads + rowTasks - 1) / rowTasks); // blocks of columns
    return (int) ((slivers + wanted - 1) / wanted * NR);
  }

  /** The least work (multiply-adds, about 3 us on one core) whose tasks are run in parallel. */
  static final long PARALLEL_WORK = 1L << 20;

  /**
   * Tasks {@code 0 .. n-1}, in parallel when they add up to {@code work} multiply-adds of at least
   * {@link #PARALLEL_WORK}: handing a small product's tasks to the pool cost more than it saved
   * (MobileNetV2's 1x1 convs at batch 1).
   */
  private static void tasks(int n, long work, IntConsumer body) {
    if (work >= PARALLEL_WORK) {
      Parallel.forEach(n, body);
    } else {
      for (int i = 0; i < n; i++) {
        body.accept(i);
      }
    }
  }

  /**
   * The product of a matrix and a few columns (fewer than half a tile's: an SE block's 1x1 convs on
   * a 1x1 map, a layer at batch 1), as one dot product per element of {@code C}, each summed in
   * double. A tile would waste most of its lanes on these, and they are read from memory once, so
   * summing in double costs little; and their sums are the ones a network amplifies most: in
   * RegNet-Y's squeeze-and-excitation blocks a relative change of 6e-8 in one SE layer's output
   * moved the network's output by up to 1.2e-5 of its largest value (docs/performance-history.md,
   * session 21).
   */
  private static void dots(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatBuffer a, int lda,
      long strideA, FloatBuffer b, int ldb, long strideB, float beta, FloatBuffer c, int ldc,
      long strideC, int count) {
    int chunk = (int) Math.max(1, Math.min(m, (1L << 16) / Math.max(1, (long) k * n)));
    int chunks = (m + chunk - 1) / chunk;
    tasks(count * chunks, (long) count * m * k * n, t -> {
      int i = t / chunks;
      int r0 = t % chunks * chunk;
      int r1 = Math.min(m, r0 + chunk);
      float[] cols = Scratch.floats(SLOT_B, n * k);
      float[] row = Scratch.floats(SLOT_ROW, k);
      long ai = i * strideA;
      long bi = i * strideB;
      // op(B_i)'s columns, each k contiguous floats
      for (int j = 0; j < n; j++) {
        if (tb) {
          b.get(Math.toIntExact(bi + (long) j * ldb), cols, j * k, k);
        } else {
          for (int kk = 0; kk < k; kk++) {
            cols[j * k + kk] = b.get(Math.toIntExact(bi + (long) kk * ldb + j));
          }
        }
      }
      for (int r = r0; r < r1; r++) {
        if (!ta) {
          a.get(Math.toIntExact(ai + (long) r * lda), row, 0, k);
        } else {
          for (int kk = 0; kk < k; kk++) {
            row[kk] = a.get(Math.toIntExact(ai + (long) kk * lda + r));
          }
        }
        for (int j = 0; j < n; j++) {
          int at = Math.toIntExact(i * strideC + (long) r * ldc + j);
          double sum = alpha * dot(row, cols, j * k, k);
          c.put(at, (float) (beta == 0f ? sum : sum + (double) beta * c.get(at)));
        }
      }
    });
  }

  private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;

  /** {@code sum_kk x[kk] * y[yAt + kk]} over {@code kk < k}, in double (each product is exact there). */
  static double dot(float[] x, float[] y, int yAt, int k) {
    DoubleVector acc0 = DoubleVector.zero(D);
    DoubleVector acc1 = acc0;
    int kk = 0;
    for (; kk + L <= k; kk += L) {
      FloatVector xv = FloatVector.fromArray(S, x, kk);
      FloatVector yv = FloatVector.fromArray(S, y, yAt + kk);
      DoubleVector x0 = (DoubleVector) xv.convertShape(VectorOperators.F2D, D, 0);
      DoubleVector x1 = (DoubleVector) xv.convertShape(VectorOperators.F2D, D, 1);
      DoubleVector y0 = (DoubleVector) yv.convertShape(VectorOperators.F2D, D, 0);
      DoubleVector y1 = (DoubleVector) yv.convertShape(VectorOperators.F2D, D, 1);
      acc0 = x0.fma(y0, acc0);
      acc1 = x1.fma(y1, acc1);
    }
    double sum = acc0.add(acc1).reduceLanes(VectorOperators.ADD);
    for (; kk < k; kk++) {
      sum += (double) x[kk] * y[yAt + kk];
    }
    return sum;
  }

  /**
   * Copies units {@code u0 .. u1-1} of {@code A} into {@code dst} at {@code to}: rows of {@code
   * op(A)} ({@code m x k}, row-major, zero from row {@code m} to {@code mPad}), or, transposed
   * ({@code A} stored {@code k x m}), rows of terms, each {@code mPad} long, zero past {@code m}.
   * The kernel reads A in either layout; a copy of whole rows costs a tenth of a panel-by-panel
   * packing, which on small maps (a 7x7 map at batch 1) took longer than the product itself.
   */
  private static void copyA(boolean ta, FloatBuffer a, int at, int lda, int m, int k, int mPad, int u0, int u1,
      float[] dst, int to) {
    for (int u = u0; u < u1; u++) {
      if (!ta) {
        if (u < m) {
          a.get(at + u * lda, dst, to + u * k, k);
        } else {
          java.util.Arrays.fill(dst, to + u * k, to + (u + 1) * k, 0f);
        }
      } else {
        a.get(at + u * lda, dst, to + u * mPad, m);
        java.util.Arrays.fill(dst, to + u * mPad + m, to + (u + 1) * mPad, 0f);
      }
    }
  }

  /**
   * Rows of panels {@code p0 .. p1-1} by columns {@code j0 .. j0+width-1} of the group's row of
   * columns (product {@code j / n}, column {@code j % n} of it): B packed {@link #KC} terms at a
   * time, each sliver multiplied by the panels of A while it is in the first-level cache, into
   * its scratch array of sums ({@code (p1-p0)*MR x slivers*NR}), then written to C.
   */
  private static void block(boolean ta, boolean tb, int m, int n, int k, float alpha, float[] packed, int aAt, int p0,
      int p1,
      FloatBuffer b, long bAt, int ldb, long strideB, float beta, FloatBuffer c, long cAt, int ldc, long strideC,
      long j0, int width) {
    int slivers = (width + NR - 1) / NR;
    int ldt = slivers * NR;
    float[] sums = Scratch.floats(SLOT_SUMS, (p1 - p0) * MR * ldt);
    float[] bp = Scratch.floats(SLOT_B, KC * ldt);
    int mPad = (m + MR - 1) / MR * MR;
    // where A's element (r, kk) is: r * rs + kk * ks from the group's start
    int rs = ta ? 1 : k;
    int ks = ta ? mPad : 1;
    for (int k0 = 0; k0 < k; k0 += KC) {
      int kc = Math.min(KC, k - k0);
      packB(tb, b, bAt, ldb, strideB, n, k0, kc, j0, width, slivers, bp);
      for (int s = 0; s < slivers; s++) {
        for (int p = p0; p < p1; p++) {
          kernel(kc, packed, aAt + p * MR * rs + k0 * ks, rs, ks, bp, s * kc * NR, sums, (p - p0) * MR * ldt + s * NR,
              ldt, k0 == 0);
        }
      }
    }
    // out: runs of columns within one product
    int r0 = p0 * MR;
    int r1 = Math.min(m, p1 * MR);
    for (long j = j0; j < j0 + width;) {
      long prod = j / n;
      int col = (int) (j % n);
      int run = (int) Math.min(n - col, j0 + width - j);
      int from = (int) (j - j0);
      for (int r = r0; r < r1; r++) {
        int at = Math.toIntExact(cAt + prod * strideC + (long) r * ldc + col);
        int t = (r - r0) * ldt + from;
        if (beta == 0f) {
          if (alpha != 1f) {
            for (int q = 0; q < run; q++) {
              sums[t + q] *= alpha;
            }
          }
          c.put(at, sums, t, run);
        } else {
          float[] row = Scratch.floats(SLOT_ROW, run);
          c.get(at, row, 0, run);
          for (int q = 0; q < run; q++) {
            row[q] = alpha * sums[t + q] + beta * row[q];
          }
          c.put(at, row, 0, run);
        }
      }
      j += run;
    }
  }

  /**
   * Packs terms {@code k0 .. k0+kc-1} of columns {@code j0 .. j0+width-1} of the group's columns as
   * slivers {@code [slivers][kc][NR]}, zero past the last column.
   */
  private static void packB(boolean tb, FloatBuffer b, long bAt, int ldb, long strideB, int n, int k0, int kc, long j0,
      int width, int slivers, float[] dst) {
    if (width < slivers * NR) {
      // the last sliver's columns past the block are zero
      int s = slivers - 1;
      for (int kk = 0; kk < kc; kk++) {
        int o = (s * kc + kk) * NR;
        for (int q = width - s * NR; q < NR; q++) {
          dst[o + q] = 0f;
        }
      }
    }
    for (long j = j0; j < j0 + width;) {
      long prod = j / n;
      int col = (int) (j % n);
      int run = (int) Math.min(n - col, j0 + width - j);
      long base = bAt + prod * strideB;
      int from = (int) (j - j0);
      if (!tb) {
        // term kk of the product's columns is row kk of B: one read of the run, then its slivers' parts
        float[] row = Scratch.floats(SLOT_ROW, run);
        int src = Math.toIntExact(base + (long) k0 * ldb + col);
        for (int kk = 0; kk < kc; kk++) {
          b.get(src + kk * ldb, row, 0, run);
          for (int q = from; q < from + run;) {
            int lane = q % NR;
            int len = Math.min(NR - lane, from + run - q);
            System.arraycopy(row, q - from, dst, (q / NR * kc + kk) * NR + lane, len);
            q += len;
          }
        }
      } else {
        // B is n x k: column j of op(B) is row j of B, kc terms contiguous
        float[] row = Scratch.floats(SLOT_ROW, kc);
        for (int q = 0; q < run; q++) {
          b.get(Math.toIntExact(base + (long) (col + q) * ldb + k0), row, 0, kc);
          int s = (from + q) / NR;
          int o = s * kc * NR + (from + q) % NR;
          for (int kk = 0; kk < kc; kk++) {
            dst[o + kk * NR] = row[kk];
          }
        }
      }
      j += run;
    }
  }

  /**
   * The tile {@code c[co ..]} (rows {@code ldc} apart) plus, or set to when {@code first}, the
   * {@code MR x NR} product of {@code kc} packed terms of A and B.
   */
  private static void kernel(int kc, float[] a, int ao, int rs, int ks, float[] b, int bo, float[] c, int co, int ldc,
      boolean first) {
    int a1 = ao + rs;
    int a2 = a1 + rs;
    int a3 = a2 + rs;
    int a4 = a3 + rs;
    int a5 = a4 + rs;
    FloatVector c00 = FloatVector.zero(S);
    FloatVector c01 = c00;
    FloatVector c10 = c00;
    FloatVector c11 = c00;
    FloatVector c20 = c00;
    FloatVector c21 = c00;
    FloatVector c30 = c00;
    FloatVector c31 = c00;
    FloatVector c40 = c00;
    FloatVector c41 = c00;
    FloatVector c50 = c00;
    FloatVector c51 = c00;
    for (int p = 0; p < kc; p++) {
      int bi = bo + p * NR;
      int q = p * ks;
      FloatVector b0 = FloatVector.fromArray(S, b, bi);
      FloatVector b1 = FloatVector.fromArray(S, b, bi + L);
      FloatVector x = FloatVector.broadcast(S, a[ao + q]);
      c00 = b0.fma(x, c00);
      c01 = b1.fma(x, c01);
      x = FloatVector.broadcast(S, a[a1 + q]);
      c10 = b0.fma(x, c10);
      c11 = b1.fma(x, c11);
      x = FloatVector.broadcast(S, a[a2 + q]);
      c20 = b0.fma(x, c20);
      c21 = b1.fma(x, c21);
      x = FloatVector.broadcast(S, a[a3 + q]);
      c30 = b0.fma(x, c30);
      c31 = b1.fma(x, c31);
      x = FloatVector.broadcast(S, a[a4 + q]);
      c40 = b0.fma(x, c40);
      c41 = b1.fma(x, c41);
      x = FloatVector.broadcast(S, a[a5 + q]);
      c50 = b0.fma(x, c50);
      c51 = b1.fma(x, c51);
    }
    store(c00, c01, c, co, first);
    store(c10, c11, c, co + ldc, first);
    store(c20, c21, c, co + 2 * ldc, first);
    store(c30, c31, c, co + 3 * ldc, first);
    store(c40, c41, c, co + 4 * ldc, first);
    store(c50, c51, c, co + 5 * ldc, first);
  }

  private static void store(FloatVector v0, FloatVector v1, float[] c, int at, boolean first) {
    if (!first) {
      v0 = v0.add(FloatVector.fromArray(S, c, at));
      v1 = v1.add(FloatVector.fromArray(S, c, at + L));
    }
    v0.intoArray(c, at);
    v1.intoArray(c, at + L);
  }
}
