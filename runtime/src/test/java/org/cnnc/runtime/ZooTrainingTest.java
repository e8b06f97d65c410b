// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.sema.Value;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Every classifier of the zoo trains on cnnc's kernels: its generated network, built with ten
 * classes, takes three Adam steps (1e-4) on a batch of two images, and its loss on that batch (the same
 * dropout and stochastic-depth draws before and after) goes down. The zoo's segmentation network
 * trains in {@link PixelLossTest}, with per-pixel labels.
 */
class ZooTrainingTest {
  static final int CLASSES = 10;
  @TempDir static Path dir;
  static Compiler.Compilation compilation;
  static ClassLoader loader;

  /** The zoo's models whose output is class scores (a vector). */
  static Stream<String> classifiers() throws Exception {
    return ZooParityTest.models().filter(n -> {
      Network net = compile(n).network(n).orElseThrow();
      return net.node(net.outputs().get(0).node()).shape().rank() == 1;
    });
  }

  static Compiler.Compilation compile(String name) {
    return Compiler.compile(new Compiler.Request(List.of(ZooParityTest.ZOO.resolve(name + ".cnn")), List.of(),
        Map.of("classes", new Value.IntV(CLASSES))));
  }

  @BeforeAll
  static void generate() throws Exception {
    List<String> names = classifiers().toList();
    compilation = Compiler.compile(new Compiler.Request(names.stream().map(n -> ZooParityTest.ZOO.resolve(n + ".cnn")).toList(),
        List.of(), Map.of("classes", new Value.IntV(CLASSES))));
    assertTrue(compilation.ok(), () -> compilation.diagnostics().sorted().toString());
    loader = Generated.compile(compilation, dir.resolve("generated"));
  }

  static double score(ComputationGraph g, MultiDataSet d) {
    Nd4j.getRandom().setSeed(5); // the same dropout and stochastic-depth draws in both evaluations
    g.setInputs(d.getFeatures());
    g.setLabels(d.getLabels());
    g.computeGradientAndScore();
    return g.score();
  }

  @ParameterizedTest
  @MethodSource("classifiers")
  void stepsLowerTheLoss(String name) throws Exception {
    Network ir = compilation.network(name).orElseThrow();
    CnnModel model = (CnnModel) loader.loadClass(ir.javaPackage().map(p -> p + ".").orElse("")
        + org.cnnc.compiler.codegen.JavaGenerator.javaClassName(name)).getConstructor().newInstance();
    CnnNetwork net = CnnNetwork.create(model, new NetBuilder(7, new Adam(1e-4)));
    assertTrue(net.untrainable().isEmpty(), name + ": " + net.untrainable());
    ComputationGraph g = net.graph();
    int[] in = ir.node(ir.inputs().get(0)).shape().dims();
    Nd4j.getRandom().setSeed(21);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, in[0], in[1], in[2]);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 2, CLASSES);
    y.putScalar(0, 3, 1f);
    y.putScalar(1, 7, 1f);
    MultiDataSet d = new MultiDataSet(new INDArray[] {x}, new INDArray[] {y});
    assertEquals(CLASSES, g.output(false, x)[0].size(1), name + ": classes");
    double before = score(g, d);
    for (int step = 0; step < 3; step++) {
      g.fit(d);
    }
    double after = score(g, d);
    System.out.printf("zoo training %s: loss %.4f -> %.4f%n", name, before, after);
    assertTrue(Double.isFinite(after) && after < before, name + ": loss " + before + " -> " + after);
  }
}
