// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.cnnc.runtime.layers.TestGraphs.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.cnnc.runtime.Loss;
import org.cnnc.runtime.NetBuilder;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * cnnc's Adam against ND4J's: the same moment estimates and the same update over several steps
 * (ND4J computes the bias correction in float, cnnc in double: the updates agree to 1e-4), also on
 * a gradient its kernel does not take (a strided view, which goes to ND4J's op); NetBuilder uses
 * it for Adam with cnnc's kernels only; and a configuration with it survives JSON.
 */
class CnncAdamTest {
  @Test
  void equalsNd4jsAdam() {
    Adam config = new Adam(2e-3, 0.8, 0.95, 1e-6);
    int n = 100_003;
    // a flat state view, as DL4J's updater blocks pass it
    INDArray theirState = Nd4j.zeros(DataType.FLOAT, 2L * n);
    INDArray ourState = Nd4j.zeros(DataType.FLOAT, 2L * n);
    GradientUpdater<?> theirs = config.instantiate(theirState, true);
    GradientUpdater<?> ours = CnncAdam.of(config).instantiate(ourState, true);
    assertInstanceOf(CnncAdam.Updater.class, ours);
    Nd4j.getRandom().setSeed(4);
    for (int step = 0; step < 5; step++) {
      INDArray g = Nd4j.randn(DataType.FLOAT, 1, n).muli(step + 1);
      INDArray theirUpdate = g.dup();
      INDArray ourUpdate = g.dup();
      theirs.applyUpdater(theirUpdate, step, 0);
      ours.applyUpdater(ourUpdate, step, 0);
      assertClose(theirState, ourState, 1e-6, "moments after step " + step);
      assertClose(theirUpdate, ourUpdate, 1e-4, "update at step " + step);
      assertTrue(!ourUpdate.equals(g), "the gradient became the update");
    }
  }

  @Test
  void stridedGradientGoesToNd4j() {
    Adam config = new Adam(1e-3);
    int n = 1000;
    INDArray theirState = Nd4j.zeros(DataType.FLOAT, 1, 2L * n);
    INDArray ourState = Nd4j.zeros(DataType.FLOAT, 1, 2L * n);
    GradientUpdater<?> theirs = config.instantiate(theirState, true);
    GradientUpdater<?> ours = CnncAdam.of(config).instantiate(ourState, true);
    INDArray wide = Nd4j.create(DataType.FLOAT, new long[] {2, n}, 'f').assign(Nd4j.randn(DataType.FLOAT, 2, n));
    INDArray row = wide.getRow(1, true);
    assertTrue(row.elementWiseStride() != 1, "a strided view: " + row.shapeInfoToString());
    INDArray theirUpdate = row.dup('c');
    theirs.applyUpdater(theirUpdate, 0, 0);
    ours.applyUpdater(row, 0, 0);
    assertEquals(theirUpdate, row);
    assertEquals(theirState, ourState);
  }

  @Test
  void netBuilderTakesItForAdamOnCnncsKernels() {
    assertInstanceOf(CnncAdam.class, updaterOf(new NetBuilder(1, new Adam(1e-3)).kernels(NetBuilder.Kernels.CNNC)));
    assertSame(Adam.class, updaterOf(new NetBuilder(1, new Adam(1e-3)).kernels(NetBuilder.Kernels.DL4J)).getClass());
    assertSame(Sgd.class, updaterOf(new NetBuilder(1, new Sgd(0.1)).kernels(NetBuilder.Kernels.CNNC)).getClass());
    CnncAdam adam = (CnncAdam) updaterOf(new NetBuilder(1, new Adam(0.01, 0.7, 0.8, 1e-4)).kernels(NetBuilder.Kernels.CNNC));
    assertEquals(0.01, adam.getLearningRate());
    assertEquals(0.7, adam.getBeta1());
    assertEquals(0.8, adam.getBeta2());
    assertEquals(1e-4, adam.getEpsilon());
  }

  @Test
  void survivesJson() {
    ComputationGraphConfiguration conf = network(new NetBuilder(1, new Adam(5e-3)).kernels(NetBuilder.Kernels.CNNC));
    ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
    assertInstanceOf(CnncAdam.class, updaterOf(back));
    assertEquals(5e-3, ((CnncAdam) updaterOf(back)).getLearningRate());
    ComputationGraph g = new ComputationGraph(back);
    g.init();
  }

  private static org.nd4j.linalg.learning.config.IUpdater updaterOf(NetBuilder b) {
    return updaterOf(network(b));
  }

  private static org.nd4j.linalg.learning.config.IUpdater updaterOf(ComputationGraphConfiguration conf) {
    return ((BaseLayer) ((org.deeplearning4j.nn.conf.graph.LayerVertex) conf.getVertices().get("fc")).getLayerConf()
        .getLayer()).getIUpdater();
  }

  private static ComputationGraphConfiguration network(NetBuilder b) {
    String in = b.input("input", 6);
    b.output("out", b.dense("fc", in, 3, true), Loss.MSE, 1.0);
    return b.build();
  }
}
