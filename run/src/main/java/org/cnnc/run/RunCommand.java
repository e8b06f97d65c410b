package org.cnnc.run;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.cnnc.cli.Main;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.Npz;
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

  @Option(names = "--input", paramLabel = "X.npy", description = "The input batch, float32 [N, C, H, W].")
  Path input;

  @Option(names = "--random", description = "A random normal input instead of --input.")
  boolean random;

  @Option(names = "--batch", paramLabel = "N", defaultValue = "1", description = "Batch size of the random input.")
  int batch;

  @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of initial weights and random input.")
  long seed;

  @Option(names = "--output", paramLabel = "DIR", description = "Write each output as DIR/<output>.npy (float32, C order).")
  Path output;

  @Spec CommandSpec spec;

  /** The most values a --random input may hold (batch x one example). */
  static final long MAX_INPUT_VALUES = Integer.MAX_VALUE - 8;

  @Override
  public Integer call() throws IOException {
    PrintWriter out = spec.commandLine().getOut();
    if ((input == null) == !random) {
      throw new Main.UsageError("give exactly one of --input X.npy and --random");
    }
    if (batch < 1) {
      throw new Main.UsageError("--batch must be at least 1 (got " + batch + ")");
    }
    if (output != null && Files.exists(output) && !Files.isDirectory(output)) {
      throw new Main.UsageError("--output " + Npz.show(output.toString()) + " is a file; it must be a folder (made if missing)");
    }
    Npz.Array a = null;
    if (input != null) {
      try {
        a = Npz.readNpy(input);
      } catch (IOException e) {
        throw new Main.UsageError("--input: " + Npz.show(Reasons.of(e)));
      }
      if (a.data() == null) {
        throw new Main.UsageError("--input " + Npz.show(input.toString()) + " has dtype " + Npz.show(a.dtype())
            + "; expected float32");
      }
    }
    CnnModel m = model.load(spec.commandLine().getErr());
    if (m == null) {
      return Main.SPEC_ERRORS;
    }
    long[] expected = m.inputShape();
    long example = Arrays.stream(expected).reduce(1, (p, q) -> p * q);
    if (random && batch * example > MAX_INPUT_VALUES) {
      throw new Main.UsageError("--batch " + batch + " of " + Arrays.toString(expected) + " is more than "
          + MAX_INPUT_VALUES + " values");
    }
    if (a != null) {
      long[] shape = a.shape();
      if (shape.length != expected.length + 1 || !Arrays.equals(Arrays.copyOfRange(shape, 1, shape.length), expected)) {
        throw new Main.UsageError(Npz.show(input.toString()) + " has shape " + Arrays.toString(shape)
            + "; the model takes [N, " + Arrays.toString(expected).substring(1));
      }
      if (shape[0] < 1) {
        throw new Main.UsageError(Npz.show(input.toString()) + " holds no example (shape " + Arrays.toString(shape) + ")");
      }
    }
    CnnNetwork net = CnnNetwork.create(m, seed);
    if (weights != null) {
      try {
        net.loadWeights(weights);
      } catch (WeightsException e) {
        spec.commandLine().getErr().println("cnnc: " + e.getMessage());
        return Main.USAGE;
      }
    }
    INDArray x = random ? Timing.batch(m.inputShape(), batch, seed) : a.toNd4j();
    long t0 = System.nanoTime();
    Map<String, INDArray> outputs = net.predict(x);
    double ms = (System.nanoTime() - t0) / 1e6;
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
          Npz.writeNpy(file, v);
        } catch (IOException ex) {
          throw new Main.UsageError("--output: cannot write " + Npz.show(file.toString()) + ": " + Npz.show(Reasons.of(ex)));
        }
      }
    }
    out.printf(Locale.ROOT, "forward: %.1f ms (batch %d)%n", ms, x.size(0));
    return Main.OK;
  }
}
