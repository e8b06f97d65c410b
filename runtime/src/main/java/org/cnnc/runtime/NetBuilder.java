// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.ir.ModulePath;
import org.cnnc.compiler.sema.Capabilities;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.OpInput;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.Shape;
import org.cnnc.compiler.source.Span;
import org.cnnc.runtime.layers.AdaptiveAvgPool;
import org.cnnc.runtime.layers.BroadcastMul;
import org.cnnc.runtime.layers.CeilAvgPooling;
import org.cnnc.runtime.layers.ChannelShuffle;
import org.cnnc.runtime.layers.LastAxisLayer;
import org.cnnc.runtime.layers.ChannelSoftmax;
import org.cnnc.runtime.layers.ChannelSubset;
import org.cnnc.runtime.layers.CnncAdam;
import org.cnnc.runtime.layers.CnncBatchNorm;
import org.cnnc.runtime.layers.CnncConcat;
import org.cnnc.runtime.layers.CnncDense;
import org.cnnc.runtime.layers.CnncMaxPool;
import org.cnnc.runtime.layers.CnncAdd;
import org.cnnc.runtime.layers.CnncRelu;
import org.cnnc.runtime.layers.SafeActivation;
import org.cnnc.runtime.layers.GemmConvolution;
import org.cnnc.runtime.layers.GroupedConvolution;
import org.cnnc.runtime.layers.NegInfPadding;
import org.cnnc.runtime.layers.StochasticDepth;
import org.cnnc.runtime.layers.Upsample;
import org.cnnc.runtime.layers.ConvTranspose;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration.GraphBuilder;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.PreprocessorVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LocalResponseNormalization;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.ZeroPaddingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Builds a DL4J {@link ComputationGraphConfiguration} op by op, with PyTorch's semantics where
 * DL4J's differ. Generated models call it; each method adds one op and returns the name of the
 * vertex that holds its output. Vertex names are the PyTorch module paths.
 *
 * <p>The lowerings, each checked against PyTorch by the parity tests:
 *
 * <ul>
 *   <li>conv: {@code ConvolutionMode.Truncate} with explicit padding (DL4J's Same mode is wrong for
 *       some sizes); the weight layout {@code [out, in, kh, kw]} is PyTorch's.
 *   <li>ceil-mode pooling, which DL4J lacks: where ceil gives what floor gives, Truncate; where
 *       Same's implicit bottom/right padding is exactly what ceil needs, Same; otherwise, for max
 *       pooling an explicit -inf padding layer then Truncate, for average pooling a window sum
 *       divided by the count PyTorch uses ({@link CeilAvgPooling}).
 *   <li>avg pooling: {@code count_include_pad} maps to {@code avgPoolIncludePadInDivisor}.
 *   <li>dropout: PyTorch's p is the probability to drop; DL4J takes the probability to keep.
 *   <li>batch norm: {@code decay = 1 - momentum}, the variance stored as such ({@code useLogStd(false)}).
 *   <li>softmax on a feature map: over channels, as {@code nn.Softmax(dim=1)}.
 *   <li>dense: PyTorch's weight {@code [out, in]} is DL4J's W transposed.
 * </ul>
 *
 * The builder records DL4J's own inferred type of every vertex ({@link #shape}), and the manifest
 * that maps each PyTorch tensor path to a DL4J parameter ({@link #manifest}).
 */
public final class NetBuilder {
  /** One PyTorch tensor and where DL4J keeps it. */
  public record TensorMapping(String path, String vertex, String key, long[] shape, boolean transpose, boolean buffer) {
    public long numel() {
      return Arrays.stream(shape).reduce(1, (a, b) -> a * b);
    }
  }

  /** A network output: the vertex computing it and the loss layer reading it (null without loss). */
  public record OutputSpec(String name, String node, String lossVertex, Loss loss, double weight) {}

  private final GraphBuilder graph;
  private final Map<String, InputType> types = new LinkedHashMap<>();
  /** The registry's shape of every vertex and op path (DL4J's own inferred types are {@link #types}). */
  private final Map<String, Shape> shapeOf = new LinkedHashMap<>();
  private final List<Applied> applied = new ArrayList<>();
  /** Whether this builder only records ({@link #recorder}). */
  private boolean recordOnly;
  private final List<String> inputs = new ArrayList<>();
  private final List<InputType> inputTypes = new ArrayList<>();
  private final List<TensorMapping> manifest = new ArrayList<>();
  private final List<OutputSpec> outputs = new ArrayList<>();
  /** Layers that nothing reads and that are no output, found by {@link #build}. */
  private final List<String> unused = new ArrayList<>();
  /** Outputs with a loss that cannot be trained here, with the reason. */
  private final Map<String, String> untrainable = new LinkedHashMap<>();
  /** Every op added, by vertex: its op and inputs (the topology inference passes plan from). */
  /** The registry op of each vertex an op made (a vertex of its own, named by its path), for the inference planner. */
  private final Map<String, OpDef> opOf = new LinkedHashMap<>();
  private final Map<String, List<String>> inputsOf = new LinkedHashMap<>();
  private final Map<String, Double> bnEps = new LinkedHashMap<>();
  /** The 1x1, stride-1, unpadded convs, with their output channels (what MERGE_POINTWISE may merge). */
  private final Map<String, Integer> pointwise = new LinkedHashMap<>();
  /** The input channels of each of {@link #pointwise}'s convs. */
  private final Map<String, Long> pointwiseIn = new LinkedHashMap<>();
  /** cnnc's convs, by vertex: those that read a network input skip its gradient (see {@link #inputGradients}). */
  private final Map<String, GemmConvolution> convs = new LinkedHashMap<>();
  private boolean inputGradients;
  private InferencePlan plan;
  private Kernels kernels = Kernels.byDefault();
  /** The updater asked for; see {@link #updaterFor}. */
  private final IUpdater updater;

  /**
   * Who computes convolutions, batch norms, ReLUs, max pooling, concatenations and Adam's updates.
   * {@code CNNC}: cnnc's kernels ({@link GemmConvolution}, {@link CnncBatchNorm}, {@link CnncRelu},
   * {@link CnncMaxPool}, {@link CnncConcat}, {@link CnncAdam}), the default on the CPU;
   * {@code DL4J}: DL4J's own layers, the default on CUDA (where they call cuDNN). The system
   * property {@code cnnc.kernels} ({@code cnnc} or {@code dl4j}) overrides the default. Both give
   * the same parameters, shapes and outputs.
   */
  public enum Kernels {
    CNNC,
    DL4J;

    static Kernels byDefault() {
      String p = System.getProperty("cnnc.kernels", "").trim();
      if (!p.isEmpty()) {
        try {
          return Kernels.valueOf(p.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException("-Dcnnc.kernels=" + p + ": expected cnnc or dl4j", e);
        }
      }
      String backend = org.nd4j.linalg.factory.Nd4j.getExecutioner().getEnvironmentInformation().getProperty("backend");
      return "CUDA".equalsIgnoreCase(backend) ? DL4J : CNNC;
    }
  }

  static {
    // ND4J's oneDNN helpers off (but for cnnc's convs) before any network is built: see OneDnn
    org.cnnc.runtime.layers.OneDnn.init();
  }

  public NetBuilder(long seed) {
    this(seed, new Adam(1e-3));
  }

  public NetBuilder(long seed, IUpdater updater) {
    this.updater = updater;
    this.graph = new NeuralNetConfiguration.Builder()
        .seed(nd4jSeed(seed))
        .updater(updaterFor(kernels))
        .weightInit(WeightInit.XAVIER)
        .convolutionMode(ConvolutionMode.Truncate)
        .graphBuilder();
  }

  /**
   * The seed given to ND4J for a user's seed. ND4J's native generator ignores {@code setSeed(0)}
   * (it goes on from its current state), so seed 0, cnnc's default, was not reproducible: 0 is
   * given as {@link Long#MIN_VALUE} instead (which thus gives the same numbers as 0); every other
   * seed is itself.
   */
  public static long nd4jSeed(long seed) {
    return seed == 0 ? Long.MIN_VALUE : seed;
  }

  /** Chooses who computes convolutions, batch norms, ReLUs, max pooling and Adam's updates. */
  public NetBuilder kernels(Kernels k) {
    if (!types.isEmpty()) {
      throw new IllegalStateException("kernels(...) comes before the first input or layer");
    }
    this.kernels = k;
    graph.getGlobalConfiguration().updater(updaterFor(k));
    return this;
  }

  /** With cnnc's kernels, ND4J's Adam is applied by {@link CnncAdam} (the same update, on every core). */
  private IUpdater updaterFor(Kernels k) {
    return k == Kernels.CNNC && updater.getClass() == Adam.class ? CnncAdam.of((Adam) updater) : updater;
  }

  public Kernels kernels() {
    return kernels;
  }

  /**
   * Whether backprop computes the gradient of the network's inputs. Off by default, as PyTorch
   * leaves it for an input that does not require grad: training never reads it, DL4J's
   * {@code ComputationGraph} has no call that returns it (only the input vertex's epsilon holds
   * it), and for a stem conv with 3 input channels it is a third of the conv's backward pass.
   * Off, cnnc's convs that read an input skip it, when nothing else reads that input (another
   * layer's gradient could not be added to a missing one); on, every layer computes it.
   */
  public NetBuilder inputGradients(boolean on) {
    this.inputGradients = on;
    return this;
  }

  /** A builder that applies an inference plan (folded BatchNorm, fused ReLU, no dropout, pruned outputs). */
  NetBuilder withPlan(InferencePlan plan) {
    this.plan = plan;
    return this;
  }

  /** The plan this builder builds with, or null. */
  InferencePlan plan() {
    return plan;
  }

  boolean hasPlan() {
    return plan != null;
  }

  Map<String, OpDef> ops() {
    return opOf;
  }

  Map<String, List<String>> topology() {
    return inputsOf;
  }

  Map<String, Integer> pointwise() {
    return pointwise;
  }

  /** The input channels of a conv of {@link #pointwise()}. */
  long pointwiseIn(String conv) {
    return pointwiseIn.get(conv);
  }

  double eps(String bn) {
    return bnEps.get(bn);
  }

  // ---- sizes -----------------------------------------------------------------------------------

  /** A square size: {@code size(3)} is 3 x 3. */
  public static int[] size(int k) {
    return new int[] {k, k};
  }

  public static int[] size(int h, int w) {
    return new int[] {h, w};
  }

  /** Padding on every side. */
  public static int[] pad(int p) {
    return new int[] {p, p, p, p};
  }

  /** {@code [h, w]} padding: h rows top and bottom, w columns left and right. */
  public static int[] pad(int h, int w) {
    return new int[] {w, w, h, h};
  }

  public static int[] pad(int left, int right, int top, int bottom) {
    return new int[] {left, right, top, bottom};
  }

  /** A padding value held in a variable: {@code [h, w]} or {@code [left, right, top, bottom]}. */
  public static int[] pad4(int[] v) {
    return v.length == 2 ? pad(v[0], v[1]) : v.clone();
  }

  // ---- naming ----------------------------------------------------------------------------------

  /** The model's own sequence. */
  public ModulePath root() {
    return new ModulePath("");
  }

  /** The sequence of a module at {@code path} (a block instance or group). */
  public ModulePath seq(String path) {
    return new ModulePath(path);
  }

  // ---- ops ---------------------------------------------------------------------------------------

  public String input(String name, long... shape) {
    InputType t = shape.length == 3
        ? InputType.convolutional(shape[1], shape[2], shape[0])
        : InputType.feedForward(shape[0]);
    graph.addInputs(name);
    shapeOf.put(name, Shape.of(Arrays.stream(shape).mapToInt(Math::toIntExact).toArray()));
    inputs.add(name);
    inputTypes.add(t);
    types.put(name, t);
    return name;
  }

  /**
   * An input of a checked shape, a channels-last map keeping its layout for the shape rules (its
   * DL4J type names the array's dims in order, as {@link #input(String, long...)} gives it): a
   * layer of a checked network built alone on its input (`cnnc bench --profile`).
   */
  public String input(String name, Shape shape) {
    input(name, Arrays.stream(shape.dims()).asLongStream().toArray());
    shapeOf.put(name, shape);
    return name;
  }

  // ---- ops of the registry ----------------------------------------------------------------------

  /**
   * One application of a registry op as this builder checked and lowered it: what a generated
   * model's {@code build} made, to compare with the compiler's network node for node.
   */
  public record Applied(String path, String op, Map<String, Value> args, List<String> inputs, Shape shape,
      List<org.cnnc.compiler.shape.Layer.TensorSpec> params, List<org.cnnc.compiler.shape.Layer.TensorSpec> buffers,
      long macs) {}

  /**
   * A builder that only records: each op is bound, shaped and counted by the registry's rules, and
   * nothing is lowered (no backend is asked). {@link CnnModel#figures} builds into one.
   */
  public static NetBuilder recorder() {
    NetBuilder b = new NetBuilder(0);
    b.recordOnly = true;
    return b;
  }

  /** The figures of what was built: parameters, buffers, MACs and every shape, by the registry's rules. */
  public CnnModel.Figures figures() {
    long params = 0;
    long buffers = 0;
    long macs = 0;
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (String in : inputs) {
      shapes.put(in, dims(shapeOf.get(in)));
    }
    for (Applied a : applied) {
      for (var t : a.params()) {
        params = Math.addExact(params, numel(t.dims()));
      }
      for (var t : a.buffers()) {
        buffers = Math.addExact(buffers, numel(t.dims()));
      }
      macs = Math.addExact(macs, a.macs());
      shapes.put(a.path(), dims(a.shape()));
    }
    Map<String, long[]> outs = new LinkedHashMap<>();
    for (OutputSpec o : outputs) {
      outs.put(o.name(), dims(shapeOf.get(o.node())));
    }
    return new CnnModel.Figures(params, buffers, macs, inputs.stream().map(i -> dims(shapeOf.get(i))).toList(), outs,
        shapes);
  }

  private static long[] dims(Shape s) {
    return Arrays.stream(s.dims()).asLongStream().toArray();
  }

  private static long numel(int[] dims) {
    long n = 1;
    for (int d : dims) {
      n = Math.multiplyExact(n, d);
    }
    return n;
  }

  /**
   * Adds one op of the registry ({@link Ops}) reading {@code in}, with its arguments as name-value
   * pairs ({@code "out", 64, "kernel", 3}); the others take the registry's defaults. The output
   * shape, parameters and MACs come from the op's shape rule, the same the compiler checked with;
   * an application the rule or the backend refuses throws, naming {@code path}. Returns the vertex
   * holding the output.
   */
  public String op(String path, String op, String in, Object... args) {
    OpDef def = registered(op, path);
    return apply(def, path, List.of(in), OpArgs.bind(def, path, args));
  }

  /** As {@link #op(String, String, String, Object...)}, with the compiler's values (a checked node's arguments). */
  public String op(String path, String op, List<String> ins, Map<String, Value> args) {
    OpDef def = registered(op, path);
    return apply(def, path, ins, OpArgs.bind(def, path, args));
  }

  /** Joins branches with a merge of the registry ({@code concat}, {@code add}, {@code mul}). */
  public String merge(String path, String op, String... ins) {
    OpDef def = registered(op, path);
    if (!def.isMerge()) {
      throw new IllegalArgumentException(path + ": `" + op + "` is not a merge");
    }
    return apply(def, path, List.of(ins), OpArgs.bind(def, path, Map.of()));
  }

  private static OpDef registered(String op, String path) {
    OpDef def = Ops.get(op);
    if (def == null) {
      throw new IllegalArgumentException(path + ": no op `" + op + "`");
    }
    return def;
  }

  private String apply(OpDef def, String path, List<String> ins, OpArgs a) {
    List<Shape> shapes = new ArrayList<>();
    for (String in : ins) {
      Shape s = shapeOf.get(in);
      if (s == null) {
        throw new IllegalArgumentException(path + ": no vertex named " + in);
      }
      shapes.add(s);
    }
    org.cnnc.compiler.shape.Layer layer;
    if (def.isMerge()) {
      if (shapes.isEmpty()) {
        throw new IllegalArgumentException(path + ": `" + def.name() + "` needs branches");
      }
      OpDef.Joined j = def.merge().join(shapes);
      if (j.shape() == null) {
        throw new IllegalArgumentException(path + ": " + j.message());
      }
      layer = org.cnnc.compiler.shape.Layer.of(j.shape());
    } else {
      if (shapes.size() != 1) {
        throw new IllegalArgumentException(path + ": `" + def.name() + "` reads one input, not " + shapes.size());
      }
      layer = infer(def, path, shapes.get(0), a);
    }
    String v = path;
    if (!recordOnly) {
      Backend backend = kernels == Kernels.CNNC ? Backend.CPU : Backend.CUDA;
      def.refusal(backend, a.values(), shapes).ifPresent(r -> {
        throw new UnsupportedOperationException(path + ": `" + def.name() + "` cannot run on backend " + backend.id()
            + ": " + r.reason());
      });
      v = Lowerings.of(def).lower(this, path, ins, a);
      if (v.equals(path)) {
        opOf.put(v, def);
      }
    }
    shapeOf.put(path, layer.out());
    shapeOf.putIfAbsent(v, layer.out());
    applied.add(new Applied(path, def.name(), a.values(), ins, layer.out(), layer.params(), layer.buffers(),
        layer.macs()));
    return v;
  }

  /** The op's shape rule on {@code in}; what it would report as a diagnostic is thrown, naming {@code path}. */
  private static org.cnnc.compiler.shape.Layer infer(OpDef def, String path, Shape in, OpArgs a) {
    List<String> problems = new ArrayList<>();
    OpInput input = new OpInput(def.name(), in, a.values(), null) {
      @Override
      public Span argSpan(String name) {
        return null;
      }

      @Override
      public Span explicitInSpan() {
        return null;
      }

      @Override
      public Span callSpan() {
        return null;
      }

      @Override
      public String inputDescription() {
        return in.toString();
      }

      @Override
      protected void emit(Diagnostic.Builder d) {
        problems.add(d.message()); // no spec here, so no place: the message alone
      }
    };
    org.cnnc.compiler.shape.Layer layer = def.rule().infer(input);
    if (layer == null || input.failed()) {
      throw new IllegalArgumentException(path + ": " + (problems.isEmpty() ? "`" + def.name() + "` refuses its input "
          + in : String.join("; ", problems)));
    }
    return layer;
  }

  /** Every op applied through {@link #op} and {@link #merge}, in order. */
  public List<Applied> applied() {
    return Collections.unmodifiableList(applied);
  }

  /** The shape the registry's rules give a vertex or op path (null if none). */
  public Shape shapeOf(String vertexOrPath) {
    return shapeOf.get(vertexOrPath);
  }

  public String conv(String name, String in, int out, int[] kernel, int[] stride, int[] padding, int[] dilation,
      int groups, boolean bias) {
    if (skip(name)) {
      return name;
    }
    long c = map(in, "conv").getChannels();
    // a grouped conv is never merged with other pointwise convs (its channels do not mix)
    boolean isPointwise = groups == 1 && Arrays.equals(kernel, new int[] {1, 1}) && Arrays.equals(stride, new int[] {1, 1})
        && Arrays.stream(padding).allMatch(p -> p == 0) && Arrays.equals(dilation, new int[] {1, 1});
    if (isPointwise) {
      pointwise.put(name, out);
      pointwiseIn.put(name, c);
    }
    InferencePlan.Merge merge = plan == null ? null : plan.mergeOf(name);
    if (merge != null) {
      // one wide 1x1 conv for every pointwise conv reading `in`, built at the first of them; each
      // conv is then its slice of the channels, under its own name
      if (!types.containsKey(merge.vertex())) {
        ConvolutionLayer.Builder wide = new ConvolutionLayer.Builder(kernel, stride, padding)
            .nOut(merge.channels())
            .hasBias(true)
            .activation(plan.fusedActivation(merge.vertex()))
            .convolutionMode(ConvolutionMode.Truncate);
        add(merge.vertex(), kernels == Kernels.CNNC ? gemm(merge.vertex(), new GemmConvolution(wide)) : wide.build(),
            in);
      }
      int from = merge.offset(name);
      vertex(name, new ChannelSubset(from, from + out - 1), merge.vertex());
      return name;
    }
    boolean withBias = bias || (plan != null && plan.foldsInto(name));
    ConvolutionLayer.Builder conv = new ConvolutionLayer.Builder(kernel, stride, padding)
        .dilation(dilation)
        .nOut(out)
        .hasBias(withBias)
        .activation(plan != null ? plan.fusedActivation(name) : Activation.IDENTITY)
        .convolutionMode(ConvolutionMode.Truncate);
    Layer layer = groups != 1 ? grouped(name, new GroupedConvolution(conv, groups, kernels == Kernels.CNNC))
        : kernels == Kernels.CNNC ? gemm(name, new GemmConvolution(conv)) : conv.build();
    add(name, layer, in);
    manifest.add(new TensorMapping(name + ".weight", name, "W", new long[] {out, c / groups, kernel[0], kernel[1]},
        false, false));
    if (bias) {
      manifest.add(new TensorMapping(name + ".bias", name, "b", new long[] {out}, false, false));
    }
    return name;
  }

  public String maxpool(String name, String in, int[] kernel, int[] stride, int[] padding, int[] dilation, boolean ceil) {
    return pool(name, in, PoolingType.MAX, kernel, stride, padding, dilation, ceil, false);
  }

  public String avgpool(String name, String in, int[] kernel, int[] stride, int[] padding, boolean ceil,
      boolean countIncludePad) {
    return pool(name, in, PoolingType.AVG, kernel, stride, padding, new int[] {1, 1}, ceil, countIncludePad);
  }

  private String pool(String name, String in, PoolingType type, int[] k, int[] s, int[] p, int[] d, boolean ceil,
      boolean includePad) {
    if (skip(name)) {
      return name;
    }
    InputType.InputTypeConvolutional t = map(in, type == PoolingType.MAX ? "maxpool" : "avgpool");
    if (type == PoolingType.MAX && kernels == Kernels.CNNC) {
      return add(name, new CnncMaxPool(k, s, p, d, ceil), in);
    }
    long[] size = {t.getHeight(), t.getWidth()};
    int[] extra = new int[2];
    boolean same = true;
    for (int i = 0; i < 2; i++) {
      long eff = (long) d[i] * (k[i] - 1) + 1;
      long want = Ops.window(size[i], k[i], s[i], p[i], d[i], ceil);
      extra[i] = (int) Math.max(0, (want - 1) * s[i] + eff - (size[i] + 2L * p[i]));
      long sameOut = Math.floorDiv(size[i] + s[i] - 1, s[i]);
      long total = Math.max(0, (sameOut - 1) * s[i] + eff - size[i]);
      same &= sameOut == want && total / 2 == p[i] && total - total / 2 == p[i] + extra[i];
    }
    SubsamplingLayer.Builder b = new SubsamplingLayer.Builder(type).kernelSize(k).stride(s);
    if (type == PoolingType.MAX) {
      b.dilation(d);
    } else {
      b.avgPoolIncludePadInDivisor(includePad);
    }
    if (extra[0] == 0 && extra[1] == 0) {
      b.padding(p).convolutionMode(ConvolutionMode.Truncate);
      add(name, b.build(), in);
    } else if (same && (type == PoolingType.MAX || !includePad || (p[0] == 0 && p[1] == 0))) {
      // PyTorch never counts the ceil overhang in an average's divisor, and without explicit
      // padding there is nothing else to count: DL4J's Same mode excluding padding is exact.
      if (type == PoolingType.AVG) {
        b.avgPoolIncludePadInDivisor(false);
      }
      b.convolutionMode(ConvolutionMode.Same);
      add(name, b.build(), in);
    } else if (type == PoolingType.MAX) {
      String padded = name + "/pad";
      add(padded, new NegInfPadding(p[0], p[0] + extra[0], p[1], p[1] + extra[1]), in);
      b.padding(0, 0).convolutionMode(ConvolutionMode.Truncate);
      add(name, b.build(), padded);
    } else {
      add(name, new CeilAvgPooling(k, s, p, extra, includePad), in);
    }
    return name;
  }

  public String globalAvgpool(String name, String in) {
    if (skip(name)) {
      return name;
    }
    map(in, "global_avgpool");
    return add(name, new GlobalPoolingLayer.Builder(PoolingType.AVG).collapseDimensions(false).build(), in);
  }

  public String globalMaxpool(String name, String in) {
    if (skip(name)) {
      return name;
    }
    map(in, "global_maxpool");
    return add(name, new GlobalPoolingLayer.Builder(PoolingType.MAX).collapseDimensions(false).build(), in);
  }

  /** PyTorch's {@code nn.AdaptiveAvgPool2d(size)} ({@link AdaptiveAvgPool}); {@code size} is {@code [h, w]}. */
  public String adaptiveAvgpool(String name, String in, int[] size) {
    if (skip(name)) {
      return name;
    }
    map(in, "adaptive_avgpool");
    return vertex(name, new AdaptiveAvgPool(size[0], size[1]), in);
  }

  public String batchnorm(String name, String in, double eps, double momentum) {
    if (plan != null && (plan.folded(name) || !plan.keeps(name))) {
      return in;
    }
    long c = channels(in);
    add(name, kernels == Kernels.CNNC ? new CnncBatchNorm(eps, momentum,
        plan == null ? Activation.IDENTITY : plan.fusedActivation(name))
        : new BatchNormalization.Builder().eps(eps).decay(1 - momentum).useLogStd(false).build(), in);
    bnEps.put(name, eps);
    manifest.add(new TensorMapping(name + ".weight", name, "gamma", new long[] {c}, false, false));
    manifest.add(new TensorMapping(name + ".bias", name, "beta", new long[] {c}, false, false));
    manifest.add(new TensorMapping(name + ".running_mean", name, "mean", new long[] {c}, false, true));
    manifest.add(new TensorMapping(name + ".running_var", name, "var", new long[] {c}, false, true));
    return name;
  }

  public String lrn(String name, String in, int size, double alpha, double beta, double k) {
    if (skip(name)) {
      return name;
    }
    map(in, "lrn");
    if (size % 2 == 0) {
      throw new UnsupportedOperationException(name + ": DL4J's LRN window is centred; PyTorch's even size " + size
          + " is not");
    }
    // DL4J divides by (k + alpha * sum)^beta; PyTorch by (k + alpha / size * sum)^beta.
    return add(name, new LocalResponseNormalization.Builder(k, size, alpha / size, beta).build(), in);
  }

  /** Whether the plan has the layer before this activation compute it (its readers then read {@code in}). */
  private boolean fusedByPlan(String name, String in) {
    if (plan == null || !plan.fusedRelu(name)) {
      return false;
    }
    if (types.containsKey(in)) {
      types.put(name, types.get(in));
    }
    return true;
  }

  public String relu(String name, String in) {
    if (fusedByPlan(name, in)) {
      return in;
    }
    return kernels == Kernels.CNNC ? add(name, new CnncRelu(), in)
        : activation(name, in, Activation.RELU.getActivationFunction());
  }

  /** PyTorch's ReLU6: cnnc's one-pass layer on its kernels, DL4J's activation otherwise. */
  public String relu6(String name, String in) {
    if (fusedByPlan(name, in)) {
      return in;
    }
    return kernels == Kernels.CNNC ? add(name, new CnncRelu(Activation.RELU6), in)
        : activation(name, in, Activation.RELU6.getActivationFunction());
  }

  public String leakyRelu(String name, String in, double slope) {
    return activation(name, in, new ActivationLReLU(slope));
  }

  /** PyTorch's SiLU: cnnc's one-pass layer ({@link CnncRelu} with swish) on its kernels, DL4J's swish activation otherwise. */
  public String silu(String name, String in) {
    if (fusedByPlan(name, in)) {
      return in;
    }
    return kernels == Kernels.CNNC ? add(name, new CnncRelu(Activation.SWISH), in)
        : activation(name, in, Activation.SWISH.getActivationFunction());
  }

  public String sigmoid(String name, String in) {
    return activation(name, in, Activation.SIGMOID.getActivationFunction());
  }

  public String tanh(String name, String in) {
    return activation(name, in, Activation.TANH.getActivationFunction());
  }

  /**
   * The identity. In a planned build (cnnc's kernels train and infer with a plan) it is no vertex
   * at all: its readers read its input (a residual block's {@code x: identity} would otherwise
   * copy the activation forward and its gradient back), and its name keeps its input's shape. The
   * unplanned build, which the plans are made from and which must be the compiler's network op
   * for op, keeps its vertex.
   */
  public String identity(String name, String in) {
    if (plan == null) {
      return activation(name, in, Activation.IDENTITY.getActivationFunction());
    }
    if (types.containsKey(in)) {
      types.put(name, types.get(in));
    }
    return in;
  }

  public String softmax(String name, String in) {
    if (skip(name)) {
      return name;
    }
    if (types.get(in).getType() == InputType.Type.CNN) {
      InputType.InputTypeConvolutional t = (InputType.InputTypeConvolutional) types.get(in);
      if (t.getHeight() == 1 && t.getWidth() == 1) {
        // [C, 1, 1] (NiN's scores): a plain softmax over the flattened channels, then back to a map.
        String flat = flatten(name + "/flat", in);
        String soft = activation(name + "/softmax", flat, Activation.SOFTMAX.getActivationFunction());
        return vertex(name, new PreprocessorVertex(new FeedForwardToCnnPreProcessor(1, 1, t.getChannels())), soft);
      }
      return add(name, new ChannelSoftmax(), in);
    }
    return activation(name, in, Activation.SOFTMAX.getActivationFunction());
  }

  /** An element-wise activation layer computing {@code fn} (the lowering of the registry's activations). */
  public String activation(String name, String in, IActivation fn) {
    return add(name, new SafeActivation(fn), in);
  }

  public String dropout(String name, String in, double p) {
    if (plan != null && plan.dropsDropout()) {
      return in;
    }
    return add(name, new DropoutLayer.Builder(1.0 - p).build(), in);
  }

  /**
   * torchvision's stochastic depth ({@link StochasticDepth}): the identity in inference, so an
   * inference plan that drops dropout drops it too.
   */
  public String stochasticDepth(String name, String in, double p, boolean row) {
    if (plan != null && plan.dropsDropout()) {
      return in;
    }
    return vertex(name, new StochasticDepth(p, row), in);
  }

  public String dense(String name, String in, int out, boolean bias) {
    if (skip(name)) {
      return name;
    }
    String flat = types.get(in).getType() == InputType.Type.CNN ? flatten(name + "/flatten", in) : in;
    long features = ((InputType.InputTypeFeedForward) types.get(flat)).getSize();
    DenseLayer.Builder dense = new DenseLayer.Builder().nOut(out).hasBias(bias)
        .activation(plan != null ? plan.fusedActivation(name) : Activation.IDENTITY);
    add(name, kernels == Kernels.CNNC ? new CnncDense(dense) : dense.build(), flat);
    manifest.add(new TensorMapping(name + ".weight", name, "W", new long[] {out, features}, true, false));
    if (bias) {
      manifest.add(new TensorMapping(name + ".bias", name, "b", new long[] {out}, false, false));
    }
    return name;
  }

  /** {@code [C, H, W]} to {@code [C * H * W]} in PyTorch's (row-major) order. */
  public String flatten(String name, String in) {
    if (skip(name)) {
      return name;
    }
    InputType.InputTypeConvolutional t = map(in, "flatten");
    return vertex(name, new PreprocessorVertex(
        new CnnToFeedForwardPreProcessor(t.getHeight(), t.getWidth(), t.getChannels())), in);
  }

  /** Zero padding; {@code padding} is {@code [left, right, top, bottom]}. */
  public String zeropad(String name, String in, int[] padding) {
    if (skip(name)) {
      return name;
    }
    map(in, "zeropad");
    return add(name, new ZeroPaddingLayer.Builder(padding[2], padding[3], padding[0], padding[1]).build(), in);
  }

  /** Slice {@code index} of {@code chunks} equal slices of the channels, as {@code x.chunk(chunks, dim=1)[index]}. */
  public String chunk(String name, String in, int chunks, int index) {
    if (skip(name)) {
      return name;
    }
    int c = (int) map(in, "chunk").getChannels() / chunks;
    return vertex(name, new ChannelSubset(index * c, index * c + c - 1), in);
  }

  /** ShuffleNet's channel shuffle ({@link ChannelShuffle}). */
  public String channelShuffle(String name, String in, int groups) {
    if (skip(name)) {
      return name;
    }
    map(in, "channel_shuffle");
    return vertex(name, new ChannelShuffle(groups), in);
  }

  /**
   * PyTorch's {@code F.interpolate} ({@link Upsample}): to {@code size}, or by {@code scale}
   * (then null size) to floor(in * scale), as the registry's rule computes it.
   */
  public String upsample(String name, String in, int[] size, double[] scale, boolean bilinear, boolean alignCorners) {
    if (skip(name)) {
      return name;
    }
    InputType.InputTypeConvolutional t = map(in, "upsample");
    int h = size != null ? size[0] : Math.toIntExact(Ops.scaledSize(t.getHeight(), scale[0]));
    int w = size != null ? size[1] : Math.toIntExact(Ops.scaledSize(t.getWidth(), scale[1]));
    return vertex(name, new Upsample(h, w, bilinear, alignCorners, size != null ? 0 : scale[0],
        size != null ? 0 : scale[1]), in);
  }

  /** PyTorch's {@code nn.ConvTranspose2d} ({@link ConvTranspose}): weights {@code [in, out/groups, kh, kw]}, bias {@code [out]}. */
  public String convTranspose(String name, String in, int out, int[] kernel, int[] stride, int[] padding,
      int[] outputPadding, int groups, int[] dilation, boolean bias) {
    if (skip(name)) {
      return name;
    }
    long c = map(in, "conv_transpose").getChannels();
    Deconvolution2D.Builder conf = new Deconvolution2D.Builder(kernel, stride, padding)
        .dilation(dilation)
        .nOut(out)
        .hasBias(bias)
        .activation(Activation.IDENTITY)
        .convolutionMode(ConvolutionMode.Truncate);
    add(name, new ConvTranspose(conf, groups, outputPadding), in);
    manifest.add(new TensorMapping(name + ".weight", name, "W", new long[] {c, out / groups, kernel[0], kernel[1]},
        false, false));
    if (bias) {
      manifest.add(new TensorMapping(name + ".bias", name, "b", new long[] {out}, false, false));
    }
    return name;
  }

  public String concat(String name, String... ins) {
    return vertex(name, kernels == Kernels.CNNC ? new CnncConcat() : new MergeVertex(), ins);
  }

  public String add(String name, String... ins) {
    return vertex(name, kernels == Kernels.CNNC ? new CnncAdd(plan != null && plan.fusesRelu(name))
        : new ElementWiseVertex(ElementWiseVertex.Op.Add), ins);
  }

  /** The product of the inputs, broadcast as PyTorch's {@code x * y} ({@link BroadcastMul}). */
  public String mul(String name, String... ins) {
    return vertex(name, new BroadcastMul(), ins);
  }

  // ---- ConvNeXt's ops: a channels-last map [H, W, C] travels as the array [N, H, W, C] --------

  /** {@code x.permute(dims)}, the batch first ({@link org.cnnc.runtime.layers.Permute}). */
  public String permute(String name, String in, int[] dims) {
    if (skip(name)) {
      return name;
    }
    if (dims.length != 4 || !(types.get(in) instanceof InputType.InputTypeConvolutional)) {
      throw new UnsupportedOperationException(name + ": permute runs on maps (4 dims with the batch)");
    }
    return add(name, new org.cnnc.runtime.layers.Permute(dims), in);
  }

  /** {@code nn.LayerNorm} over the last dim of the checked shape. */
  public String layernorm(String name, String in, double eps) {
    if (skip(name)) {
      return name;
    }
    Shape s = shapeOf.get(in);
    int d = s.dim(s.rank() - 1);
    add(name, LastAxisLayer.norm(s.rank() + 1, s.rank(), d, eps), in);
    manifest.add(new TensorMapping(name + ".weight", name, "W", new long[] {d}, false, false));
    manifest.add(new TensorMapping(name + ".bias", name, "b", new long[] {d}, false, false));
    return name;
  }

  /** torchvision's {@code LayerNorm2d}: over the channels of an NCHW map. */
  public String layernorm2d(String name, String in, double eps) {
    if (skip(name)) {
      return name;
    }
    int c = (int) map(in, "layernorm2d").getChannels();
    add(name, LastAxisLayer.norm(4, 1, c, eps), in);
    manifest.add(new TensorMapping(name + ".weight", name, "W", new long[] {c}, false, false));
    manifest.add(new TensorMapping(name + ".bias", name, "b", new long[] {c}, false, false));
    return name;
  }

  /** {@code nn.Linear} on the last dim of the checked shape, at every position. */
  public String linear(String name, String in, int out, boolean bias) {
    if (skip(name)) {
      return name;
    }
    Shape s = shapeOf.get(in);
    int features = s.dim(s.rank() - 1);
    add(name, LastAxisLayer.linear(s.rank() + 1, features, out, bias), in);
    manifest.add(new TensorMapping(name + ".weight", name, "W", new long[] {out, features}, false, false));
    if (bias) {
      manifest.add(new TensorMapping(name + ".bias", name, "b", new long[] {out}, false, false));
    }
    return name;
  }

  /** A free trainable tensor multiplied in; its key is the path itself (ConvNeXt's {@code layer_scale}). */
  public String scale(String name, String in, int[] shape, double init) {
    if (skip(name)) {
      return name;
    }
    Shape s = shapeOf.get(in);
    add(name, LastAxisLayer.scale(s.rank() + 1, shape, init), in);
    manifest.add(new TensorMapping(name, name, "W", Arrays.stream(shape).asLongStream().toArray(), false, false));
    return name;
  }

  /** Declares an output, with the loss it is trained with and that loss's weight. */
  public void output(String name, String node, Loss loss, double weight) {
    if (recordOnly) {
      outputs.add(new OutputSpec(name, node, null, loss, weight));
      return;
    }
    if (inputs.contains(node)) {
      // a model that outputs its input (no layer between): DL4J's outputs must be vertices
      node = activation(name + "/identity", node, Activation.IDENTITY.getActivationFunction());
    }
    if (plan != null && !plan.training()) {
      if (plan.wants(name)) {
        outputs.add(new OutputSpec(name, node, null, Loss.NONE, weight));
      }
      return;
    }
    if (loss == Loss.NONE) {
      outputs.add(new OutputSpec(name, node, null, loss, weight));
      return;
    }
    String in = node;
    long[] dims = shape(node);
    java.util.Optional<String> refused = Capabilities.untrainable(loss.name().toLowerCase(java.util.Locale.ROOT),
        Shape.of(Arrays.stream(dims).mapToInt(Math::toIntExact).toArray()));
    if (refused.isPresent()) {
      // computed (inference) but not trained: `check` warns and `train` refuses, with the compiler's words
      untrainable.put(name, refused.get());
      outputs.add(new OutputSpec(name, node, null, loss, weight));
      return;
    }
    boolean perPixel = types.get(node).getType() == InputType.Type.CNN && dims.length == 3 && (dims[1] != 1 || dims[2] != 1);
    if (!perPixel && types.get(node).getType() == InputType.Type.CNN) {
      in = flatten(name + "/flatten", node);
    }
    // per pixel, cross-entropy skips unlabeled pixels (PyTorch's ignore_index) and averages over the rest
    ILossFunction fn = perPixel && loss == Loss.CROSS_ENTROPY ? new PixelCrossEntropy() : loss.function();
    // per pixel (nn.CrossEntropyLoss on [N, C, H, W] logits): DL4J's CNN loss layer sums over the
    // pixels of an example; PyTorch averages over them, hence the 1 / (H * W)
    double scale = perPixel ? weight / (dims[1] * dims[2]) : weight;
    if (scale != 1.0) {
      fn = new ScaledLoss(fn, scale);
    }
    String lossVertex = name + "/loss";
    add(lossVertex, perPixel ? new CnnLossLayer.Builder(fn).activation(loss.activation()).build()
        : new LossLayer.Builder(fn).activation(loss.activation()).build(), in);
    outputs.add(new OutputSpec(name, node, lossVertex, loss, weight));
  }

  // ---- results -----------------------------------------------------------------------------------

  public ComputationGraphConfiguration build() {
    for (String in : inputs) {
      List<String> readers = inputsOf.entrySet().stream().filter(e -> e.getValue().contains(in))
          .map(Map.Entry::getKey).toList();
      boolean onlyConvs = convs.keySet().containsAll(readers);
      for (String reader : readers) {
        if (convs.containsKey(reader)) {
          convs.get(reader).setInputGradient(inputGradients || !onlyConvs);
        }
      }
    }
    List<String> outs = new ArrayList<>();
    for (OutputSpec o : outputs) {
      outs.add(o.lossVertex() != null ? o.lossVertex() : o.node());
    }
    unused.clear();
    java.util.Set<String> read = new java.util.HashSet<>();
    inputsOf.values().forEach(read::addAll);
    for (String v : inputsOf.keySet()) {
      if (!read.contains(v) && !outs.contains(v)) {
        unused.add(v);
      }
    }
    // a node that nothing reads and that is no output (a spec may have one: lint's UNUSED_NODE) is
    // still built, as PyTorch keeps an unused module's parameters; DL4J refuses such a graph unless told
    return graph.setInputTypes(inputTypes.toArray(new InputType[0]))
        .setOutputs(outs.toArray(new String[0]))
        .allowDisconnected(true)
        .build();
  }

  /** DL4J's inferred type of a vertex, as a PyTorch shape: {@code [C, H, W]} or {@code [F]}. */
  public long[] shape(String vertex) {
    InputType t = types.get(vertex);
    if (t instanceof InputType.InputTypeConvolutional c) {
      return new long[] {c.getChannels(), c.getHeight(), c.getWidth()};
    }
    return new long[] {((InputType.InputTypeFeedForward) t).getSize()};
  }

  /** Every vertex added, with its inferred shape, in order. */
  public Map<String, long[]> shapes() {
    Map<String, long[]> out = new LinkedHashMap<>();
    types.keySet().forEach(v -> out.put(v, shape(v)));
    return out;
  }

  public List<TensorMapping> manifest() {
    return Collections.unmodifiableList(manifest);
  }

  public List<OutputSpec> outputs() {
    return Collections.unmodifiableList(outputs);
  }

  public List<String> inputs() {
    return Collections.unmodifiableList(inputs);
  }

  /**
   * Layers that nothing reads and that are no output (after {@link #build}): computed in inference,
   * but DL4J's backward pass cannot go through them.
   */
  public List<String> unused() {
    return Collections.unmodifiableList(unused);
  }

  /** The outputs whose loss cannot be trained on this backend, with the reason. */
  public Map<String, String> untrainable() {
    return Collections.unmodifiableMap(untrainable);
  }

  // ---- helpers -----------------------------------------------------------------------------------

  private GemmConvolution gemm(String name, GemmConvolution conv) {
    convs.put(name, conv);
    return conv;
  }

  /** A grouped conv: with cnnc's kernels, one of cnnc's convs (it may skip its input's gradient). */
  private GroupedConvolution grouped(String name, GroupedConvolution conv) {
    return conv.isCnncKernels() ? (GroupedConvolution) gemm(name, conv) : conv;
  }

  private boolean skip(String name) {
    return plan != null && !plan.keeps(name);
  }

  private String add(String name, Layer layer, String in) {
    if (plan != null && !plan.keeps(name)) {
      return name;
    }
    InputType t = types.get(in);
    if (t == null) {
      throw new IllegalArgumentException("no vertex named " + in);
    }
    graph.addLayer(name, layer, in);
    types.put(name, layer.getOutputType(-1, t));
    inputsOf.put(name, List.of(in));
    return name;
  }

  private String vertex(String name, GraphVertex v, String... ins) {
    if (plan != null && !plan.keeps(name)) {
      return name;
    }
    InputType[] in = new InputType[ins.length];
    for (int i = 0; i < ins.length; i++) {
      in[i] = types.get(ins[i]);
    }
    graph.addVertex(name, v, ins);
    inputsOf.put(name, List.of(ins));
    try {
      types.put(name, v.getOutputType(-1, in));
    } catch (Exception e) {
      throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
    }
    return name;
  }

  private InputType.InputTypeConvolutional map(String in, String op) {
    InputType t = types.get(in);
    if (t instanceof InputType.InputTypeConvolutional c) {
      return c;
    }
    throw new IllegalArgumentException(op + " needs a [C, H, W] input, but " + in + " is " + t);
  }

  private long channels(String in) {
    InputType t = types.get(in);
    return t instanceof InputType.InputTypeConvolutional c ? c.getChannels() : ((InputType.InputTypeFeedForward) t).getSize();
  }
}
