// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.lang.ref.Reference;
import java.nio.FloatBuffer;
import java.util.Collection;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DefaultParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's dense layer configuration (same parameters: {@code W [in, out]} in F order, which is
 * PyTorch's {@code [out, in]} row-major, and {@code b}), computed by {@link Gemm} when the
 * convolutions' products run on MKL: {@code z^T = W^T x^T} (the weight matrix as the row-major
 * left operand), then one pass that transposes, adds the bias and applies a fused ReLU.
 * Otherwise, and for what it does not cover (masks, layer norm, other data types), it is DL4J's
 * layer unchanged.
 *
 * <p>Measured here (README, "Performance"): VGG16's 25088 -> 4096 layer, batch 1, 38.8 ms on DL4J
 * (ND4J's OpenBLAS) against 10.1 ms; at batch 8 43.7 against 25.4 ms.
 */
public class CnncDense extends DenseLayer {
  private static final long serialVersionUID = 1L;

  /** For deserialization. */
  public CnncDense() {}

  /**
   * The configuration {@code builder} builds, as cnnc's layer. (DL4J's constructor from a builder
   * is private, so the built configuration's fields are copied, as its {@code clone} does.)
   */
  public CnncDense(DenseLayer.Builder builder) {
    DenseLayer built = builder.build();
    try {
      for (Class<?> c = DenseLayer.class; c != Object.class; c = c.getSuperclass()) {
        for (java.lang.reflect.Field f : c.getDeclaredFields()) {
          if (!java.lang.reflect.Modifier.isStatic(f.getModifiers())) {
            f.setAccessible(true);
            f.set(this, f.get(built));
          }
        }
      }
    } catch (IllegalAccessException e) {
      throw new IllegalStateException("cannot copy DL4J's dense configuration", e);
    }
  }

  @Override
  public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> listeners, int index,
      INDArray params, boolean initialize, DataType dataType) {
    return Wiring.wire(new Impl(conf, dataType), conf, listeners, index, params, initialize);
  }

  /** The layer itself. */
  public static class Impl extends org.deeplearning4j.nn.layers.feedforward.dense.DenseLayer {
    private static final long serialVersionUID = 1L;

    /** The output of the last training forward pass, when a ReLU is fused in (its backward needs it). */
    private INDArray lastOutput;

    /** Whether the last forward pass was computed here (so backward is too), not by DL4J. */
    private boolean ours;

    public Impl(NeuralNetConfiguration conf, DataType dataType) {
      super(conf, dataType);
    }

    /**
     * Whether this pass can run on {@link Gemm}: a batched library (MKL or cnnc's product), float,
     * no mask, no layer norm, a 2-d input.
     */
    private boolean covered() {
      return Gemm.library().batched() && input != null && input.rank() == 2
          && input.dataType() == DataType.FLOAT && maskArray == null && !hasLayerNorm()
          && getParam(DefaultParamInitializer.WEIGHT_KEY).dataType() == DataType.FLOAT;
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
      assertInputSet(false);
      IActivation fn = layerConf().getActivationFn();
      boolean relu = CnncRelu.plain(fn);
      ours = covered() && (relu || fn instanceof ActivationIdentity);
      if (!ours) {
        lastOutput = null;
        return super.activate(training, mgr);
      }
      applyDropOutIfNecessary(training, mgr);
      INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.FF_WORKING_MEM);
      INDArray w = getParamWithNoise(DefaultParamInitializer.WEIGHT_KEY, training, mgr);
      INDArray bias = hasBias() ? getParamWithNoise(DefaultParamInitializer.BIAS_KEY, training, mgr) : null;
      long b = x.size(0);
      long out = w.size(1);
      if (x.size(1) != w.size(0)) {
        throw new IllegalArgumentException("dense " + layerId() + ": input has " + x.size(1) + " features, W expects "
            + w.size(0));
      }
      INDArray zt = mgr.createUninitialized(ArrayType.FF_WORKING_MEM, DataType.FLOAT, new long[] {out, b}, 'c');
      Gemm.gemm(w.transpose(), x, zt, false, true, 1.0, 0.0);
      INDArray z = mgr.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT, new long[] {b, out}, 'c');
      transpose(zt, z, bias == null ? null : ChannelKernels.floats(bias), relu);
      lastOutput = training && relu ? z : null;
      return z;
    }

    /** {@code z[i][j] = f(zt[j][i] + bias[j])}, f a ReLU when {@code relu}; both C-ordered. */
    private static void transpose(INDArray zt, INDArray z, float[] bias, boolean relu) {
      int out = (int) zt.size(0);
      int b = (int) zt.size(1);
      float[] t = new float[out * b];
      float[] r = new float[out * b];
      FloatBuffer src = zt.data().asNioFloat();
      src.get((int) zt.offset(), t, 0, t.length);
      for (int j = 0; j < out; j++) {
        float add = bias == null ? 0f : bias[j];
        for (int i = 0; i < b; i++) {
          float v = t[j * b + i] + add;
          r[i * out + j] = relu ? Math.max(v, 0f) : v;
        }
      }
      z.data().asNioFloat().put((int) z.offset(), r, 0, r.length);
      Reference.reachabilityFence(zt);
      Reference.reachabilityFence(z);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
      if (!ours) {
        return super.backpropGradient(epsilon, mgr);
      }
      assertInputSet(true);
      IActivation fn = layerConf().getActivationFn();
      INDArray delta;
      if (fn instanceof ActivationIdentity) {
        delta = ConvGemm.contiguous(epsilon, mgr, ArrayType.BP_WORKING_MEM);
      } else if (lastOutput != null) {
        delta = CnncRelu.reluBackprop(lastOutput, ConvGemm.contiguous(epsilon, mgr, ArrayType.BP_WORKING_MEM), mgr,
            ArrayType.BP_WORKING_MEM);
      } else {
        throw new IllegalStateException("backprop before a training forward pass " + layerId());
      }
      INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.BP_WORKING_MEM);
      INDArray w = getParamWithNoise(DefaultParamInitializer.WEIGHT_KEY, true, mgr);
      Gradient gradient = new DefaultGradient();
      if (hasBias()) {
        INDArray biasGrad = gradientViews.get(DefaultParamInitializer.BIAS_KEY);
        delta.sum(biasGrad, 0);
        gradient.gradientForVariable().put(DefaultParamInitializer.BIAS_KEY, biasGrad);
      }
      // dW^T [out, in] = delta^T x, into the F-ordered [in, out] gradient seen row-major
      INDArray wGrad = gradientViews.get(DefaultParamInitializer.WEIGHT_KEY);
      Gemm.gemm(delta, x, wGrad.transpose(), true, false, 1.0, 0.0);
      gradient.gradientForVariable().put(DefaultParamInitializer.WEIGHT_KEY, wGrad);
      INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, DataType.FLOAT, x.shape(), 'c');
      Gemm.gemm(delta, w.transpose(), dx, false, false, 1.0, 0.0);
      weightNoiseParams.clear();
      return new Pair<>(gradient, backpropDropOutIfPresent(dx));
    }
  }
}
