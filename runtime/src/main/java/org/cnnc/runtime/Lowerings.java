// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.runtime.layers.TorchActivations;
import org.nd4j.linalg.activations.Activation;

/**
 * How each op of the registry ({@link Ops}) becomes Deeplearning4j vertices: one entry per op,
 * keyed by the op's name, each calling the {@link NetBuilder} method that holds its PyTorch
 * semantics. Generated models, {@code run}, {@code train}, {@code bench} and {@code --profile}
 * all lower through this table ({@link NetBuilder#op}); a test asserts that every op of the
 * registry has its entry.
 */
public final class Lowerings {
  /** Adds one application of an op; returns the vertex holding its output. */
  @FunctionalInterface
  public interface Lowering {
    String lower(NetBuilder b, String path, List<String> ins, OpArgs a);
  }

  /**
   * What a lowering's layer can compute besides its op, so that an inference pass may remove the
   * op after it ({@link InferencePlan}): the passes ask the ops' traits and these, never names.
   */
  public enum Absorbs {
    /** A per-channel affine map after it ({@code Trait.AFFINE_IN_INFERENCE}), folded into its weights and bias. */
    AFFINE,
    /** A ReLU after it ({@code Trait.FUSABLE_ACTIVATION}), applied in its own pass. */
    RELU,
    /** A ReLU after it, applied in its own pass by cnnc's kernels only (DL4J's layer cannot). */
    RELU_WITH_CNNC_KERNELS,
    /** A clamp to [0, 6] after it ({@code Trait.FUSABLE_CLAMP}), applied in its own pass, in inference. */
    CLAMP,
    /**
     * A clamp to [0, 6] after it, applied in its own pass by cnnc's kernels only, in inference
     * and in training (its backward masks the gradient by its output).
     */
    CLAMP_WITH_CNNC_KERNELS,
    /** A SiLU after it ({@code Trait.FUSABLE_SILU}): what the plan asks; see {@link #SILU_WITH_CNNC_KERNELS}. */
    SILU,
    /**
     * A SiLU after it ({@code Trait.FUSABLE_SILU}), applied to its output in place by cnnc's
     * kernels only, in inference (its backward would need the output before it).
     */
    SILU_WITH_CNNC_KERNELS
  }

  private static final Map<String, Lowering> TABLE = new LinkedHashMap<>();
  private static final Map<String, Set<Absorbs>> ABSORBS = new LinkedHashMap<>();

  static {
    put("conv", (b, p, in, a) -> b.conv(p, in.get(0), a.integer("out"), a.ints("kernel"), a.ints("stride"),
        a.ints("padding"), a.ints("dilation"), a.integer("groups"), a.bool("bias")), Absorbs.AFFINE, Absorbs.RELU,
        Absorbs.CLAMP, Absorbs.SILU_WITH_CNNC_KERNELS);
    put("maxpool", (b, p, in, a) -> b.maxpool(p, in.get(0), a.ints("kernel"), a.ints("stride"), a.ints("padding"),
        a.ints("dilation"), a.bool("ceil")));
    put("avgpool", (b, p, in, a) -> b.avgpool(p, in.get(0), a.ints("kernel"), a.ints("stride"), a.ints("padding"),
        a.bool("ceil"), a.bool("count_include_pad")));
    put("global_avgpool", (b, p, in, a) -> b.globalAvgpool(p, in.get(0)));
    put("global_maxpool", (b, p, in, a) -> b.globalMaxpool(p, in.get(0)));
    put("adaptive_avgpool", (b, p, in, a) -> b.adaptiveAvgpool(p, in.get(0), a.ints("size")));
    put("batchnorm", (b, p, in, a) -> b.batchnorm(p, in.get(0), a.number("eps"), a.number("momentum")),
        Absorbs.RELU_WITH_CNNC_KERNELS, Absorbs.CLAMP_WITH_CNNC_KERNELS);
    put("lrn", (b, p, in, a) -> b.lrn(p, in.get(0), a.integer("size"), a.number("alpha"), a.number("beta"), a.number("k")));
    put("relu", (b, p, in, a) -> b.relu(p, in.get(0)));
    put("relu6", (b, p, in, a) -> b.relu6(p, in.get(0)));
    put("hardsigmoid", (b, p, in, a) -> b.activation(p, in.get(0), new TorchActivations.HardSigmoid()));
    put("hardswish", (b, p, in, a) -> b.activation(p, in.get(0), new TorchActivations.HardSwish()));
    put("silu", (b, p, in, a) -> b.silu(p, in.get(0)));
    put("gelu", (b, p, in, a) -> b.activation(p, in.get(0), new TorchActivations.Gelu()));
    put("leaky_relu", (b, p, in, a) -> b.leakyRelu(p, in.get(0), a.number("slope")));
    put("sigmoid", (b, p, in, a) -> b.sigmoid(p, in.get(0)));
    put("tanh", (b, p, in, a) -> b.tanh(p, in.get(0)));
    put("softmax", (b, p, in, a) -> b.softmax(p, in.get(0)));
    put("identity", (b, p, in, a) -> b.identity(p, in.get(0)));
    put("dropout", (b, p, in, a) -> b.dropout(p, in.get(0), a.number("p")));
    put("stochastic_depth", (b, p, in, a) -> b.stochasticDepth(p, in.get(0), a.number("p"), a.string("mode").equals("row")));
    put("dense", (b, p, in, a) -> b.dense(p, in.get(0), a.integer("out"), a.bool("bias")), Absorbs.RELU);
    put("flatten", (b, p, in, a) -> b.flatten(p, in.get(0)));
    put("zeropad", (b, p, in, a) -> b.zeropad(p, in.get(0), a.ints("padding")));
    put("chunk", (b, p, in, a) -> b.chunk(p, in.get(0), a.integer("chunks"), a.integer("index")));
    put("channel_shuffle", (b, p, in, a) -> b.channelShuffle(p, in.get(0), a.integer("groups")));
    put("upsample", (b, p, in, a) -> b.upsample(p, in.get(0), a.has("size") ? a.ints("size") : null,
        a.has("scale") ? a.numbers("scale") : null, a.string("mode").equals("bilinear"),
        a.has("align_corners") && a.bool("align_corners")));
    put("conv_transpose", (b, p, in, a) -> b.convTranspose(p, in.get(0), a.integer("out"), a.ints("kernel"),
        a.ints("stride"), a.ints("padding"), a.ints("output_padding"), a.integer("groups"), a.ints("dilation"),
        a.bool("bias")));
    put("concat", (b, p, in, a) -> b.concat(p, in.toArray(new String[0])));
    put("add", (b, p, in, a) -> b.add(p, in.toArray(new String[0])), Absorbs.RELU_WITH_CNNC_KERNELS);
    put("mul", (b, p, in, a) -> b.mul(p, in.toArray(new String[0])));
    put("permute", (b, p, in, a) -> b.permute(p, in.get(0), a.ints("dims")));
    put("layernorm", (b, p, in, a) -> b.layernorm(p, in.get(0), a.number("eps")));
    put("layernorm2d", (b, p, in, a) -> b.layernorm2d(p, in.get(0), a.number("eps")));
    put("linear", (b, p, in, a) -> b.linear(p, in.get(0), a.integer("out"), a.bool("bias")));
    put("scale", (b, p, in, a) -> b.scale(p, in.get(0), a.ints("shape"), a.number("init")));
  }

  private Lowerings() {}

  private static void put(String op, Lowering l, Absorbs... absorbs) {
    if (Ops.get(op) == null) {
      throw new IllegalStateException("a lowering for " + op + ", which the registry lacks");
    }
    TABLE.put(op, l);
    ABSORBS.put(op, absorbs.length == 0 ? Set.of() : EnumSet.copyOf(List.of(absorbs)));
  }

  /** Whether the layer an op lowers to, with these kernels, can compute what {@code what} names after it. */
  static boolean absorbs(OpDef op, Absorbs what, NetBuilder.Kernels kernels) {
    Set<Absorbs> a = ABSORBS.getOrDefault(op.name(), Set.of());
    boolean cnnc = kernels == NetBuilder.Kernels.CNNC;
    return a.contains(what) || what == Absorbs.RELU && cnnc && a.contains(Absorbs.RELU_WITH_CNNC_KERNELS)
        || what == Absorbs.CLAMP && cnnc && a.contains(Absorbs.CLAMP_WITH_CNNC_KERNELS)
        || what == Absorbs.SILU && cnnc && a.contains(Absorbs.SILU_WITH_CNNC_KERNELS);
  }

  /** Whether the layer an op lowers to computes a clamp after it in training too (its backward included). */
  static boolean clampsInTraining(OpDef op, NetBuilder.Kernels kernels) {
    return kernels == NetBuilder.Kernels.CNNC
        && ABSORBS.getOrDefault(op.name(), Set.of()).contains(Absorbs.CLAMP_WITH_CNNC_KERNELS);
  }

  /** The lowering of a registry op. */
  static Lowering of(OpDef op) {
    Lowering l = TABLE.get(op.name());
    if (l == null) {
      throw new UnsupportedOperationException("`" + op.name() + "` has no lowering on Deeplearning4j");
    }
    return l;
  }

  /** The ops with a lowering. */
  public static Set<String> ops() {
    return Collections.unmodifiableSet(TABLE.keySet());
  }
}
