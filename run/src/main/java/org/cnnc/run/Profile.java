// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import ai.onnxruntime.OrtException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.cnnc.cli.Main;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.Trait;
import org.cnnc.compiler.sema.Value;
import org.cnnc.onnx.OnnxExport;
import org.cnnc.onnx.OrtModel;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.Loss;
import org.cnnc.runtime.InferencePlan;
import org.cnnc.runtime.NetBuilder;
import org.cnnc.runtime.layers.ConvLayout;
import org.cnnc.runtime.layers.Gemm;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where a forward pass spends its time: each conv, pool, BatchNorm and dense layer of the network
 * timed alone on DL4J at its real input shape, with its GFLOP/s beside the machine's SGEMM rate
 * (ND4J's own matrix multiply), slowest first.
 */
final class Profile {
  private Profile() {}

  /** One layer: its forward time in inference, and forward (training mode) + backward. */
  record Row(String name, String op, String shape, long macs, double ms, double trainMs, double planMs) {}

  /** The ops timed: every op that computes (those that pass values on, as flatten, are views; dropout computes). */
  static boolean timed(String op) {
    OpDef def = Ops.get(op);
    return def != null && (!def.has(Trait.PASSES_VALUES) || def.has(Trait.STOCHASTIC));
  }

  private static final WorkspaceConfiguration WORKSPACE = WorkspaceConfiguration.builder()
      .policyLearning(LearningPolicy.FIRST_LOOP)
      .policyAllocation(AllocationPolicy.OVERALLOCATE)
      .overallocationLimit(0.2)
      .policySpill(SpillPolicy.REALLOCATE)
      .build();
  private static final LayerWorkspaceMgr MGR = LayerWorkspaceMgr.builder()
      .defaultWorkspace("CNNC_PROFILE", WORKSPACE)
      .build();

  /**
   * Profiles {@code n}. The whole network is first run for {@code warmupSeconds} (forward and
   * training), so the JIT has compiled the kernels the layers share; each layer's own timing then
   * warms up for a tenth of that, at most 0.2 s (a hundred layers and more, three timings each).
   */
  static void run(Network n, CnnModel model, int batch, int iters, double warmupSeconds, boolean ort,
      java.util.Set<InferencePlan.Pass> passes, PrintWriter out) {
    // ONNX Runtime first: its threads are idle once its session is closed
    List<String> ortNotes = new ArrayList<>();
    Map<String, Double> ortMs = ort ? ortLayers(n, batch, iters, warmupSeconds, ortNotes) : null;
    double warmup = Math.min(0.2, warmupSeconds / 10);
    double sgemm = sgemm(iters, warmup);
    List<CnnNetwork.StepTime> steps = planSteps(model, passes, batch, iters, warmupSeconds);
    // a layer's steps: its vertex, and those a lowering adds under its name (a softmax's "sm/flat");
    // a merged 1x1 conv is its own step, no layer's
    java.util.Set<String> named = new java.util.HashSet<>();
    n.nodes().forEach(node -> named.add(node.name()));
    Map<String, Double> planMs = new java.util.HashMap<>();
    Map<String, Integer> layouts = new java.util.HashMap<>();
    List<CnnNetwork.StepTime> unnamed = new ArrayList<>();
    for (CnnNetwork.StepTime t : steps) {
      String layer = layerOf(t.vertex(), named);
      if (layer == null) {
        unnamed.add(t);
      } else {
        planMs.merge(layer, t.medianMs(), Double::sum);
        layouts.putIfAbsent(layer, t.layout());
      }
    }
    ComputationGraph whole = CnnNetwork.create(model, 1, NetBuilder.Kernels.CNNC).graph();
    INDArray x0 = Timing.batch(model.inputShape(), batch, 1);
    MultiDataSet data = Timing.trainingBatch(whole, model.inputShape(), batch);
    Timing.median(() -> whole.output(false, x0), 1, warmupSeconds / 2);
    Timing.median(() -> whole.fit(data), 1, warmupSeconds / 2);
    List<Row> rows = new ArrayList<>();
    for (Node node : n.nodes()) {
      if (!timed(node.op())) {
        continue;
      }
      NetBuilder b = new NetBuilder(1);
      // the inputs as checked: a channels-last map (ConvNeXt's, between its permutes) stays one
      String x = b.input("in", n.node(node.inputs().get(0)).shape());
      List<String> ins = new ArrayList<>(List.of(x));
      for (int k = 1; k < node.inputs().size(); k++) {
        ins.add(b.input("in" + k, n.node(node.inputs().get(k)).shape()));
      }
      // the layer as the network lowers it: the registry's lowering, with the checked node's arguments
      String y = b.op("op", node.op(), ins, node.args());
      b.output("out", y, Loss.NONE, 1);
      ComputationGraph g = new ComputationGraph(b.build());
      g.init();
      INDArray[] inputs = new INDArray[node.inputs().size()];
      for (int k = 0; k < inputs.length; k++) {
        inputs[k] = Timing.batch(Arrays.stream(n.node(node.inputs().get(k)).shape().dims()).asLongStream().toArray(),
            batch, k);
      }
      // a layer alone, in one workspace reused across iterations (as DL4J's loops reuse theirs):
      // inference is its forward in inference mode; training its forward in training mode and its
      // backward, for a random output gradient. A vertex that is not a layer (add, concat, mul) is
      // timed the same way through its own forward and backward: timed through the graph's output
      // it paid for a fresh output array and its copy out of the workspace, and ResNet-50's adds
      // read as half of its time at batch 1 (docs/performance-history.md, session 22).
      double forward;
      double train;
      org.deeplearning4j.nn.api.Layer layer = g.getLayer(y);
      if (layer == null) {
        org.deeplearning4j.nn.graph.vertex.GraphVertex vertex = g.getVertex(y);
        INDArray[] detached = Arrays.stream(inputs).map(INDArray::detach).toArray(INDArray[]::new);
        g.setInputs(detached); // a preprocessor vertex reads the batch size from the graph's inputs
        forward = Timing.median(() -> {
          try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORKSPACE, "CNNC_PROFILE")) {
            forward(vertex, detached, false);
          }
        }, iters, warmup);
        // the output gradient has the checked output's shape
        INDArray eps = Timing.batch(Arrays.stream(node.shape().dims()).asLongStream().toArray(), batch, 9);
        train = Timing.median(() -> {
          try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORKSPACE, "CNNC_PROFILE")) {
            forward(vertex, detached, true);
            vertex.setEpsilon(eps);
            vertex.doBackward(false, MGR);
          }
        }, iters, warmup);
      } else {
        g.initGradientsView();
        String feeding = g.getConfiguration().getVertexInputs().get(y).get(0);
        Map<String, INDArray> acts = g.feedForward(inputs, false, false);
        INDArray layerInput = (feeding.equals(x) ? inputs[0] : acts.get(feeding)).detach();
        forward = Timing.median(() -> {
          try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORKSPACE, "CNNC_PROFILE")) {
            layer.setInput(layerInput, MGR);
            layer.activate(false, MGR);
          }
        }, iters, warmup);
        long[] shape = acts.get(y).shape();
        INDArray eps = Timing.batch(Arrays.copyOfRange(shape, 1, shape.length), batch, 9);
        train = Timing.median(() -> {
          try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORKSPACE, "CNNC_PROFILE")) {
            layer.setInput(layerInput, MGR);
            layer.activate(true, MGR);
            layer.backpropGradient(eps, MGR);
          }
        }, iters, warmup);
      }
      rows.add(new Row(node.name(), kind(n, node), node.shape().toString(), node.macs(), forward, train,
          planMs.getOrDefault(node.name(), Double.NaN)));
    }
    double total = rows.stream().mapToDouble(Row::ms).sum();
    out.printf(Locale.ROOT, "%s, batch %d: each layer alone (median of %d); SGEMM on this machine (%s): %.1f GFLOP/s%n",
        n.name(), batch, iters, sgemmLibrary(), sgemm);
    if (ortMs != null) {
      out.println("ORT ms: the layer's nodes in ONNX Runtime's profile of the whole network at batch " + batch
          + " (cnnc's export; a median run of each node); fused: ONNX Runtime has no node of the layer (it merged it "
          + "into a neighbour's, e.g. batch norm into the conv before it); vs ORT: ORT ms over cnnc's");
      ortNotes.forEach(out::println);
    }
    out.println("plan ms: the layer's step as predict runs it in the whole network, with the passes " + passes
        + " (median of " + iters + " calls); fused: the plan has no step of the layer (folded, or computed by a "
        + "neighbour's); layout: the plan's layout for its output where it is not NCHW");
    out.printf(Locale.ROOT, "%-34s %-10s %-16s %10s %7s %9s %8s %9s %-7s %10s %9s%s%n", "layer", "op", "output", "ms",
        "share", "GFLOP/s", "of SGEMM", "plan ms", "layout", "train ms", "GFLOP/s", ortMs == null ? ""
            : String.format(Locale.ROOT, " %9s %7s", "ORT ms", "vs ORT"));
    rows.sort((a, b) -> Double.compare(b.ms(), a.ms()));
    for (Row r : rows) {
      String ortCells = "";
      if (ortMs != null) {
        // against the plan's time where the plan has a step of the layer: both are times within the whole network
        Double o = ortMs.get(r.name());
        double mine = Double.isNaN(r.planMs()) ? r.ms() : r.planMs();
        ortCells = o == null ? String.format(Locale.ROOT, " %9s %7s", "fused", "-")
            : String.format(Locale.ROOT, " %9.2f %6.2fx", o, o / mine);
      }
      double gflops = r.macs() == 0 ? 0 : 2.0 * r.macs() * batch / (r.ms() / 1e3) / 1e9;
      // training does three products of the forward's size: the output, dW and dx
      double trainGflops = 3 * 2.0 * r.macs() * batch / (r.trainMs() / 1e3) / 1e9;
      int layout = layouts.getOrDefault(r.name(), ConvLayout.NCHW);
      out.printf(Locale.ROOT, "%-34s %-10s %-16s %10.2f %6.1f%% %9s %8s %9s %-7s %10s %9s%s%n",
          Escape.terminal(clip(r.name())), r.op(), r.shape(), r.ms(), 100 * r.ms() / total,
          r.macs() == 0 ? "-" : String.format(Locale.ROOT, "%.1f", gflops),
          r.macs() == 0 ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * gflops / sgemm),
          Double.isNaN(r.planMs()) ? "fused" : String.format(Locale.ROOT, "%.2f", r.planMs()),
          layout == ConvLayout.NCHW ? "-" : ConvLayout.name(layout),
          Double.isNaN(r.trainMs()) ? "-" : String.format(Locale.ROOT, "%.2f", r.trainMs()),
          r.macs() == 0 || Double.isNaN(r.trainMs()) ? "-" : String.format(Locale.ROOT, "%.1f", trainGflops), ortCells);
    }
    // steps of the plan that are no layer of the spec (a merged 1x1 conv computes several)
    for (CnnNetwork.StepTime t : unnamed) {
      out.printf(Locale.ROOT, "%-34s %-10s %-16s %10s %7s %9s %8s %9.2f %-7s%n", Escape.terminal(clip(t.vertex())),
          "(plan)", "", "-", "", "", "", t.medianMs(), t.layout() == ConvLayout.NCHW ? "-" : ConvLayout.name(t.layout()));
    }
    double planTotal = steps.stream().mapToDouble(CnnNetwork.StepTime::medianMs).sum();
    long macs = rows.stream().mapToLong(Row::macs).sum();
    out.printf(Locale.ROOT, "total %.1f ms; %.1f GFLOP/s over the timed layers (%.0f%% of SGEMM)%n", total,
        2.0 * macs * batch / (total / 1e3) / 1e9, 100 * (2.0 * macs * batch / (total / 1e3) / 1e9) / sgemm);
    out.printf(Locale.ROOT, "plan: %.1f ms over its steps, %.1f GFLOP/s (predict's whole call adds its outputs' copies)%n",
        planTotal, 2.0 * n.macs() * batch / (planTotal / 1e3) / 1e9);
    double trainTotal = rows.stream().mapToDouble(Row::trainMs).filter(t -> !Double.isNaN(t)).sum();
    if (ortMs != null) {
      double ortTotal = ortMs.values().stream().mapToDouble(Double::doubleValue).sum();
      double timed = rows.stream().map(Row::name).filter(ortMs::containsKey).mapToDouble(ortMs::get).sum();
      out.printf(Locale.ROOT, "ONNX Runtime: %.1f ms over its nodes, %.1f GFLOP/s; %.1f ms of them in the layers above, "
          + "%.1f ms in others (views, reshapes, nodes of no layer)%n", ortTotal,
          2.0 * n.macs() * batch / (ortTotal / 1e3) / 1e9, timed, ortTotal - timed);
    }
    out.printf(Locale.ROOT, "training (forward + backward of each layer): %.1f ms%n", trainTotal);
    out.printf(Locale.ROOT, "  %-10s %12s %7s %9s %12s %12s %7s%s%n", "op", "inference", "share", "GFLOP/s", "plan",
        "training", "share", ortMs == null ? "" : String.format(Locale.ROOT, " %12s %9s", "ORT", "GFLOP/s"));
    for (String op : rows.stream().map(Row::op).distinct().toList()) {
      List<Row> of = rows.stream().filter(r -> r.op().equals(op)).toList();
      double ms = of.stream().mapToDouble(Row::ms).sum();
      double tms = of.stream().mapToDouble(Row::trainMs).filter(t -> !Double.isNaN(t)).sum();
      long opMacs = of.stream().mapToLong(Row::macs).sum();
      String ortCells = "";
      if (ortMs != null) {
        // the op's layers that ONNX Runtime ran as nodes of their own (the fused ones have no time)
        double oms = of.stream().map(Row::name).filter(ortMs::containsKey).mapToDouble(ortMs::get).sum();
        long omacs = of.stream().filter(r -> ortMs.containsKey(r.name())).mapToLong(Row::macs).sum();
        ortCells = String.format(Locale.ROOT, " %9.1f ms %9s", oms, omacs == 0 || oms == 0 ? "-"
            : String.format(Locale.ROOT, "%.1f", 2.0 * omacs * batch / (oms / 1e3) / 1e9));
      }
      double pms = of.stream().mapToDouble(Row::planMs).filter(t -> !Double.isNaN(t)).sum();
      if (ms > 0) {
        out.printf(Locale.ROOT, "  %-10s %9.1f ms %6.1f%% %9s %9.1f ms %9.1f ms %6.1f%%%s%n", op, ms, 100 * ms / total,
            opMacs == 0 ? "-" : String.format(Locale.ROOT, "%.1f", 2.0 * opMacs * batch / (ms / 1e3) / 1e9), pms, tms,
            100 * tms / trainTotal, ortCells);
      }
    }
  }

  /**
   * The layer of the spec a step's vertex computes: the layer of its name, or the one whose name
   * it extends with a lowering's "/part"; null for a merged 1x1 conv ({@link InferencePlan#MERGED})
   * and any other vertex of no layer.
   */
  static String layerOf(String vertex, java.util.Set<String> layers) {
    if (layers.contains(vertex)) {
      return vertex;
    }
    if (vertex.endsWith(InferencePlan.MERGED)) {
      return null;
    }
    for (int slash = vertex.lastIndexOf('/'); slash > 0; slash = vertex.lastIndexOf('/', slash - 1)) {
      if (layers.contains(vertex.substring(0, slash))) {
        return vertex.substring(0, slash);
      }
    }
    return null;
  }

  /**
   * Each step of {@code predict}'s plan with {@code passes} at batch {@code batch}, timed in the
   * whole network ({@link CnnNetwork#timeSteps}) after {@code warmupSeconds / 2} of predicts.
   */
  static List<CnnNetwork.StepTime> planSteps(CnnModel model, java.util.Set<InferencePlan.Pass> passes, int batch,
      int iters, double warmupSeconds) {
    CnnNetwork net = CnnNetwork.create(model, 1, NetBuilder.Kernels.CNNC);
    CnnNetwork opt = net.forInference(passes.isEmpty() ? java.util.EnumSet.noneOf(InferencePlan.Pass.class)
        : java.util.EnumSet.copyOf(passes), java.util.Set.of(net.outputs().get(0).name()));
    INDArray x = Timing.batch(model.inputShape(), batch, 1);
    Timing.median(() -> opt.predict(x), 1, warmupSeconds / 2);
    return opt.timeSteps(iters, x);
  }

  /** {@code vertex}'s forward pass on {@code inputs}, in the open profiling workspace. */
  private static void forward(org.deeplearning4j.nn.graph.vertex.GraphVertex vertex, INDArray[] inputs,
      boolean training) {
    for (int k = 0; k < inputs.length; k++) {
      vertex.setInput(k, inputs[k], MGR);
    }
    vertex.doForward(training, MGR);
  }

  /**
   * The op of a row: a conv with groups is {@code conv dw} when depthwise (a group per input
   * channel), else {@code conv grp}, so that the summary shows the depthwise convs' rate apart.
   */
  static String kind(Network n, Node node) {
    if (node.op().equals("conv") && node.args().get("groups") instanceof Value.IntV g && g.value() > 1) {
      return g.value() == n.node(node.inputs().get(0)).shape().dim(0) ? "conv dw" : "conv grp";
    }
    return node.op();
  }

  /**
   * Each layer's milliseconds in ONNX Runtime, from its profiler, on cnnc's export of {@code n} at
   * batch {@code batch}: a warm-up (at most 2 s and 50 runs, so the profile stays small), then
   * {@code iters} runs whose median is kept. Null, with a note, when ONNX Runtime cannot run it.
   */
  static Map<String, Double> ortLayers(Network n, int batch, int iters, double warmupSeconds, List<String> notes) {
    String refusal = BenchCommand.onnxRefusal(n);
    if (refusal != null) {
      notes.add("ONNX Runtime: n/a: " + Escape.terminal(refusal, 300));
      return null;
    }
    Path dir = null;
    try {
      dir = Files.createTempDirectory("cnnc-ort-profile");
      Path file;
      try (OrtModel m = OrtModel.of(n, null, new OnnxExport.Options(OnnxExport.DEFAULT_OPSET, Main.version(), 0),
          BenchCommand.cores(), dir.resolve("ort"))) {
        Map<String, Npz.Array> feed = BenchCommand.ortFeed(n, batch);
        long start = System.nanoTime();
        int runs = 0;
        do {
          m.predict(feed);
          runs++;
        } while (runs < 50 && System.nanoTime() - start < (long) (Math.min(2, warmupSeconds) * 1e9));
        for (int i = 0; i < iters; i++) {
          m.predict(feed);
        }
        file = m.endProfiling();
      }
      if (!file.toAbsolutePath().normalize().startsWith(dir.toAbsolutePath().normalize())) {
        notes.add("ONNX Runtime: n/a: its profile was written outside " + Escape.terminal(dir.toString()));
        return null;
      }
      OrtProfile p = OrtProfile.read(file);
      return p.msByLayer(n, iters);
    } catch (IOException | OrtException | OrtProfile.ProfileException | RuntimeException e) {
      notes.add("ONNX Runtime: n/a: " + Escape.terminal(String.valueOf(e.getMessage()), 300));
      return null;
    } finally {
      deleteTree(dir);
    }
  }

  private static void deleteTree(Path dir) {
    if (dir == null) {
      return;
    }
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        Files.deleteIfExists(f);
      }
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      // a temporary file left behind
    }
  }

  /** The library {@link #sgemm} measures. */
  static String sgemmLibrary() {
    return switch (Gemm.library()) {
      case MKL -> "MKL";
      case ONEDNN -> "oneDNN's sgemm";
      case VECTOR -> "cnnc's Vector API GEMM";
      case ND4J -> "ND4J's OpenBLAS";
    };
  }

  /** The rate of a 2048^3 SGEMM on the library the convolutions use ({@link Gemm}). */
  static double sgemm(int iters, double warmup) {
    int n = 2048;
    INDArray a = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray b = Nd4j.rand(DataType.FLOAT, n, n);
    INDArray c = Nd4j.create(DataType.FLOAT, n, n);
    double ms = Timing.median(() -> Gemm.gemm(a, b, c, false, false, 1.0, 0.0), iters, warmup);
    return 2.0 * n * n * n / (ms / 1e3) / 1e9;
  }

  private static String clip(String s) {
    return s.length() <= 34 ? s : "..." + s.substring(s.length() - 31);
  }
}
