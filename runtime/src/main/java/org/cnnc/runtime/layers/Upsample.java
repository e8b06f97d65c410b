// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.inputs.InvalidInputTypeException;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * PyTorch 1.13's {@code nn.Upsample} / {@code F.interpolate} on {@code [N, C, H, W]}, nearest or
 * bilinear, which DL4J lacks (its {@code Upsampling2D} is nearest by an integer factor). Each axis
 * maps output index {@code i} to two source indices and weights, computed in float as PyTorch's
 * CPU kernels compute them ({@link #axis}); the output is
 * {@code sum over (a, b) of wh[a] * ww[b] * x[ih[a], iw[b]]}, and the backward scatters the
 * output's gradient back with the same weights, the exact transpose of the forward.
 */
public class Upsample extends ParameterlessVertex {
  private static final long serialVersionUID = 1L;

  private int height;
  private int width;
  private boolean bilinear;
  private boolean alignCorners;
  /** The scale factors the spec gave (0 when it gave a size): PyTorch then maps by 1 / scale, not in / out. */
  private double scaleH;
  private double scaleW;

  /** For DL4J's configuration serialization. */
  public Upsample() {}

  public Upsample(int height, int width, boolean bilinear, boolean alignCorners, double scaleH, double scaleW) {
    this.height = height;
    this.width = width;
    this.bilinear = bilinear;
    this.alignCorners = alignCorners;
    this.scaleH = scaleH;
    this.scaleW = scaleW;
  }

  public int getHeight() {
    return height;
  }

  public void setHeight(int height) {
    this.height = height;
  }

  public int getWidth() {
    return width;
  }

  public void setWidth(int width) {
    this.width = width;
  }

  public boolean isBilinear() {
    return bilinear;
  }

  public void setBilinear(boolean bilinear) {
    this.bilinear = bilinear;
  }

  public boolean isAlignCorners() {
    return alignCorners;
  }

  public void setAlignCorners(boolean alignCorners) {
    this.alignCorners = alignCorners;
  }

  public double getScaleH() {
    return scaleH;
  }

  public void setScaleH(double scaleH) {
    this.scaleH = scaleH;
  }

  public double getScaleW() {
    return scaleW;
  }

  public void setScaleW(double scaleW) {
    this.scaleW = scaleW;
  }

  @Override
  public Upsample clone() {
    return new Upsample(height, width, bilinear, alignCorners, scaleH, scaleW);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Upsample u && u.height == height && u.width == width && u.bilinear == bilinear
        && u.alignCorners == alignCorners && u.scaleH == scaleH && u.scaleW == scaleW;
  }

  @Override
  public int hashCode() {
    return java.util.Objects.hash(height, width, bilinear, alignCorners, scaleH, scaleW);
  }

  @Override
  public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
      INDArray params, boolean initialize, DataType dataType) {
    return new Impl(graph, name, idx, dataType, this);
  }

  @Override
  public InputType getOutputType(int layerIndex, InputType... in) throws InvalidInputTypeException {
    if (!(in[0] instanceof InputType.InputTypeConvolutional c)) {
      throw new InvalidInputTypeException("upsample needs a feature map, found " + in[0]);
    }
    return InputType.convolutional(height, width, c.getChannels());
  }

  /**
   * One axis's interpolation: for each output index, source indices {@code i0}, {@code i1} and
   * their weights {@code w0}, {@code w1}.
   */
  record Axis(int[] i0, int[] i1, float[] w0, float[] w1) {}

  /**
   * PyTorch 1.13's index arithmetic for one axis of {@code in} to {@code out}, with the scale
   * factor the user gave or 0 (float throughout, as its CPU kernels compute for float tensors).
   * Nearest: {@code min(floor(i * scale), in - 1)} with scale {@code 1 / factor} or {@code in / out},
   * as its kernel for contiguous {@code [N, C, H, W]} computes (its channels-last kernel, which it
   * also takes for a single channel, copies when out = in and takes {@code i >> 1} when
   * out = 2 in: with a factor such as 1.1 or 2.1 the two differ, and cnnc is the former).
   * Bilinear ({@code compute_source_index_and_lambda}): a copy when out = in; else the source
   * coordinate {@code r = scale * i} with {@code align_corners} (scale {@code (in - 1) / (out - 1)}),
   * or {@code max(scale * (i + 0.5) - 0.5, 0)}; {@code i0 = (int) r}, {@code i1 = i0 + 1} unless at
   * the last row, weights {@code 1 - l} and {@code l = clamp(r - i0, 0, 1)}.
   */
  static Axis axis(int in, int out, boolean bilinear, boolean alignCorners, double factor) {
    int[] i0 = new int[out];
    int[] i1 = new int[out];
    float[] w0 = new float[out];
    float[] w1 = new float[out];
    float scale = factor > 0 ? (float) (1.0 / factor) : (float) in / (float) out;
    if (bilinear && alignCorners) {
      scale = out > 1 ? (float) (in - 1) / (float) (out - 1) : 0f;
    }
    for (int i = 0; i < out; i++) {
      if (!bilinear) {
        int src = (int) Math.min((long) Math.floor((float) i * scale), in - 1);
        i0[i] = src;
        i1[i] = src;
        w0[i] = 1f;
      } else if (out == in) {
        i0[i] = i;
        i1[i] = i;
        w0[i] = 1f;
      } else {
        float r = alignCorners ? scale * (float) i : Math.max(scale * ((float) i + 0.5f) - 0.5f, 0f);
        int a = (int) r;
        i0[i] = a;
        i1[i] = a < in - 1 ? a + 1 : a;
        float l = Math.min(Math.max(r - a, 0f), 1f);
        w1[i] = l;
        w0[i] = 1f - l;
      }
    }
    return new Axis(i0, i1, w0, w1);
  }

  /** The vertex. */
  public static class Impl extends ParameterlessVertex.Impl {
    private static final long serialVersionUID = 1L;
    private final Upsample conf;

    public Impl(ComputationGraph graph, String name, int idx, DataType dataType, Upsample conf) {
      super(graph, name, idx, dataType);
      this.conf = conf;
    }

    /** One pass's sizes and both axes' interpolation, the same forward and backward. */
    private record Plan(int planes, int ih, int iw, Axis h, Axis w) {}

    private Plan plan(INDArray x) {
      int ih = (int) x.size(2);
      int iw = (int) x.size(3);
      return new Plan(Math.toIntExact(x.size(0) * x.size(1)), ih, iw,
          axis(ih, conf.height, conf.bilinear, conf.alignCorners, conf.scaleH),
          axis(iw, conf.width, conf.bilinear, conf.alignCorners, conf.scaleW));
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr mgr) {
      if (!canDoForward()) {
        throw new IllegalStateException("upsample " + vertexName + ": input not set");
      }
      INDArray x = inputs[0];
      Plan p = plan(x);
      int ih = p.ih();
      int iw = p.iw();
      int oh = conf.height;
      int ow = conf.width;
      Axis ah = p.h();
      Axis aw = p.w();
      double[] xs = x.dup('c').data().asDouble();
      double[] ys = new double[p.planes() * oh * ow];
      for (int plane = 0; plane < p.planes(); plane++) {
        int xo = plane * ih * iw;
        int yo = plane * oh * ow;
        for (int i = 0; i < oh; i++) {
          int r0 = xo + ah.i0[i] * iw;
          int r1 = xo + ah.i1[i] * iw;
          double h0 = ah.w0[i];
          double h1 = ah.w1[i];
          for (int j = 0; j < ow; j++) {
            int c0 = aw.i0[j];
            int c1 = aw.i1[j];
            double v0 = aw.w0[j] * xs[r0 + c0] + aw.w1[j] * xs[r0 + c1];
            double v1 = aw.w0[j] * xs[r1 + c0] + aw.w1[j] * xs[r1 + c1];
            ys[yo + i * ow + j] = h0 * v0 + h1 * v1;
          }
        }
      }
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(), new long[] {x.size(0), x.size(1), oh, ow}, 'c');
      out.assign(Nd4j.create(ys, new long[] {x.size(0), x.size(1), oh, ow}, 'c'));
      return out;
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr mgr) {
      if (!canDoBackward()) {
        throw new IllegalStateException("upsample " + vertexName + ": no gradient set");
      }
      INDArray x = inputs[0];
      Plan p = plan(x);
      int ih = p.ih();
      int iw = p.iw();
      int oh = conf.height;
      int ow = conf.width;
      Axis ah = p.h();
      Axis aw = p.w();
      double[] gs = epsilon.dup('c').data().asDouble();
      double[] dx = new double[p.planes() * ih * iw];
      for (int plane = 0; plane < p.planes(); plane++) {
        int xo = plane * ih * iw;
        int yo = plane * oh * ow;
        for (int i = 0; i < oh; i++) {
          int r0 = xo + ah.i0[i] * iw;
          int r1 = xo + ah.i1[i] * iw;
          double h0 = ah.w0[i];
          double h1 = ah.w1[i];
          for (int j = 0; j < ow; j++) {
            double g = gs[yo + i * ow + j];
            int c0 = aw.i0[j];
            int c1 = aw.i1[j];
            double g0 = h0 * g;
            double g1 = h1 * g;
            dx[r0 + c0] += g0 * aw.w0[j];
            dx[r0 + c1] += g0 * aw.w1[j];
            dx[r1 + c0] += g1 * aw.w0[j];
            dx[r1 + c1] += g1 * aw.w1[j];
          }
        }
      }
      INDArray out = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), x.shape(), 'c');
      out.assign(Nd4j.create(dx, x.shape(), 'c'));
      return new Pair<>(null, new INDArray[] {out});
    }

    @Override
    public String toString() {
      return "Upsample(" + vertexName + ", " + conf.height + "x" + conf.width + (conf.bilinear ? ", bilinear" : ", nearest")
          + (conf.alignCorners ? ", align_corners" : "") + ")";
    }
  }
}
