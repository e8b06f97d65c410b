// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
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
 * cnnc's dense layer against DL4J's: the same network (a DL4J dense layer, then the layer under
 * test, then a squared-error loss) built with each, with the same parameters; outputs, score and
 * every gradient (the first layer's carries the tested layer's input gradient) agree, on MKL and
 * on ND4J's BLAS (where the layer is DL4J's own), with and without bias, a fused ReLU, and an
 * activation it leaves to DL4J (tanh).
 */
class CnncDenseTest {
  @ParameterizedTest
  @CsvSource({
      "1, 37, 23, true, IDENTITY",
      "5, 37, 23, true, IDENTITY",
      "5, 64, 1, false, IDENTITY",
      "4, 50, 31, true, RELU",
      "1, 50, 31, false, RELU",
      "3, 20, 9, true, TANH"})
  void equalsDl4j(int batch, int in, int out, boolean bias, Activation activation) {
    KernelSettings before = KernelSettings.current();
    try {
      for (String blas : new String[] {"mkl", "onednn", "openblas"}) {
        Gemm.use(blas);
        ComputationGraph theirs = network(false, in, out, bias, activation);
        ComputationGraph ours = network(true, in, out, bias, activation);
        Nd4j.getRandom().setSeed(batch * 17L + in);
        // random biases too (DL4J starts them at zero)
        theirs.setParams(Nd4j.randn(DataType.FLOAT, theirs.params().shape()).muli(0.3));
        ours.setParams(theirs.params().dup());
        INDArray x = Nd4j.randn(DataType.FLOAT, batch, 12);
        INDArray yTheirs = theirs.outputSingle(false, x);
        INDArray yOurs = ours.outputSingle(false, x);
        assertArrayEquals(yTheirs.shape(), yOurs.shape());
        assertClose(yTheirs, yOurs, 1e-5, blas + " output");
        INDArray labels = Nd4j.randn(DataType.FLOAT, yTheirs.shape());
        TestGraphs.assertSameGradients(theirs, ours, x, labels, theirs.paramTable().keySet(), 1e-4);
      }
    } finally {
      // the whole settings, not the library's name: "auto" is not "mkl"
      KernelSettings.use(before);
    }
  }

  private static ComputationGraph network(boolean cnnc, int in, int out, boolean bias, Activation activation) {
    DenseLayer.Builder tested = new DenseLayer.Builder().nOut(out).hasBias(bias).activation(activation);
    var conf = new NeuralNetConfiguration.Builder()
        .seed(1)
        .dataType(DataType.FLOAT)
        .updater(new Sgd(0.01))
        .weightInit(WeightInit.XAVIER)
        .graphBuilder()
        .addInputs("in")
        .setInputTypes(InputType.feedForward(12))
        .addLayer("first", new DenseLayer.Builder().nOut(in).activation(Activation.IDENTITY).build(), "in")
        .addLayer("dense", cnnc ? new CnncDense(tested) : tested.build(), "first")
        .addLayer("loss", new LossLayer.Builder(LossFunctions.LossFunction.MSE).activation(Activation.IDENTITY).build(),
            "dense")
        .setOutputs("loss")
        .build();
    ComputationGraph g = new ComputationGraph(conf);
    g.init();
    return g;
  }
}
