// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The generated networks compute what PyTorch computes for the article's code: the same weights
 * (BatchNorm running statistics included) and a random batch of 2 give every output within
 * max |a - b| / (max |b| + 1e-6) <= 1e-4, in eval mode, with cnnc's convolution kernel and with
 * DL4J's.
 */
class ParityTest {
  static double relErr(INDArray a, INDArray b) {
    double diff = Transforms.abs(a.sub(b)).maxNumber().doubleValue();
    return diff / (Transforms.abs(b).maxNumber().doubleValue() + 1e-6);
  }

  @ParameterizedTest
  @CsvSource({"NiN, CNNC", "GoogLeNet, CNNC", "VGG16, CNNC", "NiN, DL4J", "GoogLeNet, DL4J", "VGG16, DL4J"})
  void outputsEqualPyTorch(String name, NetBuilder.Kernels kernels) throws Exception {
    Path dir = Fixtures.dir();
    CnnNetwork net = CnnNetwork.create(Generated.model(name), 1, kernels);
    net.loadWeights(dir.resolve(name + ".npz"));
    INDArray input = NdNpz.toNd4j(Npz.readNpy(dir.resolve(name + "_input.npy")));
    Map<String, INDArray> out = net.predict(input);
    for (String output : net.model().outputNames()) {
      INDArray expected = NdNpz.toNd4j(Npz.readNpy(dir.resolve(name + "_" + output + ".npy")));
      INDArray actual = out.get(output);
      assertArrayEquals(expected.shape(), actual.shape(), output + " shape");
      double err = relErr(actual, expected);
      System.out.printf("parity %s.%s (%s kernels): max rel err %.3g%n", name, output, kernels, err);
      assertTrue(err <= 1e-4, name + "." + output + ": max rel err " + err);
      // The outputs depend on the input: the two examples differ.
      INDArray flat = expected.reshape(expected.size(0), -1);
      assertTrue(relErr(flat.getRow(0), flat.getRow(1)) > 1e-3);
    }
  }

  /** Ceil-mode max pooling on negative inputs, where DL4J's Same and Truncate both differ from PyTorch. */
  @Test
  void ceilPoolingEqualsPyTorch() throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("pool_cases.npz"));
    int n = 0;
    for (int i = 0; cases.containsKey("case" + i + "_input"); i++, n++) {
      float[] a = cases.get("case" + i + "_args").data();
      int size = (int) a[0];
      int k = (int) a[1];
      int s = (int) a[2];
      int p = (int) a[3];
      NetBuilder b = new NetBuilder(1);
      String x = b.input("input", 3, size, size);
      x = b.maxpool("pool", x, NetBuilder.size(k), NetBuilder.size(s), NetBuilder.size(p), NetBuilder.size(1), true);
      b.output("out", x, Loss.NONE, 1);
      var graph = new org.deeplearning4j.nn.graph.ComputationGraph(b.build());
      graph.init();
      INDArray in = NdNpz.toNd4j(cases.get("case" + i + "_input"));
      INDArray expected = NdNpz.toNd4j(cases.get("case" + i + "_output"));
      INDArray actual = graph.feedForward(new INDArray[] {in}, false, false).get("pool");
      assertArrayEquals(expected.shape(), actual.shape(), "case " + i);
      double err = Transforms.abs(actual.sub(expected)).maxNumber().doubleValue();
      assertTrue(err == 0, "case " + i + " " + java.util.Arrays.toString(a) + ": max abs err " + err);
      assertTrue(expected.minNumber().doubleValue() < 0, "the case has negative values");
    }
    assertTrue(n >= 4);
    Nd4j.getMemoryManager().invokeGc();
  }
}
