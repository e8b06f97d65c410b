package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.GemmConvolutionTest.assertClose;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** cnnc's ReLU layer against DL4J's activation layer: outputs and every gradient through it. */
class CnncReluTest {
  @Test
  void equalsDl4j() {
    ComputationGraph theirs = network(false);
    ComputationGraph ours = network(true);
    ours.setParams(theirs.params().dup());
    Nd4j.getRandom().setSeed(5);
    INDArray x = Nd4j.randn(DataType.FLOAT, 3, 2, 6, 5);
    INDArray y = Nd4j.randn(DataType.FLOAT, 3, 4, 6, 5);
    assertClose(theirs.outputSingle(false, x), ours.outputSingle(false, x), 0, "output");
    for (ComputationGraph g : new ComputationGraph[] {theirs, ours}) {
      g.setInputs(x);
      g.setLabels(y);
      g.computeGradientAndScore();
    }
    for (String key : theirs.paramTable().keySet()) {
      assertClose(theirs.gradient().getGradientFor(key), ours.gradient().getGradientFor(key), 1e-6, "gradient " + key);
    }
  }

  static ComputationGraph network(boolean cnnc) {
    var conf = new NeuralNetConfiguration.Builder()
        .seed(1)
        .dataType(DataType.FLOAT)
        .updater(new Sgd(0.01))
        .weightInit(WeightInit.XAVIER)
        .graphBuilder()
        .addInputs("in")
        .setInputTypes(InputType.convolutional(6, 5, 2))
        .addLayer("conv", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(4)
            .activation(Activation.IDENTITY).convolutionMode(ConvolutionMode.Truncate).build(), "in")
        .addLayer("relu", cnnc ? new CnncRelu() : new ActivationLayer(Activation.RELU), "conv")
        .addLayer("loss", new CnnLossLayer.Builder(LossFunctions.LossFunction.MSE).activation(Activation.IDENTITY)
            .build(), "relu")
        .setOutputs("loss")
        .build();
    ComputationGraph g = new ComputationGraph(conf);
    g.init();
    return g;
  }
}
