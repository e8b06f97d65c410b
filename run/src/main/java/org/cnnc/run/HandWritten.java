// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The article's networks written by hand in plain DL4J, as a DL4J user would: the yardstick the
 * benchmark compares the generated networks with. (Ceil pooling by Same mode, outputs as
 * OutputLayers with softmax and MCXENT.)
 */
final class HandWritten {
  private HandWritten() {}

  static ComputationGraph build(String model, long seed) {
    GraphBuilder g = new NeuralNetConfiguration.Builder().seed(org.cnnc.runtime.NetBuilder.nd4jSeed(seed)).updater(new Adam(1e-3))
        .weightInit(WeightInit.XAVIER).convolutionMode(ConvolutionMode.Truncate).graphBuilder().addInputs("in");
    switch (model) {
      case "VGG16" -> vgg(g);
      case "NiN" -> nin(g);
      case "GoogLeNet" -> googlenet(g);
      default -> throw new IllegalArgumentException("no hand-written " + model);
    }
    ComputationGraph net = new ComputationGraph(g.build());
    net.init();
    return net;
  }

  private static ConvolutionLayer conv(int out, int k, int s, int p, boolean bias, Activation act) {
    return new ConvolutionLayer.Builder(k, k).stride(s, s).padding(p, p).nOut(out).hasBias(bias).activation(act).build();
  }

  private static SubsamplingLayer maxpool(int k, int s, ConvolutionMode mode) {
    return new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(k, k).stride(s, s).convolutionMode(mode).build();
  }

  private static void vgg(GraphBuilder g) {
    int[][] stages = {{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}};
    String x = "in";
    int i = 0;
    for (int[] st : stages) {
      for (int r = 0; r < st[1]; r++) {
        g.addLayer("c" + i, conv(st[0], 3, 1, 1, true, Activation.RELU), x);
        x = "c" + i++;
      }
      g.addLayer("p" + i, maxpool(2, 2, ConvolutionMode.Truncate), x);
      x = "p" + i++;
    }
    g.addLayer("d1", new DenseLayer.Builder().nOut(4096).activation(Activation.RELU).dropOut(0.5).build(), x);
    g.addLayer("d2", new DenseLayer.Builder().nOut(4096).activation(Activation.RELU).dropOut(0.5).build(), "d1");
    g.addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(1000)
        .activation(Activation.SOFTMAX).build(), "d2");
    g.setOutputs("out").setInputTypes(InputType.convolutional(224, 224, 3));
  }

  private static void nin(GraphBuilder g) {
    int[][] blocks = {{192, 5, 2, 160, 96}, {192, 5, 2, 192, 192}, {192, 3, 1, 192, 10}};
    String x = "in";
    for (int b = 0; b < 3; b++) {
      int[] c = blocks[b];
      g.addLayer("b" + b + "c0", conv(c[0], c[1], 1, c[2], true, Activation.RELU), x);
      g.addLayer("b" + b + "c1", conv(c[3], 1, 1, 0, true, Activation.RELU), "b" + b + "c0");
      g.addLayer("b" + b + "c2", conv(c[4], 1, 1, 0, true, Activation.RELU), "b" + b + "c1");
      x = "b" + b + "c2";
      if (b < 2) {
        g.addLayer("b" + b + "p", maxpool(3, 2, ConvolutionMode.Truncate), x);
        g.addLayer("b" + b + "d", new DropoutLayer.Builder(0.75).build(), "b" + b + "p");
        x = "b" + b + "d";
      }
    }
    g.addLayer("avg", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
    g.addLayer("out", new org.deeplearning4j.nn.conf.layers.LossLayer.Builder(LossFunctions.LossFunction.MCXENT)
        .activation(Activation.SOFTMAX).build(), "avg");
    g.setOutputs("out").setInputTypes(InputType.convolutional(32, 32, 3));
  }

  private static String basic(GraphBuilder g, String name, String in, int out, int k, int s, int p) {
    g.addLayer(name + "c", conv(out, k, s, p, false, Activation.IDENTITY), in);
    g.addLayer(name + "bn", new BatchNormalization.Builder().build(), name + "c");
    g.addLayer(name, new ActivationLayer.Builder().activation(Activation.RELU).build(), name + "bn");
    return name;
  }

  private static String inception(GraphBuilder g, String n, String in, int c1, int c3r, int c3, int c5r, int c5, int pp) {
    String b1 = basic(g, n + "b1", in, c1, 1, 1, 0);
    String b2 = basic(g, n + "b2b", basic(g, n + "b2a", in, c3r, 1, 1, 0), c3, 3, 1, 1);
    String b3 = basic(g, n + "b3b", basic(g, n + "b3a", in, c5r, 1, 1, 0), c5, 5, 1, 2);
    g.addLayer(n + "b4p", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(1, 1).padding(1, 1).build(), in);
    String b4 = basic(g, n + "b4", n + "b4p", pp, 1, 1, 0);
    g.addVertex(n, new MergeVertex(), b1, b2, b3, b4);
    return n;
  }

  private static String aux(GraphBuilder g, String n, String in) {
    g.addLayer(n + "p", new SubsamplingLayer.Builder(PoolingType.AVG).kernelSize(5, 5).stride(3, 3).build(), in);
    String c = basic(g, n + "c", n + "p", 128, 1, 1, 0);
    g.addLayer(n + "d", new DenseLayer.Builder().nOut(1024).activation(Activation.RELU).build(), c);
    g.addLayer(n, new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(1000).dropOut(0.3)
        .activation(Activation.SOFTMAX).build(), n + "d");
    return n;
  }

  private static void googlenet(GraphBuilder g) {
    String x = basic(g, "conv1", "in", 64, 7, 2, 3);
    g.addLayer("mp1", maxpool(3, 2, ConvolutionMode.Same), x);
    x = basic(g, "conv3", basic(g, "conv2", "mp1", 64, 1, 1, 0), 192, 3, 1, 1);
    g.addLayer("mp2", maxpool(3, 2, ConvolutionMode.Same), x);
    x = inception(g, "i3b", inception(g, "i3a", "mp2", 64, 96, 128, 16, 32, 32), 128, 128, 192, 32, 96, 64);
    g.addLayer("mp3", maxpool(3, 2, ConvolutionMode.Same), x);
    String i4a = inception(g, "i4a", "mp3", 192, 96, 208, 16, 48, 64);
    x = inception(g, "i4c", inception(g, "i4b", i4a, 160, 112, 224, 24, 64, 64), 128, 128, 256, 24, 64, 64);
    String i4d = inception(g, "i4d", x, 112, 144, 288, 32, 64, 64);
    x = inception(g, "i4e", i4d, 256, 150, 320, 32, 128, 128);
    g.addLayer("mp4", maxpool(3, 2, ConvolutionMode.Same), x);
    x = inception(g, "i5b", inception(g, "i5a", "mp4", 256, 160, 320, 32, 128, 128), 384, 192, 384, 48, 128, 128);
    g.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), x);
    g.addLayer("main", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(1000).dropOut(0.6)
        .activation(Activation.SOFTMAX).build(), "gap");
    aux(g, "aux1", i4a);
    aux(g, "aux2", i4d);
    g.setOutputs("main", "aux1", "aux2").setInputTypes(InputType.convolutional(224, 224, 3));
  }

}
