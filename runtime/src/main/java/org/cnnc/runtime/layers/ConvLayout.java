// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The layouts of activations that {@code predict}'s executor can keep between convs on oneDNN's
 * primitives, as ONNX Runtime keeps NCHWc: a conv reads and writes oneDNN's own layout as it
 * is, where an NCHW activation costs it a reorder in and one out. Measured on a 2-core AMD EPYC
 * (docs/performance-history.md, session 26): the 1x1 64 -> 256 conv at 56^2, batch 8, 2.58 ms in
 * oneDNN's layout against 6.35 from and to NCHW.
 *
 * <p>A layout is an int code: {@link #NCHW}, {@link #NHWC}, or a channel block size {@code B}
 * (8 or 16) for {@code [n, ceil(c / B), h, w, B]}, the last block padded with zeros.
 */
public final class ConvLayout {
  private ConvLayout() {}

  /** PyTorch's and DL4J's layout: {@code [n, c, h, w]}. */
  public static final int NCHW = 0;

  /** Channels last: {@code [n, h, w, c]} (oneDNN 2.5's choice for its AVX-512 kernels). */
  public static final int NHWC = 1;

  /** The layout's name as oneDNN's format tags spell it: nchw, nhwc, nChw8c, nChw16c. */
  public static String name(int layout) {
    return switch (layout) {
      case NCHW -> "nchw";
      case NHWC -> "nhwc";
      case 8 -> "nChw8c";
      case 16 -> "nChw16c";
      default -> throw new IllegalArgumentException("no activation layout of code " + layout);
    };
  }

  /**
   * The layout oneDNN's convs prefer on this CPU, or {@link #NCHW} when they prefer none that
   * cnnc keeps, or cannot run here.
   */
  public static int preferred() {
    return OneDnn.BUILT_IN && OneDnn.BINDING ? OneDnnConv.preferred() : NCHW;
  }

  /**
   * The floats of an activation of shape {@code nchw} in {@code layout}: its channels rounded up
   * to a multiple of the block in a blocked layout.
   */
  public static long floats(long[] nchw, int layout) {
    long c = layout > NHWC ? (nchw[1] + layout - 1) / layout * layout : nchw[1];
    return nchw[0] * c * nchw[2] * nchw[3];
  }

  /**
   * The shape {@code [n, rows, floats / (n * rows)]} in which an activation of shape {@code nchw}
   * in {@code layout} is handed to a pass that runs over rows (a conv's activation): its
   * channels' planes for NCHW, the rows of the map for NHWC, the channel blocks for a blocked
   * layout.
   */
  public static long[] rows(long[] nchw, int layout) {
    long rows = switch (layout) {
      case NCHW -> nchw[1];
      case NHWC -> nchw[2];
      default -> (nchw[1] + layout - 1) / layout;
    };
    return new long[] {nchw[0], rows, floats(nchw, layout) / nchw[0] / rows};
  }

  /**
   * Copies the activation {@code from} of shape {@code nchw}, in layout {@code fromLayout}, into
   * {@code to} in {@code toLayout}; both arrays dense.
   */
  public static void reorder(INDArray from, int fromLayout, INDArray to, int toLayout, long[] nchw) {
    OneDnnConv.reorder(from, fromLayout, to, toLayout, nchw);
  }

  /**
   * Whether a channel concatenation of inputs of {@code channels} each can be kept in {@code
   * layout}: in NHWC always; in a blocked layout when each input fills whole blocks, so that each
   * starts at a block and no padded channel falls inside the output (GoogLeNet's all do).
   */
  public static boolean concatenates(long[] channels, int layout) {
    return layout == NHWC || layout > NHWC && Arrays.stream(channels).allMatch(c -> c % layout == 0);
  }

  /**
   * The channel concatenation of {@code xs} (shapes {@code shapes}, layouts {@code layouts}: each
   * dense in {@code layout}, or NCHW with any strides) into {@code out} (dense, shape {@code
   * outShape}, in {@code layout}, one of oneDNN's; {@link #concatenates}). The inputs already in
   * {@code layout} are copied in one pass over the output: in NHWC a task takes a run of pixels
   * and copies each input's channels of each pixel in turn, so that each output row is written
   * whole, by one thread (oneDNN's reorder per input wrote a strided part of every row, four
   * passes over GoogLeNet's outputs); in a blocked layout each image's part of an input is one
   * range of whole blocks. NCHW inputs are reordered in ({@link #copyInto}).
   */
  public static void concatenate(INDArray[] xs, long[][] shapes, int[] layouts, INDArray out, long[] outShape,
      int layout) {
    long[] at = new long[xs.length];
    for (int j = 1; j < xs.length; j++) {
      at[j] = at[j - 1] + shapes[j - 1][1];
    }
    // copied here: dense inputs in the layout, all at int offsets; the others on oneDNN's reorder
    boolean addressable = ChannelKernels.addressable(out);
    boolean[] same = new boolean[xs.length];
    for (int j = 0; j < xs.length; j++) {
      same[j] = addressable && layouts[j] == layout && ChannelKernels.direct(xs[j]) && ChannelKernels.addressable(xs[j]);
      if (!same[j]) {
        copyInto(xs[j], shapes[j], layouts[j], out, outShape, layout, at[j]);
      }
    }
    FloatBuffer ob = out.data().asNioFloat();
    int oBase = (int) out.offset();
    FloatBuffer[] xb = new FloatBuffer[xs.length];
    int[] xBase = new int[xs.length];
    for (int j = 0; j < xs.length; j++) {
      if (same[j]) {
        xb[j] = xs[j].data().asNioFloat();
        xBase[j] = (int) xs[j].offset();
      }
    }
    int c = (int) outShape[1];
    int pixels = (int) (outShape[2] * outShape[3]);
    int n = (int) outShape[0];
    if (layout == NHWC) {
      int all = n * pixels;
      int per = Math.max(1, ChannelKernels.perTask(c));
      Parallel.forEach((all + per - 1) / per, task -> {
        int end = Math.min(all, (task + 1) * per);
        for (int p = task * per; p < end; p++) {
          for (int j = 0; j < xs.length; j++) {
            if (same[j]) {
              int cj = (int) shapes[j][1];
              ob.put(oBase + p * c + (int) at[j], xb[j], xBase[j] + p * cj, cj);
            }
          }
        }
      });
    } else {
      Parallel.forEach(n * xs.length, task -> {
        int i = task / xs.length;
        int j = task % xs.length;
        if (same[j]) {
          int cj = (int) shapes[j][1];
          ob.put(oBase + (i * c + (int) at[j]) * pixels, xb[j], xBase[j] + i * cj * pixels, cj * pixels);
        }
      });
    }
    Reference.reachabilityFence(out);
    Reference.reachabilityFence(xs);
  }

  /**
   * Copies the activation {@code from} of shape {@code nchw} (dense in {@code fromLayout}, or NCHW
   * with any strides: a view's) into channels {@code [at, at + nchw[1])} of {@code to} (dense,
   * shape {@code toNchw}, in {@code toLayout}, one of oneDNN's; {@link #concatenates}): one input
   * of a concatenation kept in that layout, on oneDNN's reorder into the output's submemory.
   */
  public static void copyInto(INDArray from, long[] nchw, int fromLayout, INDArray to, long[] toNchw, int toLayout,
      long at) {
    OneDnnConv.reorderInto(from, nchw, fromLayout, to, toNchw, toLayout, at);
  }
}
