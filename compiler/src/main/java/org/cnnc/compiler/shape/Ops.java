package org.cnnc.compiler.shape;

import static org.cnnc.compiler.shape.ParamSig.defaultsTo;
import static org.cnnc.compiler.shape.ParamSig.optional;
import static org.cnnc.compiler.shape.ParamSig.required;
import static org.cnnc.compiler.shape.ParamSig.withDefault;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.sema.Type;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.Layer.TensorSpec;

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

  static {
    add(new OpDef("conv", "2-D convolution (nn.Conv2d); `conv(in -> out, k)` states the input channels",
        List.of(
            required("out", Type.INT, "output channels").atLeast(1),
            required("kernel", Type.SIZE, "kernel size, k or [kh, kw]").atLeast(1),
            withDefault("stride", Type.SIZE, ONE, "stride").atLeast(1),
            withDefault("padding", Type.SIZE, ZERO, "zero padding on each side").atLeast(0),
            withDefault("dilation", Type.SIZE, ONE, "spacing between kernel taps").atLeast(1),
            withDefault("groups", Type.INT, ONE, "blocked connections from input to output channels").atLeast(1),
            withDefault("bias", Type.BOOL, TRUE, "learn an additive bias")),
        true, Ops::conv));
    add(new OpDef("maxpool", "max pooling (nn.MaxPool2d); pads with -inf",
        List.of(
            required("kernel", Type.SIZE, "window size").atLeast(1),
            defaultsTo("stride", Type.SIZE, "kernel", "stride").atLeast(1),
            withDefault("padding", Type.SIZE, ZERO, "implicit -inf padding on each side, at most kernel / 2").atLeast(0),
            withDefault("dilation", Type.SIZE, ONE, "spacing between window taps").atLeast(1),
            withDefault("ceil", Type.BOOL, FALSE, "ceil instead of floor in the output size")),
        false, in -> pool(in, true)));
    add(new OpDef("avgpool", "average pooling (nn.AvgPool2d)",
        List.of(
            required("kernel", Type.SIZE, "window size").atLeast(1),
            defaultsTo("stride", Type.SIZE, "kernel", "stride").atLeast(1),
            withDefault("padding", Type.SIZE, ZERO, "implicit zero padding on each side, at most kernel / 2").atLeast(0),
            withDefault("ceil", Type.BOOL, FALSE, "ceil instead of floor in the output size"),
            withDefault("count_include_pad", Type.BOOL, TRUE, "count padding in the divisor")),
        false, in -> pool(in, false)));
    add(new OpDef("global_avgpool", "average over H and W to [C, 1, 1] (nn.AdaptiveAvgPool2d(1))", List.of(), false,
        in -> global(in)));
    add(new OpDef("global_maxpool", "maximum over H and W to [C, 1, 1] (nn.AdaptiveMaxPool2d(1))", List.of(), false,
        in -> global(in)));
    add(new OpDef("batchnorm", "batch normalization over channels (nn.BatchNorm2d, or nn.BatchNorm1d on vectors)",
        List.of(
            optional("features", Type.INT, "the channels, if stated: checked against what flows in").atLeast(1),
            withDefault("eps", Type.FLOAT, new Value.FloatV(1e-5), "added to the variance").atLeast(0),
            withDefault("momentum", Type.FLOAT, new Value.FloatV(0.1), "running statistics update factor").between(0, 1)),
        false, Ops::batchnorm));
    add(new OpDef("lrn", "local response normalization across channels (nn.LocalResponseNorm)",
        List.of(
            required("size", Type.INT, "neighbouring channels").atLeast(1),
            withDefault("alpha", Type.FLOAT, new Value.FloatV(1e-4), "scale"),
            withDefault("beta", Type.FLOAT, new Value.FloatV(0.75), "exponent"),
            withDefault("k", Type.FLOAT, new Value.FloatV(1.0), "additive constant")),
        false, Ops::lrn));
    elementwise("relu", "max(0, x)", List.of());
    elementwise("leaky_relu", "x, or slope * x below 0",
        List.of(withDefault("slope", Type.FLOAT, new Value.FloatV(0.01), "slope below zero")));
    elementwise("sigmoid", "1 / (1 + e^-x)", List.of());
    elementwise("tanh", "hyperbolic tangent", List.of());
    elementwise("softmax", "softmax over channels (nn.Softmax(dim=1))", List.of());
    elementwise("identity", "passes its input through", List.of());
    add(new OpDef("dropout", "zeroes elements with probability p in training (nn.Dropout)",
        List.of(withDefault("p", Type.FLOAT, new Value.FloatV(0.5), "probability to drop, 0 <= p <= 1").between(0, 1)),
        false, Ops::dropout));
    add(new OpDef("dense", "fully connected (nn.Linear); flattens a [C, H, W] input; `dense(in -> out)` states the features",
        List.of(
            required("out", Type.INT, "output features").atLeast(1),
            withDefault("bias", Type.BOOL, TRUE, "learn an additive bias")),
        true, Ops::dense));
    add(new OpDef("flatten", "[C, H, W] to [C * H * W] (torch.flatten(x, 1))", List.of(), false, Ops::flatten));
    add(new OpDef("zeropad", "zero padding (nn.ZeroPad2d)",
        List.of(required("padding", Type.PADDING4, "p, [h, w] or [left, right, top, bottom]").atLeast(0)),
        false, Ops::zeropad));
  }

  private Ops() {}

  private static void add(OpDef def) {
    TABLE.put(def.name(), def);
  }

  private static void elementwise(String name, String summary, List<ParamSig> params) {
    add(new OpDef(name, summary, params, false, in -> Layer.of(in.in())));
  }

  public static OpDef get(String name) {
    return TABLE.get(name);
  }

  public static Collection<OpDef> all() {
    return TABLE.values();
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
    if (c % groups != 0 || out % groups != 0) {
      int bad = c % groups != 0 ? c : out;
      in.report(in.error(Code.GROUPS_MISMATCH, in.argSpan("groups"),
              (bad == c ? "input channels " : "output channels ") + bad + " are not divisible by groups " + groups)
          .label("groups = " + groups)
          .note("the input is " + in.inputDescription())
          .help("use a number of groups that divides both " + c + " and " + out));
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

  /** PyTorch's {@code pooling_output_shape} (and, with ceil false, the conv formula). */
  static long window(long size, long k, long s, long p, long d, boolean ceil) {
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

  private static Layer batchnorm(OpInput in) {
    Shape s = in.in();
    if (s.rank() != 1 && s.rank() != 3) {
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

  private static Layer dropout(OpInput in) {
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
    if (in.in().rank() == 3) {
      return true;
    }
    rank(in, "a [C, H, W] feature map");
    return false;
  }

  private static void rank(OpInput in, String expected) {
    in.report(in.error(Code.RANK_MISMATCH, in.callSpan(),
            "`" + in.op() + "` expects " + expected + ", found " + in.in())
        .label("input is " + in.in())
        .note("the input is " + in.inputDescription()));
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
