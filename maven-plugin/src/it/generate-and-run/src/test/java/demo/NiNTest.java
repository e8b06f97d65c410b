// SPDX-License-Identifier: Apache-2.0
package demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import demo.nets.NiN;
import org.cnnc.runtime.CnnNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class NiNTest {
  @Test
  void forwardOnNd4j() {
    CnnNetwork net = CnnNetwork.create(new NiN(), 42);
    assertEquals(new NiN().figures().params(), net.paramCount());
    assertEquals(966_986L, net.graph().numParams());
    INDArray out = net.predict(Nd4j.rand(DataType.FLOAT, 2, 3, 32, 32)).get("output");
    assertArrayEquals(new long[] {2, 10, 1, 1}, out.shape());
    // the spec ends with a softmax over channels: each example's scores sum to 1
    assertEquals(1.0, out.get(org.nd4j.linalg.indexing.NDArrayIndex.point(0)).sumNumber().doubleValue(), 1e-5);
    System.out.println("NiN forward ok: " + java.util.Arrays.toString(out.shape()));
  }
}
