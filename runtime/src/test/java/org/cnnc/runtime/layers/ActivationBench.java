// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Arrays;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * ReLU6 as the runtime ran it until session 11 (DL4J's activation layer behind
 * {@link SafeActivation}) beside cnnc's one-pass layer ({@link CnncRelu} with
 * {@link Activation#RELU6}), forward and backward together (a training step's share), on
 * MobileNetV2's expanded maps at batch 8; the two take turns, shape by shape, and each figure is
 * the median of {@code iters} runs after 3 warm-up runs. Run with the test classpath and
 * {@code OMP_WAIT_POLICY=PASSIVE}:
 *
 * <pre>ActivationBench [iters 9]</pre>
 */
public final class ActivationBench {
  private ActivationBench() {}

  public static void main(String[] args) {
    int iters = args.length > 0 ? Integer.parseInt(args[0]) : 9;
    long[][] shapes = {{8, 96, 112, 112}, {8, 144, 56, 56}, {8, 192, 28, 28}, {8, 384, 14, 14}, {8, 960, 7, 7}};
    System.out.printf("%-22s %18s %18s %8s%n", "shape", "DL4J's layer ms", "cnnc's ms", "speed-up");
    for (long[] shape : shapes) {
      INDArray x = KernelHarness.randn(1, shape).muli(4);
      INDArray dy = KernelHarness.randn(2, shape);
      double theirs = time(new SafeActivation(Activation.RELU6.getActivationFunction()), x, dy, iters);
      double ours = time(new CnncRelu(Activation.RELU6), x, dy, iters);
      INDArray y = x.ulike();
      INDArray g = x.ulike();
      org.nd4j.linalg.activations.IActivation fn = Activation.RELU6.getActivationFunction();
      double fnOnly = median(iters, () -> {
        fn.getActivation(x.dup(), true);
        fn.backprop(x.dup(), dy.dup());
      });
      double kernels = median(iters, () -> {
        ChannelKernels.clamp(x, y, 6f);
        ChannelKernels.clampBackward(x, dy, g, 6f);
      });
      System.out.printf("%-22s %18.2f %18.2f %7.2fx   functions alone: ND4J %.2f, cnnc %.2f%n", Arrays.toString(shape),
          theirs, ours, theirs / ours, fnOnly, kernels);
    }
  }

  private static double median(int iters, Runnable r) {
    double[] ms = new double[iters];
    for (int i = -3; i < iters; i++) {
      long t = System.nanoTime();
      r.run();
      if (i >= 0) {
        ms[i] = (System.nanoTime() - t) / 1e6;
      }
    }
    Arrays.sort(ms);
    return ms[iters / 2];
  }

  private static double time(Layer conf, INDArray x, INDArray dy, int iters) {
    NeuralNetConfiguration c = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).layer(conf).build();
    org.deeplearning4j.nn.api.Layer l = c.getLayer().instantiate(c, null, 0, null, true, DataType.FLOAT);
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    double[] ms = new double[iters];
    for (int i = -3; i < iters; i++) {
      long t = System.nanoTime();
      l.setInput(x, mgr);
      l.activate(true, mgr);
      l.backpropGradient(dy, mgr);
      if (i >= 0) {
        ms[i] = (System.nanoTime() - t) / 1e6;
      }
    }
    Arrays.sort(ms);
    return ms[iters / 2];
  }
}
