// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Every construct of the language through the code generator (features.cnn): residual adds,
 * labeled and unlabeled merges, `from`, labeled and nested repeats, untyped block parameters,
 * [h, w] sizes, zero padding, LRN, several outputs with losses and weights. The generated classes
 * compile, DL4J infers the compiler's shape at every vertex, and the networks run and train.
 */
class FeaturesTest {
  static Compiler.Compilation c;
  static ClassLoader loader;

  @BeforeAll
  static void compile() throws Exception {
    c = Compiler.compile(Compiler.Request.of(Path.of("src/test/resources/features.cnn")));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    loader = Generated.compile(c, Path.of("target/generated-features"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"ResNetish", "AlexNetish"})
  void generatedNetworksAgreeWithTheCompilerAndTrain(String name) throws Exception {
    Network ir = c.network(name).orElseThrow();
    CnnModel model = (CnnModel) loader.loadClass("org.cnnc.features." + name).getConstructor().newInstance();
    CnnNetwork net = CnnNetwork.create(model, 5);
    for (Node n : ir.nodes()) {
      long[] dl4j = net.shapes().get(n.name());
      assertNotNull(dl4j, "no vertex " + n.name());
      assertArrayEquals(Arrays.stream(n.shape().dims()).asLongStream().toArray(), dl4j, n.name());
    }
    assertEquals(ir.paramCount() + ir.bufferCount(), net.graph().numParams());
    assertEquals(ir.paramCount(), net.paramCount());
    Map<String, String> expected = new TreeMap<>();
    ir.stateDict().forEach(t -> expected.put(t.path(), Arrays.toString(t.dims())));
    Map<String, String> actual = new TreeMap<>();
    net.manifest().forEach(m -> actual.put(m.path(), Arrays.toString(m.shape())));
    assertEquals(expected, actual);

    long[] in = model.inputShape();
    INDArray x = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 4, in[0], in[1], in[2]).subi(0.5);
    Map<String, INDArray> out = net.predict(x);
    assertEquals(model.outputNames(), java.util.List.copyOf(out.keySet()));
    INDArray[] labels = new INDArray[ir.outputs().size()];
    for (int i = 0; i < labels.length; i++) {
      long[] shape = Arrays.stream(ir.node(ir.outputs().get(i).node()).shape().dims()).asLongStream().toArray();
      assertArrayEquals(shape, Arrays.copyOfRange(out.get(model.outputNames().get(i)).shape(), 1, shape.length + 1));
      labels[i] = Nd4j.zeros(4, shape[0]);
      for (int r = 0; r < 4; r++) {
        labels[i].putScalar(r, r % shape[0], 1.0);
      }
    }
    MultiDataSet data = new MultiDataSet(new INDArray[] {x}, labels);
    double before = net.graph().score(data);
    for (int i = 0; i < 30; i++) {
      net.graph().fit(data);
    }
    double after = net.graph().score(data);
    assertTrue(after < before, name + ": loss " + before + " -> " + after);
  }
}
