// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.cnnc.runtime.NetBuilder.size;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.function.BiFunction;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.params.ParameterizedTest;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Single ops whose DL4J lowering is not the obvious one, against PyTorch on inputs with negative values. */
class OpParityTest {
  static final Map<String, BiFunction<NetBuilder, String, String>> OPS = Map.ofEntries(
      Map.entry("avgpool_ceil_pad_include", (b, x) -> b.avgpool("op", x, size(3), size(2), size(1), true, true)),
      Map.entry("avgpool_ceil_k2", (b, x) -> b.avgpool("op", x, size(2), size(2), size(0), true, true)),
      Map.entry("avgpool_ceil_k3s2_nopad", (b, x) -> b.avgpool("op", x, size(3), size(2), size(0), true, false)),
      Map.entry("avgpool_pad_include", (b, x) -> b.avgpool("op", x, size(3), size(1), size(1), false, true)),
      Map.entry("avgpool_pad_exclude", (b, x) -> b.avgpool("op", x, size(3), size(1), size(1), false, false)),
      Map.entry("lrn5", (b, x) -> b.lrn("op", x, 5, 1e-2, 0.75, 2.0)),
      Map.entry("lrn3", (b, x) -> b.lrn("op", x, 3, 1e-4, 0.75, 1.0)),
      Map.entry("softmax_channels", (b, x) -> b.softmax("op", x)),
      Map.entry("leaky_relu", (b, x) -> b.leakyRelu("op", x, 0.2)),
      Map.entry("zeropad", (b, x) -> b.zeropad("op", x, NetBuilder.pad(1, 0, 2, 3))),
      Map.entry("maxpool_dilated", (b, x) -> b.maxpool("op", x, size(3), size(2), size(1), size(2), true)),
      Map.entry("adaptive_avgpool_5x3", (b, x) -> b.op("op", "adaptive_avgpool", x, "size", new int[] {5, 3})),
      Map.entry("adaptive_avgpool_6", (b, x) -> b.op("op", "adaptive_avgpool", x, "size", 6)),
      Map.entry("chunk_3_1", (b, x) -> b.op("op", "chunk", x, "chunks", 3, "index", 1)),
      Map.entry("channel_shuffle_2", (b, x) -> b.op("op", "channel_shuffle", x, "groups", 2)),
      Map.entry("channel_shuffle_3", (b, x) -> b.op("op", "channel_shuffle", x, "groups", 3)),
      Map.entry("adaptive_avgpool_same", (b, x) -> b.op("op", "adaptive_avgpool", x, "size", new int[] {4, 5})),
      // ops as specs write them, through the registry's lowering (b.op)
      Map.entry("relu6", (b, x) -> b.op("op", "relu6", x)),
      Map.entry("hardsigmoid", (b, x) -> b.op("op", "hardsigmoid", x)),
      Map.entry("hardswish", (b, x) -> b.op("op", "hardswish", x)),
      Map.entry("silu", (b, x) -> b.op("op", "silu", x)),
      Map.entry("gelu", (b, x) -> b.op("op", "gelu", x)));

  static java.util.stream.Stream<String> cases() {
    return OPS.keySet().stream().sorted();
  }

  @ParameterizedTest
  @org.junit.jupiter.params.provider.MethodSource("cases")
  void opEqualsPyTorch(String name) throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("op_cases.npz"));
    INDArray in = NdNpz.toNd4j(cases.get(name + "_input"));
    INDArray expected = NdNpz.toNd4j(cases.get(name + "_output"));
    NetBuilder b = new NetBuilder(1);
    String x = b.input("input", in.size(1), in.size(2), in.size(3));
    String y = OPS.get(name).apply(b, x);
    b.output("out", y, Loss.NONE, 1);
    ComputationGraph g = new ComputationGraph(b.build());
    g.init();
    INDArray actual = g.feedForward(new INDArray[] {in}, false, false).get(y);
    assertArrayEquals(expected.shape(), actual.shape(), name);
    double err = Transforms.abs(actual.sub(expected)).maxNumber().doubleValue()
        / (Transforms.abs(expected).maxNumber().doubleValue() + 1e-6);
    assertTrue(err <= 1e-5, name + ": max rel err " + err);
  }
}
