// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

/** The small graphs the layer tests compare on, and how they compare them. */
final class TestGraphs {
  private TestGraphs() {}

  /**
   * in {@code [c, h, w]} -> DL4J's 3x3 conv (padded, {@code convOut} channels, identity), named
   * "conv" -> {@code tested}, named {@code name} -> squared-error loss per pixel. The conv's
   * gradient carries the tested layer's input gradient.
   */
  static ComputationGraph convThen(String name, Layer tested, int c, int h, int w, int convOut) {
    return convThen(name, tested, c, h, w, convOut, DataType.FLOAT, Activation.IDENTITY, 0.01);
  }

  /** The same, with the data type, the first conv's activation and the SGD learning rate given. */
  static ComputationGraph convThen(String name, Layer tested, int c, int h, int w, int convOut, DataType type,
      Activation first, double learningRate) {
    var conf = new NeuralNetConfiguration.Builder()
        .seed(1)
        .dataType(type)
        .updater(new Sgd(learningRate))
        .weightInit(WeightInit.XAVIER)
        .graphBuilder()
        .addInputs("in")
        .setInputTypes(InputType.convolutional(h, w, c))
        .addLayer("conv", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(convOut)
            .activation(first).convolutionMode(ConvolutionMode.Truncate).build(), "in")
        .addLayer(name, tested, "conv")
        .addLayer("loss", new CnnLossLayer.Builder(LossFunctions.LossFunction.MSE).activation(Activation.IDENTITY)
            .build(), name)
        .setOutputs("loss")
        .build();
    ComputationGraph g = new ComputationGraph(conf);
    g.init();
    return g;
  }

  /** {@code actual} within {@code tol} of {@code expected}, relative to {@code expected}'s largest magnitude. */
  static void assertClose(INDArray expected, INDArray actual, double tol, String what) {
    double scale = Transforms.abs(expected).maxNumber().doubleValue() + 1e-6;
    double err = Transforms.abs(actual.sub(expected)).maxNumber().doubleValue() / scale;
    assertTrue(err <= tol, what + ": max rel err " + err);
  }

  /**
   * Both graphs' score and gradients on one batch: the scores within 1e-5 of each other, and the
   * gradient of each of {@code keys} within {@code tol} ({@link #assertClose}).
   */
  static void assertSameGradients(ComputationGraph theirs, ComputationGraph ours, INDArray x, INDArray labels,
      Iterable<String> keys, double tol) {
    for (ComputationGraph g : new ComputationGraph[] {theirs, ours}) {
      g.setInputs(x);
      g.setLabels(labels);
      g.computeGradientAndScore();
    }
    assertTrue(Math.abs(theirs.score() - ours.score()) <= 1e-5 * Math.abs(theirs.score()), "score");
    for (String key : keys) {
      assertClose(theirs.gradient().getGradientFor(key), ours.gradient().getGradientFor(key), tol, "gradient " + key);
    }
  }
}
