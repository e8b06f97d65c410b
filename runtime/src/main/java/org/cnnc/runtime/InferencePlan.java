// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Trait;
import org.nd4j.linalg.activations.Activation;

/**
 * What the inference passes change, decided from the topology of the network as first built:
 * which BatchNorms fold into the conv before them, which ReLUs fuse into a conv, whether dropout
 * goes, which vertices the requested outputs need, and which 1x1 convs merge into one. Each pass
 * is named and switchable.
 */
public final class InferencePlan {
  /** The inference passes. */
  public enum Pass {
    /** BatchNorm after a conv whose only reader it is: folded into the conv's weights and bias. */
    FOLD_BATCHNORM,
    /**
     * A ReLU right after a conv (or a folded conv + BatchNorm, or cnnc's BatchNorm or add) that
     * only it reads: computed by that layer, in place. Networks built with cnnc's kernels are trained
     * with this pass too. A relu6 likewise: in inference after a conv (or a folded conv +
     * BatchNorm) or cnnc's BatchNorm, in training after cnnc's BatchNorm. A SiLU after a conv
     * (folded or not) with cnnc's kernels, in inference: the conv applies it to its output in
     * place (EfficientNet's 49). A merged 1x1 conv ({@link #MERGE_POINTWISE}) computes its
     * members' ReLU (or relu6, or SiLU) when each member has one.
     */
    FUSE_RELU,
    /**
     * Dropout (and stochastic depth) is the identity in inference: removed, so that its readers
     * read its input (a max pooling's output then reaches the conv after it in oneDNN's layout,
     * {@link #CONV_LAYOUT}: NiN's two dropouts).
     */
    DROP_DROPOUT,
    /** Layers that only outputs nobody asked for need (GoogLeNet's aux heads): not built. */
    PRUNE_OUTPUTS,
    /**
     * The 1x1 convs (stride 1, unpadded) that read the same input, such as the first conv of
     * three of an Inception block's branches: one wider conv, whose channels each conv's readers
     * then take their slice of. BatchNorm folding still applies to each slice. Not where
     * {@link #CONV_LAYOUT} keeps activations in oneDNN's layout (each conv then reads the kept
     * input on its primitive).
     */
    MERGE_POINTWISE,
    /**
     * A residual {@code add} whose input computed last is a conv (or a conv with its BatchNorm
     * folded) that only it reads, with no activation of its own: {@link CnnNetwork#predict}'s
     * executor has the conv add the other input, and the add's ReLU, in the pass that finishes
     * its output (ONNX Runtime's conv with a sum input). The sums keep their bits.
     */
    FUSE_ADD,
    /**
     * An activation that a conv on oneDNN's primitive (or a max pooling of a kept activation)
     * writes and only such convs and poolings read (or a residual add fused into a conv,
     * {@link #FUSE_ADD}) stays in oneDNN's blocked layout
     * ({@code org.cnnc.runtime.layers.ConvLayout}, ONNX Runtime's NCHWc) instead of being
     * converted to NCHW after one conv and back before the next. {@link CnnNetwork#predict}'s
     * executor decides it per activation when it plans memory for a set of input shapes.
     */
    CONV_LAYOUT
  }

  /**
   * The passes that pay (each measured, README "Inference passes"): all of them. {@code cnnc run}
   * and {@code cnnc bench} apply them.
   */
  public static final Set<Pass> DEFAULTS = java.util.Collections.unmodifiableSet(EnumSet.of(Pass.FOLD_BATCHNORM,
      Pass.FUSE_RELU, Pass.DROP_DROPOUT, Pass.PRUNE_OUTPUTS, Pass.MERGE_POINTWISE, Pass.FUSE_ADD, Pass.CONV_LAYOUT));

  /**
   * The suffix of a merged conv's vertex ({@link Pass#MERGE_POINTWISE}), after the name of the
   * input its members read: the vertex is no layer of the spec.
   */
  public static final String MERGED = "/pointwise";

  /**
   * One merged conv: the vertex computing it, its member convs in order, and each member's first
   * channel in it.
   */
  record Merge(String vertex, List<String> members, Map<String, Integer> offsets, int channels) {
    int offset(String member) {
      return offsets.get(member);
    }
  }

  private final Set<String> folded = new HashSet<>();
  private final Set<String> foldsInto = new HashSet<>();
  private final Map<String, String> bnOfConv = new HashMap<>();
  private final Set<String> fusedRelu = new HashSet<>();
  private final Map<String, Activation> fusesRelu = new HashMap<>();
  private final Set<String> keep;
  private final Set<String> wanted;
  private final boolean dropout;
  private final Map<String, Merge> mergeOf = new HashMap<>();
  private final Map<String, Merge> mergeByVertex = new HashMap<>();
  private final boolean training;
  private final boolean fuseAdds;
  private final boolean layOut;

  InferencePlan(NetBuilder first, EnumSet<Pass> passes, Set<String> outputs) {
    this(first, passes, outputs, false);
  }

  private InferencePlan(NetBuilder first, EnumSet<Pass> passes, Set<String> outputs, boolean training) {
    this.training = training;
    this.fuseAdds = passes.contains(Pass.FUSE_ADD);
    Map<String, OpDef> op = first.ops();
    NetBuilder.Kernels kernels = first.kernels();
    this.layOut = passes.contains(Pass.CONV_LAYOUT) && kernels == NetBuilder.Kernels.CNNC
        && org.cnnc.runtime.layers.ConvLayout.preferred() != org.cnnc.runtime.layers.ConvLayout.NCHW;
    Map<String, List<String>> inputs = first.topology();
    Map<String, List<String>> readers = new HashMap<>();
    inputs.forEach((v, ins) -> ins.forEach(i -> readers.computeIfAbsent(i, k -> new ArrayList<>()).add(v)));
    this.dropout = passes.contains(Pass.DROP_DROPOUT);
    this.wanted = outputs;
    // the vertex each output reads, then everything upstream of the wanted ones
    Set<String> keep = null;
    if (passes.contains(Pass.PRUNE_OUTPUTS)) {
      keep = new HashSet<>();
      Deque<String> todo = new ArrayDeque<>();
      for (NetBuilder.OutputSpec o : first.outputs()) {
        if (outputs.contains(o.name())) {
          todo.add(o.node());
        }
      }
      while (!todo.isEmpty()) {
        String v = todo.removeFirst();
        if (keep.add(v)) {
          todo.addAll(inputs.getOrDefault(v, List.of()));
        }
      }
    }
    this.keep = keep;
    Set<String> outputNodes = new HashSet<>();
    first.outputs().forEach(o -> outputNodes.add(o.node()));
    for (var e : op.entrySet()) {
      String v = e.getKey();
      List<String> ins = inputs.getOrDefault(v, List.of());
      if (passes.contains(Pass.FOLD_BATCHNORM) && e.getValue().has(Trait.AFFINE_IN_INFERENCE) && ins.size() == 1
          && absorbs(op.get(ins.get(0)), Lowerings.Absorbs.AFFINE, kernels) && readers.getOrDefault(ins.get(0), List.of()).size() == 1
          && !outputNodes.contains(ins.get(0))) {
        folded.add(v);
        foldsInto.add(ins.get(0));
        bnOfConv.put(ins.get(0), v);
      }
    }
    // no 1x1 convs merge where activations are kept in oneDNN's layout (see laysOut)
    if (passes.contains(Pass.MERGE_POINTWISE) && !layOut) {
      Map<String, List<String>> byInput = new java.util.LinkedHashMap<>();
      first.pointwise().forEach((conv, out) -> {
        if (!outputNodes.contains(conv) && (this.keep == null || this.keep.contains(conv))) {
          byInput.computeIfAbsent(inputs.get(conv).get(0), k -> new ArrayList<>()).add(conv);
        }
      });
      byInput.forEach((in, convs) -> {
        if (convs.size() < 2 || !mergePays(convs, first, op, readers, passes.contains(Pass.FUSE_RELU))) {
          return;
        }
        Map<String, Integer> offsets = new HashMap<>();
        int channels = 0;
        for (String conv : convs) {
          offsets.put(conv, channels);
          channels += first.pointwise().get(conv);
        }
        Merge m = new Merge(in + MERGED, List.copyOf(convs), offsets, channels);
        convs.forEach(conv -> mergeOf.put(conv, m));
        mergeByVertex.put(m.vertex(), m);
      });
    }
    for (var e : op.entrySet()) {
      String v = e.getKey();
      List<String> ins = inputs.getOrDefault(v, List.of());
      // a ReLU, or a clamp (in training only into a layer whose backward masks by it: cnnc's BatchNorm)
      Lowerings.Absorbs what = fusable(e.getValue());
      if (!passes.contains(Pass.FUSE_RELU) || what == null || ins.size() != 1) {
        continue;
      }
      String src = ins.get(0);
      if (outputNodes.contains(v) || outputNodes.contains(src) || readers.getOrDefault(src, List.of()).size() != 1) {
        continue;
      }
      // into a conv or dense layer, a conv whose BatchNorm folds into it, or (cnnc's) BatchNorm or
      // add itself (a residual block's relu(x + f(x)))
      String into = folded.contains(src) ? inputs.get(src).get(0)
          : absorbs(op.get(src), what, kernels) ? src : null;
      if (into != null && absorbs(op.get(into), what, kernels) && !mergeOf.containsKey(into)
          && (into.equals(src) || readers.getOrDefault(into, List.of()).size() == 1)
          && (!training || what == Lowerings.Absorbs.RELU
              || what == Lowerings.Absorbs.CLAMP && Lowerings.clampsInTraining(op.get(into), kernels))) {
        fusedRelu.add(v);
        fusesRelu.put(into, activation(what));
      }
    }
    if (passes.contains(Pass.FUSE_RELU)) {
      fuseIntoMerges(op, readers, outputNodes, kernels);
    }
  }

  /**
   * Whether merging the 1x1 convs {@code convs} (which read one input) saves more memory traffic
   * than it costs: it reads their input once instead of once per conv, and each member whose
   * readers are not all concatenations is then copied out of the merged output (read and
   * written; a slice that only concatenations read is a view of it, GoogLeNet's first branch).
   * In channels per pixel: {@code (members - 1) * in} against {@code 2 * copied}. GoogLeNet's
   * Inception blocks merge (3a: 2 x 192 read against 2 x (96 + 16) copied); ResNet-50's first
   * block does not (64 read against 2 x (64 + 256) copied: at batch 8 its merged conv and copies
   * took 13.3 ms where ONNX Runtime's two convs take 3.1; docs/performance-history.md, session 27).
   */
  private boolean mergePays(List<String> convs, NetBuilder first, Map<String, OpDef> op,
      Map<String, List<String>> readers, boolean fuseRelu) {
    long saved = (convs.size() - 1) * first.pointwiseIn(convs.get(0));
    long copied = 0;
    for (String conv : convs) {
      if (!onlyConcatenated(conv, op, readers, fuseRelu)) {
        copied += first.pointwise().get(conv);
      }
    }
    return saved > 2 * copied;
  }

  /**
   * Whether what {@code conv} computes reaches only concatenations: read by them, through its
   * folded BatchNorm and, with {@code fuseRelu}, a single fusable activation that reads it (which
   * the merged conv computes when every member has the same; where they differ, this counts a
   * copied slice as a view).
   */
  private boolean onlyConcatenated(String conv, Map<String, OpDef> op, Map<String, List<String>> readers,
      boolean fuseRelu) {
    String src = bnOfConv.getOrDefault(conv, conv);
    List<String> rs = readers.getOrDefault(src, List.of());
    if (fuseRelu && rs.size() == 1 && fusable(op.get(rs.get(0))) != null) {
      rs = readers.getOrDefault(rs.get(0), List.of());
    }
    return !rs.isEmpty() && rs.stream().allMatch(r -> op.get(r) != null && op.get(r).has(Trait.CONCATENATES));
  }

  /**
   * A merged 1x1 conv computes its members' activation when each member (or its folded
   * BatchNorm) is read only by the same kind of fusable activation: every slice then holds what
   * its readers read, and a slice that only a concatenation reads can be a view of the merged
   * output (GoogLeNet's branch 1). In training there are no merged convs.
   */
  private void fuseIntoMerges(Map<String, OpDef> op, Map<String, List<String>> readers, Set<String> outputNodes,
      NetBuilder.Kernels kernels) {
    for (Merge m : mergeByVertex.values()) {
      List<String> acts = new ArrayList<>();
      Lowerings.Absorbs kind = null;
      for (String member : m.members()) {
        String src = bnOfConv.getOrDefault(member, member);
        List<String> rs = readers.getOrDefault(src, List.of());
        Lowerings.Absorbs what = rs.size() == 1 ? fusable(op.get(rs.get(0))) : null;
        if (what == null || !absorbs(op.get(member), what, kernels) || (kind != null && kind != what)
            || outputNodes.contains(src) || outputNodes.contains(rs.get(0)) || (keep != null && !keep.contains(rs.get(0)))) {
          acts = null;
          break;
        }
        kind = what;
        acts.add(rs.get(0));
      }
      if (acts != null && kind != null) {
        fusedRelu.addAll(acts);
        fusesRelu.put(m.vertex(), activation(kind));
      }
    }
  }

  /** What a layer before {@code def} absorbs of it: a ReLU, a clamp (relu6), a SiLU, or nothing (null). */
  private static Lowerings.Absorbs fusable(OpDef def) {
    return def == null ? null : def.has(Trait.FUSABLE_ACTIVATION) ? Lowerings.Absorbs.RELU
        : def.has(Trait.FUSABLE_CLAMP) ? Lowerings.Absorbs.CLAMP
        : def.has(Trait.FUSABLE_SILU) ? Lowerings.Absorbs.SILU : null;
  }

  /** The activation a layer computes for what it absorbs. */
  private static Activation activation(Lowerings.Absorbs what) {
    return switch (what) {
      case CLAMP -> Activation.RELU6;
      case SILU -> Activation.SWISH;
      default -> Activation.RELU;
    };
  }

  private static boolean absorbs(OpDef def, Lowerings.Absorbs what, NetBuilder.Kernels kernels) {
    return def != null && Lowerings.absorbs(def, what, kernels);
  }

  /**
   * The plan a network is trained with (cnnc's kernels): ReLUs fused into the conv or BatchNorm
   * before them, every output kept with its loss.
   */
  static InferencePlan training(NetBuilder first) {
    Set<String> all = new HashSet<>();
    first.outputs().forEach(o -> all.add(o.name()));
    return new InferencePlan(first, EnumSet.of(Pass.FUSE_RELU), all, true);
  }

  /** Whether {@link Pass#FUSE_ADD} is on: predict's executor fuses residual adds into convs. */
  boolean fusesAdds() {
    return fuseAdds;
  }

  /**
   * Whether predict's executor keeps activations between convs in oneDNN's layout:
   * {@link Pass#CONV_LAYOUT} with cnnc's kernels, on a CPU whose convs prefer a layout other than
   * NCHW. No 1x1 convs merge then ({@link Pass#MERGE_POINTWISE}): each runs on the primitive,
   * reading the kept input and writing a kept output, where a merged conv's slices are NCHW
   * channel subsets, which oneDNN 2.5's convs read only on their reference kernel (a strided NHWC
   * source), so that an Inception block would leave the layout at its first convs. GoogLeNet at
   * batch 8 (one process alternating three plans): 158.8 ms unmerged with its blocks kept,
   * against 187.5 merged and 190.5 merged before concatenations could be kept.
   */
  boolean laysOut() {
    return layOut;
  }

  /** Whether this plan builds a network for training (with its losses), not for inference. */
  boolean training() {
    return training;
  }

  /** The merged conv a pointwise conv is a slice of, or null. */
  Merge mergeOf(String conv) {
    return mergeOf.get(conv);
  }

  /** The merged conv computed by a vertex, or null. */
  Merge merged(String vertex) {
    return mergeByVertex.get(vertex);
  }

  boolean keeps(String vertex) {
    return keep == null || keep.contains(vertex) || mergeByVertex.containsKey(vertex);
  }

  boolean wants(String output) {
    return keep == null || wanted.contains(output);
  }

  boolean folded(String bn) {
    return folded.contains(bn);
  }

  boolean foldsInto(String conv) {
    return foldsInto.contains(conv);
  }

  String batchnormOf(String conv) {
    return bnOfConv.get(conv);
  }

  boolean fusedRelu(String relu) {
    return fusedRelu.contains(relu);
  }

  boolean fusesRelu(String conv) {
    return fusesRelu.containsKey(conv);
  }

  /** The activation a layer computes in its own pass for an op after it that this plan removes, or identity. */
  Activation fusedActivation(String layer) {
    return fusesRelu.getOrDefault(layer, Activation.IDENTITY);
  }

  boolean dropsDropout() {
    return dropout;
  }
}
