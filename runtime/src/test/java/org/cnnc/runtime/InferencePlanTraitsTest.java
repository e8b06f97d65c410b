// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.cnnc.runtime.InferencePlan.Pass;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The inference passes decide from the registry's traits and the lowerings' capabilities, not
 * from op names: on a network mixing ops that fold or fuse with ones that must not (a grouped
 * conv's batch norm folds, and then its relu6 fuses; a batch norm after a pool stays, a relu
 * after an add fuses on cnnc's kernels only), each
 * pass removes exactly the vertices its rule names, on both kernel sets.
 */
class InferencePlanTraitsTest {
  /** A test network named after its class, with one output, {@code out}. */
  abstract static class OneOutput implements CnnModel {
    @Override
    public String name() {
      return getClass().getSimpleName();
    }

    @Override
    public List<String> outputNames() {
      return List.of("out");
    }
  }

  /** input -> conv -> batchnorm -> relu -> grouped conv -> batchnorm -> relu6 -> maxpool -> batchnorm -> relu
   *  -> add(itself, conv) -> relu -> flatten -> dense -> relu -> dense. */
  static final class Mixed extends OneOutput {
    @Override
    public void build(NetBuilder b) {
      String x = b.input("x", 4, 8, 8);
      x = b.op("c1", "conv", x, "out", 8, "kernel", 3, "padding", 1, "bias", false);
      x = b.op("bn1", "batchnorm", x);
      x = b.op("r1", "relu", x);
      x = b.op("dw", "conv", x, "out", 8, "kernel", 3, "padding", 1, "groups", 8);
      x = b.op("bn2", "batchnorm", x);
      x = b.op("r6", "relu6", x);
      x = b.op("pool", "maxpool", x, "kernel", 2);
      x = b.op("bn3", "batchnorm", x);
      x = b.op("r3", "relu", x);
      String y = b.op("c2", "conv", x, "out", 8, "kernel", 1);
      x = b.merge("sum", "add", x, y);
      x = b.op("r4", "relu", x);
      x = b.op("fc1", "dense", x, "out", 16);
      x = b.op("r5", "relu", x);
      x = b.op("fc2", "dense", x, "out", 3);
      b.output("out", x, Loss.CROSS_ENTROPY, 1.0);
    }
  }

  /** input -> conv -> batchnorm -> silu -> depthwise conv -> batchnorm -> silu -> two 1x1 convs, each -> silu -> add. */
  static final class Silu extends OneOutput {
    @Override
    public void build(NetBuilder b) {
      String x = b.input("x", 4, 8, 8);
      x = b.op("c1", "conv", x, "out", 8, "kernel", 3, "padding", 1, "bias", false);
      x = b.op("bn1", "batchnorm", x);
      x = b.op("s1", "silu", x);
      x = b.op("dw", "conv", x, "out", 8, "kernel", 3, "padding", 1, "groups", 8);
      x = b.op("bn2", "batchnorm", x);
      x = b.op("s2", "silu", x);
      String p = b.op("s3", "silu", b.op("p1", "conv", x, "out", 6, "kernel", 1));
      String q = b.op("s4", "silu", b.op("p2", "conv", x, "out", 6, "kernel", 1));
      x = b.merge("sum", "add", p, q);
      x = b.op("fc", "dense", x, "out", 3);
      b.output("out", x, Loss.CROSS_ENTROPY, 1.0);
    }
  }

  /**
   * A SiLU after a conv (its BatchNorm folded, a depthwise conv, the members of a merged 1x1
   * conv) is computed by the conv on cnnc's kernels, in inference only, with the bits of its own
   * layer; DL4J's kernels keep it apart, and so does the training network.
   */
  @ParameterizedTest
  @EnumSource(NetBuilder.Kernels.class)
  void siluFusesIntoTheConvBeforeIt(NetBuilder.Kernels kernels) {
    CnnNetwork net = CnnNetwork.create(new Silu(), 4, kernels);
    for (String silu : List.of("s1", "s2", "s3", "s4")) {
      assertTrue(net.graph().getVertex(silu) != null, kernels + ": the training network keeps " + silu);
    }
    EnumSet<Pass> apart = EnumSet.of(Pass.FOLD_BATCHNORM, Pass.MERGE_POINTWISE);
    EnumSet<Pass> fusing = EnumSet.of(Pass.FOLD_BATCHNORM, Pass.MERGE_POINTWISE, Pass.FUSE_RELU);
    CnnNetwork plain = net.forInference(apart, Set.of("out"));
    CnnNetwork fused = net.forInference(fusing, Set.of("out"));
    Set<String> gone = removed(vertices(plain), fused);
    assertEquals(kernels == NetBuilder.Kernels.CNNC ? Set.of("s1", "s2", "s3", "s4") : Set.of(), gone, kernels + "");
    Nd4j.getRandom().setSeed(11);
    for (int batch : new int[] {1, 3}) {
      INDArray x = Nd4j.randn(org.nd4j.linalg.api.buffer.DataType.FLOAT, batch, 4, 8, 8).muli(3);
      INDArray a = plain.predict(x).get("out");
      INDArray f = fused.predict(x).get("out");
      if (kernels == NetBuilder.Kernels.CNNC) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(a.data().asFloat(), f.data().asFloat(), "batch " + batch);
      } else {
        assertTrue(ParityTest.relErr(f, a) <= 1e-5, kernels + ": " + ParityTest.relErr(f, a));
      }
    }
  }

  @ParameterizedTest
  @EnumSource(NetBuilder.Kernels.class)
  void passesFollowTraits(NetBuilder.Kernels kernels) {
    CnnNetwork net = CnnNetwork.create(new Mixed(), 1, kernels);
    // the inference network without passes (it has no loss layer) is what each pass removes from
    Set<String> before = vertices(net.forInference(EnumSet.noneOf(Pass.class), Set.of("out")));
    Set<String> folded = removed(before, net.forInference(EnumSet.of(Pass.FOLD_BATCHNORM), Set.of("out")));
    // a batch norm folds into the conv before it (grouped or not), not into a pool
    assertEquals(Set.of("bn1", "bn2"), folded, kernels + ": FOLD_BATCHNORM");
    Set<String> fused = removed(before, net.forInference(EnumSet.of(Pass.FUSE_RELU), Set.of("out")));
    // relus after a conv, a dense layer and (cnnc's kernels only) a batch norm or an add; relu6
    // after a batch norm on cnnc's kernels only
    Set<String> expected = new TreeSet<>(Set.of("r5"));
    if (kernels == NetBuilder.Kernels.CNNC) {
      expected.addAll(Set.of("r1", "r3", "r4", "r6"));
    }
    assertEquals(expected, fused, kernels + ": FUSE_RELU");
    Set<String> both = removed(before, net.forInference(EnumSet.of(Pass.FOLD_BATCHNORM, Pass.FUSE_RELU), Set.of("out")));
    // with bn1 folded, r1 fuses into c1 on either kernel set, and with bn2 folded, relu6 into the grouped conv
    Set<String> all = new TreeSet<>(Set.of("bn1", "bn2", "r1", "r6", "r5"));
    if (kernels == NetBuilder.Kernels.CNNC) {
      all.addAll(Set.of("r3", "r4"));
    }
    assertEquals(all, both, kernels + ": FOLD_BATCHNORM + FUSE_RELU");
  }

  /**
   * relu6 fused into the conv before it clamps as its own layer did: the same outputs with and
   * without the passes, on inputs that drive the conv past 6 and below 0; and a network built for
   * training keeps relu6's own layer (its backward is not the conv's).
   */
  @ParameterizedTest
  @EnumSource(NetBuilder.Kernels.class)
  void fusedRelu6ClampsAsItsLayer(NetBuilder.Kernels kernels) {
    CnnNetwork net = CnnNetwork.create(new Mixed(), 3, kernels);
    // trained, relu6 is cnnc's batch norm's own last step (its backward masks by the output)
    assertEquals(kernels == NetBuilder.Kernels.DL4J, net.graph().getVertex("r6") != null,
        kernels + ": the training network's relu6");
    Nd4j.getRandom().setSeed(5);
    INDArray x = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 4, 8, 8).subi(0.5).muli(40);
    CnnNetwork plain = net.forInference(EnumSet.noneOf(Pass.class), Set.of("out"));
    INDArray pre = plain.graph().feedForward(new INDArray[] {x}, false, false).get("bn2");
    assertTrue(pre.maxNumber().doubleValue() > 6 && pre.minNumber().doubleValue() < 0,
        "the input reaches both bends: " + pre.minNumber() + " .. " + pre.maxNumber());
    CnnNetwork fused = net.forInference(EnumSet.of(Pass.FOLD_BATCHNORM, Pass.FUSE_RELU), Set.of("out"));
    assertTrue(fused.graph().getVertex("r6") == null, kernels + ": relu6 fused");
    double err = ParityTest.relErr(fused.predict(x).get("out"), plain.predict(x).get("out"));
    assertTrue(err <= 1e-5, kernels + ": fused relu6 against its own layer: " + err);
    if (kernels == NetBuilder.Kernels.CNNC) {
      assertTrainsAsUnplanned(net, x);
    }
  }

  /**
   * A ReLU fused into cnnc's add computes what its own layer did, in inference and in the
   * training network (built with the fusion): its loss and gradients are those of the same
   * network built without a plan.
   */
  @org.junit.jupiter.api.Test
  void reluFusedIntoAnAddComputesAsItsLayer() {
    CnnNetwork net = CnnNetwork.create(new Mixed(), 3, NetBuilder.Kernels.CNNC);
    assertTrue(net.graph().getVertex("r4") == null, "the training network fuses the relu after the add");
    Nd4j.getRandom().setSeed(7);
    INDArray x = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 4, 8, 8).subi(0.5).muli(4);
    CnnNetwork plain = net.forInference(EnumSet.noneOf(Pass.class), Set.of("out"));
    CnnNetwork fused = net.forInference(EnumSet.of(Pass.FUSE_RELU), Set.of("out"));
    INDArray sum = plain.graph().feedForward(new INDArray[] {x}, false, false).get("sum");
    assertTrue(sum.minNumber().doubleValue() < 0 && sum.maxNumber().doubleValue() > 0, "the sum has both signs");
    assertTrue(fused.graph().getVertex("r4") == null && plain.graph().getVertex("r4") != null);
    assertEquals(plain.predict(x).get("out"), fused.predict(x).get("out"), "fused relu after the add");
    assertTrainsAsUnplanned(net, x);
  }

  /**
   * The network built with cnnc's training plan (its relus, relu6 and adds fused) has the loss and
   * the gradients, bit for bit, of the same network built without a plan (each activation its
   * own layer), on the same parameters: the fused layers mask their gradients by their outputs as
   * the activation layers do by their inputs.
   */
  private static void assertTrainsAsUnplanned(CnnNetwork net, INDArray x) {
    CnnNetwork unplanned = CnnNetwork.createUnplanned(new Mixed(), new NetBuilder(3));
    assertTrue(unplanned.graph().getVertex("r4") != null && unplanned.graph().getVertex("r6") != null);
    unplanned.graph().params().assign(net.graph().params());
    INDArray labels = Nd4j.zeros(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 3);
    labels.putScalar(0, 1, 1);
    labels.putScalar(1, 2, 1);
    double[] scores = new double[2];
    INDArray[] grads = new INDArray[2];
    CnnNetwork[] both = {net, unplanned};
    for (int i = 0; i < 2; i++) {
      var g = both[i].graph();
      g.setInputs(x);
      g.setLabels(labels);
      g.computeGradientAndScore();
      scores[i] = g.score();
      grads[i] = g.getFlattenedGradients().dup();
    }
    assertEquals(scores[1], scores[0], "loss");
    assertEquals(grads[1], grads[0], "gradients, fused against each activation its own layer");
  }

  /**
   * ResNet's first block: a 1x1 conv and the 1x1 downsampling conv read the block's input, and
   * neither feeds a concatenation. An Inception block: three 1x1 convs read it, the first only
   * into the concatenation.
   */
  static final class Pointwise extends OneOutput {
    @Override
    public void build(NetBuilder b) {
      String x = b.input("x", 16, 8, 8);
      String a = b.op("ra", "relu", b.op("a", "conv", x, "out", 16, "kernel", 1));
      a = b.op("a3", "conv", a, "out", 64, "kernel", 3, "padding", 1);
      String d = b.op("down", "conv", x, "out", 64, "kernel", 1);
      x = b.op("rsum", "relu", b.merge("sum", "add", a, d));
      String p1 = b.op("r1", "relu", b.op("p1", "conv", x, "out", 32, "kernel", 1));
      String p2 = b.op("p2b", "conv", b.op("r2", "relu", b.op("p2", "conv", x, "out", 8, "kernel", 1)), "out", 16,
          "kernel", 3, "padding", 1);
      String p3 = b.op("p3b", "conv", b.op("r3", "relu", b.op("p3", "conv", x, "out", 4, "kernel", 1)), "out", 8,
          "kernel", 3, "padding", 1);
      x = b.merge("cat", "concat", p1, p2, p3);
      x = b.op("gap", "global_avgpool", x);
      x = b.op("fc", "dense", b.op("flat", "flatten", x), "out", 3);
      b.output("out", x, Loss.CROSS_ENTROPY, 1.0);
    }
  }

  /**
   * 1x1 convs that read one input are merged when reading it once spares more than copying out
   * the slices that do not go straight into a concatenation costs: the Inception block's (64
   * channels read once more per extra conv, 2 x (8 + 4) copied), not ResNet's (16 against
   * 2 x (16 + 64)). Either way the outputs are the unmerged network's.
   */
  @ParameterizedTest
  @EnumSource(NetBuilder.Kernels.class)
  void mergesPointwiseConvsWhereReadingOnceSparesMoreThanTheCopiesCost(NetBuilder.Kernels kernels) {
    CnnNetwork net = CnnNetwork.create(new Pointwise(), 5, kernels);
    CnnNetwork merged = net.forInference(EnumSet.of(Pass.MERGE_POINTWISE, Pass.FUSE_RELU), Set.of("out"));
    Set<String> made = vertices(merged).stream().filter(v -> v.endsWith(InferencePlan.MERGED))
        .collect(Collectors.toCollection(TreeSet::new));
    assertEquals(Set.of("rsum" + InferencePlan.MERGED), made, kernels + ": merged convs");
    INDArray x = Nd4j.rand(org.nd4j.linalg.api.buffer.DataType.FLOAT, 2, 16, 8, 8).subi(0.5);
    INDArray expected = net.forInference(EnumSet.noneOf(Pass.class), Set.of("out")).predict(x).get("out");
    INDArray actual = merged.predict(x).get("out");
    assertTrue(expected.sub(actual).amaxNumber().doubleValue() <= 1e-5 * expected.amaxNumber().doubleValue(),
        kernels + ": " + expected + " against " + actual);
  }

  private static Set<String> vertices(CnnNetwork n) {
    return Arrays.stream(n.graph().getVertices()).map(v -> v.getVertexName()).collect(Collectors.toCollection(TreeSet::new));
  }

  private static Set<String> removed(Set<String> before, CnnNetwork after) {
    Set<String> gone = new TreeSet<>(before);
    gone.removeAll(vertices(after));
    return gone;
  }
}
