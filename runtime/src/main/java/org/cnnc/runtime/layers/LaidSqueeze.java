// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Squeeze-and-excitation's two steps over an activation in oneDNN's layout ({@link ConvLayout}:
 * NHWC or {@code [n, c / B, h, w, B]}), for inference: each channel's mean over its map (a global
 * average pooling, into NCHW {@code [n, c, 1, 1]}), and each channel scaled by a factor per image
 * and channel (the {@code mul} of the map by its gate, into the same layout). {@code predict}'s
 * executor runs them between the depthwise conv of an MBConv block and its projection, which
 * keep their activations in that layout (EfficientNet's), so that the block no longer converts
 * its widest maps to NCHW and back.
 *
 * <p>Both layouts hold a pixel's channels (or a block of them) next to each other: a task takes
 * one image's block of channels (NHWC: a range of its channels) and runs over its pixels. A
 * mean sums a chunk of pixels per channel in float, the chunks' sums in double, and divides by
 * the pixel count once: as close to the exact mean as the NCHW reduction, not always its bits. A
 * scale is one float product per value, the NCHW kernel's bits; a blocked layout's padded
 * channels hold zeros, and their products are zeros.
 */
public final class LaidSqueeze {
  private LaidSqueeze() {}

  /**
   * The inference executor's global average pooling: {@code x} ({@code [n, c, h, w]} as {@code
   * nchw} gives it, dense in {@code layout}, one of oneDNN's) into {@code out}, NCHW {@code [n, c,
   * 1, 1]} ({@link #means}).
   */
  public static void means(INDArray x, long[] nchw, int layout, INDArray out,
      org.deeplearning4j.nn.workspace.LayerWorkspaceMgr mgr) {
    if (!ChannelKernels.direct(x)) {
      throw new IllegalArgumentException("a laid global average pooling reads a dense float array");
    }
    ChannelKernels.intoDense(out, mgr, target -> means(x.data().asNioFloat(), (int) x.offset(), nchw, layout,
        target.data().asNioFloat(), (int) target.offset()));
  }

  /**
   * The inference executor's squeeze-and-excitation scaling: {@code x} ({@code [n, c, h, w]} as
   * {@code nchw} gives it, dense in {@code layout}, one of oneDNN's) times {@code s} ({@code [n, c,
   * 1, 1]} or {@code [1, c, 1, 1]}, NCHW) into {@code out}, in {@code outLayout}: the same, or NCHW
   * ({@link #scale}).
   */
  public static void scale(INDArray x, long[] nchw, int layout, INDArray s, INDArray out, int outLayout,
      org.deeplearning4j.nn.workspace.LayerWorkspaceMgr mgr) {
    if (!ChannelKernels.direct(x)) {
      throw new IllegalArgumentException("a laid scaling reads a dense float array");
    }
    INDArray f = ChannelKernels.direct(s) ? s : s.dup('c');
    ChannelKernels.intoDense(out, mgr, target -> scale(x.data().asNioFloat(), (int) x.offset(), nchw, layout,
        f.data().asNioFloat(), (int) f.offset(), f.size(0) != 1 || nchw[0] == 1, target.data().asNioFloat(),
        (int) target.offset(), outLayout));
  }

  /** About how many floats a task reads at once: 64 KB, in a core's L2. */
  private static final int CHUNK_FLOATS = 1 << 14;

  /** The fewest channels of an NHWC task (a range of a pixel's channels read at a time). */
  private static final int MIN_RANGE = 64;

  /**
   * A task's share of the activation: image {@code image}, the channels {@code c0 .. c0 + width - 1}
   * of a pixel whose channels (or block) are {@code stride} floats apart, the first at float
   * {@code base}; {@code first} is channel {@code c0}'s index among the real channels.
   */
  private record Part(int image, long base, int stride, int width, int first) {
    /** The pixels this task reads at once, of a map of {@code pixels}: {@link #CHUNK_FLOATS} floats' worth. */
    int chunk(long pixels) {
      return (int) Math.min(pixels, Math.max(1, CHUNK_FLOATS / width));
    }
  }

  /** The tasks over {@code nchw} in {@code layout}: an image's channel block, or (NHWC) a range of its channels. */
  private static Part[] parts(long[] nchw, int layout) {
    int n = (int) nchw[0];
    int c = (int) nchw[1];
    long pixels = nchw[2] * nchw[3];
    if (layout == ConvLayout.NCHW) {
      throw new IllegalArgumentException("for oneDNN's layouts, not NCHW");
    }
    if (layout != ConvLayout.NHWC) {
      int blocks = (c + layout - 1) / layout;
      Part[] p = new Part[n * blocks];
      for (int i = 0; i < p.length; i++) {
        p[i] = new Part(i / blocks, (long) i * pixels * layout, layout, layout, i % blocks * layout);
      }
      return p;
    }
    // NHWC: enough ranges for every core at batch 1, none narrower than MIN_RANGE channels
    int wanted = Math.max(1, 4 * Parallel.threads() / n);
    int ranges = Math.max(1, Math.min(wanted, c / MIN_RANGE));
    int per = (c + ranges - 1) / ranges;
    ranges = (c + per - 1) / per;
    Part[] p = new Part[n * ranges];
    for (int i = 0; i < p.length; i++) {
      int image = i / ranges;
      int c0 = i % ranges * per;
      p[i] = new Part(image, (long) image * pixels * c + c0, c, Math.min(per, c - c0), c0);
    }
    return p;
  }

  /** A chunk of a task's pixels: {@code m} pixels from {@code p0}, {@code width} floats each, packed in {@code in}. */
  private interface Chunk {
    void accept(float[] in, int m, long p0);
  }

  /**
   * Runs {@code body} on each chunk of {@code part}'s {@code pixels} pixels in turn, read from
   * {@code xb} into the task's scratch slot 0 ({@link Part#chunk} pixels at a time).
   */
  private static void eachChunk(FloatBuffer xb, int xBase, Part part, long pixels, Chunk body) {
    int width = part.width();
    int chunk = part.chunk(pixels);
    float[] in = Scratch.floats(0, chunk * width);
    for (long p0 = 0; p0 < pixels; p0 += chunk) {
      int m = (int) Math.min(chunk, pixels - p0);
      long at = xBase + part.base() + p0 * part.stride();
      if (width == part.stride()) {
        xb.get((int) at, in, 0, m * width);
      } else {
        for (int i = 0; i < m; i++) {
          xb.get((int) (at + (long) i * part.stride()), in, i * width, width);
        }
      }
      body.accept(in, m, p0);
    }
  }

  /**
   * The mean of each channel of {@code x} ({@code [n, c, h, w]} as {@code nchw} gives it, in
   * {@code layout}, not NCHW, dense from float {@code xBase}) over its {@code h x w} map, into
   * {@code ob} from float {@code oBase} as NCHW {@code [n, c, 1, 1]}.
   */
  static void means(FloatBuffer xb, int xBase, long[] nchw, int layout, FloatBuffer ob, int oBase) {
    int c = (int) nchw[1];
    long pixels = nchw[2] * nchw[3];
    Part[] parts = parts(nchw, layout);
    Parallel.forEach(parts.length, task -> {
      Part part = parts[task];
      int width = part.width();
      float[] sum = Scratch.floats(1, width);
      double[] total = new double[width];
      eachChunk(xb, xBase, part, pixels, (in, m, p0) -> {
        System.arraycopy(in, 0, sum, 0, width);
        for (int i = 1; i < m; i++) {
          int row = i * width;
          for (int q = 0; q < width; q++) {
            sum[q] += in[row + q];
          }
        }
        for (int q = 0; q < width; q++) {
          total[q] += sum[q];
        }
      });
      float[] mean = Scratch.floats(2, width);
      int real = Math.min(width, c - part.first());
      for (int q = 0; q < real; q++) {
        mean[q] = (float) (total[q] / pixels);
      }
      ob.put(oBase + part.image() * c + part.first(), mean, 0, real);
    });
  }

  /**
   * {@code out = x * s}, each channel of each image times its factor: {@code x} ({@code [n, c, h,
   * w]} as {@code nchw} gives it, in {@code layout}, not NCHW, dense from float {@code xBase}),
   * {@code s} the factors, {@code [n, c]} (or {@code [c]} for every image when {@code perImage} is
   * false) from float {@code sBase}, {@code out} dense from float {@code oBase} in {@code
   * outLayout}: {@code layout}, or NCHW.
   */
  static void scale(FloatBuffer xb, int xBase, long[] nchw, int layout, FloatBuffer sb, int sBase, boolean perImage,
      FloatBuffer ob, int oBase, int outLayout) {
    if (outLayout != layout && outLayout != ConvLayout.NCHW) {
      throw new IllegalArgumentException("scales from oneDNN's layout into it or into NCHW; not from "
          + ConvLayout.name(layout) + " into " + ConvLayout.name(outLayout));
    }
    int c = (int) nchw[1];
    long pixels = nchw[2] * nchw[3];
    boolean nchwOut = outLayout == ConvLayout.NCHW;
    Part[] parts = parts(nchw, layout);
    Parallel.forEach(parts.length, task -> {
      Part part = parts[task];
      int width = part.width();
      float[] factor = Scratch.floats(1, width);
      float[] channel = nchwOut ? Scratch.floats(2, part.chunk(pixels)) : null;
      int real = Math.min(width, c - part.first());
      // a blocked layout's padded channels: zero times zero
      Arrays.fill(factor, 0, width, 0f);
      sb.get(sBase + (perImage ? part.image() * c : 0) + part.first(), factor, 0, real);
      eachChunk(xb, xBase, part, pixels, (in, m, p0) -> {
        for (int i = 0; i < m; i++) {
          int row = i * width;
          for (int q = 0; q < width; q++) {
            in[row + q] *= factor[q];
          }
        }
        if (nchwOut) {
          // each real channel a run of its plane
          for (int q = 0; q < real; q++) {
            for (int i = 0; i < m; i++) {
              channel[i] = in[i * width + q];
            }
            ob.put((int) (oBase + ((long) part.image() * c + part.first() + q) * pixels + p0), channel, 0, m);
          }
          return;
        }
        long at = oBase + part.base() + p0 * part.stride();
        if (width == part.stride()) {
          ob.put((int) at, in, 0, m * width);
        } else {
          for (int i = 0; i < m; i++) {
            ob.put((int) (at + (long) i * part.stride()), in, i * width, width);
          }
        }
      });
    });
  }
}
