// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The gradients of PyTorch's activations against central differences, in doubles, across their bends. */
class TorchActivationsTest {
  static Stream<IActivation> activations() {
    return Stream.of(new TorchActivations.HardSigmoid(), new TorchActivations.HardSwish(), new TorchActivations.Gelu());
  }

  @ParameterizedTest
  @MethodSource("activations")
  void backpropIsTheDerivative(IActivation fn) {
    Nd4j.getRandom().setSeed(11);
    // points across -3 and 3 (the bends of the hard ones), away from the kinks themselves
    INDArray x = Nd4j.linspace(-5.013, 5.021, 301, DataType.DOUBLE).reshape(1, 301);
    INDArray eps = Nd4j.rand(DataType.DOUBLE, 1, 301).addi(0.5);
    INDArray grad = fn.backprop(x.dup(), eps.dup()).getFirst();
    double h = 1e-6;
    for (int i = 0; i < 301; i++) {
      double xi = x.getDouble(0, i);
      double up = fn.getActivation(Nd4j.scalar(DataType.DOUBLE, xi + h).reshape(1, 1), false).getDouble(0);
      double down = fn.getActivation(Nd4j.scalar(DataType.DOUBLE, xi - h).reshape(1, 1), false).getDouble(0);
      double want = (up - down) / (2 * h) * eps.getDouble(0, i);
      double got = grad.getDouble(0, i);
      assertTrue(Math.abs(got - want) <= 1e-6 * (1 + Math.abs(want)), fn + " at x = " + xi + ": " + got + " vs " + want);
    }
  }
}
