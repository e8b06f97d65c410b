// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * The training plan (ReLUs fused into the conv or BatchNorm before them, which networks built with
 * cnnc's kernels are trained with) against the same network with every op its own layer: same
 * weights, same batch, same dropout masks; the score, every gradient and the weights after a
 * step agree, the planned network has fewer vertices, and its loss goes down as it trains on.
 */
class TrainingPassesTest {
  @ParameterizedTest
  @ValueSource(strings = {"NiN", "GoogLeNet"})
  void fusedTrainingEqualsUnfused(String name) throws Exception {
    CnnModel model = Generated.model(name);
    CnnNetwork plain = CnnNetwork.createUnplanned(model, new NetBuilder(1, new Sgd(0.01)));
    CnnNetwork fused = CnnNetwork.create(model, new NetBuilder(1, new Sgd(0.01)));
    ComputationGraph a = plain.graph();
    ComputationGraph b = fused.graph();
    assertTrue(b.getVertices().length < a.getVertices().length,
        name + ": " + a.getVertices().length + " -> " + b.getVertices().length + " vertices");
    // by name: the two graphs flatten their parameters in different orders
    a.paramTable().forEach((key, value) -> b.getParam(key).assign(value));
    long[] in = model.inputShape();
    Nd4j.getRandom().setSeed(11);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, in[0], in[1], in[2]);
    INDArray[] labels = new INDArray[plain.outputs().size()];
    for (int i = 0; i < labels.length; i++) {
      long classes = plain.shapes().get(plain.outputs().get(i).node())[0];
      labels[i] = Nd4j.zeros(DataType.FLOAT, 2, classes);
      labels[i].putScalar(0, 1, 1f);
      labels[i].putScalar(1, 0, 1f);
    }
    for (ComputationGraph g : new ComputationGraph[] {a, b}) {
      Nd4j.getRandom().setSeed(5);
      g.setInputs(x);
      g.setLabels(labels);
      g.computeGradientAndScore();
    }
    assertTrue(Math.abs(a.score() - b.score()) <= 1e-5 * Math.abs(a.score()), name + ": score");
    for (String key : a.paramTable().keySet()) {
      double err = ParityTest.relErr(b.gradient().getGradientFor(key), a.gradient().getGradientFor(key));
      assertTrue(err <= 1e-4, name + ": gradient " + key + " differs by " + err);
    }
    MultiDataSet data = new MultiDataSet(new INDArray[] {x}, labels);
    Nd4j.getRandom().setSeed(7);
    a.fit(data);
    Nd4j.getRandom().setSeed(7);
    b.fit(data);
    double first = b.score();
    for (String key : a.paramTable().keySet()) {
      double err = ParityTest.relErr(b.getParam(key), a.getParam(key));
      assertTrue(err <= 1e-4, name + ": " + key + " after a step differs by " + err);
    }
    for (int step = 0; step < 3; step++) {
      b.fit(data);
    }
    assertTrue(b.score() < first, name + ": loss " + first + " -> " + b.score());
  }
}
