// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.cnnc.runtime.InferencePlan.Pass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Every inference pass, alone and all together, gives the outputs of the unoptimized network
 * (max rel err <= 1e-5) on the article's networks with the parity weights, and with all passes on
 * the networks still equal PyTorch.
 */
class InferencePassesTest {
  @ParameterizedTest
  @ValueSource(strings = {"NiN", "GoogLeNet", "VGG16"})
  void passesKeepTheOutputs(String name) throws Exception {
    Path dir = Fixtures.dir();
    CnnNetwork net = CnnNetwork.create(Generated.model(name), 1);
    net.loadWeights(dir.resolve(name + ".npz"));
    INDArray x = NdNpz.toNd4j(Npz.readNpy(dir.resolve(name + "_input.npy")));
    Map<String, INDArray> reference = net.predict(x);
    String main = net.outputs().get(0).name();
    for (Pass pass : Pass.values()) {
      CnnNetwork opt = net.forInference(EnumSet.of(pass), Set.of(main));
      if (pass == Pass.MERGE_POINTWISE) {
        // GoogLeNet: the first convs of branches 1, 2 and 3 of each of the nine Inception blocks,
        // where the merge reads less than it copies. Alone, every slice is copied into its
        // BatchNorm: 3b's merge would copy 2 x (128 + 128 + 32) channels to spare reading 256
        // once, and is not made; so too with the BatchNorms folded but the ReLUs apart, which
        // read the slices; with both fused, branch 1's slices are views of the merged output
        // (only the concatenation reads them), and all nine are made
        assertEquals(name.equals("GoogLeNet") ? 8 : 0, merged(opt), name + ": merged 1x1 convs");
        assertEquals(name.equals("GoogLeNet") ? 8 : 0,
            merged(net.forInference(EnumSet.of(Pass.FOLD_BATCHNORM, pass), Set.of(main))),
            name + ": merged 1x1 convs, BatchNorm folded");
        assertEquals(name.equals("GoogLeNet") ? 9 : 0,
            merged(net.forInference(EnumSet.of(Pass.FOLD_BATCHNORM, Pass.FUSE_RELU, pass), Set.of(main))),
            name + ": merged 1x1 convs, BatchNorm folded, ReLU fused");
      }
      Map<String, INDArray> out = opt.predict(x);
      for (var e : out.entrySet()) {
        double err = ParityTest.relErr(e.getValue(), reference.get(e.getKey()));
        assertTrue(err <= 1e-5, name + " " + pass + " " + e.getKey() + ": " + err);
      }
    }
    CnnNetwork all = net.forInference(EnumSet.allOf(Pass.class), Set.of(main));
    Map<String, INDArray> out = all.predict(x);
    assertEquals(Set.of(main), out.keySet(), "only the output asked for");
    double err = ParityTest.relErr(out.get(main), reference.get(main));
    double torch = ParityTest.relErr(out.get(main), NdNpz.toNd4j(Npz.readNpy(dir.resolve(name + "_" + main + ".npy"))));
    System.out.printf("%s all passes: vs unoptimized %.2g, vs PyTorch %.2g; vertices %d -> %d, params %,d -> %,d%n",
        name, err, torch, net.graph().getVertices().length, all.graph().getVertices().length,
        net.graph().numParams(), all.graph().numParams());
    assertTrue(err <= 1e-5 && torch <= 1e-4);
    assertTrue(all.graph().getVertices().length < net.graph().getVertices().length);
  }

  private static long merged(CnnNetwork net) {
    return java.util.Arrays.stream(net.graph().getVertices())
        .filter(v -> v.getVertexName().endsWith(InferencePlan.MERGED)).count();
  }
}
