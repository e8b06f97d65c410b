// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.util.Locale;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.mkl.global.mkl_rt;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The matrix products of cnnc's convolutions: {@code C = alpha op(A) op(B) + beta C}. On the CPU
 * they are one {@code cblas_sgemm} call on the arrays' raw memory, no ND4J view or op in between:
 * on Intel MKL ({@code org.bytedeco:mkl}, with its {@code linux-x86_64-redist} jar) on Intel CPUs,
 * on the OpenBLAS ND4J ships on other CPUs; on another backend (CUDA), ND4J's own product.
 *
 * <p>Why MKL on Intel: ND4J 1.0.0-M2.1 ships OpenBLAS 0.3.19, which runs the thin products of
 * convolutions well below its square-matrix rate there. Measured on a 2-core Intel Xeon (AVX-512;
 * README, "Performance"): VGG16's 64-channel band {@code 64x576 by 576x25088} 14.3 ms on OpenBLAS
 * against 6.4 on MKL; NiN's first conv at batch 1, {@code 192x75 by 75x1024}, 0.32 against 0.11 ms.
 *
 * <p>Why OpenBLAS elsewhere: MKL picks its code path by the CPU's vendor, and on AMD it runs well
 * below OpenBLAS. Measured on a 2-core AMD EPYC (Zen 5, AVX-512; docs/performance-history.md,
 * session 20), the same band 28.5 ms on MKL against 9.9 on OpenBLAS, ResNet's 3x3 at 14x14
 * ({@code 512x4608 by 4608x196}) 10.2 against 5.5, and MKL at 40 to 114 GFLOP/s on every
 * conv-shaped product where OpenBLAS ran at 63 to 240.
 *
 * <p>The choice is the system property {@code cnnc.blas}: {@code auto} (the default: MKL on an
 * Intel CPU when it loads, else OpenBLAS; ND4J's product off the CPU), {@code mkl} (MKL or an
 * error), {@code openblas} (OpenBLAS's cblas, on the CPU) or {@code nd4j} (ND4J's product, as on
 * CUDA). ND4J's own operations (DL4J's layers, dense products) keep ND4J's BLAS either way.
 */
public final class Gemm {
  private Gemm() {}

  /** The library the convolutions' products run on. */
  public enum Library {
    /** Intel MKL's cblas, on the arrays' memory. */
    MKL,
    /** OpenBLAS's cblas (the library ND4J's CPU backend ships and uses), on the arrays' memory. */
    OPENBLAS,
    /** ND4J's product ({@code Nd4j.gemm}), for backends whose arrays are not in host memory. */
    ND4J;

    /** A cblas on the arrays' raw memory: the batched forms ({@link #stridedBatch}) take it. */
    public boolean direct() {
      return this != ND4J;
    }
  }

  /**
   * MKL's binding when it loaded, else the reason it did not.
   *
   * <p><b>One OpenMP runtime.</b> MKL's default threading layer runs on Intel's OpenMP
   * ({@code libiomp5}), while ND4J's native library, and the oneDNN inside it, run on GNU's
   * ({@code libgomp}, shipped in ND4J's jar). With both runtimes active in one process oneDNN's
   * multi-threaded kernels computed wrong results at random: on a 2-core AMD EPYC (AVX-512) the
   * weight gradient of GoogLeNet's 3x3 convs from 128 channels up differed from run to run by 0.3
   * to 17 (relative), the same call on the same arrays giving different sums, while it was exact
   * with {@code MKL_THREADING_LAYER=GNU} or without MKL. So MKL is switched to its GNU threading
   * layer before its first call, after ND4J has loaded its {@code libgomp}, which MKL's
   * {@code libmkl_gnu_thread} then shares. {@code libiomp5} is still mapped (JavaCPP preloads it)
   * but never runs a thread.
   */
  private static final class Mkl {
    static final Throwable FAILURE = load();

    private static Throwable load() {
      try {
        // ND4J's native library (and its libgomp) first, so that MKL's GNU layer binds to it
        Nd4j.getExecutioner();
        org.bytedeco.javacpp.Loader.load(mkl_rt.class);
        int layer = mkl_rt.MKL_Set_Threading_Layer(mkl_rt.MKL_THREADING_GNU);
        if (layer != mkl_rt.MKL_THREADING_GNU) {
          return new IllegalStateException("MKL did not take its GNU OpenMP threading layer (it answered " + layer
              + "); cnnc does not run MKL next to ND4J's OpenMP runtime on another one");
        }
        return null;
      } catch (Throwable t) {
        return t;
      }
    }
  }


  /** The last choice: the setting of {@link KernelSettings#blas()} and the library it gave. */
  private record Chosen(String setting, Library library) {}

  private static volatile Chosen chosen;

  /** The library in use, for {@link KernelSettings#current()}'s {@code blas} ({@code cnnc.blas}). */
  public static Library library() {
    String setting = KernelSettings.current().blas();
    Chosen c = chosen;
    if (c == null || !c.setting().equals(setting)) {
      c = new Chosen(setting, choose(setting));
      chosen = c;
    }
    return c.library();
  }

  /**
   * The kernels' settings with the library for {@code setting} ({@code auto}, {@code mkl} or
   * {@code openblas}) made current, for tests and benchmarks that compare the two; returns the
   * library, after checking that it loads.
   */
  public static Library use(String setting) {
    KernelSettings s = KernelSettings.current().withBlas(setting);
    Library l = choose(s.blas());
    KernelSettings.use(s);
    return l;
  }

  private static Library choose(String setting) {
    switch (setting.trim().toLowerCase(Locale.ROOT)) {
      case "openblas" -> {
        return onCpu() ? Library.OPENBLAS : Library.ND4J;
      }
      case "nd4j" -> {
        return Library.ND4J;
      }
      case "mkl" -> {
        if (mklFailure() != null) {
          throw new IllegalStateException("cnnc.blas=mkl, but MKL does not load (is org.bytedeco:mkl with its "
              + "linux-x86_64-redist jar on the class path?): " + mklFailure());
        }
        return Library.MKL;
      }
      case "auto", "" -> {
        // MKL and OpenBLAS read host memory: on another backend (CUDA) the products stay ND4J's
        if (!onCpu()) {
          return Library.ND4J;
        }
        return Cpu.intel() && mklFailure() == null ? Library.MKL : Library.OPENBLAS;
      }
      default -> throw new IllegalArgumentException(
          "cnnc.blas is '" + setting + "'; it takes auto, mkl, openblas or nd4j");
    }
  }

  private static volatile Boolean cpu;

  /** ND4J runs on the CPU backend: its arrays are in host memory, which the Java kernels read. */
  static boolean onCpu() {
    Boolean c = cpu;
    if (c == null) {
      c = "CPU".equalsIgnoreCase(Nd4j.getExecutioner().getEnvironmentInformation().getProperty("backend"));
      cpu = c;
    }
    return c;
  }

  private static Throwable mklFailure() {
    try {
      return Mkl.FAILURE;
    } catch (Throwable t) { // the class itself is missing: NoClassDefFoundError
      return t;
    }
  }

  /**
   * {@code c = alpha op(a) op(b) + beta c} for 2-d matrices, {@code op} transposing when asked;
   * {@code c} is written in place (it may be a view).
   */
  public static void gemm(INDArray a, INDArray b, INDArray c, boolean ta, boolean tb, double alpha, double beta) {
    if (library().direct() && rowMajor(a) && rowMajor(b) && rowMajor(c)) {
      int m = (int) c.size(0);
      int n = (int) c.size(1);
      int k = (int) (ta ? a.size(0) : a.size(1));
      if ((ta ? a.size(1) : a.size(0)) != m || (tb ? b.size(0) : b.size(1)) != n
          || (tb ? b.size(1) : b.size(0)) != k) {
        throw new IllegalArgumentException("gemm: shapes " + java.util.Arrays.toString(a.shape()) + (ta ? "^T" : "")
            + " x " + java.util.Arrays.toString(b.shape()) + (tb ? "^T" : "") + " -> "
            + java.util.Arrays.toString(c.shape()));
      }
      sgemm(library(), ta, tb, m, n, k, (float) alpha, pointer(a), lead(a), pointer(b), lead(b), (float) beta, pointer(c),
          lead(c));
      keep(a, b, c);
      return;
    }
    Nd4j.gemm(a, b, c, ta, tb, alpha, beta);
  }

  /**
   * {@code count} products on MKL in one call: {@code C_i = op(A_i) op(B_i) + beta C_i} for
   * {@code i < count}, {@code op(A_i)} being {@code m x k}, {@code op(B_i)} {@code k x n}; each
   * matrix is row-major with the given leading dimension, and {@code X_i} starts
   * {@code strideX} elements after {@code X_(i-1)} (a stride of 0 shares one matrix). The
   * matrices start at the first element of {@code a}, {@code b} and {@code c}, which must be float.
   * Only for a {@link Library#direct()} library: callers keep their ND4J path for the other. MKL
   * runs them in one call; OpenBLAS, which has no batched form, one call per product.
   */
  static void stridedBatch(boolean ta, boolean tb, int m, int n, int k, INDArray a, int lda, long strideA,
      INDArray b, int ldb, long strideB, double beta, INDArray c, int ldc, long strideC, int count) {
    stridedBatch(ta, tb, m, n, k, a, lda, strideA, b, 0, ldb, strideB, beta, c, 0, ldc, strideC, count);
  }

  /**
   * {@link #stridedBatch(boolean, boolean, int, int, int, INDArray, int, long, INDArray, int, long, double, INDArray, int, long, int)}
   * with each {@code B_i} and {@code C_i} starting {@code atB} and {@code atC} floats further on
   * (a band of columns of row-major matrices).
   */
  static void stridedBatch(boolean ta, boolean tb, int m, int n, int k, INDArray a, int lda, long strideA,
      INDArray b, long atB, int ldb, long strideB, double beta, INDArray c, long atC, int ldc, long strideC, int count) {
    Library library = requireDirect("stridedBatch", a, b, c);
    if (library == Library.MKL) {
      mkl_rt.cblas_sgemm_batch_strided(mkl_rt.CblasRowMajor, op(ta), op(tb), m, n, k, 1f, pointer(a), lda,
          Math.toIntExact(strideA), new Address(address(b) + 4L * atB), ldb, Math.toIntExact(strideB), (float) beta,
          new Address(address(c) + 4L * atC), ldc, Math.toIntExact(strideC), count);
    } else {
      OpenBlas.batch(ta, tb, m, n, k, address(a), lda, strideA, address(b) + 4L * atB, ldb, strideB, (float) beta,
          address(c) + 4L * atC, ldc, strideC, count);
    }
    keep(a, b, c);
  }

  /**
   * {@code C = sum_i op(A_i) op(B_i)} over {@code i < count} on a {@link Library#direct()} cblas, with {@code A_i}, {@code B_i}
   * laid out as in {@link #stridedBatch}: one product per {@code i}, accumulating into {@code C},
   * with no ND4J views made per product (each costs about 20 us).
   */
  static void stridedSum(boolean ta, boolean tb, int m, int n, int k, INDArray a, int lda, long strideA, INDArray b,
      int ldb, long strideB, INDArray c, int ldc, int count) {
    Library library = requireDirect("stridedSum", a, b, c);
    long pa = address(a);
    long pb = address(b);
    FloatPointer pc = pointer(c);
    for (int i = 0; i < count; i++) {
      sgemm(library, ta, tb, m, n, k, 1f, new Address(pa + 4L * i * strideA), lda, new Address(pb + 4L * i * strideB), ldb,
          i == 0 ? 0f : 1f, pc, ldc);
    }
    keep(a, b, c);
  }

  /**
   * Keeps the arrays reachable up to here: MKL works on their raw addresses, and an array no
   * Java code refers to any more may be collected, and its memory freed, while MKL still reads or
   * writes it (a caller's temporary view, or an array whose last use was taking its address).
   */
  private static void keep(INDArray a, INDArray b, INDArray c) {
    Reference.reachabilityFence(a);
    Reference.reachabilityFence(b);
    Reference.reachabilityFence(c);
  }

  /**
   * One row-major {@code cblas_sgemm} on MKL or OpenBLAS (the two take the same CBLAS constants:
   * row-major 101, no transpose 111, transpose 112).
   */
  private static void sgemm(Library library, boolean ta, boolean tb, int m, int n, int k, float alpha, FloatPointer a,
      int lda, FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
    if (library == Library.MKL) {
      mkl_rt.cblas_sgemm(mkl_rt.CblasRowMajor, op(ta), op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } else {
      OpenBlas.sgemm(ta, tb, m, n, k, alpha, a.address(), lda, b.address(), ldb, beta, c.address(), ldc);
    }
  }

  /**
   * OpenBLAS's products, each call on one thread, split over the JDK's common pool by cnnc: a
   * product in bands of columns (or rows) when it is large, the products of a batch one per task.
   *
   * <p>Why not OpenBLAS's own threads: after each product its workers wait for the next one by
   * spinning (some 0.1 s of {@code sched_yield}), on the cores ND4J's OpenMP threads and the Java
   * kernels need next. Measured on a 2-core AMD EPYC (docs/performance-history.md, session 20),
   * {@code predict}, ms, OpenBLAS's threads / split by cnnc / MKL: NiN at batch 8 30.8 / 18.4 /
   * 20.9; GoogLeNet at batch 1 78.0 / 34.9 / 42.8; MobileNetV2 at batch 1 14.2 / 12.7 / 15.5.
   *
   * <p>OpenBLAS's thread count is one process-wide setting: it is 1 while cnnc's products run and
   * put back after each, so ND4J's own products (SameDiff's, DL4J's layers) keep OpenBLAS's
   * threads.
   */
  static final class OpenBlas {
    private OpenBlas() {}

    /** Multiply-adds from which a product is split between threads (about 10 us of work a core). */
    static final long SPLIT_MACS = 1L << 21;

    /** Columns (or rows) of a band are a multiple of this: 64-byte lines of floats. */
    private static final int ALIGN = 16;

    private static final int CORES = Runtime.getRuntime().availableProcessors();

    /** OpenBLAS's own thread count, as ND4J set it. */
    private static final int THREADS = openblas_nolapack.blas_get_num_threads();

    /** One product: in {@link #bands} of columns or rows over the cores when large enough. */
    static void sgemm(boolean ta, boolean tb, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
        float beta, long c, int ldc) {
      openblas_nolapack.blas_set_num_threads(1);
      try {
        int parts = (int) Math.min(CORES, Math.max(1, (long) m * n * k / SPLIT_MACS));
        if (parts <= 1) {
          call(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
          return;
        }
        boolean byColumns = n >= m;
        int size = byColumns ? n : m;
        int step = bands(size, parts);
        java.util.stream.IntStream.range(0, (size + step - 1) / step).parallel().forEach(p -> {
          int s0 = p * step;
          int len = Math.min(size, s0 + step) - s0;
          if (byColumns) {
            call(ta, tb, m, len, k, alpha, a, lda, b + 4L * (tb ? (long) s0 * ldb : s0), ldb, beta, c + 4L * s0, ldc);
          } else {
            call(ta, tb, len, n, k, alpha, a + 4L * (ta ? s0 : (long) s0 * lda), lda, b, ldb, beta,
                c + 4L * s0 * ldc, ldc);
          }
        });
      } finally {
        openblas_nolapack.blas_set_num_threads(THREADS);
      }
    }

    /** The width of each of {@code parts} bands of {@code size}: a multiple of {@link #ALIGN}, at least one. */
    static int bands(int size, int parts) {
      return Math.max(ALIGN, ((size + parts - 1) / parts + ALIGN - 1) / ALIGN * ALIGN);
    }

    /**
     * {@link Gemm#stridedBatch}: {@code count} products, one task each over the cores when there are
     * at least as many as cores and enough work; else one after another, each split as large.
     */
    static void batch(boolean ta, boolean tb, int m, int n, int k, long a, int lda, long strideA, long b, int ldb,
        long strideB, float beta, long c, int ldc, long strideC, int count) {
      if (count < CORES || (long) m * n * k * count < SPLIT_MACS) {
        for (int i = 0; i < count; i++) {
          sgemm(ta, tb, m, n, k, 1f, a + 4L * i * strideA, lda, b + 4L * i * strideB, ldb, beta, c + 4L * i * strideC,
              ldc);
        }
        return;
      }
      openblas_nolapack.blas_set_num_threads(1);
      try {
        java.util.stream.IntStream.range(0, count).parallel().forEach(i -> call(ta, tb, m, n, k, 1f, a + 4L * i * strideA,
            lda, b + 4L * i * strideB, ldb, beta, c + 4L * i * strideC, ldc));
      } finally {
        openblas_nolapack.blas_set_num_threads(THREADS);
      }
    }

    private static void call(boolean ta, boolean tb, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
        float beta, long c, int ldc) {
      openblas_nolapack.cblas_sgemm(openblas_nolapack.CblasRowMajor,
          ta ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans,
          tb ? openblas_nolapack.CblasTrans : openblas_nolapack.CblasNoTrans, m, n, k, alpha, new Address(a), lda,
          new Address(b), ldb, beta, new Address(c), ldc);
    }
  }

  private static int op(boolean transpose) {
    return transpose ? mkl_rt.CblasTrans : mkl_rt.CblasNoTrans;
  }

  private static Library requireDirect(String what, INDArray... arrays) {
    boolean floats = java.util.Arrays.stream(arrays).allMatch(x -> x.dataType() == DataType.FLOAT);
    Library library = library();
    if (!library.direct() || !floats) {
      throw new IllegalStateException(what + " needs MKL or OpenBLAS and float arrays");
    }
    return library;
  }

  /**
   * A float matrix in host memory whose rows are contiguous (unit column stride), with every
   * dimension within int range, as cblas takes it.
   */
  static boolean rowMajor(INDArray a) {
    return a.rank() == 2 && a.dataType() == DataType.FLOAT && a.size(0) > 0 && a.size(1) > 0
        && a.size(0) < Integer.MAX_VALUE && a.size(1) < Integer.MAX_VALUE && (a.size(1) == 1 || a.stride(1) == 1) && (a.size(0) == 1 || a.stride(0) >= a.size(1))
        && a.stride(0) < Integer.MAX_VALUE;
  }

  /** The leading dimension: the distance between rows. */
  private static int lead(INDArray a) {
    return (int) (a.size(0) == 1 ? Math.max(a.size(1), 1) : a.stride(0));
  }

  /**
   * The address of {@code a}'s first element. A view's buffer may itself start at the view
   * ({@code data().offset()} equal to the array's offset) or at the whole buffer (offset 0).
   */
  private static FloatPointer pointer(INDArray a) {
    return new Address(address(a));
  }

  static long address(INDArray a) {
    return a.data().addressPointer().address() + 4L * (a.offset() - a.data().offset());
  }

  /** A pointer to memory ND4J owns: no allocation, no deallocator. */
  private static final class Address extends FloatPointer {
    Address(long address) {
      this.address = address;
    }
  }
}
