// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.nio.FloatBuffer;
import java.util.Map;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.AdamUpdater;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;

/**
 * ND4J's Adam (the same configuration, state layout and update), applied by a Java kernel spread
 * over the cores when the gradient and the state are float arrays in host memory: ND4J's
 * {@code adam_updater} op ran on one core here (GoogLeNet's 13.4M parameters: 58 ms a step). The
 * update, as ND4J's: {@code m = b1 m + (1 - b1) g}, {@code v = b2 v + (1 - b2) g^2},
 * {@code g = m alpha / (sqrt(v) + eps)} with {@code alpha = lr sqrt(1 - b2^t) / (1 - b1^t)},
 * t the iteration + 1.
 */
public class CnncAdam extends Adam {
  private static final long serialVersionUID = 1L;

  /** For deserialization. */
  public CnncAdam() {}

  /** The same hyperparameters and learning-rate schedule as {@code adam}. */
  public static CnncAdam of(Adam adam) {
    CnncAdam c = new CnncAdam();
    c.setLearningRate(adam.getLearningRate());
    c.setLearningRateSchedule(adam.getLearningRateSchedule());
    c.setBeta1(adam.getBeta1());
    c.setBeta2(adam.getBeta2());
    c.setEpsilon(adam.getEpsilon());
    return c;
  }

  @Override
  public CnncAdam clone() {
    return of(this);
  }

  @Override
  public GradientUpdater instantiate(INDArray viewArray, boolean initializeViewArray) {
    // as ND4J's Adam lays its state out: the view flat, m then v
    Updater u = new Updater(this);
    INDArray flat = viewArray.reshape(viewArray.length());
    u.setStateViewArray(flat, new long[] {flat.length() / 2}, flat.ordering(), initializeViewArray);
    return u;
  }

  @Override
  public GradientUpdater instantiate(Map<String, INDArray> updaterState, boolean initializeStateArrays) {
    Updater u = new Updater(this);
    u.setState(updaterState, initializeStateArrays);
    return u;
  }

  /** ND4J's Adam updater, with {@link #applyUpdater} in Java when the arrays allow. */
  public static class Updater extends AdamUpdater {
    /** Values per task. */
    private static final int CHUNK = 1 << 15;

    public Updater(Adam config) {
      super(config);
    }

    @Override
    public void applyUpdater(INDArray gradient, int iteration, int epoch) {
      INDArray m = getM();
      INDArray v = getV();
      if (m == null || v == null || !Gemm.onCpu() || !ChannelKernels.contiguousFloats(gradient)
          || !ChannelKernels.contiguousFloats(m) || !ChannelKernels.contiguousFloats(v)
          || m.length() != gradient.length() || v.length() != gradient.length()) {
        super.applyUpdater(gradient, iteration, epoch);
        return;
      }
      Adam c = getConfig();
      float b1 = (float) c.getBeta1();
      float b2 = (float) c.getBeta2();
      float eps = (float) c.getEpsilon();
      double lr = c.getLearningRate(iteration, epoch);
      double alpha = lr * Math.sqrt(1 - Math.pow(c.getBeta2(), iteration + 1)) / (1 - Math.pow(c.getBeta1(), iteration + 1));
      float a = Double.isNaN(alpha) || Double.isInfinite(alpha) || alpha == 0 ? eps : (float) alpha;
      FloatBuffer gb = gradient.data().asNioFloat();
      FloatBuffer mb = m.data().asNioFloat();
      FloatBuffer vb = v.data().asNioFloat();
      int gBase = (int) gradient.offset();
      int mBase = (int) m.offset();
      int vBase = (int) v.offset();
      long length = gradient.length();
      Parallel.forEach((int) ((length + CHUNK - 1) / CHUNK), part -> {
        int at = part * CHUNK;
        int len = (int) Math.min(CHUNK, length - at);
        float[] pg = Scratch.floats(0, len);
        float[] pm = Scratch.floats(1, len);
        float[] pv = Scratch.floats(2, len);
        gb.get(gBase + at, pg, 0, len);
        mb.get(mBase + at, pm, 0, len);
        vb.get(vBase + at, pv, 0, len);
        for (int k = 0; k < len; k++) {
          float g = pg[k];
          float mk = b1 * pm[k] + g * (1 - b1);
          float vk = b2 * pv[k] + g * g * (1 - b2);
          pm[k] = mk;
          pv[k] = vk;
          pg[k] = mk * a / ((float) Math.sqrt(vk) + eps);
        }
        gb.put(gBase + at, pg, 0, len);
        mb.put(mBase + at, pm, 0, len);
        vb.put(vBase + at, pv, 0, len);
      });
    }
  }
}
