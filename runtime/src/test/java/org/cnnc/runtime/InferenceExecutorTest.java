// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.cnnc.runtime.InferencePlan.Pass;
import java.nio.file.Path;
import org.cnnc.runtime.layers.ConvLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The planned forward pass ({@link InferenceExecutor}) against the same network's vertices run
 * as each computes itself (the first call with new shapes): the same bits, call after call, at
 * batch 1 (the concatenations' inputs written in place) and batch 3 (copied into strided
 * slices), when the batch changes and changes back; and its memory plan never lets two
 * activations alive at once share memory.
 */
class InferenceExecutorTest {
  @ParameterizedTest
  @ValueSource(strings = {"GoogLeNet", "NiN"})
  void plannedRunsEqualTheVerticesOwnOutputs(String name) throws Exception {
    CnnNetwork net = CnnNetwork.create(Generated.model(name), 7);
    String main = net.outputs().get(0).name();
    // every pass but the layouts (GoogLeNet's 1x1 convs merged, branch 1's slices views), and
    // every pass (on a CPU whose convs prefer another layout: none merged, the Inception blocks
    // kept in it, each concatenation copying its branches in)
    CnnNetwork merged = net.forInference(EnumSet.complementOf(EnumSet.of(Pass.CONV_LAYOUT)), Set.of(main));
    CnnNetwork all = net.forInference(EnumSet.allOf(Pass.class), Set.of(main));
    boolean laysOut = ConvLayout.preferred() != ConvLayout.NCHW;
    for (CnnNetwork n : List.of(net, merged, all)) {
      InferenceExecutor e = n.executor();
      for (int batch : new int[] {1, 3, 1}) {
        INDArray x = input(n, batch, batch);
        Map<String, INDArray> probed = n.predict(x);
        long floats = e.arenaFloats();
        Map<String, INDArray> first = n.predict(x);
        int copies = e.copied().size();
        Map<String, INDArray> second = n.predict(input(n, batch, 99));
        Map<String, INDArray> again = n.predict(x);
        for (String out : probed.keySet()) {
          assertArrayEquals(probed.get(out).data().asFloat(), first.get(out).data().asFloat(), name + " " + out);
          assertArrayEquals(probed.get(out).data().asFloat(), again.get(out).data().asFloat(), name + " " + out);
          assertFalse(probed.get(out).equals(second.get(out)), "another input gives another output");
        }
        assertTrue(floats > 0, "planned");
        System.out.printf("%s (%d vertices) batch %d: arena %,d floats, %d copies per run%n", name,
            n.graph().getVertices().length, batch, floats, copies);
        if (name.equals("GoogLeNet") && n == all && laysOut) {
          assertEquals(InferenceExecutor.Kind.CONCAT, e.kind("inception3a.0"));
          assertEquals(InferenceExecutor.Kind.COMPUTE, e.kind("inception3a.branch1.conv.0"), "not merged");
          for (String block : new String[] {"3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a"}) {
            assertEquals(ConvLayout.preferred(), e.layouts().get("inception" + block + ".0"), block + ": " + e.layouts());
          }
          // each kept concatenation copies its four branches in (5b's is the output's NCHW)
          assertEquals(8 * 4, e.copied().stream().filter(v -> v.startsWith("inception") && v.contains(".branch")).count(),
              e.copied().toString());
        }
        if (name.equals("GoogLeNet") && (n == merged || n == all && !laysOut)) {
          // the nine Inception blocks' concatenations; branch 1's slice of each merged 1x1 conv
          assertEquals(InferenceExecutor.Kind.CONCAT, e.kind("inception3a.0"));
          assertEquals(InferenceExecutor.Kind.COMPUTE, e.kind("inception3a.branch2.0.conv.0"), "read by a conv: copied");
          assertEquals(InferenceExecutor.Kind.VIEW, e.kind("inception3a.branch1.conv.0"));
          if (batch == 1) {
            // the nine views are copied into their concatenations; every layer of cnnc's writes
            // into its planned range (DL4J's global pooling and flattening make arrays of their own)
            assertEquals(9, e.copied().stream().filter(v -> e.kind(v) == InferenceExecutor.Kind.VIEW).count(),
                e.copied().toString());
            for (String v : e.copied()) {
              var vertex = n.graph().getVertex(v);
              assertTrue(e.kind(v) == InferenceExecutor.Kind.VIEW || !vertex.hasLayer()
                  || !vertex.getLayer().getClass().getName().startsWith("org.cnnc"), v + " copied: " + e.copied());
            }
          }
        }
      }
    }
  }

  /**
   * Threads predicting at once on one network (each its own input, batch sizes changing the
   * plan under the others) get what one thread alone gets: calls are serialized, so no thread
   * reads an arena another is writing.
   */
  @Test
  void concurrentCallsGetTheirOwnResults() throws Exception {
    CnnNetwork net = CnnNetwork.create(Generated.model("NiN"), 3);
    int threads = 4;
    INDArray[] inputs = new INDArray[threads];
    INDArray[] alone = new INDArray[threads];
    for (int t = 0; t < threads; t++) {
      inputs[t] = input(net, 1 + t % 2, 100 + t);
      alone[t] = net.predict(inputs[t]).values().iterator().next();
    }
    var pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
    try {
      List<java.util.concurrent.Future<Boolean>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int me = t;
        results.add(pool.submit(() -> {
          for (int round = 0; round < 6; round++) {
            INDArray y = net.predict(inputs[me]).values().iterator().next();
            if (!java.util.Arrays.equals(alone[me].data().asFloat(), y.data().asFloat())) {
              return false;
            }
          }
          return true;
        }));
      }
      for (int t = 0; t < threads; t++) {
        assertTrue(results.get(t).get(), "thread " + t + " got another thread's or a torn result");
      }
    } finally {
      pool.shutdownNow();
    }
  }

  /** Residual blocks (identity and projected shortcuts, an add without ReLU read by a concatenation). */
  static final String RESIDUAL = """
      package org.cnnc.residual_test

      block Res(c: int, stride: int = 1, down: int = 0) {
          x: identity
          conv1: conv(c, 3, stride = stride, padding = 1, bias = false)
          bn1: batchnorm
          relu
          conv2: conv(c, 1)
          bn2: batchnorm
          add(from bn2, from x -> repeat down { conv(c, 1, stride = stride, bias = false) batchnorm })
          relu
      }

      block Plain(c: int) {
          x: identity
          a: conv(c, 3, padding = 1)
          add(from a, from x)
      }

      block Join(c: int) {
          x: identity
          concat(from x -> conv(c, 1), from x -> Plain(c))
      }

      model Net {
          input [3, 12, 12]
          stem: conv(8, 3, padding = 1)
          relu
          r1: Res(8)
          r2: Res(16, stride = 2, down = 1)
          j: Join(16)
          head: conv(4, 1)
      }
      """;

  @TempDir static Path dir;

  /**
   * A residual add fused into the conv before it ({@link InferenceExecutor.Kind#ADDED}) gives the
   * bits the conv and the add give apart (DL4J's own run of the same graph), with the BatchNorms
   * apart or folded, at batch 1 and 4 (where the add read by a concatenation writes its strided
   * slice), in every kernel path the convs take.
   */
  @Test
  void residualAddsFusedIntoConvsKeepTheBits() throws Exception {
    var c = org.cnnc.compiler.Compiler.compileText("net.cnn", RESIDUAL, Map.of());
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    CnnModel model = (CnnModel) Generated.compile(c, dir.resolve("residual")).loadClass("org.cnnc.residual_test.Net")
        .getConstructor().newInstance();
    CnnNetwork net = CnnNetwork.create(model, 5);
    // BatchNorm statistics other than 0 and 1, so that folding them changes the convs
    Nd4j.getRandom().setSeed(8);
    for (var e : net.graph().paramTable().entrySet()) {
      if (e.getKey().endsWith("_mean")) {
        e.getValue().assign(Nd4j.rand(DataType.FLOAT, e.getValue().shape()).subi(0.5).muli(0.5));
      } else if (e.getKey().endsWith("_var")) {
        e.getValue().assign(Nd4j.rand(DataType.FLOAT, e.getValue().shape()).addi(0.5));
      }
    }
    String main = net.outputs().get(0).name();
    // every pass that keeps the kernels (CONV_LAYOUT moves convs onto oneDNN's primitives, whose
    // sums round otherwise: ConvLayoutPassTest checks it within 1e-5)
    EnumSet<Pass> all = EnumSet.allOf(Pass.class);
    all.remove(Pass.CONV_LAYOUT);
    EnumSet<Pass> apart = EnumSet.copyOf(all);
    apart.remove(Pass.FUSE_ADD);
    CnnNetwork fusing = net.forInference(all, Set.of(main));
    for (CnnNetwork n : List.of(net, fusing, net.forInference(apart, Set.of(main)))) {
      InferenceExecutor e = n.executor();
      List<String> adds = new ArrayList<>();
      n.graph().getConfiguration().getVertices().forEach((v, conf) -> {
        if (conf instanceof org.cnnc.runtime.layers.CnncAdd) {
          adds.add(v);
        }
      });
      assertEquals(3, adds.size(), adds.toString());
      for (String add : adds) {
        assertEquals(n == fusing ? InferenceExecutor.Kind.ADDED : InferenceExecutor.Kind.COMPUTE, e.kind(add), add);
      }
      for (int batch : new int[] {1, 4}) {
        for (long seed : new long[] {batch, 50 + batch}) {
          INDArray x = input(n, batch, seed);
          INDArray alone = n.graph().feedForward(new INDArray[] {x}, false, false).get(n.outputs().get(0).node());
          assertTrue(alone.amax().getDouble(0) > 0.1, "a live output");
          for (int call = 0; call < 2; call++) {
            // the first call runs as the vertices compute themselves, the second over the plan
            INDArray fused = n.predict(x).get(main);
            assertArrayEquals(alone.data().asFloat(), fused.data().asFloat(), "batch " + batch + ", call " + call);
          }
        }
      }
    }
  }

  private static INDArray input(CnnNetwork n, int batch, long seed) {
    long[] example = n.model().inputShape();
    long[] shape = new long[example.length + 1];
    shape[0] = batch;
    System.arraycopy(example, 0, shape, 1, example.length);
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.FLOAT, shape);
  }

  /** Random blocks and lifetimes (seeded): blocks alive at a common step never overlap in memory. */
  @Test
  void placementNeverOverlapsLiveBlocks() {
    Random r = new Random(20261205);
    for (int round = 0; round < 200; round++) {
      int n = 1 + r.nextInt(40);
      long[] size = new long[n];
      int[] first = new int[n];
      int[] last = new int[n];
      List<Integer> blocks = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        size[i] = 1 + r.nextInt(r.nextBoolean() ? 50 : 5000);
        first[i] = r.nextInt(30);
        last[i] = first[i] + r.nextInt(10);
        blocks.add(i);
      }
      long[] at = InferenceExecutor.place(blocks, i -> size[i], i -> first[i], i -> last[i]);
      long sum = 0;
      long end = 0;
      for (int i = 0; i < n; i++) {
        assertEquals(0, at[i] % 16, "aligned");
        sum += size[i];
        end = Math.max(end, at[i] + size[i]);
        for (int j = 0; j < i; j++) {
          boolean together = first[i] <= last[j] && first[j] <= last[i];
          boolean overlap = at[i] < at[j] + size[j] && at[j] < at[i] + size[i];
          assertFalse(together && overlap, "round " + round + ": blocks " + i + " and " + j);
        }
      }
      assertTrue(end <= sum + 16L * n, "no more than the blocks and their alignment");
    }
  }
}
