// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import static org.cnnc.compiler.shape.ParamSig.defaultsTo;
import static org.cnnc.compiler.shape.ParamSig.optional;
import static org.cnnc.compiler.shape.ParamSig.required;
import static org.cnnc.compiler.shape.ParamSig.withDefault;

import static org.cnnc.compiler.shape.OpDef.op;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.sema.Type;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.Layer.TensorSpec;
import org.cnnc.compiler.shape.OpDef.Joined;

/**
 * The table of built-in ops, one rule each, with PyTorch's shape formulas exactly:
 *
 * <ul>
 *   <li>conv: {@code out = floor((in + 2p - d(k-1) - 1) / s) + 1}
 *   <li>pooling: {@code out = floor_or_ceil((in + 2p - d(k-1) - 1) / s) + 1}, and with ceil one less
 *       when the last window would start in the right padding ({@code (out-1)*s >= in + p})
 * </ul>
 *
 * Parameters are PyTorch's trainable tensors; BatchNorm's running mean and variance are buffers.
 * MACs count weight multiply-accumulates only: conv {@code out.numel * C_in/groups * kh * kw},
 * dense {@code in * out}.
 */
public final class Ops {
  private static final Map<String, OpDef> TABLE = new LinkedHashMap<>();

  private static final Value ONE = new Value.IntV(1);
  private static final Value ZERO = new Value.IntV(0);
  private static final Value TRUE = new Value.BoolV(true);
  private static final Value FALSE = new Value.BoolV(false);

  private static final Set<Backend> ALL = EnumSet.allOf(Backend.class);

  static {
    add(op("conv").doc("2-D convolution; `conv(in -> out, k)` states the input channels").torch("nn.Conv2d")
        .tensors("params `weight [out, in/groups, kh, kw]`, `bias [out]`")
        .params(
            required("out", Type.INT, "output channels").atLeast(1),
            required("kernel", Type.SIZE, "kernel size, k or [kh, kw]").atLeast(1),
            withDefault("stride", Type.SIZE, ONE, "stride").atLeast(1),
            withDefault("padding", Type.SIZE, ZERO, "zero padding on each side").atLeast(0),
            withDefault("dilation", Type.SIZE, ONE, "spacing between kernel taps").atLeast(1),
            withDefault("groups", Type.INT, ONE, "blocked connections from input to output channels").atLeast(1),
            withDefault("bias", Type.BOOL, TRUE, "learn an additive bias"))
        .arrowIn().category(Category.CONV).traits(Trait.WINDOWED, Trait.LINEAR)
        .rule(Ops::conv));
    add(op("maxpool").doc("max pooling; pads with -inf").torch("nn.MaxPool2d")
        .params(
            required("kernel", Type.SIZE, "window size").atLeast(1),
            defaultsTo("stride", Type.SIZE, "kernel", "stride").atLeast(1),
            withDefault("padding", Type.SIZE, ZERO, "implicit -inf padding on each side, at most kernel / 2").atLeast(0),
            withDefault("dilation", Type.SIZE, ONE, "spacing between window taps").atLeast(1),
            withDefault("ceil", Type.BOOL, FALSE, "ceil instead of floor in the output size"))
        .category(Category.POOL).traits(Trait.WINDOWED, Trait.KEEPS_SIGN)
        .rule(in -> pool(in, true)));
    add(op("avgpool").doc("average pooling").torch("nn.AvgPool2d")
        .params(
            required("kernel", Type.SIZE, "window size").atLeast(1),
            defaultsTo("stride", Type.SIZE, "kernel", "stride").atLeast(1),
            withDefault("padding", Type.SIZE, ZERO, "implicit zero padding on each side, at most kernel / 2").atLeast(0),
            withDefault("ceil", Type.BOOL, FALSE, "ceil instead of floor in the output size"),
            withDefault("count_include_pad", Type.BOOL, TRUE, "count padding in the divisor"))
        .category(Category.POOL).traits(Trait.WINDOWED, Trait.KEEPS_SIGN)
        .rule(in -> pool(in, false)));
    add(op("global_avgpool").doc("average over H and W to [C, 1, 1]").torch("nn.AdaptiveAvgPool2d(1)")
        .category(Category.POOL).traits(Trait.KEEPS_SIGN).rule(Ops::global));
    add(op("global_maxpool").doc("maximum over H and W to [C, 1, 1]").torch("nn.AdaptiveMaxPool2d(1)")
        .category(Category.POOL).traits(Trait.KEEPS_SIGN).rule(Ops::global));
    add(op("adaptive_avgpool").doc("average pooling to a size: output cell i averages input rows floor(i * H / h) "
            + "to ceil((i + 1) * H / h), and so for columns").torch("nn.AdaptiveAvgPool2d")
        .params(required("size", Type.SIZE, "output size, s or [h, w]").atLeast(1))
        .category(Category.POOL).traits(Trait.KEEPS_SIGN).rule(Ops::adaptive));
    add(op("batchnorm").doc("batch normalization over channels").torch("nn.BatchNorm2d, or nn.BatchNorm1d on vectors")
        .tensors("params `weight [C]`, `bias [C]`; buffers `running_mean [C]`, `running_var [C]`")
        .params(
            optional("features", Type.INT, "the channels, if stated: checked against what flows in").atLeast(1),
            withDefault("eps", Type.FLOAT, new Value.FloatV(1e-5), "added to the variance").atLeast(0),
            withDefault("momentum", Type.FLOAT, new Value.FloatV(0.1), "running statistics update factor").between(0, 1))
        .category(Category.NORM).traits(Trait.AFFINE_IN_INFERENCE).rule(Ops::batchnorm));
    add(op("lrn").doc("local response normalization across channels").torch("nn.LocalResponseNorm")
        .params(
            required("size", Type.INT, "neighbouring channels").atLeast(1),
            withDefault("alpha", Type.FLOAT, new Value.FloatV(1e-4), "scale"),
            withDefault("beta", Type.FLOAT, new Value.FloatV(0.75), "exponent"),
            withDefault("k", Type.FLOAT, new Value.FloatV(1.0), "additive constant"))
        .category(Category.NORM)
        .limit(ALL, "size", (a, in) -> a.integer("size") % 2 == 0
            ? "an even size (" + a.integer("size") + "): PyTorch's even window reaches one channel further back than"
                + " forward; Deeplearning4j's is centred, ONNX's reaches further forward"
            : null)
        .rule(Ops::lrn));
    activation(op("relu").doc("max(0, x)").torch("nn.ReLU")
        .traits(Trait.NON_NEGATIVE, Trait.FUSABLE_ACTIVATION));
    activation(op("relu6").doc("min(max(0, x), 6)").torch("nn.ReLU6").traits(Trait.NON_NEGATIVE, Trait.FUSABLE_CLAMP));
    activation(op("hardsigmoid").doc("clamp(x / 6 + 1/2, 0, 1)").torch("nn.Hardsigmoid").traits(Trait.NON_NEGATIVE));
    activation(op("hardswish").doc("x * clamp(x + 3, 0, 6) / 6").torch("nn.Hardswish"));
    activation(op("silu").doc("x * sigmoid(x), also called swish").torch("nn.SiLU").traits(Trait.FUSABLE_SILU));
    activation(op("gelu").doc("x * Phi(x), with the Gaussian CDF (exact, erf)").torch("nn.GELU"));
    activation(op("leaky_relu").doc("x, or slope * x below 0").torch("nn.LeakyReLU")
        .params(withDefault("slope", Type.FLOAT, new Value.FloatV(0.01), "slope below zero")));
    activation(op("sigmoid").doc("1 / (1 + e^-x)").torch("nn.Sigmoid").traits(Trait.NON_NEGATIVE));
    activation(op("tanh").doc("hyperbolic tangent").torch("nn.Tanh"));
    add(op("softmax").doc("softmax over channels").torch("nn.Softmax(dim=1)")
        .category(Category.ACTIVATION).traits(Trait.NON_NEGATIVE, Trait.PROBABILITIES).rule(Ops::same));
    add(op("identity").doc("passes its input through").torch("nn.Identity")
        .category(Category.ACTIVATION).traits(Trait.ELEMENTWISE, Trait.PASSES_VALUES, Trait.KEEPS_SIGN).rule(Ops::same));
    add(op("dropout").doc("zeroes elements with probability p in training").torch("nn.Dropout")
        .params(withDefault("p", Type.FLOAT, new Value.FloatV(0.5), "probability to drop, 0 <= p <= 1").between(0, 1))
        .category(Category.NORM).traits(Trait.STOCHASTIC, Trait.PASSES_VALUES, Trait.KEEPS_SIGN).rule(Ops::same));
    add(op("stochastic_depth").doc("in training, drops the whole input of an example (`row`) or of the batch (`batch`) "
            + "with probability p and scales what it keeps by 1 / (1 - p); the identity in inference")
        .torch("torchvision.ops.StochasticDepth")
        .params(
            required("p", Type.FLOAT, "probability to drop, 0 <= p <= 1").between(0, 1),
            withDefault("mode", Type.STRING, new Value.StrV("row"), "`row`: one draw per example; `batch`: one for the batch"))
        .category(Category.NORM).traits(Trait.STOCHASTIC, Trait.PASSES_VALUES, Trait.KEEPS_SIGN)
        .rule(Ops::stochasticDepth));
    add(op("dense").doc("fully connected; flattens a [C, H, W] input; `dense(in -> out)` states the features")
        .torch("nn.Linear").tensors("params `weight [out, in]`, `bias [out]`")
        .params(
            required("out", Type.INT, "output features").atLeast(1),
            withDefault("bias", Type.BOOL, TRUE, "learn an additive bias"))
        .arrowIn().category(Category.DENSE).traits(Trait.LINEAR).rule(Ops::dense));
    add(op("flatten").doc("[C, H, W] to [C * H * W]").torch("torch.flatten(x, 1), nn.Flatten")
        .category(Category.SHAPE).traits(Trait.PASSES_VALUES, Trait.KEEPS_SIGN).rule(Ops::flatten));
    add(op("zeropad").doc("zero padding").torch("nn.ZeroPad2d")
        .params(required("padding", Type.PADDING4, "p, [h, w] or [left, right, top, bottom]").atLeast(0))
        .category(Category.SHAPE).traits(Trait.KEEPS_SIGN).rule(Ops::zeropad));
    add(op("chunk").doc("one of `chunks` equal slices of the channels: slice `index` (from 0)")
        .torch("x.chunk(chunks, dim=1)[index]")
        .params(
            required("chunks", Type.INT, "how many equal slices the channels are cut into").atLeast(1),
            required("index", Type.INT, "which slice, from 0").atLeast(0))
        .category(Category.SHAPE).traits(Trait.KEEPS_SIGN).rule(Ops::chunk));
    add(op("channel_shuffle").doc("interleaves `groups` groups of channels: channel g * C/groups + i goes to i * groups + g")
        .torch("nn.ChannelShuffle")
        .params(required("groups", Type.INT, "groups of channels, dividing them").atLeast(1))
        .category(Category.SHAPE).traits(Trait.KEEPS_SIGN).rule(Ops::channelShuffle));
    add(op("upsample").doc("resizes height and width by `scale` (out = floor(in * scale)) or to `size`, exactly one "
            + "of the two; `nearest` (PyTorch's, not nearest-exact) or `bilinear` (half-pixel, or `align_corners`)")
        .torch("nn.Upsample, F.interpolate")
        .params(
            optional("scale", Type.SCALE, "scale factor, s or [sh, sw]; may be fractional"),
            optional("size", Type.SIZE, "output size, s or [h, w]").atLeast(1),
            withDefault("mode", Type.STRING, new Value.StrV("nearest"), "`nearest` or `bilinear`"),
            optional("align_corners", Type.BOOL, "bilinear only: corners map to corners (PyTorch's default false)"))
        .category(Category.SHAPE).traits(Trait.KEEPS_SIGN).rule(Ops::upsample));
    add(op("conv_transpose").doc("2-D transposed convolution (the gradient of conv); `conv_transpose(in -> out, k)` "
            + "states the input channels; out = (in - 1) * s - 2p + d(k - 1) + output_padding + 1")
        .torch("nn.ConvTranspose2d")
        .tensors("params `weight [in, out/groups, kh, kw]`, `bias [out]`")
        .params(
            required("out", Type.INT, "output channels").atLeast(1),
            required("kernel", Type.SIZE, "kernel size, k or [kh, kw]").atLeast(1),
            withDefault("stride", Type.SIZE, ONE, "stride").atLeast(1),
            withDefault("padding", Type.SIZE, ZERO, "rows and columns cut from each side of the output").atLeast(0),
            withDefault("output_padding", Type.SIZE, ZERO, "rows and columns added at the bottom and right, "
                + "below stride or dilation").atLeast(0),
            withDefault("groups", Type.INT, ONE, "blocked connections from input to output channels").atLeast(1),
            withDefault("dilation", Type.SIZE, ONE, "spacing between kernel taps").atLeast(1),
            withDefault("bias", Type.BOOL, TRUE, "learn an additive bias"))
        .arrowIn().category(Category.CONV).rule(Ops::convTranspose));
    add(op("concat").doc("joins its branches along channels; every branch keeps the same height and width")
        .torch("torch.cat(xs, 1)").category(Category.MERGE).traits(Trait.CONCATENATES).merge(Ops::concat));
    add(op("add").doc("adds its branches, element by element; every branch has the same shape")
        .torch("x + y").category(Category.MERGE).merge(Ops::sum));
    add(op("mul").doc("multiplies its branches, element by element, broadcasting as PyTorch does: each size equal, "
            + "or 1 in some branches (squeeze-and-excitation's [C, H, W] by [C, 1, 1])")
        .torch("x * y").category(Category.MERGE).merge(Ops::product));
    // ConvNeXt's ops: channels-last maps, layer norms, a Linear on the last dim, a free parameter.
    add(op("permute").doc("reorders the dims as PyTorch's x.permute(dims), the batch first: [0, 2, 3, 1] makes a "
            + "[C, H, W] map channels-last [H, W, C], [0, 3, 1, 2] makes it [C, H, W] again")
        .torch("torchvision.ops.Permute")
        .params(required("dims", Type.SHAPE, "a permutation of 0 .. rank, the batch (0) first").atLeast(0))
        .category(Category.SHAPE).traits(Trait.KEEPS_SIGN).rule(Ops::permute));
    add(op("layernorm").doc("layer normalization over the last dim (the channels of a channels-last map)")
        .torch("nn.LayerNorm(D)").tensors("params `weight [D]`, `bias [D]`")
        .params(withDefault("eps", Type.FLOAT, new Value.FloatV(1e-5), "added to the variance").atLeast(0))
        .category(Category.NORM).rule(Ops::layernorm));
    add(op("layernorm2d").doc("layer normalization over the channels of a [C, H, W] map, at each position")
        .torch("torchvision.models.convnext.LayerNorm2d").tensors("params `weight [C]`, `bias [C]`")
        .params(withDefault("eps", Type.FLOAT, new Value.FloatV(1e-5), "added to the variance").atLeast(0))
        .category(Category.NORM).rule(Ops::layernorm2d));
    add(op("linear").doc("fully connected on the last dim, at each position of any rank (dense flattens instead); "
            + "`linear(in -> out)` states the features").torch("nn.Linear")
        .tensors("params `weight [out, in]`, `bias [out]`")
        .params(
            required("out", Type.INT, "output features").atLeast(1),
            withDefault("bias", Type.BOOL, TRUE, "learn an additive bias"))
        .arrowIn().category(Category.DENSE).traits(Trait.LINEAR).rule(Ops::linear));
    add(op("scale").doc("multiplies by a trainable tensor of that shape, broadcasting as PyTorch does; its "
            + "state_dict key is the label itself (ConvNeXt's `layer_scale`)")
        .torch("nn.Parameter multiplied in")
        .tensors("param `<label> [shape]`, every element `init` at first")
        .params(
            required("shape", Type.SHAPE, "the tensor's shape: each size the input's or 1, from the last dim").atLeast(1),
            withDefault("init", Type.FLOAT, new Value.FloatV(1.0), "the value every element starts at"))
        .category(Category.OTHER).traits(Trait.ELEMENTWISE).rule(Ops::scale));
  }

  private Ops() {}

  private static void add(OpDef.Builder def) {
    OpDef d = def.build();
    TABLE.put(d.name(), d);
  }

  /** An element-wise activation: the output has the input's shape. */
  private static void activation(OpDef.Builder def) {
    add(def.category(Category.ACTIVATION).traits(Trait.ELEMENTWISE).rule(Ops::same));
  }

  /** The op of that name, or null. */
  public static OpDef get(String name) {
    return TABLE.get(name);
  }

  /** The op a call of that name applies, or null (merges have their own syntax, and no call names them). */
  public static OpDef callable(String name) {
    OpDef d = TABLE.get(name);
    return d == null || d.isMerge() ? null : d;
  }

  /** The op of that name; it must exist (a name the compiler checked). */
  public static OpDef of(String name) {
    OpDef d = TABLE.get(name);
    if (d == null) {
      throw new IllegalArgumentException("no op " + name);
    }
    return d;
  }

  /** Every op, in the reference's order. */
  public static Collection<OpDef> all() {
    return TABLE.values();
  }

  /** The ops a call names (every op but the merges, which have their own syntax). */
  public static List<OpDef> callable() {
    return TABLE.values().stream().filter(o -> !o.isMerge()).toList();
  }

  // ---- rules ----------------------------------------------------------------------------------

  private static Layer conv(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    Shape s = in.in();
    int out = in.integer("out");
    int[] k = in.ints("kernel");
    int[] st = in.ints("stride");
    int[] p = in.ints("padding");
    int[] d = in.ints("dilation");
    int groups = in.integer("groups");
    int c = s.channels();
    checkExplicitIn(in, c, "input channels");
    if (!groupsDivide(in, c, out, groups)) {
      return null;
    }
    long h = window(s.height(), k[0], st[0], p[0], d[0], false);
    long w = window(s.width(), k[1], st[1], p[1], d[1], false);
    if (h < 1 || w < 1) {
      windowTooLarge(in, k, p, d);
      return null;
    }
    Shape o = shape(in, out, h, w);
    if (o == null) {
      return null;
    }
    List<TensorSpec> params = new ArrayList<>();
    params.add(new TensorSpec("weight", out, c / groups, k[0], k[1]));
    if (in.bool("bias")) {
      params.add(new TensorSpec("bias", out));
    }
    long macs = mul(in, mul(in, o.numel(), c / groups), (long) k[0] * k[1]);
    return macs < 0 ? null : new Layer(o, params, List.of(), macs);
  }

  private static Layer pool(OpInput in, boolean max) {
    if (!requireMap(in)) {
      return null;
    }
    Shape s = in.in();
    int[] k = in.ints("kernel");
    int[] st = in.has("stride") ? in.ints("stride") : k;
    int[] p = in.ints("padding");
    int[] d = max ? in.ints("dilation") : new int[] {1, 1};
    boolean ceil = in.bool("ceil");
    if (p[0] > k[0] / 2 || p[1] > k[1] / 2) {
      in.report(in.error(Code.PADDING_TOO_LARGE, in.argSpan("padding"),
              "padding " + pair(p) + " is more than half the kernel " + pair(k))
          .label("padding here")
          .help("PyTorch requires padding <= kernel / 2; use padding " + pair(new int[] {k[0] / 2, k[1] / 2})
              + " or a larger kernel"));
      return null;
    }
    long h = window(s.height(), k[0], st[0], p[0], d[0], ceil);
    long w = window(s.width(), k[1], st[1], p[1], d[1], ceil);
    if (h < 1 || w < 1) {
      windowTooLarge(in, k, p, d);
      return null;
    }
    Shape o = shape(in, s.channels(), h, w);
    return o == null ? null : Layer.of(o);
  }

  /**
   * PyTorch's {@code pooling_output_shape} (and, with ceil false, the conv formula): the one
   * output-size formula, which the runtime's pooling and its lowering call too.
   */
  public static long window(long size, long k, long s, long p, long d, boolean ceil) {
    long numer = size + 2 * p - d * (k - 1) - 1 + (ceil ? s - 1 : 0);
    long out = Math.floorDiv(numer, s) + 1;
    if (ceil && (out - 1) * s >= size + p) {
      out--;
    }
    return out;
  }

  private static void windowTooLarge(OpInput in, int[] k, int[] p, int[] d) {
    Shape s = in.in();
    int[] eff = {d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1};
    long ph = s.height() + 2L * p[0];
    long pw = s.width() + 2L * p[1];
    boolean dilated = d[0] > 1 || d[1] > 1;
    String kernel = (dilated ? "dilated kernel " : "kernel ") + eff[0] + "x" + eff[1];
    in.report(in.error(Code.KERNEL_TOO_LARGE, in.argSpan("kernel"),
            kernel + " is larger than the padded input " + ph + "x" + pw)
        .label(dilated ? "kernel " + pair(k) + ", dilation " + pair(d) : "kernel " + pair(k))
        .note("the input is " + in.inputDescription() + ", padded by " + pair(p))
        .help("use a smaller kernel or more padding, or feed a larger input; PyTorch raises at run time here"));
  }

  private static Layer global(OpInput in) {
    return requireMap(in) ? Layer.of(Shape.of(in.in().channels(), 1, 1)) : null;
  }

  private static Layer adaptive(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    int[] size = in.ints("size");
    return nullableLayer(shape(in, in.in().channels(), size[0], size[1]));
  }

  private static Layer chunk(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    int c = in.in().channels();
    int chunks = in.integer("chunks");
    int index = in.integer("index");
    if (c % chunks != 0) {
      in.report(in.error(Code.GROUPS_MISMATCH, in.argSpan("chunks"), "channels " + c + " are not divisible by chunks " + chunks)
          .label("chunks = " + chunks)
          .note("the input is " + in.inputDescription())
          .help("torch.chunk would make slices of unequal sizes; cut the channels into a number of slices that divides " + c));
      return null;
    }
    if (index >= chunks) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("index"), "slice " + index + " of " + chunks + " does not exist")
          .label("index = " + index)
          .help("slices are numbered from 0 to " + (chunks - 1)));
      return null;
    }
    Shape s = in.in();
    return Layer.of(Shape.of(c / chunks, s.height(), s.width()));
  }

  private static Layer channelShuffle(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    int c = in.in().channels();
    int groups = in.integer("groups");
    if (c % groups != 0) {
      in.report(in.error(Code.GROUPS_MISMATCH, in.argSpan("groups"), "channels " + c + " are not divisible by groups " + groups)
          .label("groups = " + groups)
          .note("the input is " + in.inputDescription())
          .help("use a number of groups that divides " + c));
      return null;
    }
    return Layer.of(in.in());
  }

  /** PyTorch's output size of an upsampling by a factor: floor(in * scale), in double as F.interpolate computes it. */
  public static long scaledSize(long in, double scale) {
    return (long) Math.floor(in * scale);
  }

  private static Layer upsample(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    boolean scale = in.has("scale");
    if (scale == in.has("size")) {
      in.report(in.error(Code.INVALID_ARGUMENT, scale ? in.argSpan("size") : in.callSpan(),
              scale ? "`upsample` takes `scale` or `size`, not both" : "`upsample` needs `scale` or `size`")
          .label(scale ? "second of the two" : "neither given")
          .help("PyTorch: only one of size or scale_factor should be defined; write `upsample(2)` or `upsample(size = [h, w])`"));
      return null;
    }
    String mode = in.string("mode");
    if (!mode.equals("nearest") && !mode.equals("bilinear")) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("mode"),
              "`upsample` mode must be \"nearest\" or \"bilinear\", found " + org.cnnc.compiler.io.Escape.cnnString(mode))
          .label("not a mode")
          .help("PyTorch's other modes (nearest-exact, bicubic, area) are not in cnnc"));
      return null;
    }
    if (mode.equals("nearest") && in.has("align_corners")) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("align_corners"),
              "`align_corners` applies to bilinear upsampling only")
          .label("mode is \"nearest\"")
          .help("PyTorch: align_corners option can only be set with the interpolating modes; leave it out or write "
              + "mode = \"bilinear\""));
      return null;
    }
    Shape s = in.in();
    long h;
    long w;
    if (scale) {
      double[] f = in.numbers("scale");
      if (!(f[0] > 0) || !(f[1] > 0) || Double.isInfinite(f[0]) || Double.isInfinite(f[1])) {
        in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("scale"), "scale must be positive and finite")
            .label("scale here"));
        return null;
      }
      h = scaledSize(s.height(), f[0]);
      w = scaledSize(s.width(), f[1]);
      if (h < 1 || w < 1) {
        in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("scale"),
                "scale " + pairOf(f) + " gives an empty output " + h + "x" + w + " (floor(in * scale))")
            .label("scale here")
            .note("the input is " + in.inputDescription())
            .help("use a larger scale, or `size`"));
        return null;
      }
    } else {
      int[] size = in.ints("size");
      h = size[0];
      w = size[1];
    }
    return nullableLayer(shape(in, s.channels(), h, w));
  }

  private static String pairOf(double[] f) {
    return f[0] == f[1] ? new Value.FloatV(f[0]).show()
        : "[" + new Value.FloatV(f[0]).show() + ", " + new Value.FloatV(f[1]).show() + "]";
  }

  /** Whether {@code groups} divides the input and output channels of a (transposed) conv; reported if not. */
  private static boolean groupsDivide(OpInput in, int c, int out, int groups) {
    if (c % groups == 0 && out % groups == 0) {
      return true;
    }
    int bad = c % groups != 0 ? c : out;
    in.report(in.error(Code.GROUPS_MISMATCH, in.argSpan("groups"),
            (bad == c ? "input channels " : "output channels ") + bad + " are not divisible by groups " + groups)
        .label("groups = " + groups)
        .note("the input is " + in.inputDescription())
        .help("use a number of groups that divides both " + c + " and " + out));
    return false;
  }

  /** PyTorch's ConvTranspose2d output size: {@code (in - 1) * s - 2p + d(k - 1) + output_padding + 1}. */
  public static long transposedSize(long in, long k, long s, long p, long op, long d) {
    return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
  }

  private static Layer convTranspose(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    Shape s = in.in();
    int out = in.integer("out");
    int[] k = in.ints("kernel");
    int[] st = in.ints("stride");
    int[] p = in.ints("padding");
    int[] op = in.ints("output_padding");
    int[] d = in.ints("dilation");
    int groups = in.integer("groups");
    int c = s.channels();
    checkExplicitIn(in, c, "input channels");
    if (!groupsDivide(in, c, out, groups)) {
      return null;
    }
    for (int i = 0; i < 2; i++) {
      if (op[i] >= st[i] && op[i] >= d[i]) {
        in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("output_padding"),
                "output_padding " + pair(op) + " must be smaller than the stride " + pair(st) + " or the dilation "
                    + pair(d))
            .label("output_padding here")
            .help("PyTorch: output padding must be smaller than either stride or dilation"));
        return null;
      }
    }
    long h = transposedSize(s.height(), k[0], st[0], p[0], op[0], d[0]);
    long w = transposedSize(s.width(), k[1], st[1], p[1], op[1], d[1]);
    if (h < 1 || w < 1) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("padding"),
              "padding " + pair(p) + " leaves an empty output " + h + "x" + w)
          .label("padding here")
          .note("the input is " + in.inputDescription())
          .help("out = (in - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1; use less padding"));
      return null;
    }
    Shape o = shape(in, out, h, w);
    if (o == null) {
      return null;
    }
    List<TensorSpec> params = new ArrayList<>();
    params.add(new TensorSpec("weight", c, out / groups, k[0], k[1]));
    if (in.bool("bias")) {
      params.add(new TensorSpec("bias", out));
    }
    // every input element meets out/groups * kh * kw weights (the count of PyTorch-style counters)
    long macs = mul(in, mul(in, s.numel(), out / groups), (long) k[0] * k[1]);
    return macs < 0 ? null : new Layer(o, params, List.of(), macs);
  }

  private static Layer batchnorm(OpInput in) {
    Shape s = in.in();
    if (s.rank() != 1 && !s.isMap()) {
      rank(in, "a [C, H, W] feature map or a [F] vector");
      return null;
    }
    int c = s.channels();
    if (in.has("features")) {
      int f = in.integer("features");
      if (f != c) {
        // Reported, but not a failure: the layer's output is still known, so checking goes on.
        in.report(org.cnnc.compiler.diag.Diagnostic.error(Code.CHANNEL_MISMATCH, in.argSpan("features"),
                "batchnorm states " + f + " channels, but " + c + " flow in")
            .label("stated here")
            .note("the input is " + in.inputDescription())
            .help("write batchnorm(" + c + "), or leave the channels out to take what flows in"));
      }
    }
    return new Layer(s, List.of(new TensorSpec("weight", c), new TensorSpec("bias", c)),
        List.of(new TensorSpec("running_mean", c), new TensorSpec("running_var", c)), 0);
  }

  private static Layer lrn(OpInput in) {
    return requireMap(in) ? Layer.of(in.in()) : null;
  }

  /** The output has the input's shape. */
  private static Layer same(OpInput in) {
    return Layer.of(in.in());
  }

  private static Joined concat(List<Shape> in) {
    Shape first = in.get(0);
    long channels = 0;
    for (int j = 0; j < in.size(); j++) {
      Shape s = in.get(j);
      if (s.isChannelsLast()) {
        return Joined.mismatch(j, "cannot concat the channels-last map " + s.describe()
                + ": concat joins [C, H, W] maps along channels",
            "permute it back to [C, H, W] first: permute([0, 3, 1, 2])");
      }
      if (s.rank() != first.rank() || (s.rank() == 3 && (s.height() != first.height() || s.width() != first.width()))) {
        return Joined.mismatch(j, "cannot concat " + s + " with " + first + ": "
                + (s.rank() != first.rank() ? "ranks differ" : "height and width differ"),
            "concat joins along channels: every branch must keep the same height and width (check padding and strides)");
      }
      channels += s.dim(0);
    }
    if (channels > Integer.MAX_VALUE) {
      return Joined.mismatch(-1, "concat gives more than " + Integer.MAX_VALUE + " channels", null);
    }
    int[] dims = first.dims();
    dims[0] = (int) channels;
    return Joined.of(Shape.of(dims));
  }

  private static Joined sum(List<Shape> in) {
    for (int j = 1; j < in.size(); j++) {
      if (!in.get(j).equals(in.get(0))) {
        return Joined.mismatch(j, "cannot add " + in.get(j) + " to " + in.get(0) + ": shapes differ",
            "add needs equal shapes; match channels and strides, e.g. with a 1x1 conv on the shortcut");
      }
    }
    return Joined.of(in.get(0));
  }

  /**
   * PyTorch's broadcasting of branches of one rank: in each dimension the sizes are equal or 1,
   * and the result takes the size that is not 1 ({@code [C, H, W] * [C, 1, 1]} is
   * {@code [C, H, W]}). Ranks must agree: PyTorch would align a {@code [C]} with the width.
   */
  private static Joined product(List<Shape> in) {
    Shape first = in.get(0);
    int[] dims = first.dims();
    for (int j = 1; j < in.size(); j++) {
      Shape s = in.get(j);
      if (s.rank() != first.rank()) {
        return Joined.mismatch(j, "cannot multiply " + s + " with " + first + ": ranks differ",
            "mul broadcasts branches of one rank, as [C, H, W] by [C, 1, 1]");
      }
      for (int d = 0; d < dims.length; d++) {
        int size = s.dim(d);
        if (size != dims[d] && size != 1 && dims[d] != 1) {
          return Joined.mismatch(j, "cannot multiply " + s + " with " + Shape.of(dims) + ": dimension " + d
                  + " is " + size + " here and " + dims[d] + " before",
              "mul needs each size equal, or 1 in a branch (it is then repeated), as [C, H, W] by [C, 1, 1]");
        }
        dims[d] = Math.max(dims[d], size);
      }
    }
    return Joined.of(Shape.of(dims));
  }

  private static Layer stochasticDepth(OpInput in) {
    String mode = ((Value.StrV) in.arg("mode")).value();
    if (!mode.equals("row") && !mode.equals("batch")) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("mode"),
              "`stochastic_depth` mode must be \"row\" or \"batch\", found " + org.cnnc.compiler.io.Escape.cnnString(mode))
          .label("not a mode")
          .help("\"row\" drops each example's input apart (as torchvision's models do), \"batch\" all at once"));
      return null;
    }
    return Layer.of(in.in());
  }

  private static Layer dense(OpInput in) {
    Shape s = in.in();
    long features;
    try {
      features = s.numel();
    } catch (ArithmeticException e) {
      tooLarge(in);
      return null;
    }
    int out = in.integer("out");
    if (features > Integer.MAX_VALUE) {
      tooLarge(in);
      return null;
    }
    checkExplicitIn(in, (int) features, s.rank() == 1 ? "input features" : "input features (flattened)");
    List<TensorSpec> params = new ArrayList<>();
    params.add(new TensorSpec("weight", out, (int) features));
    if (in.bool("bias")) {
      params.add(new TensorSpec("bias", out));
    }
    long macs = mul(in, features, out);
    return macs < 0 ? null : new Layer(Shape.of(out), params, List.of(), macs);
  }

  private static Layer flatten(OpInput in) {
    long n;
    try {
      n = in.in().numel();
    } catch (ArithmeticException e) {
      n = Long.MAX_VALUE;
    }
    if (n > Integer.MAX_VALUE) {
      tooLarge(in);
      return null;
    }
    return Layer.of(Shape.of((int) n));
  }

  private static Layer zeropad(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    int[] p = in.ints("padding");
    Shape s = in.in();
    return nullableLayer(shape(in, s.channels(), (long) s.height() + p[2] + p[3], (long) s.width() + p[0] + p[1]));
  }

  private static Layer permute(OpInput in) {
    Shape s = in.in();
    int[] dims = in.ints("dims");
    int rank = s.rank() + 1;
    boolean[] seen = new boolean[rank];
    boolean valid = dims.length == rank;
    for (int i = 0; valid && i < rank; i++) {
      valid = dims[i] < rank && !seen[dims[i]];
      if (valid) {
        seen[dims[i]] = true;
      }
    }
    if (!valid) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("dims"),
              "dims " + java.util.Arrays.toString(dims) + " are not a permutation of 0 .. " + (rank - 1))
          .label("not a permutation")
          .note("the input is " + in.inputDescription() + ", " + rank + " dims with the batch")
          .help("name each of the " + rank + " dims once, the batch (0) first, as x.permute does"));
      return null;
    }
    if (dims[0] != 0) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("dims"), "permute moves the batch dim 0")
          .label("the first dim is " + dims[0])
          .help("keep the batch first: `[0, ...]`"));
      return null;
    }
    int[] out = new int[rank - 1];
    for (int i = 1; i < rank; i++) {
      out[i - 1] = s.dim(dims[i] - 1);
    }
    if (rank != 4) {
      return Layer.of(s.withDims(out));
    }
    // Where the channels go: a map is [C, H, W] or [H, W, C]; any other place has no reader.
    int channelsAt = s.isChannelsLast() ? 3 : s.isMap() ? 1 : -1;
    int to = -1;
    for (int i = 1; i < rank; i++) {
      if (dims[i] == channelsAt) {
        to = i;
      }
    }
    if (to == 1) {
      return Layer.of(Shape.of(out));
    }
    if (to == 3) {
      return Layer.of(Shape.channelsLast(out[0], out[1], out[2]));
    }
    in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("dims"),
            "permute " + java.util.Arrays.toString(dims) + " puts the channels of " + s.describe() + " between height and width")
        .label("channels to dim " + to)
        .note("the input is " + in.inputDescription())
        .help("cnnc's maps hold their channels first ([0, 3, 1, 2] from channels-last) or last ([0, 2, 3, 1] from [C, H, W])"));
    return null;
  }

  private static Layer layernorm(OpInput in) {
    Shape s = in.in();
    int d = s.dim(s.rank() - 1);
    return new Layer(s, List.of(new TensorSpec("weight", d), new TensorSpec("bias", d)), List.of(), 0);
  }

  private static Layer layernorm2d(OpInput in) {
    if (!requireMap(in)) {
      return null;
    }
    int c = in.in().channels();
    return new Layer(in.in(), List.of(new TensorSpec("weight", c), new TensorSpec("bias", c)), List.of(), 0);
  }

  private static Layer linear(OpInput in) {
    Shape s = in.in();
    int[] dims = s.dims();
    int features = dims[dims.length - 1];
    checkExplicitIn(in, features, "input features (the last dim)");
    int out = in.integer("out");
    dims[dims.length - 1] = out;
    List<TensorSpec> params = new ArrayList<>();
    params.add(new TensorSpec("weight", out, features));
    if (in.bool("bias")) {
      params.add(new TensorSpec("bias", out));
    }
    long positions = s.numel() / features;
    long macs = mul(in, mul(in, positions, features), out);
    if (macs < 0) {
      return null;
    }
    Shape o = s.withDims(dims);
    try {
      o.numel();
    } catch (ArithmeticException e) {
      tooLarge(in);
      return null;
    }
    return new Layer(o, params, List.of(), macs);
  }

  /** A parameter whose key is the label itself (the empty suffix). */
  private static Layer scale(OpInput in) {
    Shape s = in.in();
    int[] shape = in.ints("shape");
    boolean fits = shape.length <= s.rank();
    for (int i = 1; fits && i <= shape.length; i++) {
      int size = shape[shape.length - i];
      fits = size == 1 || size == s.dim(s.rank() - i);
    }
    if (!fits) {
      in.report(in.error(Code.INVALID_ARGUMENT, in.argSpan("shape"),
              "a tensor " + java.util.Arrays.toString(shape) + " does not broadcast over " + s.describe())
          .label("shape " + java.util.Arrays.toString(shape))
          .note("the input is " + in.inputDescription())
          .help("align from the last dim: each size the input's or 1, at most " + s.rank() + " dims, as layer scale's [C, 1, 1]"));
      return null;
    }
    return new Layer(s, List.of(new TensorSpec("", shape)), List.of(), 0);
  }

  // ---- helpers --------------------------------------------------------------------------------

  private static Layer nullableLayer(Shape s) {
    return s == null ? null : Layer.of(s);
  }

  private static void checkExplicitIn(OpInput in, int actual, String what) {
    Integer stated = in.explicitIn();
    if (stated != null && stated != actual) {
      // Reported, but not a failure: the layer's output is still known, so checking goes on.
      in.report(org.cnnc.compiler.diag.Diagnostic.error(Code.CHANNEL_MISMATCH, in.explicitInSpan(),
              in.op() + " states " + stated + " " + what + ", but " + actual + " flow in")
          .label("stated here")
          .note("the input is " + in.inputDescription())
          .help("write `" + actual + " ->`, or leave out `" + stated + " ->` to take what flows in"));
    }
  }

  private static boolean requireMap(OpInput in) {
    if (in.in().isMap()) {
      return true;
    }
    rank(in, "a [C, H, W] feature map");
    return false;
  }

  private static void rank(OpInput in, String expected) {
    var d = in.error(Code.RANK_MISMATCH, in.callSpan(),
            "`" + in.op() + "` expects " + expected + ", found " + in.in().describe())
        .label("input is " + in.in().describe())
        .note("the input is " + in.inputDescription());
    if (in.in().isChannelsLast()) {
      d.help("a `permute([0, 3, 1, 2])` before it gives the [C, H, W] map back");
    }
    in.report(d);
  }

  private static Shape shape(OpInput in, long c, long h, long w) {
    if (c > Integer.MAX_VALUE || h > Integer.MAX_VALUE || w > Integer.MAX_VALUE) {
      tooLarge(in);
      return null;
    }
    Shape s = Shape.of((int) c, (int) h, (int) w);
    try {
      s.numel();
    } catch (ArithmeticException e) {
      tooLarge(in);
      return null;
    }
    return s;
  }

  private static long mul(OpInput in, long a, long b) {
    if (a < 0 || b < 0) {
      return -1;
    }
    try {
      return Math.multiplyExact(a, b);
    } catch (ArithmeticException e) {
      tooLarge(in);
      return -1;
    }
  }

  private static void tooLarge(OpInput in) {
    in.report(in.error(Code.NETWORK_TOO_LARGE, in.callSpan(),
            "`" + in.op() + "` would produce a tensor too large to count")
        .label("input is " + in.in())
        .help("sizes, elements and MACs must stay below 2^31 per dimension and 2^63 in total"));
  }

  private static String pair(int[] v) {
    return v[0] == v[1] && v.length == 2 ? Integer.toString(v[0]) : java.util.Arrays.toString(v);
  }
}
