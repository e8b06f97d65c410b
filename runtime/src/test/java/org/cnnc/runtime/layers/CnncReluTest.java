package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.GemmConvolutionTest.assertClose;

import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

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
    return TestGraphs.convThen("relu", cnnc ? new CnncRelu() : new ActivationLayer(Activation.RELU), 2, 6, 5, 4);
  }
}
