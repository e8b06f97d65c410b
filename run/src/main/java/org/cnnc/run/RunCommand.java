// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import org.cnnc.compiler.io.Escape;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.cnnc.cli.Main;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.InferencePlan;
import org.cnnc.runtime.NetBuilder;
import org.cnnc.compiler.io.Npz;
import org.cnnc.runtime.NdNpz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.onnx.OnnxExport;
import org.cnnc.onnx.OrtModel;
import java.util.ArrayList;
import org.cnnc.runtime.WeightsException;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "run", mixinStandardHelpOptions = true,
    description = "Build a model on ND4J and run it in inference mode on an input.")
final class RunCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(names = "--weights", paramLabel = "W.npz", description = "A PyTorch state_dict saved as .npz (float32).")
  Path weights;

  @Option(names = "--input", paramLabel = "[NAME=]X.npy",
      description = "The input batch, float32 [N, C, H, W]; for a model of several inputs, one NAME=X.npy each.")
  List<String> input;

  @Option(names = "--random", description = "A random normal input instead of --input.")
  boolean random;

  @Option(names = "--batch", paramLabel = "N", defaultValue = "1", description = "Batch size of the random input.")
  int batch;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of initial weights and random input.")
  long seed;

  @Option(names = "--repeat", paramLabel = "N", defaultValue = "3",
      description = "Warm forward passes timed after the first (cold) one; their median is reported. 0: only the first.")
  int repeat;

  /** Where a model runs. */
  enum Engine { dl4j, ort }

  @Option(names = "--engine", paramLabel = "ENGINE", defaultValue = "dl4j",
      description = "dl4j: cnnc's kernels on Deeplearning4j; ort: ONNX Runtime, through the model's ONNX export (the"
          + " onnx backend is checked). Seeded weights differ between the two: give --weights to compare them."
          + " Default: ${DEFAULT-VALUE}.")
  Engine engine;

  @Option(names = "--output", paramLabel = "DIR", description = "Write each output as DIR/<output>.npy (float32, C order).")
  Path output;

  @Spec CommandSpec spec;

  /** The most values a --random input may hold (batch x one example). */
  static final long MAX_INPUT_VALUES = Integer.MAX_VALUE - 8;

  @Override
  public Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    if ((input == null) == !random) {
      throw new Main.UsageError("give exactly one of --input X.npy and --random");
    }
    if (batch < 1) {
      throw new Main.UsageError("--batch must be at least 1 (got " + batch + ")");
    }
    if (repeat < 0) {
      throw new Main.UsageError("--repeat must be 0 or more (got " + repeat + ")");
    }
    if (output != null && Files.exists(output) && !Files.isDirectory(output)) {
      throw new Main.UsageError("--output " + Escape.terminal(output.toString()) + " is a file; it must be a folder (made if missing)");
    }
    // the files are read (and refused) before the model is built
    Map<String, Npz.Array> given = new LinkedHashMap<>();
    Map<String, Path> pathOf = new LinkedHashMap<>();
    for (String arg : input == null ? List.<String>of() : input) {
      int eq = arg.indexOf('=');
      String name;
      Path file;
      try {
        name = eq > 0 && !Files.exists(Path.of(arg)) ? arg.substring(0, eq) : "";
        file = Path.of(name.isEmpty() ? arg : arg.substring(eq + 1));
      } catch (java.nio.file.InvalidPathException e) {
        throw new Main.UsageError("--input " + arg + ": not a file name (" + e.getReason() + ")");
      }
      if (pathOf.containsKey(name)) {
        throw new Main.UsageError("--input " + Escape.terminal(arg) + ": "
            + (name.isEmpty() ? "give NAME=X.npy for each input of a model of several inputs" : "input " + Escape.terminal(name) + " given twice"));
      }
      Npz.Array a;
      try {
        a = Npz.readNpy(file);
      } catch (IOException e) {
        throw new Main.UsageError("--input: " + Escape.terminal(Reasons.of(e)));
      }
      if (a.data() == null) {
        throw new Main.UsageError("--input " + Escape.terminal(file.toString()) + " has dtype " + Escape.terminal(a.dtype())
            + "; expected float32");
      }
      given.put(name, a);
      pathOf.put(name, file);
    }
    Network ir;
    CnnNetwork net = null;
    if (engine == Engine.dl4j) {
      CnnModel m = model.load(spec.commandLine().getErr());
      if (m == null) {
        return Main.SPEC_ERRORS;
      }
      ir = model.network;
      net = CnnNetwork.create(m, seed);
    } else {
      model.compile.opts.require(Backend.ONNX, spec);
      ir = model.check(spec.commandLine().getErr());
      if (ir == null) {
        return Main.SPEC_ERRORS;
      }
    }
    // the inputs and their shapes as the checked network has them, whichever engine runs it
    List<String> names = new ArrayList<>();
    Map<String, long[]> shapes = new LinkedHashMap<>();
    for (int id : ir.inputs()) {
      Node in = ir.node(id);
      names.add(in.name());
      shapes.put(in.name(), Arrays.stream(in.shape().dims()).asLongStream().toArray());
    }
    if (!given.isEmpty()) {
      if (given.containsKey("") && (names.size() > 1 || given.size() > 1)) {
        throw new Main.UsageError(ir.name() + " has the inputs " + String.join(", ", names)
            + ": give --input NAME=X.npy for each");
      }
      if (given.containsKey("")) {
        given.put(names.get(0), given.remove(""));
        pathOf.put(names.get(0), pathOf.remove(""));
      }
      for (String k : given.keySet()) {
        if (!names.contains(k)) {
          throw new Main.UsageError("--input " + Escape.terminal(k) + "=...: " + ir.name() + " has no input named so; its inputs: "
              + String.join(", ", names));
        }
      }
      for (String k : names) {
        if (!given.containsKey(k)) {
          throw new Main.UsageError("--input: no file for the input " + k + " of " + ir.name());
        }
      }
    }
    INDArray[] xs = new INDArray[names.size()];
    long n = -1;
    for (int i = 0; i < names.size(); i++) {
      long[] expected = shapes.get(names.get(i));
      long example = Arrays.stream(expected).reduce(1, (p, q) -> p * q);
      if (random) {
        if (example > MAX_INPUT_VALUES / batch) { // not batch * example, which can overflow
          throw new Main.UsageError("--batch " + batch + " of " + Arrays.toString(expected) + " is more than "
              + MAX_INPUT_VALUES + " values");
        }
        xs[i] = Timing.batch(expected, batch, seed + i);
        continue;
      }
      Npz.Array a = given.get(names.get(i));
      String file = Escape.terminal(pathOf.get(names.get(i)).toString());
      long[] shape = a.shape();
      if (shape.length != expected.length + 1 || !Arrays.equals(Arrays.copyOfRange(shape, 1, shape.length), expected)) {
        throw new Main.UsageError(file + " has shape " + Arrays.toString(shape)
            + "; the model takes [N, " + Arrays.toString(expected).substring(1));
      }
      if (shape[0] < 1 || (n >= 0 && shape[0] != n)) {
        throw new Main.UsageError(file + " holds " + shape[0] + " examples; "
            + (shape[0] < 1 ? "it needs at least one" : "the other inputs hold " + n));
      }
      n = shape[0];
      xs[i] = NdNpz.toNd4j(a);
    }
    Passes passes;
    OrtModel session = null; // ONNX Runtime's native session, closed when the command ends
    try {
      if (engine == Engine.dl4j) {
        if (weights != null) {
          try {
            net.loadWeights(weights);
          } catch (WeightsException e) {
            Main.printError(spec.commandLine().getErr(), e.lines());
            return Main.USAGE;
          }
        }
        // the inference passes (BatchNorm folded, activations and residual adds fused, 1x1 convs
        // merged), with the loaded weights; every output kept
        CnnNetwork dl4j = net.forInference(InferencePlan.DEFAULTS,
            net.outputs().stream().map(NetBuilder.OutputSpec::name).collect(java.util.stream.Collectors.toSet()));
        passes = () -> dl4j.predict(xs);
      } else {
        Map<String, Npz.Array> values = null;
        if (weights != null) {
          try {
            values = Npz.readStateDict(weights, ir.stateDictShapes(), Map.of());
          } catch (Npz.StateDictException e) {
            List<String> lines = new ArrayList<>(List.of(e.file() + ":"));
            e.problems().forEach(p -> lines.add("  " + p));
            Main.printError(spec.commandLine().getErr(), lines);
            return Main.USAGE;
          }
        }
        OrtModel ort = OrtModel.of(ir, values, new OnnxExport.Options(OnnxExport.DEFAULT_OPSET, Main.version(), seed), 0);
        session = ort;
        Map<String, Npz.Array> feed = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
          INDArray x = xs[i].castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c');
          feed.put(names.get(i), Npz.Array.of(x.shape(), x.data().asFloat()));
        }
        passes = () -> {
          Map<String, INDArray> result = new LinkedHashMap<>();
          ort.predict(feed).forEach((k, v) -> result.put(k, NdNpz.toNd4j(v)));
          return result;
        };
      }
      // The first pass pays for class loading, the JIT and native set-up; the warm ones are what a
      // served model costs. Both are reported, apart.
      long t0 = System.nanoTime();
      Map<String, INDArray> outputs = passes.run();
      double ms = (System.nanoTime() - t0) / 1e6;
      double[] warm = new double[repeat];
      for (int i = 0; i < repeat; i++) {
        long t1 = System.nanoTime();
        passes.run();
        warm[i] = (System.nanoTime() - t1) / 1e6;
      }
      Arrays.sort(warm);
      for (var e : outputs.entrySet()) {
        INDArray v = e.getValue();
        float[] first = v.reshape(v.length()).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, Math.min(6, v.length())))
            .toFloatVector();
        StringBuilder values = new StringBuilder();
        for (float f : first) {
          values.append(String.format(Locale.ROOT, " %.6g", f));
        }
        out.printf("%s %s:%s%s%n", e.getKey(), Arrays.toString(v.shape()), values, v.length() > 6 ? " ..." : "");
        if (output != null) {
          Path file = output.resolve(e.getKey() + ".npy");
          try {
            Files.createDirectories(output);
            NdNpz.writeNpy(file, v);
          } catch (IOException ex) {
            throw new Main.UsageError("--output: cannot write " + Escape.terminal(file.toString()) + ": " + Escape.terminal(Reasons.of(ex)));
          }
        }
      }
      out.printf(Locale.ROOT, "forward (batch %d%s): first pass %.1f ms (cold)%s%n", xs[0].size(0),
          engine == Engine.ort ? ", ONNX Runtime" : "", ms,
          repeat == 0 ? "" : String.format(Locale.ROOT, ", warm %.1f ms (median of %d)", warm[repeat / 2], repeat));
      return Main.OK;
    } finally {
      if (session != null) {
        session.close();
      }
    }
  }

  /** One forward pass of the engine chosen, outputs by name. */
  @FunctionalInterface
  private interface Passes {
    Map<String, INDArray> run() throws Exception;
  }
}
