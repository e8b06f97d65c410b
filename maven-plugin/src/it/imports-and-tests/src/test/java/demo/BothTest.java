// SPDX-License-Identifier: Apache-2.0
package demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.cnnc.runtime.CnnNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

class BothTest {
  @Test
  void mainAndTestModelsRun() {
    var small = CnnNetwork.create(new demo.main.Small(), 1).predict(Nd4j.rand(DataType.FLOAT, 2, 3, 16, 16));
    assertArrayEquals(new long[] {2, 4}, small.get("logits").shape());
    var tiny = CnnNetwork.create(new demo.testnets.Tiny(), 1).predict(Nd4j.rand(DataType.FLOAT, 2, 1, 8, 8));
    assertArrayEquals(new long[] {2, 3}, tiny.get("output").shape());
    System.out.println("imports and test sources ok");
  }
}
