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
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
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
 * written by hand in plain DL4J (for the article's models) and PyTorch running the article's code
 * (when /usr/bin/python3 has torch), in one run, and prints the ratios.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
    description = "Time forward, train step and batch-1 latency: generated (DL4J kernels; cnnc kernels and passes) "
        + "vs hand-written DL4J vs PyTorch, with speed-ups.")
final class BenchCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "FILE", description = "The .cnn spec; - reads standard input.")
  Path file;

  @Option(names = "--model", paramLabel = "NAME", split = ",", description = "Models to time (default: every model of FILE).")
  List<String> models;

  @Option(names = "--batch", defaultValue = "8", paramLabel = "N")
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

  @Option(names = "--passes", paramLabel = "PASS", split = ",",
      description = "Inference passes for the cnnc column (default: those measured to help; 'none' for none): "
          + "FOLD_BATCHNORM, FUSE_RELU, DROP_DROPOUT, PRUNE_OUTPUTS, MERGE_POINTWISE.")
  List<String> passes;

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
    if (profile) {
      for (Network n : nets) {
        Profile.run(n, ModelLoader.load(c, n), batch, iters, warmup, out);
        out.flush();
      }
      return Main.OK;
    }
    out.printf(Locale.ROOT, "batch %d (latency: batch 1), median of %d after %.1f s of warm-up; %d cores; OMP_WAIT_POLICY=%s%n",
        batch, iters, warmup, Runtime.getRuntime().availableProcessors(), System.getenv().getOrDefault("OMP_WAIT_POLICY", "(unset)"));
    out.println("DL4J kernels: the generated network with DL4J's own layers, no passes; cnnc: with cnnc's kernels,");
    java.util.EnumSet<InferencePlan.Pass> chosen = passes == null ? PASSES
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
    out.println("and for inference the passes " + chosen + "; speed-ups are the other time over cnnc's");
    out.printf("%-10s %-8s %13s %10s %10s %10s %11s %10s%n", "model", "", "DL4J kernels", "cnnc", "DL4J hand",
        "PyTorch", "vs PyTorch", "vs hand");
    for (Network n : nets) {
      CnnModel model = ModelLoader.load(c, n);
      Times plain = time(CnnNetwork.create(model, 1, NetBuilder.Kernels.DL4J).graph(), model.inputShape(), n);
      System.gc();
      CnnNetwork net = CnnNetwork.create(model, 1, NetBuilder.Kernels.CNNC);
      double cnncTrain = timeTrain(net.graph(), model.inputShape(), n);
      CnnNetwork opt = net.forInference(chosen, java.util.Set.of(net.outputs().get(0).name()));
      net = null;
      Times cnnc = new Times(timeForward(opt.graph(), model.inputShape(), batch), cnncTrain,
          timeForward(opt.graph(), model.inputShape(), 1));
      opt = null;
      System.gc();
      Times hand = null;
      if (Arrays.asList("VGG16", "NiN", "GoogLeNet").contains(n.name())) {
        hand = time(HandWritten.build(n.name(), 1), model.inputShape(), n);
        System.gc();
      }
      Times torch = noPytorch ? null : pytorch(n.name());
      row(out, n.name(), "forward", plain.forward, cnnc.forward, hand == null ? null : hand.forward,
          torch == null ? null : torch.forward);
      row(out, "", "train", plain.train, cnnc.train, hand == null ? null : hand.train,
          torch == null ? null : torch.train);
      row(out, "", "latency", plain.latency, cnnc.latency, hand == null ? null : hand.latency,
          torch == null ? null : torch.latency);
      out.flush();
    }
    out.println("times in ms; a speed-up >= 1.00x means cnnc is at least as fast");
    return Main.OK;
  }

  /**
   * The inference passes the benchmark applies: those measured to speed the network up (see
   * README, "Inference passes", for why dropout removal is left out).
   */
  static final java.util.EnumSet<InferencePlan.Pass> PASSES = java.util.EnumSet.of(InferencePlan.Pass.FOLD_BATCHNORM,
      InferencePlan.Pass.FUSE_RELU, InferencePlan.Pass.PRUNE_OUTPUTS, InferencePlan.Pass.MERGE_POINTWISE);

  private static void row(PrintWriter out, String model, String what, double plain, double cnnc, Double hand,
      Double torch) {
    out.printf(Locale.ROOT, "%-10s %-8s %13.1f %10.1f %10s %10s %11s %10s%n", model, what, plain, cnnc, opt(hand),
        opt(torch), torch == null ? "-" : String.format(Locale.ROOT, "%.2fx", torch / cnnc),
        hand == null ? "-" : String.format(Locale.ROOT, "%.2fx", hand / cnnc));
  }

  private static String opt(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.1f", v);
  }

  private double timeForward(ComputationGraph g, long[] inShape, int n) {
    INDArray x = Timing.batch(inShape, n, 1);
    return Timing.median(() -> g.output(false, x), iters, warmup);
  }

  private double timeTrain(ComputationGraph g, long[] inShape, Network n) {
    MultiDataSet data = Timing.trainingBatch(g, inShape, n, batch);
    return Timing.median(() -> g.fit(data), iters, warmup);
  }

  private Times time(ComputationGraph g, long[] inShape, Network n) {
    return new Times(timeForward(g, inShape, batch), timeTrain(g, inShape, n), timeForward(g, inShape, 1));
  }

  private Times pytorch(String model) throws IOException, InterruptedException {
    Path script = Path.of(System.getProperty("cnnc.root", ".")).resolve("tools/pytorch/bench.py");
    if (!Arrays.asList("VGG16", "NiN", "GoogLeNet").contains(model) || !Files.exists(script)
        || !Files.exists(Path.of("/usr/bin/python3"))) {
      return null;
    }
    Process p = new ProcessBuilder("/usr/bin/python3", script.toString(), "--model", model, "--batch",
        Integer.toString(batch), "--iters", Integer.toString(iters), "--warmup", Double.toString(warmup)).redirectErrorStream(true).start();
    String text = new String(p.getInputStream().readAllBytes()).trim();
    if (p.waitFor() != 0 || !text.contains("forward_ms")) {
      spec.commandLine().getErr().println("cnnc: PyTorch not measured: " + text.lines().reduce((a, b) -> b).orElse(""));
      return null;
    }
    String[] w = text.lines().reduce((a, b) -> b).orElseThrow().split(" ");
    return new Times(Double.parseDouble(w[1]), Double.parseDouble(w[3]), Double.parseDouble(w[5]));
  }
}
