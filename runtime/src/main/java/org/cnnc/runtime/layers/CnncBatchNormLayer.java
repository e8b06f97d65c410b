// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.normalization.BatchNormalization;
import org.deeplearning4j.nn.params.BatchNormalizationParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastAddOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastSubOp;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Batch norm over the channels of {@code [b, c, ...]} (NCHW maps, or {@code [b, c]} after a
 * dense layer), over a {@code [b, c, h*w]} view: for float arrays by {@link ChannelKernels} (two
 * passes each way), otherwise by whole-tensor ND4J ops (reductions along the contiguous last
 * axis, then along the batch, and per-channel broadcasts). The output is
 * {@code x * scale + shift} with {@code scale = gamma / sqrt(var + eps)} and
 * {@code shift = beta - mean * scale}.
 *
 * <p>Training normalizes with the batch statistics (biased variance) and moves the running ones
 * toward them through DL4J's gradient views, as DL4J's own layer does ({@code p -= (1 - decay) *
 * (p - batch)}, applied unscaled by the updater); the running variance takes the unbiased batch
 * variance, as PyTorch's does. Backward: with {@code xhat = (x - mean) / std} and
 * {@code a = gamma / std}, {@code dx = a * dy - a * mean(dy) - a * xhat * mean(dy * xhat)}.
 */
public class CnncBatchNormLayer extends BatchNormalization {
  private static final long serialVersionUID = 1L;
  private static final String GAMMA = BatchNormalizationParamInitializer.GAMMA;
  private static final String BETA = BatchNormalizationParamInitializer.BETA;
  private static final String MEAN = BatchNormalizationParamInitializer.GLOBAL_MEAN;
  private static final String VAR = BatchNormalizationParamInitializer.GLOBAL_VAR;

  /** The last training forward's batch mean and biased variance, per channel, outside any workspace (ND4J path). */
  private INDArray batchMean;
  private INDArray batchVar;
  /** The same from the Java kernel (its path), in double. */
  private double[][] stats;
  /** The output of the last training forward pass, when a ReLU is fused in (its backward needs it). */
  private INDArray lastOutput;

  public CnncBatchNormLayer(NeuralNetConfiguration conf, DataType dataType) {
    super(conf, dataType);
  }

  /** The fused activation's cap ({@link ChannelKernels#NONE}: none; a ReLU; relu6's 6). */
  private float cap() {
    return CnncRelu.cap(layerConf().getActivationFn());
  }

  private boolean relu() {
    return cap() != ChannelKernels.NONE;
  }

  @Override
  public INDArray activate(boolean training, LayerWorkspaceMgr mgr) {
    assertInputSet(false);
    INDArray out = preOutput(input, training ? TrainingMode.TRAIN : TrainingMode.TEST, mgr);
    lastOutput = training && relu() ? out : null;
    return out;
  }

  @Override
  public INDArray preOutput(INDArray in, TrainingMode mode, LayerWorkspaceMgr mgr) {
    INDArray x = ConvGemm.contiguous(in, mgr, ArrayType.FF_WORKING_MEM);
    long b = x.size(0);
    long c = x.size(1);
    INDArray x3 = x.reshape('c', b, c, x.length() / (b * c));
    INDArray out = mgr.createUninitialized(ArrayType.ACTIVATIONS, x.dataType(), x.shape(), 'c');
    INDArray out3 = out.reshape('c', x3.shape());
    boolean direct = ChannelKernels.direct(x, out);
    INDArray mean;
    INDArray var;
    if (mode == TrainingMode.TRAIN && direct) {
      // the Java kernel normalizes in the same read of the input that gives the statistics; the
      // per-channel vectors stay Java arrays (ND4J's small ops cost more than a small layer)
      stats = ChannelKernels.batchNormTraining(x3, ChannelKernels.floats(getParam(GAMMA)),
          ChannelKernels.floats(getParam(BETA)), layerConf().getEps(), cap(), out3);
      batchMean = null;
      batchVar = null;
      return out;
    }
    if (direct) {
      float[] gamma = ChannelKernels.floats(getParam(GAMMA));
      float[] beta = ChannelKernels.floats(getParam(BETA));
      float[] runMean = ChannelKernels.floats(getParam(MEAN));
      float[] runVar = ChannelKernels.floats(getParam(VAR));
      float[] scale = new float[(int) c];
      float[] shift = new float[(int) c];
      for (int ch = 0; ch < c; ch++) {
        scale[ch] = (float) (gamma[ch] / Math.sqrt(runVar[ch] + layerConf().getEps()));
        shift[ch] = (float) (beta[ch] - (double) runMean[ch] * scale[ch]);
      }
      ChannelKernels.affine(x3, scale, shift, cap(), out3);
      return out;
    }
    if (mode == TrainingMode.TRAIN) {
      try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
        INDArray[] m = moments(x3);
        batchMean = m[0].castTo(x.dataType());
        batchVar = m[1].castTo(x.dataType());
      }
      stats = null;
      mean = batchMean;
      var = batchVar;
    } else {
      mean = getParam(MEAN).reshape(c);
      var = getParam(VAR).reshape(c);
    }
    INDArray scale = getParam(GAMMA).reshape(c).mul(invStd(var));
    INDArray shift = getParam(BETA).reshape(c).sub(mean.mul(scale));
    Nd4j.getExecutioner().exec(new BroadcastMulOp(x3, scale, out3, 1));
    Nd4j.getExecutioner().exec(new BroadcastAddOp(out3, shift, out3, 1));
    if (cap() == ChannelKernels.RELU) {
      Transforms.relu(out, false);
    } else if (relu()) {
      Transforms.min(Transforms.max(out, 0.0, false), cap(), false);
    }
    return out;
  }

  /** {@code 1 / sqrt(var + eps)}, per channel. */
  private INDArray invStd(INDArray var) {
    return Transforms.pow(var.add(layerConf().getEps()), -0.5, false);
  }

  /** Each channel's mean and biased variance of {@code x3 [b, c, n]}, in ND4J ops (two passes). */
  private static INDArray[] moments(INDArray x3) {
    long n = x3.size(0) * x3.size(2);
    INDArray mean = x3.sum(2).sum(0).divi(n);
    INDArray centred = x3.dup();
    Nd4j.getExecutioner().exec(new BroadcastSubOp(centred, mean, centred, 1));
    INDArray norms = centred.norm2(2);
    return new INDArray[] {mean, norms.muli(norms).sum(0).divi(n)};
  }

  @Override
  public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr mgr) {
    assertInputSet(true);
    if ((batchMean == null && stats == null) || (relu() && lastOutput == null)) {
      throw new IllegalStateException("backprop before a training forward pass " + layerId());
    }
    INDArray x = ConvGemm.contiguous(input, mgr, ArrayType.BP_WORKING_MEM);
    INDArray eps = ConvGemm.contiguous(epsilon, mgr, ArrayType.BP_WORKING_MEM);
    // a fused ReLU's mask is applied inside the Java kernel; ND4J's path applies it first
    boolean direct = stats != null && ChannelKernels.direct(x, eps) && (!relu() || ChannelKernels.direct(lastOutput));
    INDArray dy = !relu() || direct ? eps : cap() == ChannelKernels.RELU
        ? CnncRelu.reluBackprop(lastOutput, epsilon, mgr, ArrayType.BP_WORKING_MEM)
        : layerConf().getActivationFn().backprop(lastOutput.dup(), epsilon.dup()).getFirst();
    long b = x.size(0);
    long c = x.size(1);
    long[] shape3 = {b, c, x.length() / (b * c)};
    long n = shape3[0] * shape3[2];
    INDArray x3 = x.reshape('c', shape3);
    INDArray dy3 = dy.reshape('c', shape3);
    INDArray dx = mgr.createUninitialized(ArrayType.ACTIVATION_GRAD, x.dataType(), x.shape(), 'c');
    INDArray dx3 = dx.reshape('c', shape3);
    if (direct && ChannelKernels.direct(dx)) {
      float[] g = new float[(int) c];
      float[] bt = new float[(int) c];
      float[] mean = new float[(int) c];
      float[] invStd = new float[(int) c];
      for (int ch = 0; ch < c; ch++) {
        mean[ch] = (float) stats[0][ch];
        invStd[ch] = (float) (1 / Math.sqrt(stats[1][ch] + layerConf().getEps()));
      }
      ChannelKernels.batchNormBackward(x3, dy3, relu() ? lastOutput.reshape('c', shape3) : null, cap(), mean, invStd,
          ChannelKernels.floats(getParam(GAMMA)), dx3, g, bt);
      return gradients(g, bt, n, dx);
    }
    if (batchMean == null) {
      // an input or gradient the Java kernel does not take after a forward pass it took
      batchMean = Nd4j.createFromArray(stats[0]).castTo(x.dataType());
      batchVar = Nd4j.createFromArray(stats[1]).castTo(x.dataType());
    }
    INDArray[] grads = backwardNd4j(x3, dy3, c, n, mgr, dx3);
    return gradients(grads[0], grads[1], c, n, dx);
  }

  /** {@link #gradients(INDArray, INDArray, long, long, INDArray)} from the Java kernel's arrays, in Java. */
  private Pair<Gradient, INDArray> gradients(float[] dGamma, float[] dBeta, long n, INDArray dx) {
    double keep = 1 - layerConf().getDecay();
    float[] runMean = ChannelKernels.floats(getParam(MEAN));
    float[] runVar = ChannelKernels.floats(getParam(VAR));
    float[] gMean = new float[runMean.length];
    float[] gVar = new float[runVar.length];
    for (int ch = 0; ch < gMean.length; ch++) {
      double unbiased = n > 1 ? stats[1][ch] * n / (n - 1) : stats[1][ch];
      gMean[ch] = (float) ((runMean[ch] - stats[0][ch]) * keep);
      gVar[ch] = (float) ((runVar[ch] - unbiased) * keep);
    }
    ChannelKernels.put(dGamma, gradientViews.get(GAMMA));
    ChannelKernels.put(dBeta, gradientViews.get(BETA));
    ChannelKernels.put(gMean, gradientViews.get(MEAN));
    ChannelKernels.put(gVar, gradientViews.get(VAR));
    Gradient gradient = new DefaultGradient();
    gradient.setGradientFor(GAMMA, gradientViews.get(GAMMA));
    gradient.setGradientFor(BETA, gradientViews.get(BETA));
    gradient.setGradientFor(MEAN, gradientViews.get(MEAN));
    gradient.setGradientFor(VAR, gradientViews.get(VAR));
    return new Pair<>(gradient, dx);
  }

  /** The backward pass in ND4J ops (arrays that are not float); fills dx3, returns dGamma and dBeta. */
  private INDArray[] backwardNd4j(INDArray x3, INDArray dy3, long c, long n, LayerWorkspaceMgr mgr, INDArray dx3) {
    long[] shape3 = x3.shape();
    INDArray batchInvStd = invStd(batchVar);
    INDArray xhat = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x3.dataType(), shape3, 'c');
    Nd4j.getExecutioner().exec(new BroadcastSubOp(x3, batchMean, xhat, 1));
    Nd4j.getExecutioner().exec(new BroadcastMulOp(xhat, batchInvStd, xhat, 1));
    INDArray dBeta = dy3.sum(2).sum(0);
    INDArray product = mgr.createUninitialized(ArrayType.BP_WORKING_MEM, x3.dataType(), shape3, 'c');
    Nd4j.getExecutioner().exec(new MulOp(dy3, xhat, product));
    INDArray dGamma = product.sum(2).sum(0);
    INDArray a = getParam(GAMMA).reshape(c).mul(batchInvStd);
    INDArray k1 = a.mul(dGamma).divi(-n);
    INDArray k2 = a.mul(dBeta).divi(-n);
    Nd4j.getExecutioner().exec(new BroadcastMulOp(dy3, a, dx3, 1));
    Nd4j.getExecutioner().exec(new BroadcastMulOp(xhat, k1, product, 1));
    dx3.addi(product);
    Nd4j.getExecutioner().exec(new BroadcastAddOp(dx3, k2, dx3, 1));
    return new INDArray[] {dGamma, dBeta};
  }

  /** The parameter gradients, and the running statistics' moves toward the batch's. */
  private Pair<Gradient, INDArray> gradients(INDArray dGamma, INDArray dBeta, long c, long n, INDArray dx) {
    double keep = 1 - layerConf().getDecay();
    INDArray unbiased = n > 1 ? batchVar.mul((double) n / (n - 1)) : batchVar;
    INDArray gGamma = gradientViews.get(GAMMA);
    INDArray gBeta = gradientViews.get(BETA);
    INDArray gMean = gradientViews.get(MEAN);
    INDArray gVar = gradientViews.get(VAR);
    gGamma.assign(dGamma.reshape(gGamma.shape()));
    gBeta.assign(dBeta.reshape(gBeta.shape()));
    gMean.assign(getParam(MEAN).reshape(c).sub(batchMean).muli(keep).reshape(gMean.shape()));
    gVar.assign(getParam(VAR).reshape(c).sub(unbiased).muli(keep).reshape(gVar.shape()));
    Gradient gradient = new DefaultGradient();
    gradient.setGradientFor(GAMMA, gGamma);
    gradient.setGradientFor(BETA, gBeta);
    gradient.setGradientFor(MEAN, gMean);
    gradient.setGradientFor(VAR, gVar);
    return new Pair<>(gradient, dx);
  }
}
