// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.io.Serializable;
import java.util.Locale;

/**
 * The tuning switches of cnnc's kernels, in one immutable value instead of a static per kernel:
 * which BLAS the products use, whether oneDNN takes convolutions and from which sizes, the
 * whole-batch GEMM layout, and the Vector API. Read once from the system properties
 * ({@code cnnc.blas}, {@code cnnc.blas.split}, {@code cnnc.conv.onednn}, {@code cnnc.conv.perSample},
 * {@code cnnc.vector});
 * tests and benchmarks that compare paths swap the whole value with {@link #use} and put the
 * previous one back. It is serializable, so a process that runs a network elsewhere (a Spark
 * executor) can take the same settings along.
 *
 * <p>A switch asks for a path; the path is taken only where it exists: oneDNN only when ND4J was
 * built with it, the Vector API only when the JVM has it.
 *
 * @param blas {@code auto}, {@code mkl}, {@code onednn}, {@code vector} or {@code openblas} ({@link Gemm#library})
 * @param oneDnn oneDNN may take convolutions ({@link OneDnn})
 * @param oneDnnMinChannels the fewest input channels a conv needs to go to oneDNN
 * @param oneDnnMaxForwardMap the largest output map (oh * ow) whose forward pass goes to oneDNN
 * @param batched whole-batch GEMM layout of the convs ({@link ConvGemm})
 * @param stridedMin the smallest strided output map that takes the whole-batch call
 * @param tileColumns a band of a sample's im2col columns holds about this many floats (tiled layout)
 * @param directRow the narrowest output row im2col copies buffer to buffer rather than through a Java array
 * @param vectors the kernels may use the Vector API ({@link Vectors})
 * @param winograd 3x3 convs of stride 1 may run as Winograd's F(4x4, 3x3) ({@link Winograd})
 * @param winogradMinChannels the fewest input and output channels such a conv needs to take it
 * @param winogradMinTiles the fewest 4x4 output tiles (over the batch) such a conv needs to take it
 * @param winogradOverOneDnn the least {@code in*out/(in+out)} of a conv oneDNN would take forward for
 *     Winograd to take it instead
 * @param winogradKeep a conv layer keeps its weights' Winograd transform across forward passes
 *     outside training ({@link WinogradWeights}; 5x its 3x3 weights in memory)
 * @param winogradKeptMinTiles the fewest 4x4 output tiles (over the batch) a conv whose transform
 *     is kept needs to take Winograd
 * @param winogradMinRowTiles the fewest 4x4 output tiles in a row of the map a conv needs to take
 *     Winograd (the transforms' vector lanes run along a row's tiles)
 * @param directMaxChannels the most input channels a conv may have to be computed directly,
 *     without im2col ({@link DirectConv}: a network's first conv, on an image); 0 turns it off
 * @param splitMkl a single MKL product is cut into one single-threaded MKL call per thread of
 *     {@link Parallel} ({@link Gemm}), instead of one call on MKL's own threads
 */
public record KernelSettings(String blas, boolean oneDnn, int oneDnnMinChannels, long oneDnnMaxForwardMap,
    boolean batched, long stridedMin, long tileColumns, int directRow, boolean vectors, boolean winograd,
    int winogradMinChannels, long winogradMinTiles, int winogradOverOneDnn, boolean winogradKeep,
    long winogradKeptMinTiles, int winogradMinRowTiles, int directMaxChannels, boolean splitMkl) implements Serializable {
  private static final long serialVersionUID = 1L;

  /**
   * The defaults, measured on the CPUs cnnc is tested on (Winograd's in {@code WinogradBench}, see
   * {@link ConvGemm#winograd}): oneDNN from 16 input channels, forward at any map size (on
   * ND4J's conv2d op VGG16's 3x3 convs at batch 8 had been faster on im2col + GEMM from 112^2 up,
   * 64->64 at 224^2 159 ms against 224; on cnnc's own oneDNN primitive, {@link OneDnnConv}, VGG16's
   * predict at batch 8 took 709 ms with its large maps on oneDNN against 853 without, on a 2-core
   * AMD EPYC, docs/performance-history.md, session 25); the whole-batch call for strided maps of 64 and more (3x3 convs
   * at 7^2: 1.76-1.91 ms against 1.96-2.11; at 14^2 and up the batched call wins); a kept Winograd
   * transform from 64 output tiles, so a 28x28 map at batch 1 (49 tiles) stays off Winograd: in
   * the networks' predict it won there, ResNet-50's 128->128 1.07-1.19 ms against 1.41-1.77 on
   * Winograd, GoogLeNet's 96->128 0.90-0.94 against 1.24-1.33 (docs/performance-history.md,
   * session 19), although alone (WinogradBench) Winograd had won.
   */
  public static final KernelSettings DEFAULTS = new KernelSettings("auto", true, 16, Long.MAX_VALUE, true, 64, 4L << 20, 64, true, true, 16, 192, 128,
      true, 64, 7, 4, true);

  private static volatile KernelSettings current = fromSystemProperties();

  public KernelSettings {
    // checked when the products first run ({@link Gemm#library}), as the property always was
    blas = blas.trim().toLowerCase(Locale.ROOT);
  }

  /** The defaults as the system properties change them. */
  public static KernelSettings fromSystemProperties() {
    KernelSettings d = DEFAULTS;
    return new KernelSettings(System.getProperty("cnnc.blas", d.blas()),
        !"off".equals(System.getProperty("cnnc.conv.onednn", "auto").trim().toLowerCase(Locale.ROOT)),
        d.oneDnnMinChannels(), d.oneDnnMaxForwardMap(),
        !Boolean.getBoolean("cnnc.conv.perSample"), d.stridedMin(), d.tileColumns(), d.directRow(),
        !"off".equals(System.getProperty("cnnc.vector")),
        !"off".equals(System.getProperty("cnnc.conv.winograd", "auto").trim().toLowerCase(Locale.ROOT)),
        d.winogradMinChannels(), d.winogradMinTiles(), d.winogradOverOneDnn(),
        !"off".equals(System.getProperty("cnnc.conv.winogradKeep", "auto").trim().toLowerCase(Locale.ROOT)),
        d.winogradKeptMinTiles(), d.winogradMinRowTiles(),
        "off".equals(System.getProperty("cnnc.conv.direct", "auto").trim().toLowerCase(Locale.ROOT)) ? 0
            : d.directMaxChannels(),
        !"off".equals(System.getProperty("cnnc.blas.split", "auto").trim().toLowerCase(Locale.ROOT)) && d.splitMkl());
  }

  /** The settings the kernels use now. */
  public static KernelSettings current() {
    return current;
  }

  /** Makes {@code s} the settings the kernels use from now on; returns the previous ones (to put back). */
  public static KernelSettings use(KernelSettings s) {
    KernelSettings before = current;
    current = s;
    return before;
  }

  public KernelSettings withBlas(String setting) {
    return new KernelSettings(setting, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batched, stridedMin, tileColumns,
        directRow, vectors, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, winogradKeep,
        winogradKeptMinTiles, winogradMinRowTiles, directMaxChannels, splitMkl);
  }

  public KernelSettings withOneDnn(boolean on, int minChannels, long maxForwardMap) {
    return new KernelSettings(blas, on, minChannels, maxForwardMap, batched, stridedMin, tileColumns, directRow, vectors, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, winogradKeep,
        winogradKeptMinTiles, winogradMinRowTiles, directMaxChannels, splitMkl);
  }

  public KernelSettings withOneDnn(boolean on) {
    return withOneDnn(on, oneDnnMinChannels, oneDnnMaxForwardMap);
  }

  /** The whole-batch layout on or off, its strided minimum, and the tiled layout's band size. */
  public KernelSettings withLayout(boolean batchedOn, long stridedMinimum, long tile) {
    return new KernelSettings(blas, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batchedOn, stridedMinimum, tile,
        directRow, vectors, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, winogradKeep,
        winogradKeptMinTiles, winogradMinRowTiles, directMaxChannels, splitMkl);
  }

  public KernelSettings withDirectRow(int narrowest) {
    return new KernelSettings(blas, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batched, stridedMin, tileColumns,
        narrowest, vectors, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, winogradKeep,
        winogradKeptMinTiles, winogradMinRowTiles, directMaxChannels, splitMkl);
  }

  /**
   * Winograd's 3x3 convs on or off, the fewest channels, output tiles and tiles in a row of the map
   * they need, and the least {@code in*out/(in+out)} of a conv that oneDNN would take forward.
   */
  public KernelSettings withWinograd(boolean on, int minChannels, long minTiles, int minRowTiles, int overOneDnn) {
    return new KernelSettings(blas, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batched, stridedMin, tileColumns,
        directRow, vectors, on, minChannels, minTiles, overOneDnn, winogradKeep, winogradKeptMinTiles, minRowTiles,
        directMaxChannels, splitMkl);
  }

  /**
   * Whether conv layers keep their weights' Winograd transform outside training, and the fewest
   * output tiles a conv with a kept transform needs.
   */
  public KernelSettings withWinogradKept(boolean keep, long keptMinTiles) {
    return new KernelSettings(blas, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batched, stridedMin, tileColumns,
        directRow, vectors, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, keep, keptMinTiles,
        winogradMinRowTiles, directMaxChannels, splitMkl);
  }

  public KernelSettings withVectors(boolean on) {
    return new KernelSettings(blas, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batched, stridedMin, tileColumns,
        directRow, on, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, winogradKeep,
        winogradKeptMinTiles, winogradMinRowTiles, directMaxChannels, splitMkl);
  }

  /** Direct convolution ({@link DirectConv}) for convs of at most {@code maxChannels} input channels; 0: off. */
  public KernelSettings withDirect(int maxChannels) {
    return new KernelSettings(blas, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batched, stridedMin, tileColumns,
        directRow, vectors, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, winogradKeep,
        winogradKeptMinTiles, winogradMinRowTiles, maxChannels, splitMkl);
  }

  /** MKL's single products cut over {@link Parallel}'s threads, or left to MKL's own threads. */
  public KernelSettings withSplitMkl(boolean on) {
    return new KernelSettings(blas, oneDnn, oneDnnMinChannels, oneDnnMaxForwardMap, batched, stridedMin, tileColumns,
        directRow, vectors, winograd, winogradMinChannels, winogradMinTiles, winogradOverOneDnn, winogradKeep,
        winogradKeptMinTiles, winogradMinRowTiles, directMaxChannels, on);
  }
}
