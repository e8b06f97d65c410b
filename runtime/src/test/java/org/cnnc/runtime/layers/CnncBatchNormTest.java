// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * cnnc's batch norm against DL4J's on the same network (a layer before it, so that its input
 * gradient shows in that layer's gradient, then a squared-error loss), on feature maps and on
 * [b, c] vectors, with a ReLU fused in or not: outputs in training and inference mode, the score, every gradient, and the
 * running statistics after a training step, where the running variance follows PyTorch (the
 * unbiased batch variance) instead of DL4J (the biased one).
 */
class CnncBatchNormTest {
  static final double EPS = 1e-3;
  static final double MOMENTUM = 0.2;

  /** Float arrays go through cnnc's Java kernels, double ones through ND4J ops: both are checked. */
  @ParameterizedTest
  @CsvSource({"true, FLOAT, false", "false, FLOAT, false", "true, DOUBLE, false", "false, DOUBLE, false",
      "true, FLOAT, true", "false, FLOAT, true", "true, DOUBLE, true"})
  void equalsDl4jExceptTheRunningVariance(boolean maps, DataType type, boolean withRelu) {
    dataType = type;
    relu = withRelu;
    try {
      compare(maps);
    } finally {
      dataType = DataType.FLOAT;
      relu = false;
    }
  }

  /** Whether the batch norm has a ReLU fused in (DL4J's: as its activation). */
  static boolean relu;

  static DataType dataType = DataType.FLOAT;

  private static void compare(boolean maps) {
    ComputationGraph theirs = network(false, maps);
    ComputationGraph ours = network(true, maps);
    Nd4j.getRandom().setSeed(3);
    // running statistics that are not the initial ones, and a scale and shift
    theirs.getParam("bn_mean").assign(Nd4j.randn(dataType, theirs.getParam("bn_mean").shape()));
    theirs.getParam("bn_var").assign(Nd4j.rand(dataType, theirs.getParam("bn_var").shape()).addi(0.5));
    theirs.getParam("bn_gamma").assign(Nd4j.randn(dataType, theirs.getParam("bn_gamma").shape()));
    theirs.getParam("bn_beta").assign(Nd4j.randn(dataType, theirs.getParam("bn_beta").shape()));
    ours.setParams(theirs.params().dup());
    INDArray x = maps ? Nd4j.randn(dataType, 4, 3, 9, 7) : Nd4j.randn(dataType, 6, 5);
    INDArray y = Nd4j.randn(dataType, theirs.outputSingle(false, x).shape());

    assertClose(theirs.outputSingle(false, x), ours.outputSingle(false, x), 1e-5, "inference output");
    assertClose(theirs.feedForward(new INDArray[] {x}, true, false).get(relu ? "bn_relu" : "bn"),
        ours.feedForward(new INDArray[] {x}, true, false).get("bn"), 1e-5, "training output");

    // every gradient but the running variance's (the one cnnc moves as PyTorch does)
    TestGraphs.assertSameGradients(theirs, ours, x, y,
        java.util.List.of("first_W", "first_b", "bn_gamma", "bn_beta", "bn_mean"), 1e-4);

    // one step: the running statistics move by the momentum toward the batch's (unbiased variance)
    INDArray first = ours.feedForward(new INDArray[] {x}, true, false).get("first").dup();
    int[] dims = maps ? new int[] {0, 2, 3} : new int[] {0};
    INDArray batchMean = first.mean(dims);
    INDArray batchVar = first.var(true, dims);
    INDArray mean = ours.getParam("bn_mean").dup().reshape(-1);
    INDArray var = ours.getParam("bn_var").dup().reshape(-1);
    ours.fit(new INDArray[] {x}, new INDArray[] {y});
    assertClose(mean.mul(1 - MOMENTUM).addi(batchMean.mul(MOMENTUM)), ours.getParam("bn_mean").reshape(-1), 1e-5,
        "running mean");
    assertClose(var.mul(1 - MOMENTUM).addi(batchVar.mul(MOMENTUM)), ours.getParam("bn_var").reshape(-1), 1e-5,
        "running var");
  }

  static ComputationGraph network(boolean cnnc, boolean maps) {
    Layer bn = cnnc ? new CnncBatchNorm(EPS, MOMENTUM, relu)
        : new BatchNormalization.Builder().eps(EPS).decay(1 - MOMENTUM).useLogStd(false).build();
    Layer first = maps
        ? new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(6).activation(Activation.TANH)
            .convolutionMode(ConvolutionMode.Truncate).build()
        : new DenseLayer.Builder().nOut(4).activation(Activation.TANH).build();
    Layer loss = maps
        ? new CnnLossLayer.Builder(LossFunctions.LossFunction.MSE).activation(Activation.IDENTITY).build()
        : new LossLayer.Builder(LossFunctions.LossFunction.MSE).activation(Activation.IDENTITY).build();
    var conf = new NeuralNetConfiguration.Builder()
        .seed(1)
        .dataType(dataType)
        .updater(new Sgd(0.01))
        .weightInit(WeightInit.XAVIER)
        .graphBuilder()
        .addInputs("in")
        .setInputTypes(maps ? InputType.convolutional(9, 7, 3) : InputType.feedForward(5))
        .addLayer("first", first, "in")
        .addLayer("bn", bn, "first");
    if (relu && !cnnc) {
      // DL4J's own: the ReLU as a layer of its own after the batch norm
      conf.addLayer("bn_relu", new ActivationLayer(Activation.RELU), "bn");
    }
    conf.addLayer("loss", loss, relu && !cnnc ? "bn_relu" : "bn").setOutputs("loss");
    ComputationGraph g = new ComputationGraph(conf.build());
    g.init();
    return g;
  }
}
