// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.Compiler;
import org.cnnc.runtime.InferencePlan.Pass;
import org.cnnc.runtime.layers.ConvLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Pass#CONV_LAYOUT}: which activations {@code predict} keeps in oneDNN's layout, on a
 * small residual network that has each case (a 3x3 conv's output read by a 3x3 conv and a
 * residual add; a 1x1 conv between two kept activations; a 1x1 conv whose wide output an
 * adaptive average pooling (which reads NCHW only) reads, so that keeping its 20-channel input
 * would spare less than converting its 64-channel output costs: its input stays NCHW, and so, in
 * turn, does what the 1x1 conv before it would read; a residual add whose output is NCHW while
 * its residual is kept, reordered in the conv), and that the outputs equal those of the network
 * without the pass, NaN where it has NaN, the same bits from the first call on.
 */
class ConvLayoutPassTest {
  private static final String SPEC = """
      package org.cnnc.test

      block Res(planes: int) {
          x: identity
          conv1: conv(planes, 3, padding = 1)
          relu: relu
          conv2: conv(planes, 1)
          add(from conv2, from x)
          relu
      }

      model laid(size: int = 32, classes: int = 10) {
          input [3, size, size]
          stem: conv(20, 3, padding = 1)
          relu
          r1: Res(20)
          r2: Res(20)
          head: conv(64, 1)
          relu
          pool: adaptive_avgpool(2)
          flatten
          fc: dense(256 -> classes)
      }
      """;

  @TempDir Path dir;

  /** {@link #SPEC}'s model, compiled and generated. */
  private Class<?> laidClass() throws Exception {
    Path spec = dir.resolve("laid.cnn");
    Files.writeString(spec, SPEC);
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    return Generated.compile(c, dir.resolve("generated")).loadClass("org.cnnc.test.Laid");
  }

  @Test
  void keepsActivationsBetweenConvsInOneDnnsLayoutAndTheOutputs() throws Exception {
    Class<?> laidClass = laidClass();
    CnnNetwork net = CnnNetwork.create((CnnModel) laidClass.getConstructor().newInstance(), 3);
    String out = net.outputs().get(0).name();
    EnumSet<Pass> without = EnumSet.copyOf(InferencePlan.DEFAULTS);
    without.remove(Pass.CONV_LAYOUT);
    assertTrue(InferencePlan.DEFAULTS.contains(Pass.CONV_LAYOUT), "a default pass");
    CnnNetwork plain = net.forInference(without, Set.of(out));
    CnnNetwork laid = net.forInference(InferencePlan.DEFAULTS, Set.of(out));
    int preferred = ConvLayout.preferred();
    assertTrue(preferred != ConvLayout.NCHW, "oneDNN's convs prefer a layout of their own on x86");
    for (int batch : new int[] {2, 1}) {
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 32, 32).subi(0.5);
      float[] first = laid.predict(x).get(out).data().asFloat();
      float[] second = laid.predict(x).get(out).data().asFloat();
      assertArrayEquals(first, second, "batch " + batch + ": the first call's bits are the later calls'");
      INDArray expected = plain.predict(x).get(out);
      INDArray actual = laid.predict(x).get(out);
      double err = expected.sub(actual).amaxNumber().doubleValue() / expected.amaxNumber().doubleValue();
      assertTrue(err < 1e-5, "batch " + batch + ": " + err);
      Map<String, Integer> layouts = laid.executor().layouts();
      System.out.printf("batch %d: kept in layout %d: %s; max rel err %.2e%n", batch, preferred, layouts.keySet(), err);
      assertTrue(layouts.values().stream().allMatch(l -> l == preferred), layouts.toString());
      // the stem and the first block's convs write kept activations; the head's 64 channels
      // outweigh the second block's 20: what the second block's 1x1 conv writes (its add's
      // output) stays NCHW. That conv adds the first block's kept sum, so it runs on the
      // primitive anyway: its input, what the 3x3 conv writes, stays kept, and it adds the
      // residual in its layout and converts the sum once
      for (String kept : new String[] {"stem", "r1.conv1", "r1.conv2", "r2.conv1"}) {
        assertTrue(layouts.containsKey(kept), kept + " kept: " + layouts);
      }
      for (String nchw : new String[] {"head", "r2.conv2"}) {
        assertFalse(layouts.containsKey(nchw), nchw + " NCHW: " + layouts);
      }
      assertTrue(plain.executor().layouts().isEmpty(), "without the pass, NCHW throughout");
      // a NaN crosses the kept layouts as it crosses NCHW (the ReLUs keep it)
      INDArray nan = x.dup();
      nan.putScalar(new long[] {0, 1, 5, 7}, Float.NaN);
      INDArray e = plain.predict(nan).get(out);
      INDArray a = laid.predict(nan).get(out);
      for (long i = 0; i < e.length(); i++) {
        assertEquals(Float.isNaN(e.getFloat(i)), Float.isNaN(a.getFloat(i)), "NaN at " + i);
      }
      assertTrue(Float.isNaN(a.getFloat(0)), "the NaN reaches the output");
    }
    // 16^2 at batch 2: 512 pixels, too few for a 1x1 conv on the primitive when it reorders its
    // weights at every call (a network's own graph, which keeps no weights); so every activation
    // the 1x1 convs touch stays NCHW, and with them the rest. A network for inference keeps its
    // weights in the primitive's layout: there the 1x1 convs join whatever their size
    CnnNetwork small = CnnNetwork.create((CnnModel) laidClass.getConstructor(int.class, int.class).newInstance(16, 10), 3);
    INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 16, 16);
    InferenceExecutor reordering = new InferenceExecutor(small.graph(), java.util.List.of("pool"), true, true);
    reordering.run(x);
    reordering.run(x);
    assertTrue(reordering.layouts().isEmpty(), reordering.layouts().toString());
    CnnNetwork smallLaid = small.forInference(InferencePlan.DEFAULTS, Set.of(out));
    smallLaid.predict(x);
    smallLaid.predict(x);
    assertTrue(smallLaid.executor().layouts().keySet().containsAll(Set.of("stem", "r1.conv1", "r1.conv2")),
        smallLaid.executor().layouts().toString());
  }

  /**
   * {@code timeSteps} times each step as the plan runs it: one row per step that computes, in
   * the plan's order, with the plan's layout and whether it ran in oneDNN's layouts; the
   * folded BatchNorms and the adds the convs compute have none; predict is unchanged after.
   */
  @Test
  void timesEachStepAsThePlanRunsIt() throws Exception {
    Class<?> laidClass = laidClass();
    CnnNetwork net = CnnNetwork.create((CnnModel) laidClass.getConstructor().newInstance(), 3);
    String out = net.outputs().get(0).name();
    CnnNetwork laid = net.forInference(InferencePlan.DEFAULTS, Set.of(out));
    INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 32, 32).subi(0.5);
    float[] before = laid.predict(x).get(out).data().asFloat();
    java.util.List<CnnNetwork.StepTime> steps = laid.timeSteps(3, x);
    java.util.List<String> names = steps.stream().map(CnnNetwork.StepTime::vertex).toList();
    // the ReLUs are fused, the adds computed by their convs; the flatten (vertex 7) is a step of its own
    assertEquals(java.util.List.of("stem", "r1.conv1", "r1.conv2", "r2.conv1", "r2.conv2", "head", "pool", "7", "fc"),
        names);
    Map<String, Integer> layouts = laid.executor().layouts();
    for (CnnNetwork.StepTime t : steps) {
      assertEquals(3, t.ms().length, t.vertex());
      assertTrue(java.util.Arrays.stream(t.ms()).allMatch(ms -> ms >= 0), t.vertex());
      assertEquals(layouts.getOrDefault(t.vertex(), ConvLayout.NCHW), t.layout(), t.vertex());
    }
    Map<String, CnnNetwork.StepTime> by = new java.util.HashMap<>();
    steps.forEach(t -> by.put(t.vertex(), t));
    assertTrue(by.get("stem").laid() && by.get("r1.conv1").laid(), "the kept activations' convs run laid out");
    assertFalse(by.get("head").laid() || by.get("pool").laid(), "NCHW throughout: not laid");
    assertTrue(by.get("stem").ms()[0] > 0, "a conv takes time");
    assertArrayEquals(before, laid.predict(x).get(out).data().asFloat(), "predict after timing");
    assertThrows(IllegalArgumentException.class, () -> laid.timeSteps(0, x));
    assertThrows(IllegalArgumentException.class, () -> laid.timeSteps(1, x.castTo(DataType.DOUBLE)));
  }

  /**
   * A network {@code forInference} made keeps its convs' weights in the primitive's layout: one
   * reorder per conv, not one per call. Changed weights are used at the next call: a whole tensor
   * changed around the API is caught by the sampled guard, a value the guard does not sample once
   * {@code weightsChanged} says so; either way the outputs are those of a network made afresh from
   * the same weights. A network for training keeps none.
   */
  @Test
  void keepsTheWeightsInTheLayoutUntilTheyChange() throws Exception {
    Class<?> laidClass = laidClass();
    CnnNetwork net = CnnNetwork.create((CnnModel) laidClass.getConstructor().newInstance(), 3);
    String out = net.outputs().get(0).name();
    CnnNetwork laid = net.forInference(InferencePlan.DEFAULTS, Set.of(out));
    INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 32, 32).subi(0.5);
    var stem = (org.cnnc.runtime.layers.GemmConvolutionLayer) laid.graph().getLayer("stem");
    float[] first = laid.predict(x).get(out).data().asFloat();
    int reorders = stem.weightReorders();
    assertTrue(reorders >= 1, "the stem runs on the primitive with its weights kept");
    laid.predict(x);
    laid.predict(x);
    assertEquals(reorders, stem.weightReorders(), "kept: no reorder at later calls");
    assertArrayEquals(first, laid.predict(x).get(out).data().asFloat());
    // another batch size is another primitive: its weights kept too, beside the first's
    INDArray one = x.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 1)).dup();
    laid.predict(one);
    int both = stem.weightReorders();
    assertTrue(both > reorders, "a new primitive, its own weights");
    laid.predict(x);
    laid.predict(one);
    assertEquals(both, stem.weightReorders(), "both kept");
    // the whole tensor changed in the graph, nothing said: the guard sees it
    INDArray w = Nd4j.rand(DataType.FLOAT, laid.graph().getParam("stem_W").shape()).subi(0.5);
    laid.graph().getParam("stem_W").assign(w);
    net.graph().getParam("stem_W").assign(w);
    float[] changed = laid.predict(x).get(out).data().asFloat();
    assertArrayEquals(net.forInference(InferencePlan.DEFAULTS, Set.of(out)).predict(x).get(out).data().asFloat(),
        changed, "new weights, caught by the guard");
    assertFalse(java.util.Arrays.equals(first, changed));
    // one value the guard does not sample (it reads every 540/64-th), said by weightsChanged
    laid.graph().getParam("stem_W").putScalar(1, 3f);
    net.graph().getParam("stem_W").putScalar(1, 3f);
    laid.weightsChanged();
    float[] single = laid.predict(x).get(out).data().asFloat();
    assertArrayEquals(net.forInference(InferencePlan.DEFAULTS, Set.of(out)).predict(x).get(out).data().asFloat(),
        single, "one value changed, said");
    assertFalse(java.util.Arrays.equals(changed, single));
    net.predict(x);
    assertEquals(0, ((org.cnnc.runtime.layers.GemmConvolutionLayer) net.graph().getLayer("stem")).weightReorders(),
        "a network for training keeps no weights");
  }

  @Test
  void keepsWhatSparesMoreThanItCostsOnNin() throws Exception {
    // NiN's first block: 5x5 conv -> 1x1 (192 -> 160) -> 1x1 (160 -> 96) -> max pooling -> (its
    // dropout dropped) block 2's 5x5 conv. The pooling keeps the layout: the 1x1 conv writes its
    // output kept, and the 5x5 conv reads the pooled map as it is. Block 2 likewise (its 1x1
    // convs, 2 x 15^2 pixels, keep their weights in the primitive's layout, so they join), and
    // block 3's 3x3 conv and first 1x1 conv; its second 1x1 conv's output, pooled for block 4's
    // 10-channel conv, stays NCHW: converting 384 channels would cost more than it spares
    CnnNetwork laid = laidAsPlain("NiN", 5, Nd4j.rand(DataType.FLOAT, 2, 3, 32, 32));
    assertEquals(Set.of("block1.0", "block1.2", "block1.4", "block1.6", "block2.0", "block2.2", "block2.4",
        "block2.6", "block3.0", "block3.2"), laid.executor().layouts().keySet());
  }

  /**
   * Article network {@code model} (seeded), for inference with the default passes: its output for
   * {@code x} equals (1e-5 relative) the one without {@link Pass#CONV_LAYOUT}. Returns it, planned.
   */
  private static CnnNetwork laidAsPlain(String model, long seed, INDArray x) throws Exception {
    CnnNetwork net = CnnNetwork.create(Generated.model(model), seed);
    String out = net.outputs().get(0).name();
    EnumSet<Pass> without = EnumSet.copyOf(InferencePlan.DEFAULTS);
    without.remove(Pass.CONV_LAYOUT);
    INDArray expected = net.forInference(without, Set.of(out)).predict(x).get(out);
    CnnNetwork laid = net.forInference(InferencePlan.DEFAULTS, Set.of(out));
    laid.predict(x);
    INDArray actual = laid.predict(x).get(out);
    double err = expected.sub(actual).amaxNumber().doubleValue() / expected.amaxNumber().doubleValue();
    assertTrue(err < 1e-5, model + ": " + err);
    return laid;
  }

  /**
   * VGG16 at batch 2: its stages of 3x3 convs and max poolings stay in oneDNN's layout through the
   * poolings, except stage 4 (28^2, 256 -> 512 and 512 -> 512), where Winograd's kernel over NCHW
   * outruns the primitive even in oneDNN's layout ({@code GemmConvolutionLayer.winogradOverLaid}):
   * those convs run on Winograd, and the poolings around them pool into and from NCHW. The
   * output equals the network's without the pass.
   */
  @Test
  void keepsVgg16sStagesThroughItsPoolingsButWinogradsWideConvs() throws Exception {
    CnnNetwork laid = laidAsPlain("VGG16", 9, Nd4j.rand(DataType.FLOAT, 2, 3, 224, 224));
    Set<String> kept = laid.executor().layouts().keySet();
    // stages 1-3: convs (relu fused) at 0, 2 | 5, 7 | 10, 12, 14, poolings at 4, 9 kept
    for (int i : new int[] {0, 2, 4, 5, 7, 9, 10, 12, 14}) {
      assertTrue(kept.contains("feature_part." + i), i + " kept: " + kept);
    }
    var wide = (org.cnnc.runtime.layers.GemmConvolutionLayer) laid.graph().getLayer("feature_part.19");
    INDArray map = Nd4j.zeros(DataType.FLOAT, 2, 512, 28, 28);
    // a 3x3 conv converts nothing on its own on Winograd's kernel; where that kernel is off (no
    // MKL or Vector API, -Dcnnc.conv.winograd=off) stage 4 runs on the primitive and is kept too
    boolean winograd = wide.convertsNothing(map, map);
    assertEquals(winograd, wide.winogradOverLaid(map, map), "512 -> 512 at 28^2");
    for (int i : new int[] {16, 17, 19, 21}) {
      assertEquals(!winograd, kept.contains("feature_part." + i), i + (winograd ? " NCHW: " : " kept: ") + kept);
    }
    assertTrue(kept.contains("feature_part.24"), "stage 5 (14^2) kept: " + kept);
  }

  /**
   * Max poolings between kept convs keep the layout: a pooling that a conv reads pools oneDNN's
   * layout into it, one that a flatten reads pools it into NCHW, one whose input is NCHW (a
   * network input's) stays NCHW; a pooling that alone reads its conv's output applies that conv's
   * ReLU (or relu6) to the pooled values; the outputs equal the network's without the pass, a NaN
   * and infinities included, and so do the pooled maps themselves.
   */
  @Test
  void poolsInOneDnnsLayoutBetweenKeptConvs() throws Exception {
    Path spec = dir.resolve("pools.cnn");
    Files.writeString(spec, """
        package org.cnnc.test

        model pools(size: int = 32, classes: int = 10) {
            input [3, size, size]
            p0: maxpool(2, stride = 1)
            c1: conv(20, 3, padding = 1)
            relu
            p1: maxpool(2)
            c2: conv(24, 3, padding = 1)
            relu6
            p2: maxpool(3, stride = 2, padding = 1, ceil = true)
            c3: conv(24, 3, padding = 1)
            relu
            p3: maxpool(2, stride = 2, ceil = true)
            flatten
            fc: dense(classes)
        }
        """);
    CnnNetwork[] nets = plainAndLaid(spec, "org.cnnc.test.Pools", 7);
    CnnNetwork plain = nets[0];
    CnnNetwork laid = nets[1];
    String out = laid.outputs().get(0).name();
    int preferred = ConvLayout.preferred();
    for (int batch : new int[] {3, 1}) {
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 32, 32).subi(0.5);
      x.putScalar(new long[] {0, 1, 9, 9}, Float.NaN);
      x.putScalar(new long[] {batch - 1, 2, 20, 3}, Float.POSITIVE_INFINITY);
      INDArray expected = plain.predict(x).get(out);
      INDArray actual = laid.predict(x).get(out);
      for (long i = 0; i < expected.length(); i++) {
        float e = expected.getFloat(i);
        float a = actual.getFloat(i);
        assertTrue(Float.isNaN(e) ? Float.isNaN(a) : Math.abs(e - a) <= 1e-5 * Math.max(1, Math.abs(e)),
            "batch " + batch + ", output " + i + ": " + e + " against " + a);
      }
      Map<String, Integer> layouts = laid.executor().layouts();
      assertEquals(Set.of("c1", "p1", "c2", "p2", "c3"), layouts.keySet(), "batch " + batch);
      assertTrue(layouts.values().stream().allMatch(l -> l == preferred), layouts.toString());
      Map<String, Boolean> ran = new java.util.HashMap<>();
      laid.timeSteps(1, x).forEach(t -> ran.put(t.vertex(), t.laid()));
      assertEquals(Map.of("p0", false, "p1", true, "p2", true, "p3", true), Map.of("p0", ran.get("p0"), "p1",
          ran.get("p1"), "p2", ran.get("p2"), "p3", ran.get("p3")), "which poolings read oneDNN's layout");
      // each conv's ReLU (c2's relu6) is applied by its pooling, to the pooled values
      assertEquals(Set.of("c1", "c2", "c3"), laid.executor().pooledActivations(), "batch " + batch);
    }
    // the pooled maps themselves, as outputs of an executor over the same graphs (outputs are
    // NCHW: each pooling reads its conv's kept output and pools it into NCHW)
    java.util.List<String> pools = java.util.List.of("p1", "p2", "p3");
    InferenceExecutor maps = new InferenceExecutor(laid.graph(), pools, true, true);
    InferenceExecutor mapsPlain = new InferenceExecutor(plain.graph(), pools, true, false);
    INDArray x = Nd4j.rand(DataType.FLOAT, 2, 3, 32, 32).subi(0.5);
    maps.run(x);
    INDArray[] a = maps.run(x);
    INDArray[] e = mapsPlain.run(x);
    assertEquals(Set.of("c1", "c2", "c3"), maps.layouts().keySet());
    for (int i = 0; i < pools.size(); i++) {
      assertArrayEquals(e[i].shape(), a[i].shape(), pools.get(i));
      double err = e[i].sub(a[i]).amaxNumber().doubleValue() / e[i].amaxNumber().doubleValue();
      assertTrue(err < 1e-5, pools.get(i) + ": " + err);
    }
  }

  /**
   * MobileNet's inverted residuals (1x1 expansion, 3x3 depthwise conv, 1x1 projection, residual
   * add; relu6 and folded batch norms) stay in oneDNN's layout through their depthwise convs,
   * which run on the primitive with groups, strided and not, with a channel multiplier of 2 and
   * channels that fill no whole block; the outputs equal the network's without the pass, NaN
   * included, at batch 3 and 1.
   */
  @Test
  void keepsInvertedResidualsThroughTheirDepthwiseConvs() throws Exception {
    Path spec = dir.resolve("dw.cnn");
    Files.writeString(spec, """
        package org.cnnc.test

        block Cbr(out: int, kernel: int = 3, stride: int = 1, groups: int = 1) {
            conv(out, kernel, stride = stride, padding = (kernel - 1) / 2, groups = groups, bias = false)
            batchnorm
            relu6
        }

        block Inverted(hidden: int, out: int) {
            expand: Cbr(hidden, 1)
            dw: Cbr(hidden, groups = hidden)
            project: conv(out, 1, bias = false)
            batchnorm
        }

        model dw(size: int = 32, classes: int = 10) {
            input [3, size, size]
            stem: Cbr(20, stride = 2)
            b1: add(identity, conv: Inverted(60, 20))
            down: Cbr(40, groups = 20, stride = 2)
            b2: add(identity, conv: Inverted(72, 40))
            head: Cbr(64, 1)
            global_avgpool
            flatten
            fc: dense(classes)
        }
        """);
    CnnNetwork[] nets = plainAndLaid(spec, "org.cnnc.test.Dw", 11);
    CnnNetwork plain = nets[0];
    CnnNetwork laid = nets[1];
    for (int batch : new int[] {3, 1}) {
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 32, 32).subi(0.5);
      Map<String, Boolean> ran = ranAsPlain(plain, laid, x);
      Set<String> kept = laid.executor().layouts().keySet();
      String[] depthwise = {"b1.conv.dw.0", "down.0", "b2.conv.dw.0"};
      for (String dw : depthwise) {
        assertTrue(kept.contains(dw), "batch " + batch + ": " + dw + " kept: " + kept);
        assertEquals(Boolean.TRUE, ran.get(dw), "batch " + batch + ": " + dw + " ran on the primitive: " + ran);
      }
      assertNanReachesTheOutput(plain, laid, x);
    }
  }

  /**
   * EfficientNet's MBConv blocks (SiLU, squeeze-and-excitation) stay in oneDNN's layout through
   * their squeezes: the global average pooling reads the depthwise conv's kept output, and the
   * scaling of that output by the gate reads and writes the layout, so that the projection reads
   * it as it is; the outputs equal the network's without the pass, at batch 3 and 1.
   */
  @Test
  void keepsSqueezeAndExcitationBlocksInTheLayout() throws Exception {
    Path spec = dir.resolve("se.cnn");
    Files.writeString(spec, """
        package org.cnnc.test

        block Cbs(out: int, kernel: int = 1, stride: int = 1, groups: int = 1) {
            conv(out, kernel, stride = stride, padding = (kernel - 1) / 2, groups = groups, bias = false)
            batchnorm
            silu
        }

        block Se(channels: int, squeeze: int) {
            x: identity
            avgpool: global_avgpool
            fc1: conv(squeeze, 1)
            silu
            fc2: conv(channels, 1)
            gate: sigmoid
            scaled: mul(from x, from gate)
        }

        block Body(hidden: int, out: int, stride: int = 1) {
            expand: Cbs(hidden)
            dw: Cbs(hidden, 3, stride, groups = hidden)
            se: Se(hidden, 6)
            project: conv(out, 1, bias = false)
            batchnorm
        }

        model se(size: int = 32, classes: int = 10) {
            input [3, size, size]
            stem: Cbs(24, 3, stride = 2)
            b1: add(identity, body: Body(72, 24))
            b2: Body(100, 40, stride = 2)
            head: Cbs(64)
            global_avgpool
            flatten
            fc: dense(classes)
        }
        """);
    CnnNetwork[] nets = plainAndLaid(spec, "org.cnnc.test.Se", 13);
    CnnNetwork plain = nets[0];
    CnnNetwork laid = nets[1];
    for (int batch : new int[] {3, 1}) {
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 32, 32).subi(0.5);
      Map<String, Boolean> ran = ranAsPlain(plain, laid, x);
      Set<String> kept = laid.executor().layouts().keySet();
      for (String b : new String[] {"b1.body", "b2"}) {
        for (String dw : new String[] {".dw.0", ".se.scaled"}) {
          assertTrue(kept.contains(b + dw), "batch " + batch + ": " + b + dw + " kept: " + kept);
        }
        for (String step : new String[] {".dw.0", ".se.avgpool", ".se.scaled", ".project"}) {
          assertEquals(Boolean.TRUE, ran.get(b + step), "batch " + batch + ": " + b + step + " ran laid: " + ran);
        }
      }
    }
  }

  /**
   * GoogLeNet's Inception blocks stay in oneDNN's layout through their concatenations: the
   * concatenation is kept, copying its branches' outputs (kept by their convs, or NCHW where a
   * merged 1x1 conv's channel subset is one) into its channels, so that the next block's convs
   * and pooling read it as it is. A block whose branches do not fill whole channel blocks stays
   * NCHW in a blocked layout (its concatenation would have padding inside) and is kept in NHWC.
   * The outputs equal the network's without the pass, at batch 3 and 1, a NaN included.
   */
  @Test
  void keepsInceptionBlocksThroughTheirConcatenations() throws Exception {
    Path spec = dir.resolve("inception.cnn");
    Files.writeString(spec, """
        package org.cnnc.test

        block Cbr(out: int, kernel: int = 1, stride: int = 1) {
            conv(out, kernel, stride = stride, padding = (kernel - 1) / 2, bias = false)
            batchnorm
            relu
        }

        block Inception(c1: int, c3red: int, c3: int, c5red: int, c5: int, proj: int) {
            concat(
                branch1: Cbr(c1),
                branch2: { Cbr(c3red) -> Cbr(c3, 3) },
                branch3: { Cbr(c5red) -> Cbr(c5, 5) },
                branch4: { maxpool(3, stride = 1, padding = 1, ceil = true) -> Cbr(proj) }
            )
        }

        model inception(size: int = 32, classes: int = 10) {
            input [3, size, size]
            stem: Cbr(32, 3, stride = 2)
            i1: Inception(16, 16, 32, 16, 16, 16)
            i2: Inception(32, 32, 48, 16, 32, 16)
            pool: maxpool(3, stride = 2, ceil = true)
            i3: Inception(24, 16, 40, 8, 12, 20)
            head: Cbr(64)
            global_avgpool
            flatten
            fc: dense(classes)
        }
        """);
    CnnNetwork[] nets = plainAndLaid(spec, "org.cnnc.test.Inception", 17);
    CnnNetwork plain = nets[0];
    CnnNetwork laid = nets[1];
    int layout = org.cnnc.runtime.layers.ConvLayout.preferred();
    for (int batch : new int[] {3, 1}) {
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 32, 32).subi(0.5);
      Map<String, Boolean> ran = ranAsPlain(plain, laid, x);
      Map<String, Integer> kept = laid.executor().layouts();
      for (String block : new String[] {"i1", "i2"}) {
        assertEquals(layout, kept.get(block + ".0"), "batch " + batch + ": " + block + "'s concatenation kept: " + kept);
        for (String conv : new String[] {".branch2.1.0", ".branch3.1.0", ".branch4.1.0"}) {
          assertEquals(layout, kept.get(block + conv), "batch " + batch + ": " + block + conv + " kept: " + kept);
          assertEquals(Boolean.TRUE, ran.get(block + conv), "batch " + batch + ": " + block + conv + " laid: " + ran);
        }
      }
      // the next block's pooling reads the kept concatenation as it is
      assertEquals(Boolean.TRUE, ran.get("i2.branch4.0"), "batch " + batch + ": " + ran);
      // i3's branches (24, 40, 12, 20 channels) fill no whole block of 16 or 8
      assertEquals(layout == org.cnnc.runtime.layers.ConvLayout.NHWC, kept.containsKey("i3.0"),
          "batch " + batch + ": i3's concatenation in " + layout + ": " + kept);
      assertNanReachesTheOutput(plain, laid, x);
    }
  }

  /**
   * Convs whose outputs concatenations read that stay NCHW (an adaptive average pooling, which
   * reads NCHW only, reads each concatenation), each output read by two of them: the outputs stay
   * NCHW too, since an NCHW concatenation copies NCHW inputs only; the network's outputs equal
   * those without the pass.
   */
  @Test
  void keepsNothingThatAnNchwConcatenationReads() throws Exception {
    Path spec = dir.resolve("shared.cnn");
    Files.writeString(spec, """
        package org.cnnc.test

        block Cbr(out: int, kernel: int = 3) {
            conv(out, kernel, padding = (kernel - 1) / 2, bias = false)
            batchnorm
            relu
        }

        model shared(size: int = 32, classes: int = 10) {
            input [3, size, size]
            stem: Cbr(32)
            a: Cbr(16)
            b: Cbr(16)
            c1: concat(from a, from b)
            p1: adaptive_avgpool(2)
            c2: concat(from b, from a)
            p2: adaptive_avgpool(2)
            sum: add(from p1, from p2)
            flatten
            fc: dense(classes)
        }
        """);
    CnnNetwork[] nets = plainAndLaid(spec, "org.cnnc.test.Shared", 19);
    for (int batch : new int[] {3, 1}) {
      INDArray x = Nd4j.rand(DataType.FLOAT, batch, 3, 32, 32).subi(0.5);
      ranAsPlain(nets[0], nets[1], x);
      Map<String, Integer> kept = nets[1].executor().layouts();
      for (String v : new String[] {"a.0", "b.0", "c1", "c2"}) {
        assertFalse(kept.containsKey(v), "batch " + batch + ": " + v + " NCHW: " + kept);
      }
    }
  }

  /** The model class {@code cls} of {@code spec}, compiled, seeded, for inference without and with {@link Pass#CONV_LAYOUT}. */
  private CnnNetwork[] plainAndLaid(Path spec, String cls, long seed) throws Exception {
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    Class<?> model = Generated.compile(c, dir.resolve("generated")).loadClass(cls);
    CnnNetwork net = CnnNetwork.create((CnnModel) model.getConstructor().newInstance(), seed);
    String out = net.outputs().get(0).name();
    EnumSet<Pass> without = EnumSet.copyOf(InferencePlan.DEFAULTS);
    without.remove(Pass.CONV_LAYOUT);
    return new CnnNetwork[] {net.forInference(without, Set.of(out)), net.forInference(InferencePlan.DEFAULTS, Set.of(out))};
  }

  /** A NaN in {@code x} (at image 0, channel 1, row 5, column 7) reaches the first output of both networks. */
  private static void assertNanReachesTheOutput(CnnNetwork plain, CnnNetwork laid, INDArray x) {
    INDArray nan = x.dup();
    nan.putScalar(new long[] {0, 1, 5, 7}, Float.NaN);
    String out = laid.outputs().get(0).name();
    assertTrue(Float.isNaN(plain.predict(nan).get(out).getFloat(0)), "the NaN reaches the output without the pass");
    assertTrue(Float.isNaN(laid.predict(nan).get(out).getFloat(0)), "and with it");
  }

  /** Asserts that {@code laid}'s output for {@code x} equals {@code plain}'s (1e-5 relative); returns whether each step ran laid out. */
  private static Map<String, Boolean> ranAsPlain(CnnNetwork plain, CnnNetwork laid, INDArray x) {
    String out = laid.outputs().get(0).name();
    INDArray expected = plain.predict(x).get(out);
    INDArray actual = laid.predict(x).get(out);
    double err = expected.sub(actual).amaxNumber().doubleValue() / expected.amaxNumber().doubleValue();
    assertTrue(err < 1e-5, "batch " + x.size(0) + ": " + err);
    Map<String, Boolean> ran = new java.util.HashMap<>();
    laid.timeSteps(1, x).forEach(t -> ran.put(t.vertex(), t.laid()));
    return ran;
  }
}
