// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * Max pooling for inference of an activation in oneDNN's layout ({@link ConvLayout}: NHWC or
 * {@code [n, c / B, h, w, B]}), into the same layout or into NCHW: {@code predict}'s executor
 * runs it between convs that keep their activations in that layout, so that a pool no longer
 * costs the conv before it a conversion to NCHW and the conv after it one back (VGG16's five
 * pools, NiN's and the ResNet stem's).
 *
 * <p>Both layouts hold each pixel's channels (or a block of them) next to each other, so that a
 * row of the map is one run of {@code w * B} floats: the window's maximum over its rows is taken
 * over whole runs at once, whatever the channel count, then over its columns, a shift of {@code
 * j * B} floats per tap (one run again at stride 1, a pixel's {@code B} floats at a time
 * otherwise). The taps are those of the NCHW kernel ({@link VectorPool}), inside the input, and
 * max is order-free ({@code Math.max}: a NaN wins, +0 over -0), so the same bits as pooling the
 * NCHW activation. A blocked layout's padded channels hold zeros, and so do their maxima.
 */
final class LaidPool {
  private LaidPool() {}

  /** About how many floats of input a task reads: 128 KB, in a core's L2 (as {@link CnncMaxPool}'s). */
  private static final int GROUP_FLOATS = 1 << 15;

  /**
   * Pools {@code x} ({@code [n, c, h, w]} as {@code nchw} gives it, in {@code layout}, not NCHW)
   * into {@code out} ({@code [n, c, oh, ow]} in {@code outLayout}: {@code layout}, or NCHW), both
   * dense float arrays of whole activations. Windows of {@code k}, stride {@code s}, padding
   * {@code p}, dilation {@code d}; every window has a tap inside the input (PyTorch's output sizes
   * make sure of it). A ReLU or relu6 of the conv before ({@code cap}, {@link ChannelKernels#NONE}
   * for none) is applied to the maxima, as the conv's pass applies it ({@code max(v, 0)}, then
   * {@code min(v, cap)}): the same bits as pooling its activated output.
   */
  static void pool(FloatBuffer xb, int xBase, long[] nchw, int layout, FloatBuffer ob, int oBase, int outLayout,
      int oh, int ow, int[] k, int[] s, int[] p, int[] d, float cap, boolean vectors) {
    if (layout == ConvLayout.NCHW || outLayout != layout && outLayout != ConvLayout.NCHW) {
      throw new IllegalArgumentException("pools from oneDNN's layout into it or into NCHW; not from "
          + ConvLayout.name(layout) + " into " + ConvLayout.name(outLayout));
    }
    int n = (int) nchw[0];
    int c = (int) nchw[1];
    int h = (int) nchw[2];
    int w = (int) nchw[3];
    int b = layout == ConvLayout.NHWC ? c : layout;
    int blocks = (c + b - 1) / b;
    final int k0 = k[0];
    final int k1 = k[1];
    final int s0 = s[0];
    final int s1 = s[1];
    final int p0 = p[0];
    final int p1 = p[1];
    final int d0 = d[0];
    final int d1 = d[1];
    int run = w * b;
    // the padded row of column maxima: the left padding, the input, what the last window reads past it
    int pw = Math.max(p1 + w, (ow - 1) * s1 + (k1 - 1) * d1 + 1);
    int rowsPerTask = Math.max(1, Math.min(oh, GROUP_FLOATS / Math.max(1, s0 * run)));
    // enough tasks for every core at batch 1
    int tasksWanted = 4 * Parallel.threads();
    if ((long) n * blocks * ((oh + rowsPerTask - 1) / rowsPerTask) < tasksWanted) {
      rowsPerTask = Math.max(1, (int) Math.min(rowsPerTask, (long) oh * n * blocks / tasksWanted));
    }
    int perTask = rowsPerTask;
    int groups = (oh + perTask - 1) / perTask;
    boolean nchwOut = outLayout == ConvLayout.NCHW;
    Parallel.forEach(n * blocks * groups, task -> {
      int plane = task / groups;
      int oy0 = task % groups * perTask;
      int oy1 = Math.min(oh, oy0 + perTask);
      int yLo = Math.max(0, oy0 * s0 - p0);
      int yHi = Math.min(h, (oy1 - 1) * s0 - p0 + (k0 - 1) * d0 + 1);
      float[] in = Scratch.floats(0, (yHi - yLo) * run);
      float[] row = Scratch.floats(1, pw * b);
      float[] res = Scratch.floats(2, (oy1 - oy0) * ow * b);
      xb.get(xBase + (plane * h + yLo) * run, in, 0, (yHi - yLo) * run);
      Arrays.fill(row, 0, pw * b, Float.NEGATIVE_INFINITY);
      for (int oy = oy0; oy < oy1; oy++) {
        int y0 = oy * s0 - p0;
        boolean first = true;
        for (int i = 0; i < k0; i++) {
          int y = y0 + i * d0;
          if (y < 0 || y >= h) {
            continue;
          }
          if (first) {
            System.arraycopy(in, (y - yLo) * run, row, p1 * b, run);
            first = false;
          } else {
            ChannelKernels.maxInto(row, p1 * b, in, (y - yLo) * run, run, vectors);
          }
        }
        int r0 = (oy - oy0) * ow * b;
        if (s1 == 1) {
          System.arraycopy(row, 0, res, r0, ow * b);
          for (int j = 1; j < k1; j++) {
            ChannelKernels.maxInto(res, r0, row, j * d1 * b, ow * b, vectors);
          }
        } else {
          for (int ox = 0; ox < ow; ox++) {
            int o = r0 + ox * b;
            System.arraycopy(row, ox * s1 * b, res, o, b);
            for (int j = 1; j < k1; j++) {
              ChannelKernels.maxInto(res, o, row, (ox * s1 + j * d1) * b, b, vectors);
            }
          }
        }
      }
      int count = (oy1 - oy0) * ow;
      if (cap > 0) {
        ChannelKernels.finish(res, count * b, 1f, 0f, cap);
      }
      if (!nchwOut) {
        ob.put(oBase + (plane * oh + oy0) * ow * b, res, 0, count * b);
        return;
      }
      // into NCHW: each real channel of the block a run of its rows' outputs
      int image = plane / blocks;
      int first = plane % blocks * b;
      float[] channel = Scratch.floats(3, count);
      for (int q = 0; q < b && first + q < c; q++) {
        for (int i = 0; i < count; i++) {
          channel[i] = res[i * b + q];
        }
        ob.put(oBase + ((image * c + first + q) * oh + oy0) * ow, channel, 0, count);
      }
    });
  }

}
