// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.cnnc.cli.CompileOptionsMixin;
import org.cnnc.cli.Main;
import org.cnnc.cli.Reports;
import ai.onnxruntime.OrtException;
import java.util.LinkedHashMap;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.Shape;
import org.cnnc.onnx.OnnxExport;
import org.cnnc.onnx.OrtModel;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.InferencePlan;
import org.cnnc.runtime.NetBuilder;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Times forward (inference) and a training step of generated networks, beside the same network
 * written by hand in plain DL4J (for the article's models), PyTorch (the article's code, or
 * torchvision's model of the network's name, when /usr/bin/python3 has torch) and ONNX Runtime (on
 * cnnc's export), in one run, and prints each time's GFLOP/s and cnnc's speed-ups.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Time forward, train step and batch-1 latency: generated (DL4J kernels; cnnc kernels and passes) "
        + "vs hand-written DL4J vs PyTorch vs ONNX Runtime, with GFLOP/s and speed-ups.")
final class BenchCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "FILE", description = "The .cnn spec; - reads standard input.")
  Path file;

  @Option(names = "--model", paramLabel = "NAME", split = ",", description = "Models to time (default: every model of FILE).")
  List<String> models;

  @Option(names = "--batch", defaultValue = "8", paramLabel = "N",
      description = "Examples per timed forward pass and training step (the latency row takes one).")
  int batch;

  @Option(names = "--iters", defaultValue = "3", paramLabel = "N", description = "Timed iterations (after the warm-up); the median is printed.")
  int iters;

  @Option(names = "--warmup", defaultValue = "10", paramLabel = "SECONDS",
      description = "Warm-up before each timing: runs until this many seconds have passed (at least one run), "
          + "so the JIT has compiled the kernels and DL4J's code (NiN's training step: 87 ms after 3 s, 57 ms after "
          + "25 s); PyTorch is warmed up as long. Default: ${DEFAULT-VALUE}.")
  double warmup;

  @Option(names = "--no-pytorch", description = "Do not run PyTorch.")
  boolean noPytorch;

  @Option(names = "--no-ort", description = "Do not run ONNX Runtime.")
  boolean noOrt;

  @Option(names = "--no-dl4j", description = "Do not time DL4J's own layers: the generated network on them, and the "
      + "article's networks written by hand (the slowest columns: minutes for a ResNet-50 or a VGG16).")
  boolean noDl4j;

  @Option(names = "--passes", paramLabel = "PASS", split = ",", completionCandidates = PassNames.class,
      description = "Inference passes for the cnnc column (default: those measured to help, as cnnc run applies them; "
          + "'none' for none): ${COMPLETION-CANDIDATES}.")
  List<String> passes;

  /** The inference passes' names, as {@code --passes} lists them: InferencePlan.Pass's, so that a new one is listed. */
  static final class PassNames implements Iterable<String> {
    @Override
    public java.util.Iterator<String> iterator() {
      return java.util.Arrays.stream(InferencePlan.Pass.values()).map(Enum::name).iterator();
    }
  }

  @Option(names = "--profile", description = "Time each layer alone instead: where the time goes, GFLOP/s against SGEMM.")
  boolean profile;

  @Mixin CompileOptionsMixin compile;

  @Spec CommandSpec spec;

  record Times(double forward, double train, double latency) {}

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    Compiler.Compilation c = compile.opts.compile(List.of(file));
    Reports.print(c, compile.opts, spec.commandLine().getErr());
    if (!c.ok()) {
      return Main.SPEC_ERRORS;
    }
    List<Network> nets = new ArrayList<>();
    if (models == null) {
      nets.addAll(org.cnnc.cli.SummaryCommand.select(c, null, List.of(file)));
    } else {
      for (String m : models) {
        nets.add(org.cnnc.cli.SummaryCommand.select(c, m, List.of(file)).get(0));
      }
    }
    if (warmup < 0) {
      spec.commandLine().getErr().println("cnnc: --warmup must be >= 0 seconds, not " + warmup);
      return Main.USAGE;
    }
    // before the header's SGEMM rate, which multiplies on the chosen library
    ModelLoader.checkKernelSettings();
    java.util.EnumSet<InferencePlan.Pass> chosen = passes == null ? java.util.EnumSet.copyOf(InferencePlan.DEFAULTS)
        : java.util.EnumSet.noneOf(InferencePlan.Pass.class);
    if (passes != null) {
      for (String p : passes) {
        if (!p.equalsIgnoreCase("none")) {
          try {
            chosen.add(InferencePlan.Pass.valueOf(p.trim().toUpperCase(Locale.ROOT)));
          } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println("cnnc: unknown pass '" + p + "'; the passes are "
                + Arrays.toString(InferencePlan.Pass.values()));
            return Main.USAGE;
          }
        }
      }
    }
    if (profile) {
      for (Network n : nets) {
        Profile.run(n, ModelLoader.load(c, n), batch, iters, warmup, !noOrt, chosen, out);
        out.flush();
      }
      return Main.OK;
    }
    out.printf(Locale.ROOT, "batch %d (latency: batch 1), median of %d after %.1f s of warm-up; %d cores; OMP_WAIT_POLICY=%s; "
        + "load average %.1f at the start (other processes slow every column)%n",
        batch, iters, warmup, Runtime.getRuntime().availableProcessors(), System.getenv().getOrDefault("OMP_WAIT_POLICY", "(unset)"),
        java.lang.management.ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    out.println("DL4J kernels: the generated network with DL4J's own layers, no passes; cnnc: with cnnc's kernels, inference "
        + "as cnnc run predicts (one planned block of memory for the activations),");
    out.println("and for inference the passes " + chosen + "; speed-ups are the other time over cnnc's");
    double sgemm = Profile.sgemm(iters, Math.min(1, warmup));
    out.printf(Locale.ROOT, "beside each time, in parentheses, its GFLOP/s (2 x MACs / time; a training step does 3x the "
        + "forward's products); SGEMM on this machine (%s): %.1f GFLOP/s%n", Profile.sgemmLibrary(), sgemm);
    out.printf(Locale.ROOT, "ONNX Runtime %s: cnnc's ONNX export of the network, seeded weights, all graph optimizations, "
        + "%d intra-op threads%n", ortVersion(), cores());
    out.printf("%-15s %-8s %14s %14s %14s %14s %14s %9s %9s %9s%n", "model", "", "DL4J kernels", "cnnc", "DL4J hand",
        "PyTorch", "ONNX Runtime", "vs torch", "vs ORT", "vs hand");
    for (Network n : nets) {
      CnnModel model = ModelLoader.load(c, n);
      Column plain = noDl4j ? Column.na("--no-dl4j")
          : new Column(time(CnnNetwork.create(model, 1, NetBuilder.Kernels.DL4J).graph(), model.inputShape(), n), null);
      System.gc();
      CnnNetwork net = CnnNetwork.create(model, 1, NetBuilder.Kernels.CNNC);
      // inference first, on the seeded weights ONNX Runtime's column runs: training changes the
      // weights, and with them the values the passes compute on (EfficientNet-B0, trained for the
      // timing on one batch, then predicted in 115-127 ms a batch, against 75 untrained)
      CnnNetwork opt = net.forInference(chosen, java.util.Set.of(net.outputs().get(0).name()));
      double forward = timePredict(opt, model.inputShape(), batch);
      double latency = timePredict(opt, model.inputShape(), 1);
      opt = null;
      System.gc();
      Times cnnc = new Times(forward, timeTrain(net.graph(), model.inputShape(), n), latency);
      net = null;
      System.gc();
      Column hand = Column.na("the hand-written DL4J networks are the article's: " + String.join(", ", ARTICLE));
      if (noDl4j) {
        hand = Column.na("--no-dl4j");
      } else if (ARTICLE.contains(n.name())) {
        hand = new Column(time(HandWritten.build(n.name(), 1), model.inputShape(), n), null);
        System.gc();
      }
      Column torch = noPytorch ? Column.na("--no-pytorch") : pytorch(n);
      Column ort = noOrt ? Column.na("--no-ort") : ort(n);
      double macs = n.macs();
      Flops f = new Flops(2 * macs * batch, 3 * 2 * macs * batch, 2 * macs);
      out.println(row(n.name(), "forward", Times::forward, f.forward, plain, cnnc, hand, torch, ort));
      out.println(row("", "train", Times::train, f.train, plain, cnnc, hand, torch, ort));
      out.println(row("", "latency", Times::latency, f.latency, plain, cnnc, hand, torch, ort));
      // why a column is n/a (the hand-written column's reason is its header's: the article's networks only)
      for (var e : List.of(Map.entry("PyTorch", torch), Map.entry("ONNX Runtime", ort))) {
        if (e.getValue().times() == null && !e.getValue().unavailable().startsWith("--no-")) {
          out.println("  " + e.getKey() + ": n/a: " + Escape.terminal(e.getValue().unavailable(), 300));
        }
      }
      out.flush();
    }
    out.println("times in ms; a speed-up >= 1.00x means cnnc is at least as fast; ONNX Runtime does not train");
    return Main.OK;
  }

  /** The article's networks (models.cnn), which have a hand-written DL4J twin and a PyTorch one in tools/pytorch. */
  static final List<String> ARTICLE = List.of("VGG16", "NiN", "GoogLeNet");

  /** A column of the table: its times, or why it has none. */
  record Column(Times times, String unavailable) {
    static Column na(String why) {
      return new Column(null, why);
    }
  }

  /** The floating-point operations of a forward at batch N, a training step and a forward of one example. */
  record Flops(double forward, double train, double latency) {}

  static int cores() {
    return Runtime.getRuntime().availableProcessors();
  }

  private static String ortVersion() {
    String v = ai.onnxruntime.OrtEnvironment.class.getPackage().getImplementationVersion();
    return v == null ? "" : v;
  }

  /** One line of the table: each column's time with its GFLOP/s, then cnnc's speed-ups. */
  static String row(String model, String what, java.util.function.ToDoubleFunction<Times> step, double flop,
      Column plain, Times cnnc, Column hand, Column torch, Column ort) {
    double mine = step.applyAsDouble(cnnc);
    boolean train = what.equals("train");
    return String.format(Locale.ROOT, "%-15s %-8s %14s %14s %14s %14s %14s %9s %9s %9s", model, what,
        cell(plain, step, flop), cell(mine, flop), cell(hand, step, flop), cell(torch, step, flop),
        train ? "" : cell(ort, step, flop), ratio(torch, step, mine), train ? "" : ratio(ort, step, mine),
        ratio(hand, step, mine));
  }

  private static String cell(double ms, double flop) {
    double gflops = flop / (ms / 1e3) / 1e9;
    return String.format(Locale.ROOT, gflops < 10 ? "%.1f (%.1f)" : "%.1f (%.0f)", ms, gflops);
  }

  private static String cell(Column c, java.util.function.ToDoubleFunction<Times> step, double flop) {
    return c.times() == null ? (c.unavailable().startsWith("--no-") ? "-" : "n/a") : cell(step.applyAsDouble(c.times()), flop);
  }

  private static String ratio(Column c, java.util.function.ToDoubleFunction<Times> step, double mine) {
    return c.times() == null ? "-" : String.format(Locale.ROOT, "%.2fx", step.applyAsDouble(c.times()) / mine);
  }

  private double timeForward(ComputationGraph g, long[] inShape, int n) {
    INDArray x = Timing.batch(inShape, n, 1);
    return Timing.median(() -> g.output(false, x), iters, warmup);
  }

  /** A forward pass as {@code cnnc run} makes it: {@link CnnNetwork#predict}, over its planned memory. */
  private double timePredict(CnnNetwork net, long[] inShape, int n) {
    INDArray x = Timing.batch(inShape, n, 1);
    return Timing.median(() -> net.predict(x), iters, warmup);
  }

  private double timeTrain(ComputationGraph g, long[] inShape, Network n) {
    MultiDataSet data = Timing.trainingBatch(g, inShape, batch);
    return Timing.median(() -> g.fit(data), iters, warmup);
  }

  private Times time(ComputationGraph g, long[] inShape, Network n) {
    return new Times(timeForward(g, inShape, batch), timeTrain(g, inShape, n), timeForward(g, inShape, 1));
  }

  /** ONNX Runtime on cnnc's export of {@code n}, at batch N and 1; n/a when the export or ONNX Runtime refuses it. */
  private Column ort(Network n) {
    String refusal = onnxRefusal(n);
    if (refusal != null) {
      return Column.na(refusal);
    }
    try (OrtModel m = OrtModel.of(n, null, new OnnxExport.Options(OnnxExport.DEFAULT_OPSET, Main.version(), 0), cores())) {
      return new Column(new Times(timeOrt(m, n, batch), Double.NaN, timeOrt(m, n, 1)), null);
    } catch (OrtException | RuntimeException e) {
      return Column.na("ONNX Runtime failed on cnnc's export: " + e.getMessage());
    }
  }

  /** Why the ONNX export cannot hold {@code n} (the first op it refuses), or null. */
  static String onnxRefusal(Network n) {
    for (Node node : n.nodes()) {
      OpDef def = Ops.get(node.op());
      if (def == null) {
        continue;
      }
      List<Shape> ins = node.inputs().stream().map(i -> n.node(i).shape()).toList();
      var r = def.refusal(Backend.ONNX, node.args(), ins);
      if (r.isPresent()) {
        return "the ONNX export cannot hold " + node.op() + " " + node.name() + ": " + r.get().reason();
      }
    }
    return null;
  }

  /** Seeded inputs of {@code n} at batch {@code size}, as ONNX Runtime takes them. */
  static Map<String, Npz.Array> ortFeed(Network n, int size) {
    Map<String, Npz.Array> feed = new LinkedHashMap<>();
    int k = 0;
    for (int id : n.inputs()) {
      Node in = n.node(id);
      INDArray x = Timing.batch(Arrays.stream(in.shape().dims()).asLongStream().toArray(), size, 1 + k++).dup('c');
      feed.put(in.name(), Npz.Array.of(x.shape(), x.data().asFloat()));
    }
    return feed;
  }

  private double timeOrt(OrtModel m, Network n, int size) {
    Map<String, Npz.Array> feed = ortFeed(n, size);
    return Timing.median(() -> {
      try {
        m.predict(feed);
      } catch (OrtException e) {
        throw new IllegalStateException(e.getMessage(), e);
      }
    }, iters, warmup);
  }

  /** The PyTorch column: the article's networks from tools/pytorch, the others from torchvision by their name. */
  private Column pytorch(Network n) throws IOException, InterruptedException {
    Path script = Path.of(System.getProperty("cnnc.root", ".")).resolve("tools/pytorch/bench.py");
    if (!Files.exists(script) || !Files.exists(Path.of(PYTHON))) {
      return Column.na("needs " + PYTHON + " with torch and " + script);
    }
    List<String> cmd = new ArrayList<>(List.of(PYTHON, script.toString()));
    String why = pytorchArgs(n, cmd);
    if (why != null) {
      return Column.na(why);
    }
    cmd.addAll(List.of("--batch", Integer.toString(batch), "--iters", Integer.toString(iters), "--warmup",
        Double.toString(warmup)));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String text = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    return parsePytorch(text, p.waitFor());
  }

  static final String PYTHON = "/usr/bin/python3";

  /**
   * Adds to {@code cmd} the arguments of tools/pytorch/bench.py that name {@code n}: an article's
   * network, else torchvision's model of the network's name, with its input shape, classes and
   * parameter count (the script refuses a model whose count differs: another network of the same
   * name); returns why PyTorch cannot run {@code n}, or null.
   */
  static String pytorchArgs(Network n, List<String> cmd) {
    if (ARTICLE.contains(n.name())) {
      cmd.addAll(List.of("--model", n.name()));
      return null;
    }
    if (n.inputs().size() != 1 || n.outputs().isEmpty()) {
      return "torchvision's models take one input; " + n.name() + " has " + n.inputs().size();
    }
    String shape = Arrays.stream(n.node(n.inputs().get(0)).shape().dims()).mapToObj(Integer::toString)
        .collect(java.util.stream.Collectors.joining(","));
    long classes = n.node(n.outputs().get(0).node()).shape().dim(0);
    cmd.addAll(List.of("--torchvision", n.name(), "--shape", shape, "--classes", Long.toString(classes), "--params",
        Long.toString(n.paramCount())));
    return null;
  }

  /**
   * Reads what tools/pytorch/bench.py printed: its last line, {@code forward_ms F train_ms T
   * latency_ms L threads N}, or {@code unavailable: why} (exit 2); anything else is a failure, its
   * last line the reason.
   */
  static Column parsePytorch(String text, int exit) {
    String last = text.strip().lines().reduce((a, b) -> b).orElse("").strip();
    if (last.startsWith("unavailable: ")) {
      return Column.na(last.substring("unavailable: ".length()));
    }
    String[] w = last.split(" ");
    if (exit == 0 && w.length == 8 && w[0].equals("forward_ms") && w[2].equals("train_ms") && w[4].equals("latency_ms")) {
      try {
        Times t = new Times(Double.parseDouble(w[1]), Double.parseDouble(w[3]), Double.parseDouble(w[5]));
        if (t.forward() > 0 && t.train() > 0 && t.latency() > 0 && Double.isFinite(t.forward() + t.train() + t.latency())) {
          return new Column(t, null);
        }
      } catch (NumberFormatException e) {
        // a failure, below
      }
    }
    return Column.na("PyTorch failed (exit " + exit + "): " + (last.isEmpty() ? "no output" : last));
  }
}
