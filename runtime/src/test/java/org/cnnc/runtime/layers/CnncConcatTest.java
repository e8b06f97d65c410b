// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * cnnc's concatenation against DL4J's merge vertex, in the same graph otherwise: an Inception-like
 * block (two convs and a max pool reading one map, concatenated, then cnnc's batch norm with or
 * without a fused ReLU, and a conv), its output, score, every gradient and three training steps,
 * with branches whose outputs cnnc's path copies and with DL4J's, whose permuted conv output takes
 * DL4J's path; a concatenation of dense outputs, which takes DL4J's own path; and the
 * configuration's JSON round trip.
 */
class CnncConcatTest {
  @ParameterizedTest
  @CsvSource({
      // cnnc's branches (outputs with default strides: cnnc's path), batch norm's fused ReLU
      "true, false",
      "true, true",
      // DL4J's conv and pool (its conv's output is a permuted view: DL4J's path)
      "false, true"})
  void inceptionBlockEqualsDl4jsMerge(boolean cnncBranches, boolean relu) {
    ComputationGraph theirs = block(new MergeVertex(), cnncBranches, relu);
    ComputationGraph ours = block(new CnncConcat(), cnncBranches, relu);
    ours.setParams(theirs.params().dup());
    Nd4j.getRandom().setSeed(7);
    INDArray x = Nd4j.randn(DataType.FLOAT, 3, 4, 9, 9);
    INDArray yTheirs = theirs.outputSingle(false, x);
    INDArray yOurs = ours.outputSingle(false, x);
    assertEquals(yTheirs, yOurs, "inference output");
    assertEquals(cnncBranches, ((CnncConcat.Impl) ours.getVertex("cat")).copiedLast(), "cnnc's own path taken");
    INDArray labels = Nd4j.randn(DataType.FLOAT, yTheirs.shape());
    TestGraphs.assertSameGradients(theirs, ours, x, labels, theirs.paramTable().keySet(), 1e-5);
    // and training goes the same way
    for (int i = 0; i < 3; i++) {
      theirs.fit(new INDArray[] {x}, new INDArray[] {labels});
      ours.fit(new INDArray[] {x}, new INDArray[] {labels});
    }
    TestGraphs.assertClose(theirs.params(), ours.params(), 1e-5, "parameters after 3 steps");
  }

  @Test
  void denseOutputsTakeDl4jsPath() {
    ComputationGraph theirs = dense(new MergeVertex());
    ComputationGraph ours = dense(new CnncConcat());
    ours.setParams(theirs.params().dup());
    Nd4j.getRandom().setSeed(3);
    INDArray x = Nd4j.randn(DataType.FLOAT, 4, 6);
    INDArray labels = Nd4j.randn(DataType.FLOAT, 4, 2);
    assertEquals(theirs.outputSingle(false, x), ours.outputSingle(false, x));
    TestGraphs.assertSameGradients(theirs, ours, x, labels, theirs.paramTable().keySet(), 1e-6);
  }

  @Test
  void configurationSurvivesJson() {
    ComputationGraphConfiguration conf = block(new CnncConcat(), true, true).getConfiguration();
    ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
    GraphVertex v = back.getVertices().get("cat");
    assertInstanceOf(CnncConcat.class, v);
    ComputationGraph g = new ComputationGraph(back);
    g.init();
    assertSame(CnncConcat.Impl.class, g.getVertex("cat").getClass());
  }

  private static ComputationGraph block(GraphVertex concat, boolean cnncBranches, boolean relu) {
    ConvolutionLayer.Builder a = new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(5)
        .activation(Activation.IDENTITY).convolutionMode(ConvolutionMode.Truncate);
    int[] k = {3, 3};
    int[] one = {1, 1};
    var conf = new NeuralNetConfiguration.Builder()
        .seed(1)
        .updater(new Sgd(0.05))
        .weightInit(WeightInit.XAVIER)
        .graphBuilder()
        .addInputs("in")
        .setInputTypes(InputType.convolutional(9, 9, 4))
        .addLayer("a", cnncBranches ? new GemmConvolution(a) : a.build(), "in")
        .addLayer("b", new GemmConvolution(new ConvolutionLayer.Builder(1, 1).nOut(3)
            .activation(Activation.IDENTITY).convolutionMode(ConvolutionMode.Truncate)), "in")
        .addLayer("p", cnncBranches ? new CnncMaxPool(k, one, one, one, false)
            : new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(3, 3).stride(1, 1).padding(1, 1)
                .convolutionMode(ConvolutionMode.Truncate).build(), "in")
        .addVertex("cat", concat, "a", "b", "p")
        .addLayer("bn", new CnncBatchNorm(1e-5, 0.1, relu), "cat")
        .addLayer("c", new ConvolutionLayer.Builder(3, 3).padding(1, 1).nOut(2).activation(Activation.IDENTITY)
            .convolutionMode(ConvolutionMode.Truncate).build(), "bn")
        .addLayer("loss", new CnnLossLayer.Builder(LossFunctions.LossFunction.MSE).activation(Activation.IDENTITY)
            .build(), "c")
        .setOutputs("loss")
        .build();
    ComputationGraph g = new ComputationGraph(conf);
    g.init();
    return g;
  }

  private static ComputationGraph dense(GraphVertex concat) {
    var conf = new NeuralNetConfiguration.Builder()
        .seed(1)
        .updater(new Sgd(0.05))
        .graphBuilder()
        .addInputs("in")
        .setInputTypes(InputType.feedForward(6))
        .addLayer("a", new DenseLayer.Builder().nOut(3).activation(Activation.TANH).build(), "in")
        .addLayer("b", new DenseLayer.Builder().nOut(4).activation(Activation.TANH).build(), "in")
        .addVertex("cat", concat, "a", "b")
        .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(2)
            .activation(Activation.IDENTITY).build(), "cat")
        .setOutputs("out")
        .build();
    ComputationGraph g = new ComputationGraph(conf);
    g.init();
    return g;
  }
}
