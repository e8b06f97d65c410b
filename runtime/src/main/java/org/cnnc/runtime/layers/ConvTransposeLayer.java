// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.Deconvolution2DLayer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The layer behind {@link ConvTranspose}, PyTorch's transposed convolution computed directly:
 * input pixel {@code (i, j)} of channel {@code ci} (group {@code g}) adds
 * {@code x * W[ci, co, a, b]} to output {@code (i * s - p + a * d, j * s - p + b * d)} of channel
 * {@code g * out/groups + co}, where that lies in the output; then the bias. Backward: the input's
 * gradient gathers the same products (a convolution of the output's gradient), the weights'
 * gradient sums {@code x * dy} over the batch and positions, the bias's sums {@code dy}. The
 * activation is the identity (the registry's op has none).
 */
public class ConvTransposeLayer extends Deconvolution2DLayer {
  private static final long serialVersionUID = 1L;

  public ConvTransposeLayer(NeuralNetConfiguration conf, DataType dataType) {
    super(conf, dataType);
  }

  private ConvTranspose transposed() {
    return (ConvTranspose) layerConf();
  }

  /** The geometry of one pass: sizes, kernel, stride, padding, dilation, groups. */
  private record Geo(int n, int cin, int ih, int iw, int cout, int oh, int ow, int kh, int kw, int sh, int sw, int ph,
      int pw, int dh, int dw, int groups) {
    int inG() {
      return cin / groups;
    }

    int outG() {
      return cout / groups;
    }
  }

  private Geo geo(INDArray x) {
    ConvTranspose c = transposed();
    int[] k = c.getKernelSize();
    int[] s = c.getStride();
    int[] p = c.getPadding();
    int[] d = c.getDilation();
    int[] op = c.getOutputPadding();
    int ih = (int) x.size(2);
    int iw = (int) x.size(3);
    int cin = (int) x.size(1);
    if (cin != c.getNIn() * c.getGroups()) {
      throw new DL4JInvalidInputException(layerId() + ": input has " + cin + " channels, expected "
          + c.getNIn() * c.getGroups());
    }
    int oh = Math.toIntExact(org.cnnc.compiler.shape.Ops.transposedSize(ih, k[0], s[0], p[0], op[0], d[0]));
    int ow = Math.toIntExact(org.cnnc.compiler.shape.Ops.transposedSize(iw, k[1], s[1], p[1], op[1], d[1]));
    return new Geo((int) x.size(0), cin, ih, iw, (int) c.getNOut(), oh, ow, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1],
        c.getGroups());
  }

  private static double[] flat(INDArray a) {
    return a.dup('c').data().asDouble();
  }

  @Override
  protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr mgr) {
    assertInputSet(false);
    Geo g = geo(input);
    double[] x = flat(input);
    double[] w = flat(getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, training, mgr));
    double[] b = hasBias() ? flat(getParamWithNoise(ConvolutionParamInitializer.BIAS_KEY, training, mgr)) : null;
    double[] y = new double[Math.multiplyExact(Math.multiplyExact(g.n, g.cout), g.oh * g.ow)];
    int inG = g.inG();
    int outG = g.outG();
    for (int n = 0; n < g.n; n++) {
      for (int ci = 0; ci < g.cin; ci++) {
        int group = ci / inG;
        for (int i = 0; i < g.ih; i++) {
          for (int j = 0; j < g.iw; j++) {
            double v = x[((n * g.cin + ci) * g.ih + i) * g.iw + j];
            if (v == 0) {
              continue;
            }
            for (int co = 0; co < outG; co++) {
              int yBase = (n * g.cout + group * outG + co) * g.oh;
              int wBase = (ci * outG + co) * g.kh;
              for (int a = 0; a < g.kh; a++) {
                int oi = i * g.sh - g.ph + a * g.dh;
                if (oi < 0 || oi >= g.oh) {
                  continue;
                }
                for (int bb = 0; bb < g.kw; bb++) {
                  int oj = j * g.sw - g.pw + bb * g.dw;
                  if (oj >= 0 && oj < g.ow) {
                    y[(yBase + oi) * g.ow + oj] += v * w[(wBase + a) * g.kw + bb];
                  }
                }
              }
            }
          }
        }
      }
    }
    if (b != null) {
      int plane = g.oh * g.ow;
      for (int n = 0; n < g.n; n++) {
        for (int co = 0; co < g.cout; co++) {
          int base = (n * g.cout + co) * plane;
          for (int q = 0; q < plane; q++) {
            y[base + q] += b[co];
          }
        }
      }
    }
    INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, input.dataType(), new long[] {g.n, g.cout, g.oh, g.ow},
        'c');
    out.assign(Nd4j.create(y, new long[] {g.n, g.cout, g.oh, g.ow}, 'c'));
    return new Pair<>(out, null);
  }

  @Override
  public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
    applyDropOutIfNecessary(training, mgr);
    return preOutput(training, false, mgr).getFirst();
  }

  @Override
  public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
    assertInputSet(true);
    Geo g = geo(input);
    double[] x = flat(input);
    double[] w = flat(getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, true, mgr));
    double[] dy = flat(epsilon);
    double[] dx = new double[x.length];
    double[] dw = new double[w.length];
    int inG = g.inG();
    int outG = g.outG();
    for (int n = 0; n < g.n; n++) {
      for (int ci = 0; ci < g.cin; ci++) {
        int group = ci / inG;
        for (int i = 0; i < g.ih; i++) {
          for (int j = 0; j < g.iw; j++) {
            int xi = ((n * g.cin + ci) * g.ih + i) * g.iw + j;
            double v = x[xi];
            double acc = 0;
            for (int co = 0; co < outG; co++) {
              int yBase = (n * g.cout + group * outG + co) * g.oh;
              int wBase = (ci * outG + co) * g.kh;
              for (int a = 0; a < g.kh; a++) {
                int oi = i * g.sh - g.ph + a * g.dh;
                if (oi < 0 || oi >= g.oh) {
                  continue;
                }
                for (int bb = 0; bb < g.kw; bb++) {
                  int oj = j * g.sw - g.pw + bb * g.dw;
                  if (oj >= 0 && oj < g.ow) {
                    double gy = dy[(yBase + oi) * g.ow + oj];
                    int wi = (wBase + a) * g.kw + bb;
                    acc += gy * w[wi];
                    dw[wi] += gy * v;
                  }
                }
              }
            }
            dx[xi] = acc;
          }
        }
      }
    }
    Gradient gradient = new DefaultGradient();
    if (hasBias()) {
      double[] db = new double[g.cout];
      int plane = g.oh * g.ow;
      for (int n = 0; n < g.n; n++) {
        for (int co = 0; co < g.cout; co++) {
          int base = (n * g.cout + co) * plane;
          double s = 0;
          for (int q = 0; q < plane; q++) {
            s += dy[base + q];
          }
          db[co] += s;
        }
      }
      INDArray bGrad = gradientViews.get(ConvolutionParamInitializer.BIAS_KEY);
      bGrad.assign(Nd4j.create(db, bGrad.shape(), 'c'));
      gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, bGrad);
    }
    INDArray wGrad = gradientViews.get(ConvolutionParamInitializer.WEIGHT_KEY);
    wGrad.assign(Nd4j.create(dw, new long[] {dw.length}, 'c').reshape('c', wGrad.shape()));
    gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, wGrad, 'c');
    weightNoiseParams.clear();
    INDArray dxArr = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, input.dataType(), input.shape(), 'c');
    dxArr.assign(Nd4j.create(dx, input.shape(), 'c'));
    return new Pair<>(gradient, backpropDropOutIfPresent(dxArr));
  }
}
