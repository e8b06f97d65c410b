// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.util.Map;
import java.util.TreeMap;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The generated classes build DL4J graphs whose every layer has the shape cnnc inferred. */
class GeneratedModelsTest {

  @ParameterizedTest
  @ValueSource(strings = {"NiN", "GoogLeNet", "VGG16"})
  void dl4jAgreesWithTheCompiler(String name) throws Exception {
    Network ir = Generated.network(name);
    CnnNetwork net = CnnNetwork.create(Generated.model(name), 42);

    int checked = 0;
    for (Node n : ir.nodes()) {
      long[] dl4j = net.shapes().get(n.name());
      assertNotNull(dl4j, "no DL4J vertex " + n.name());
      assertArrayEquals(java.util.Arrays.stream(n.shape().dims()).asLongStream().toArray(), dl4j,
          "DL4J's inferred type of " + n.name());
      checked++;
    }
    assertEquals(ir.nodes().size(), checked);

    // DL4J counts BatchNorm's running mean and variance as parameters; PyTorch keeps them as buffers.
    assertEquals(ir.paramCount() + ir.bufferCount(), net.graph().numParams());

    Map<String, String> expected = new TreeMap<>();
    for (Tensor t : ir.stateDict()) {
      expected.put(t.path(), java.util.Arrays.toString(t.dims()));
    }
    Map<String, String> actual = new TreeMap<>();
    net.manifest().forEach(m -> actual.put(m.path(), java.util.Arrays.toString(m.shape())));
    assertEquals(expected, actual, "the weight manifest is the compiler's state_dict");
  }
}
