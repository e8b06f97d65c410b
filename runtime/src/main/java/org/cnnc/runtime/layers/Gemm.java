// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import java.util.Locale;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.mkl.global.mkl_rt;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The matrix products of cnnc's convolutions: {@code C = alpha op(A) op(B) + beta C}. They run on
 * Intel MKL's {@code cblas_sgemm} when MKL is on the class path ({@code org.bytedeco:mkl}, with its
 * {@code linux-x86_64-redist} jar) and the three matrices are float and row-major, or, when asked,
 * on cnnc's own product on the Vector API ({@link VectorGemm}); otherwise on ND4J's own BLAS
 * (OpenBLAS), as before.
 *
 * <p>Why: ND4J 1.0.0-M2.1 ships OpenBLAS 0.3.19, which runs the thin products of convolutions well
 * below its square-matrix rate. Measured here (2 cores, AVX-512; README, "Performance"): VGG16's
 * 64-channel band {@code 64x576 by 576x25088} 14.3 ms on OpenBLAS against 6.4 on MKL; NiN's first
 * conv at batch 1, {@code 192x75 by 75x1024}, 0.32 against 0.11 ms. MKL 2022 picks its code by
 * the CPU's vendor, and on AMD's it runs a generic one: on a 2-core AMD EPYC (Zen 5) its products
 * ran at 130-180 GFLOP/s, cnnc's own at 160-340 (docs/performance-history.md, session 21).
 *
 * <p>The choice is the system property {@code cnnc.blas}: {@code auto} (the default, when ND4J
 * runs on the CPU: MKL where it runs code for this CPU's instruction sets, oneDNN's
 * {@code dnnl_sgemm} where MKL would run its generic code or does not load, see {@link #choose}),
 * {@code mkl} (MKL alone, or an error), {@code onednn} (oneDNN's sgemm on any CPU, or an error),
 * {@code vector} (cnnc's product or an error) or {@code openblas} (ND4J's always). ND4J's own
 * operations (DL4J's layers, dense products) keep ND4J's BLAS either way. {@code vector} is not
 * the default on AMD, although faster there than MKL and no less exact over 24 seeds
 * (tools/zoo-seeds.sh): on the zoo parity test's one seed RegNet-Y-400MF's output is 1.2e-4 of its
 * largest value from float64's on it, past the zoo's bound of 1e-4 (4.1e-5 to 5.1e-5 on MKL;
 * MKL's is 1.1e-4 on another seed). That network amplifies the rounding of its sums
 * (docs/performance-history.md, sessions 21 and 22).
 */
public final class Gemm {
  private Gemm() {}

  /** The library the convolutions' products run on. */
  public enum Library {
    MKL,
    /** oneDNN's own product, {@code dnnl_sgemm} ({@link OneDnn#sgemm}). */
    ONEDNN,
    /** cnnc's own product on the Vector API ({@link VectorGemm}). */
    VECTOR,
    ND4J;

    /** Whether the library takes raw, batched and strided products ({@link #stridedBatch}). */
    public boolean batched() {
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
  static final class Mkl {
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

    /**
     * Whether MKL runs its generic code on this CPU: the processor its version reports names no
     * instruction set extensions ("Intel(R) Architecture processors", as MKL 2022 says on AMD's
     * CPUs; "Intel(R) Advanced Vector Extensions 512 ..." on an Intel Xeon).
     */
    static final boolean GENERIC = FAILURE == null && generic(processor());

    /** The processor MKL's version names: the code path it runs on this CPU. */
    static String processor() {
      mkl_rt.MKLVersion v = new mkl_rt.MKLVersion();
      mkl_rt.MKL_Get_Version(v);
      return v.Processor() == null ? "" : v.Processor().getString();
    }
  }

  /** Whether MKL's processor string {@code processor} names its generic code path (no extensions). */
  static boolean generic(String processor) {
    return !processor.contains("Extensions");
  }


  /** The last choice: the setting of {@link KernelSettings#blas()}, whether vectors were on, and the library it gave. */
  private record Chosen(String setting, boolean vectors, Library library) {}

  private static volatile Chosen chosen;

  /** The library in use, for {@link KernelSettings#current()}'s {@code blas} ({@code cnnc.blas}). */
  public static Library library() {
    String setting = KernelSettings.current().blas();
    boolean vectors = Vectors.on();
    Chosen c = chosen;
    if (c == null || !c.setting().equals(setting) || c.vectors() != vectors) {
      c = new Chosen(setting, vectors, choose(setting));
      chosen = c;
    }
    return c.library();
  }

  /**
   * The kernels' settings with the library for {@code setting} ({@code auto}, {@code mkl},
   * {@code onednn}, {@code vector} or {@code openblas}) made current, for tests and benchmarks
   * that compare them; returns the library, after checking that it loads.
   */
  public static Library use(String setting) {
    KernelSettings s = KernelSettings.current().withBlas(setting);
    Library l = choose(s.blas());
    KernelSettings.use(s);
    return l;
  }

  /**
   * The library for {@code setting}. {@code auto}, on the CPU: MKL where it runs code for this
   * CPU ({@link #generic} names its path), else oneDNN's sgemm when it loads, else MKL, else
   * ND4J's. On a 2-core AMD EPYC (Zen 5, AVX-512), where MKL 2022 runs its generic code, oneDNN's
   * sgemm multiplied every product of the zoo's convs measured at 1.2-2.8x MKL's rate (MobileNetV2's
   * 32 x 784 x 144 0.043 against 0.098 ms; ResNet-50's 64 x 3136 x 256 0.29 against 0.77);
   * docs/performance-history.md, session 25.
   */
  private static Library choose(String setting) {
    switch (setting.trim().toLowerCase(Locale.ROOT)) {
      case "openblas", "nd4j" -> {
        return Library.ND4J;
      }
      case "onednn" -> {
        if (OneDnn.bindingFailure() != null) {
          throw new IllegalStateException("cnnc.blas=onednn, but oneDNN's sgemm does not load (are org.bytedeco:dnnl "
              + "and org.bytedeco:opencl with their linux-x86_64 jars on the class path?): " + OneDnn.bindingFailure());
        }
        return Library.ONEDNN;
      }
      case "mkl" -> {
        if (mklFailure() != null) {
          throw new IllegalStateException("cnnc.blas=" + setting.trim() + ", but MKL does not load (is "
              + "org.bytedeco:mkl with its linux-x86_64-redist jar on the class path?): " + mklFailure());
        }
        return Library.MKL;
      }
      case "vector" -> {
        if (!Vectors.on() || !VectorGemm.suits()) {
          throw new IllegalStateException("cnnc.blas=vector, but the JVM has no Vector API (--add-modules "
              + "jdk.incubator.vector), cnnc.vector is off, or this CPU's vectors hold fewer than 8 floats");
        }
        return Library.VECTOR;
      }
      case "auto", "" -> {
        // MKL and oneDNN read host memory: on another backend (CUDA) the products stay ND4J's
        if (!onCpu()) {
          return Library.ND4J;
        }
        boolean mkl = mklFailure() == null;
        if (mkl && !Mkl.GENERIC) {
          return Library.MKL;
        }
        if (OneDnn.bindingFailure() == null) {
          return Library.ONEDNN;
        }
        return mkl ? Library.MKL : Library.ND4J;
      }
      default -> throw new IllegalArgumentException(
          "cnnc.blas is '" + setting + "'; it takes auto, mkl, onednn, vector or openblas");
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
    Library library = library();
    if (library.batched() && rowMajor(a) && rowMajor(b) && rowMajor(c)) {
      int m = (int) c.size(0);
      int n = (int) c.size(1);
      int k = (int) (ta ? a.size(0) : a.size(1));
      if ((ta ? a.size(1) : a.size(0)) != m || (tb ? b.size(0) : b.size(1)) != n
          || (tb ? b.size(1) : b.size(0)) != k) {
        throw new IllegalArgumentException("gemm: shapes " + java.util.Arrays.toString(a.shape()) + (ta ? "^T" : "")
            + " x " + java.util.Arrays.toString(b.shape()) + (tb ? "^T" : "") + " -> "
            + java.util.Arrays.toString(c.shape()));
      }
      if (library == Library.VECTOR) {
        vector(ta, tb, m, n, k, (float) alpha, address(a), lead(a), 0, address(b), lead(b), 0, (float) beta,
            address(c), lead(c), 0, 1);
      } else {
        sgemm(library, ta, tb, m, n, k, (float) alpha, pointer(a), lead(a), pointer(b), lead(b), (float) beta,
            pointer(c), lead(c));
      }
      keep(a, b, c);
      return;
    }
    Nd4j.gemm(a, b, c, ta, tb, alpha, beta);
  }

  /**
   * {@code count} products on MKL, oneDNN or cnnc's product in one call: {@code C_i = op(A_i) op(B_i) + beta C_i} for
   * {@code i < count}, {@code op(A_i)} being {@code m x k}, {@code op(B_i)} {@code k x n}; each
   * matrix is row-major with the given leading dimension, and {@code X_i} starts
   * {@code strideX} elements after {@code X_(i-1)} (a stride of 0 shares one matrix). The
   * matrices start at the first element of {@code a}, {@code b} and {@code c}, which must be float.
   * Only for a {@linkplain Library#batched() batched} library: callers keep their ND4J path for the
   * other.
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
    Library library = requireBatched("stridedBatch", a, b, c);
    if (library == Library.VECTOR) {
      vector(ta, tb, m, n, k, 1f, address(a), lda, strideA, address(b) + 4L * atB, ldb, strideB, (float) beta,
          address(c) + 4L * atC, ldc, strideC, count);
      keep(a, b, c);
      return;
    }
    if (library == Library.ONEDNN || (count == 1 && KernelSettings.current().splitMkl())) {
      // oneDNN has no batched call: one product after another, each on all threads
      long pa = address(a);
      long pb = address(b) + 4L * atB;
      long pc = address(c) + 4L * atC;
      for (int i = 0; i < count; i++) {
        sgemm(library, ta, tb, m, n, k, 1f, new Address(pa + 4L * i * strideA), lda, new Address(pb + 4L * i * strideB),
            ldb, (float) beta, new Address(pc + 4L * i * strideC), ldc);
      }
      keep(a, b, c);
      return;
    }
    mkl_rt.cblas_sgemm_batch_strided(mkl_rt.CblasRowMajor, op(ta), op(tb), m, n, k, 1f, pointer(a), lda,
        Math.toIntExact(strideA), new Address(address(b) + 4L * atB), ldb, Math.toIntExact(strideB), (float) beta,
        new Address(address(c) + 4L * atC), ldc, Math.toIntExact(strideC), count);
    keep(a, b, c);
  }

  /**
   * {@code C = sum_i op(A_i) op(B_i)} over {@code i < count} on MKL, oneDNN or cnnc's product, with {@code A_i}, {@code B_i}
   * laid out as in {@link #stridedBatch}: one product per {@code i}, accumulating into {@code C},
   * with no ND4J views made per product (each costs about 20 us).
   */
  static void stridedSum(boolean ta, boolean tb, int m, int n, int k, INDArray a, int lda, long strideA, INDArray b,
      int ldb, long strideB, INDArray c, int ldc, int count) {
    Library library = requireBatched("stridedSum", a, b, c);
    long pa = address(a);
    long pb = address(b);
    FloatPointer pc = pointer(c);
    for (int i = 0; i < count; i++) {
      if (library == Library.VECTOR) {
        vector(ta, tb, m, n, k, 1f, pa + 4L * i * strideA, lda, 0, pb + 4L * i * strideB, ldb, 0, i == 0 ? 0f : 1f,
            pc.address(), ldc, 0, 1);
      } else {
        sgemm(library, ta, tb, m, n, k, 1f, new Address(pa + 4L * i * strideA), lda, new Address(pb + 4L * i * strideB),
            ldb, i == 0 ? 0f : 1f, pc, ldc);
      }
    }
    keep(a, b, c);
  }

  /**
   * Keeps the arrays reachable up to here: MKL and oneDNN work on their raw addresses, and an array no
   * Java code refers to any more may be collected, and its memory freed, while the library still
   * reads or writes it (a caller's temporary view, or an array whose last use was taking its address).
   */
  private static void keep(INDArray a, INDArray b, INDArray c) {
    Reference.reachabilityFence(a);
    Reference.reachabilityFence(b);
    Reference.reachabilityFence(c);
  }

  /**
   * One row-major product on {@code library} ({@link Library#ONEDNN} or {@link Library#MKL}). On
   * MKL, one {@code cblas_sgemm}; with {@link KernelSettings#splitMkl()}, a product of at least
   * {@link #SPLIT_WORK} multiply-adds is cut into one block of columns (or, when each thread would
   * get fewer than {@link #SPLIT_COLUMNS}, of rows) per thread of {@link Parallel}, each one
   * single-threaded MKL call. MKL's own threads, woken for every call, scaled poorly on the products
   * of a layer at batch 1 (a {@code 160 x 192 x 1024} product: 0.72 ms on one thread, 0.63 on two),
   * and the blocks gave the same bits as one call (docs/performance-history.md, session 23;
   * {@code GemmTest}).
   */
  private static void sgemm(Library library, boolean ta, boolean tb, int m, int n, int k, float alpha, FloatPointer a,
      int lda, FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
    if (library == Library.ONEDNN) {
      OneDnn.sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
    int threads = Parallel.threads();
    Cut cut = KernelSettings.current().splitMkl() ? cut(m, n, k, threads) : Cut.NONE;
    if (cut != Cut.NONE) {
      boolean byColumns = cut == Cut.COLUMNS;
      long pa = a.address();
      long pb = b.address();
      long pc = c.address();
      int size = byColumns ? n : m;
      int per = (size + threads - 1) / threads;
      Parallel.forEach(threads, t -> {
        int from = t * per;
        int part = Math.min(size, from + per) - from;
        if (part <= 0) {
          return;
        }
        if (byColumns) {
          single(ta, tb, m, part, k, alpha, a, lda, new Address(pb + 4L * (tb ? (long) from * ldb : from)), ldb, beta,
              new Address(pc + 4L * from), ldc);
        } else {
          single(ta, tb, part, n, k, alpha, new Address(pa + 4L * (ta ? from : (long) from * lda)), lda, b, ldb, beta,
              new Address(pc + 4L * from * ldc), ldc);
        }
      });
      return;
    }
    mkl_rt.cblas_sgemm(mkl_rt.CblasRowMajor, op(ta), op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }

  /** How {@link #sgemm} cuts a product over the threads. */
  enum Cut { NONE, COLUMNS, ROWS }

  /** How {@link #sgemm} cuts an {@code m x k} by {@code k x n} product over {@code threads} threads. */
  static Cut cut(int m, int n, int k, int threads) {
    if (threads < 2 || (long) m * n * k < SPLIT_WORK) {
      return Cut.NONE;
    }
    if (n >= (long) SPLIT_COLUMNS * threads) {
      return Cut.COLUMNS;
    }
    return m >= (long) SPLIT_ROWS * threads ? Cut.ROWS : Cut.NONE;
  }

  /** The fewest multiply-adds of a product {@link #sgemm} cuts over the threads. */
  static final long SPLIT_WORK = 1L << 20;

  /** The fewest columns a thread takes when a product is cut by columns. */
  static final int SPLIT_COLUMNS = 256;

  /** The fewest rows a thread takes when a product is cut by rows. */
  static final int SPLIT_ROWS = 64;

  /** {@code cblas_sgemm} on this thread alone. */
  private static void single(boolean ta, boolean tb, int m, int n, int k, float alpha, FloatPointer a, int lda,
      FloatPointer b, int ldb, float beta, FloatPointer c, int ldc) {
    int before = mkl_rt.MKL_Set_Num_Threads_Local(1);
    try {
      mkl_rt.cblas_sgemm(mkl_rt.CblasRowMajor, op(ta), op(tb), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    } finally {
      mkl_rt.MKL_Set_Num_Threads_Local(before);
    }
  }

  private static int op(boolean transpose) {
    return transpose ? mkl_rt.CblasTrans : mkl_rt.CblasNoTrans;
  }

  private static Library requireBatched(String what, INDArray... arrays) {
    boolean floats = java.util.Arrays.stream(arrays).allMatch(x -> x.dataType() == DataType.FLOAT);
    Library library = library();
    if (!library.batched() || !floats) {
      throw new IllegalStateException(what + " needs MKL, oneDNN or cnnc's vector product, and float arrays");
    }
    return library;
  }

  /**
   * {@link VectorGemm#multiply} on native memory: each matrix given by the address of its first
   * product's first element; the buffers span exactly the floats the products touch.
   */
  private static void vector(boolean ta, boolean tb, int m, int n, int k, float alpha, long a, int lda, long strideA,
      long b, int ldb, long strideB, float beta, long c, int ldc, long strideC, int count) {
    FloatBuffer fa = buffer(a, span(ta ? k : m, ta ? m : k, lda, strideA, count));
    FloatBuffer fb = buffer(b, span(tb ? n : k, tb ? k : n, ldb, strideB, count));
    FloatBuffer fc = buffer(c, span(m, n, ldc, strideC, count));
    VectorGemm.multiply(ta, tb, m, n, k, alpha, fa, lda, strideA, fb, ldb, strideB, beta, fc, ldc, strideC, count);
  }

  /** The floats from a batch's first element to its last: {@code count} matrices of {@code rows x cols}. */
  private static long span(int rows, int cols, int ld, long stride, int count) {
    if (rows <= 0 || cols <= 0 || count <= 0) {
      return 0;
    }
    long s = (count - 1L) * stride + (rows - 1L) * ld + cols;
    if (s > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("gemm: a batch of " + count + " matrices " + rows + " x " + cols
          + " spans more than 2^31 floats");
    }
    return s;
  }

  /** A buffer of {@code floats} floats at {@code address}, memory ND4J owns. */
  private static FloatBuffer buffer(long address, long floats) {
    if (floats == 0) {
      return FloatBuffer.allocate(0);
    }
    Address p = new Address(address);
    p.limit(floats);
    return p.asBuffer();
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

  /** A pointer to memory ND4J owns: no allocation, no deallocator (also {@link OneDnnConv}'s). */
  static final class Address extends FloatPointer {
    Address(long address) {
      this.address = address;
    }
  }
}
