// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * PyTorch's {@code MaxPool2d} (kernel, stride, padding, dilation, {@code ceil_mode}) on float
 * NCHW maps, in Java: each window is clipped to the input (padding never wins, as PyTorch's -inf
 * padding never does), the output size is PyTorch's, and training keeps each output's argmax so
 * the backward pass is one scatter. One task per map plane; with the Vector API ({@link Vectors})
 * the plane is pooled by {@link VectorPool}, with the same results. DL4J's subsampling layer needs a
 * padding layer or its Same mode for ceil mode, and its backward took about 190 ms of a GoogLeNet
 * training step.
 */
public class CnncMaxPool extends SubsamplingLayer {
  private static final long serialVersionUID = 1L;

  @JsonProperty private boolean ceil;

  /** For deserialization. */
  public CnncMaxPool() {}

  public CnncMaxPool(int[] kernel, int[] stride, int[] padding, int[] dilation, boolean ceil) {
    super(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(kernel).stride(stride).padding(padding)
        .dilation(dilation).convolutionMode(ConvolutionMode.Truncate));
    this.ceil = ceil;
  }

  public boolean isCeil() {
    return ceil;
  }

  /** PyTorch's output size along one axis (the registry's formula, {@link org.cnnc.compiler.shape.Ops#window}). */
  static long outSize(long in, int k, int s, int p, int d, boolean ceil) {
    return org.cnnc.compiler.shape.Ops.window(in, k, s, p, d, ceil);
  }


  @Override
  public InputType getOutputType(int layerIndex, InputType inputType) {
    InputType.InputTypeConvolutional in = (InputType.InputTypeConvolutional) inputType;
    int[] k = getKernelSize();
    int[] s = getStride();
    int[] p = getPadding();
    int[] d = getDilation();
    return InputType.convolutional(outSize(in.getHeight(), k[0], s[0], p[0], d[0], ceil),
        outSize(in.getWidth(), k[1], s[1], p[1], d[1], ceil), in.getChannels());
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new Impl(conf, dataType), conf, listeners, index, params, initialize);
  }

  /** The layer itself. */
  public static class Impl extends org.deeplearning4j.nn.layers.convolution.subsampling.SubsamplingLayer {
    private static final long serialVersionUID = 1L;
    /** About how many floats of input planes inference reads (and pools) at once: 128 KB, in a core's L2. */
    static final int GROUP_FLOATS = 1 << 15;
    /** Each output's argmax in its input plane, from the last training forward pass. */
    private int[] argmax;
    /** The argmax array of earlier passes, reused while the output size stays the same. */
    private int[] argmaxBuffer = new int[0];
    /** The vector kernel's geometry for the last input size, when {@link Vectors#on()}. */
    private transient VectorPool pool;

    /**
     * The window position PyTorch's scan keeps for the window's maximum {@code best} (row by row,
     * replacing the kept value only by a greater one or a NaN): the first position holding
     * {@code best}, or the last NaN when {@code best} is NaN.
     */
    private static int argmaxOf(float[] in, float best, int y0, int x0, int i0, int i1, int j0, int j1, int w, int d0,
        int d1) {
      if (best != best) {
        for (int i = i1 - 1; i >= i0; i--) {
          int row = (y0 + i * d0) * w + x0;
          for (int j = j1 - 1; j >= j0; j--) {
            if (in[row + j * d1] != in[row + j * d1]) {
              return row + j * d1;
            }
          }
        }
      }
      for (int i = i0; i < i1; i++) {
        int row = (y0 + i * d0) * w + x0;
        for (int j = j0; j < j1; j++) {
          if (in[row + j * d1] == best) {
            return row + j * d1;
          }
        }
      }
      throw new IllegalStateException("no window position holds the window's maximum");
    }

    /** For each output along an axis, the first and one-past-last kernel taps that fall inside the input. */
    private static void taps(int outs, int s, int p, int d, int k, int size, int[] lo, int[] hi) {
      for (int o = 0; o < outs; o++) {
        int start = o * s - p;
        lo[o] = start >= 0 ? 0 : (-start + d - 1) / d;
        hi[o] = Math.min(k, (size - start + d - 1) / d);
      }
    }

    public Impl(NeuralNetConfiguration conf, DataType dataType) {
      super(conf, dataType);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
      assertInputSet(false);
      CnncMaxPool c = (CnncMaxPool) layerConf();
      int[] k = c.getKernelSize();
      int[] s = c.getStride();
      int[] p = c.getPadding();
      int[] d = c.getDilation();
      INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.FF_WORKING_MEM);
      if (!ChannelKernels.direct(x)) {
        throw new UnsupportedOperationException("cnnc's max pooling takes float maps; got " + x.dataType()
            + " (build with NetBuilder.Kernels.DL4J) " + layerId());
      }
      int b = (int) x.size(0);
      int ch = (int) x.size(1);
      int h = (int) x.size(2);
      int w = (int) x.size(3);
      int oh = (int) outSize(h, k[0], s[0], p[0], d[0], c.isCeil());
      int ow = (int) outSize(w, k[1], s[1], p[1], d[1], c.isCeil());
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(), new long[] {b, ch, oh, ow}, 'c');
      int[] arg = null;
      if (training) {
        if (argmaxBuffer.length != b * ch * oh * ow) {
          argmaxBuffer = new int[b * ch * oh * ow];
        }
        arg = argmaxBuffer;
      }
      // each output's taps inside the input, per axis: [lo, hi)
      int[] ylo = new int[oh];
      int[] yhi = new int[oh];
      int[] xlo = new int[ow];
      int[] xhi = new int[ow];
      taps(oh, s[0], p[0], d[0], k[0], h, ylo, yhi);
      taps(ow, s[1], p[1], d[1], k[1], w, xlo, xhi);
      FloatBuffer xb = x.data().asNioFloat();
      FloatBuffer ob = out.data().asNioFloat();
      int xBase = (int) x.offset();
      int oBase = (int) out.offset();
      // locals, not the int[] fields: stores into arg would keep the JIT from hoisting their loads
      final int s0 = s[0];
      final int s1 = s[1];
      final int p0 = p[0];
      final int p1 = p[1];
      final int d0 = d[0];
      final int d1 = d[1];
      final int[] args = arg;
      if (Vectors.on() && VectorPool.fits(h, w)) {
        if (pool == null || pool.h != h || pool.w != w) {
          pool = new VectorPool(h, w, k, s, p, d, oh, ow);
        }
        VectorPool vp = pool;
        if (args == null && vp.separable) {
          // a task per run of planes: one look-up of the thread's arrays for many small planes,
          // and the planes read and written in groups of about GROUP_FLOATS, one buffer copy each
          // way per group (a copy per plane, or per row, cost more than the maxima on small maps)
          int planes = b * ch;
          int chunk = Math.max(1, planes / (8 * Parallel.threads()));
          int group = Math.max(1, GROUP_FLOATS / (h * w));
          Parallel.forEach((planes + chunk - 1) / chunk, part -> {
            float[] plane0 = Scratch.floats(0, vp.inferenceSize());
            float[] res = Scratch.floats(1, oh * ow + VectorPool.outputSlack());
            float[] work1 = Scratch.floats(2, vp.inferenceSize());
            float[] work2 = Scratch.floats(3, vp.inferenceSize());
            float[] ins = Scratch.floats(4, group * h * w);
            float[] outs = Scratch.floats(5, group * oh * ow);
            vp.startInference(plane0);
            int end = Math.min(planes, (part + 1) * chunk);
            for (int first = part * chunk; first < end; first += group) {
              int count = Math.min(group, end - first);
              xb.get(xBase + first * h * w, ins, 0, count * h * w);
              for (int i = 0; i < count; i++) {
                vp.infer(ins, i * h * w, plane0, res, work1, work2);
                System.arraycopy(res, 0, outs, i * oh * ow, oh * ow);
              }
              ob.put(oBase + first * oh * ow, outs, 0, count * oh * ow);
            }
          });
          argmax = null;
          return out;
        }
        Parallel.forEach(b * ch, plane -> {
          float[] in = Scratch.floats(0, Math.max(h * w, oh * ow));
          float[] padded = Scratch.floats(1, vp.paddedSize());
          float[] best = Scratch.floats(2, vp.outputSize());
          xb.get(xBase + plane * h * w, in, 0, h * w);
          vp.pad(in, 0, padded);
          if (args == null) {
            vp.max(padded, best);
          } else {
            float[] at = Scratch.floats(3, vp.outputSize());
            vp.maxWithArgmax(padded, best, at);
            for (int oy = 0; oy < oh; oy++) {
              for (int ox = 0; ox < ow; ox++) {
                args[(plane * oh + oy) * ow + ox] = (int) at[oy * vp.owv + ox];
              }
            }
          }
          for (int oy = 0; oy < oh; oy++) {
            System.arraycopy(best, oy * vp.owv, in, oy * ow, ow);
          }
          ob.put(oBase + plane * oh * ow, in, 0, oh * ow);
        });
        argmax = arg;
        return out;
      }
      Parallel.forEach(b * ch, plane -> {
        float[] in = Scratch.floats(0, h * w);
        float[] res = Scratch.floats(1, oh * ow);
        float[] rows = Scratch.floats(2, w);
        xb.get(xBase + plane * h * w, in, 0, h * w);
        // separable: the max over the window's rows, for every column, then over its columns;
        // Math.max lets a NaN win, as PyTorch's does
        for (int oy = 0; oy < oh; oy++) {
          int y0 = oy * s0 - p0;
          int i0 = ylo[oy];
          int i1 = yhi[oy];
          System.arraycopy(in, (y0 + i0 * d0) * w, rows, 0, w);
          for (int i = i0 + 1; i < i1; i++) {
            int row = (y0 + i * d0) * w;
            for (int q = 0; q < w; q++) {
              rows[q] = Math.max(rows[q], in[row + q]);
            }
          }
          for (int ox = 0; ox < ow; ox++) {
            int x0 = ox * s1 - p1;
            int j0 = xlo[ox];
            int j1 = xhi[ox];
            float best = rows[x0 + j0 * d1];
            for (int j = j0 + 1; j < j1; j++) {
              best = Math.max(best, rows[x0 + j * d1]);
            }
            res[oy * ow + ox] = best;
            if (args != null) {
              args[(plane * oh + oy) * ow + ox] = argmaxOf(in, best, y0, x0, i0, i1, j0, j1, w, d0, d1);
            }
          }
        }
        ob.put(oBase + plane * oh * ow, res, 0, oh * ow);
      });
      argmax = arg;
      return out;
    }

    /**
     * The inference executor's pass over an activation in oneDNN's layout ({@link ConvLayout}'s
     * codes, not NCHW) of shape {@code xShape}: the pooled activation into {@code out}, in the same
     * layout or in NCHW, the same bits as {@link #activate} on the NCHW activation ({@link LaidPool}).
     *
     * @param x dense floats, of the shape {@link ConvLayout#rows} gives
     * @param out NCHW floats (a strided slice is written through a dense copy), or dense floats of
     *     the shape {@link ConvLayout#rows} gives
     * @param cap the activation of the conv that wrote {@code x}, applied to the pooled values
     *     instead ({@link GemmConvolutionLayer#poolableCap}; 0: none)
     */
    public void forwardLaid(INDArray x, long[] xShape, int xLayout, INDArray out, int outLayout, float cap,
        LayerWorkspaceMgr mgr) {
      CnncMaxPool c = (CnncMaxPool) layerConf();
      int[] k = c.getKernelSize();
      int[] s = c.getStride();
      int[] p = c.getPadding();
      int[] d = c.getDilation();
      int oh = (int) outSize(xShape[2], k[0], s[0], p[0], d[0], c.isCeil());
      int ow = (int) outSize(xShape[3], k[1], s[1], p[1], d[1], c.isCeil());
      if (!ChannelKernels.direct(x)) {
        throw new IllegalArgumentException("laid pooling reads a dense float array " + layerId());
      }
      boolean vectors = Vectors.on();
      ChannelKernels.intoDense(out, mgr, target -> LaidPool.pool(x.data().asNioFloat(), (int) x.offset(), xShape,
          xLayout, target.data().asNioFloat(), (int) target.offset(), outLayout, oh, ow, k, s, p, d, cap, vectors));
      argmax = null;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
      assertInputSet(true);
      if (argmax == null) {
        throw new IllegalStateException("backprop before a training forward pass " + layerId());
      }
      INDArray dy = ConvGemm.contiguous(epsilon, mgr, ArrayType.BP_WORKING_MEM);
      int b = (int) input.size(0);
      int ch = (int) input.size(1);
      int hw = (int) (input.size(2) * input.size(3));
      int outs = (int) (dy.size(2) * dy.size(3));
      INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, input.dataType(), input.shape(), 'c');
      FloatBuffer db = dy.data().asNioFloat();
      FloatBuffer xb = dx.data().asNioFloat();
      int dBase = (int) dy.offset();
      int xBase = (int) dx.offset();
      int[] arg = argmax;
      Parallel.forEach(b * ch, plane -> {
        float[] g = Scratch.floats(0, outs);
        float[] res = Scratch.floats(1, hw);
        Arrays.fill(res, 0, hw, 0f);
        db.get(dBase + plane * outs, g, 0, outs);
        for (int o = 0; o < outs; o++) {
          res[arg[plane * outs + o]] += g[o];
        }
        xb.put(xBase + plane * hw, res, 0, hw);
      });
      return new Pair<>(new DefaultGradient(), dx);
    }
  }
}
