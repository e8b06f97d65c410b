// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.function.BiFunction;
import java.util.stream.Stream;
import org.cnnc.compiler.io.Npz;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code upsample} through the registry's lowering against PyTorch 1.13's {@code F.interpolate}
 * (tools/pytorch/parity.py, UPSAMPLE_CASES): nearest and bilinear, scale (integer, fractional,
 * per side, below 1) and size, align_corners both ways, odd sizes, a factor that keeps the size
 * (1.1: bilinear copies, nearest does not) or doubles it (2.1); the output and the input gradient of sum(output * dy).
 */
class UpsampleParityTest {
  static final Map<String, BiFunction<NetBuilder, String, String>> CASES = Map.ofEntries(
      Map.entry("nearest_x2", (b, x) -> b.op("op", "upsample", x, "scale", 2)),
      Map.entry("nearest_x1_5_odd", (b, x) -> b.op("op", "upsample", x, "scale", 1.5)),
      Map.entry("nearest_2x3", (b, x) -> b.op("op", "upsample", x, "scale", new int[] {2, 3})),
      Map.entry("nearest_size_7x11", (b, x) -> b.op("op", "upsample", x, "size", new int[] {7, 11})),
      Map.entry("nearest_down_0_6", (b, x) -> b.op("op", "upsample", x, "scale", 0.6)),
      Map.entry("nearest_x1_1_same_size", (b, x) -> b.op("op", "upsample", x, "scale", 1.1)),
      Map.entry("nearest_x2_1_twice", (b, x) -> b.op("op", "upsample", x, "scale", 2.1)),
      Map.entry("nearest_x1_7", (b, x) -> b.op("op", "upsample", x, "scale", 1.7, "mode", "nearest")),
      Map.entry("bilinear_x2", (b, x) -> b.op("op", "upsample", x, "scale", 2, "mode", "bilinear")),
      Map.entry("bilinear_x1_5_odd", (b, x) -> b.op("op", "upsample", x, "scale", 1.5, "mode", "bilinear")),
      Map.entry("bilinear_size_9x13", (b, x) -> b.op("op", "upsample", x, "size", new int[] {9, 13}, "mode", "bilinear")),
      Map.entry("bilinear_size_224", (b, x) -> b.op("op", "upsample", x, "size", 224, "mode", "bilinear",
          "align_corners", false)),
      Map.entry("bilinear_down_size_3x2", (b, x) -> b.op("op", "upsample", x, "size", new int[] {3, 2}, "mode", "bilinear")),
      Map.entry("bilinear_half_x2_5", (b, x) -> b.op("op", "upsample", x, "scale", new double[] {0.5, 2.5}, "mode",
          "bilinear")),
      Map.entry("bilinear_same_size", (b, x) -> b.op("op", "upsample", x, "size", new int[] {5, 7}, "mode", "bilinear")),
      Map.entry("bilinear_corners_x1_5", (b, x) -> b.op("op", "upsample", x, "scale", 1.5, "mode", "bilinear",
          "align_corners", true)),
      Map.entry("bilinear_corners_size_9x4", (b, x) -> b.op("op", "upsample", x, "size", new int[] {9, 4}, "mode",
          "bilinear", "align_corners", true)),
      Map.entry("bilinear_corners_to_1", (b, x) -> b.op("op", "upsample", x, "size", new int[] {1, 3}, "mode",
          "bilinear", "align_corners", true)),
      Map.entry("bilinear_x1_1_same_size", (b, x) -> b.op("op", "upsample", x, "scale", 1.1, "mode", "bilinear")),
      Map.entry("bilinear_x1_7", (b, x) -> b.op("op", "upsample", x, "scale", 1.7, "mode", "bilinear")));

  static Stream<String> cases() {
    return CASES.keySet().stream().sorted();
  }

  @ParameterizedTest
  @MethodSource("cases")
  void upsampleEqualsPyTorch(String name) throws Exception {
    Map<String, Npz.Array> cases = Npz.read(Fixtures.dir().resolve("upsample_cases.npz"));
    INDArray in = NdNpz.toNd4j(cases.get(name + "_input"));
    NetBuilder b = new NetBuilder(1);
    String x = b.input("input", in.size(1), in.size(2), in.size(3));
    String y = CASES.get(name).apply(b, x);
    b.output("out", y, Loss.NONE, 1);
    ComputationGraph g = new ComputationGraph(b.build());
    g.init();
    INDArray actual = g.feedForward(new INDArray[] {in}, false, false).get(y);
    close(NdNpz.toNd4j(cases.get(name + "_output")), actual, name + " output");

    GraphVertex v = g.getVertex(y);
    LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
    v.setInput(0, in, mgr);
    v.doForward(true, mgr);
    v.setEpsilon(NdNpz.toNd4j(cases.get(name + "_dy")));
    INDArray dx = v.doBackward(false, mgr).getSecond()[0];
    close(NdNpz.toNd4j(cases.get(name + "_dinput")), dx, name + " input gradient");
  }

  static void close(INDArray expected, INDArray actual, String what) {
    assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
    double err = ParityTest.relErr(actual, expected);
    assertTrue(err <= 1e-5, what + ": max rel err " + err);
  }
}
