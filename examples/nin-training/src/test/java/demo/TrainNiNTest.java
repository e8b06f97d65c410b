// SPDX-License-Identifier: Apache-2.0
package demo;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import org.junit.jupiter.api.Test;

class TrainNiNTest {
  @Test
  void trainingLowersTheLoss() {
    var epochs = TrainNiN.train(100, 3, new PrintWriter(System.out, true));
    assertTrue(epochs.get(2).loss() < epochs.get(0).loss(), epochs.toString());
  }
}
