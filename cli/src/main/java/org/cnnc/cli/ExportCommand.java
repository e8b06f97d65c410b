// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.onnx.OnnxExport;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "export", mixinStandardHelpOptions = true,
    description = "Write a model as an ONNX file: the checked network, its weights as initializers named by their"
        + " state_dict paths, a dynamic batch axis, the spec's input and output names.")
public final class ExportCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "FILE", description = "The .cnn spec; - reads standard input.")
  Path file;

  @Option(names = "--model", paramLabel = "NAME", description = "The model to export (default: the only model of FILE).")
  String model;

  @Option(names = "--weights", paramLabel = "W.npz",
      description = "The weights, a PyTorch state_dict saved with numpy.savez. Default: seeded as PyTorch initialises its layers.")
  Path weights;

  @Option(names = "--opset", paramLabel = "N", defaultValue = "" + OnnxExport.DEFAULT_OPSET,
      description = "The ONNX opset, " + OnnxExport.MIN_OPSET + " to " + OnnxExport.MAX_OPSET + ". Default: ${DEFAULT-VALUE}.")
  int opset;

  @Option(names = "--seed", paramLabel = "N", defaultValue = "0",
      description = "The seed of the weights when --weights is not given. Default: ${DEFAULT-VALUE}.")
  long seed;

  @Option(names = {"-o", "--output"}, paramLabel = "FILE.onnx", description = "Where to write. Default: <model>.onnx.")
  Path output;

  @Mixin CompileOptionsMixin options;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    var err = spec.commandLine().getErr();
    if (opset < OnnxExport.MIN_OPSET || opset > OnnxExport.MAX_OPSET) {
      throw new Main.UsageError("--opset " + opset + ": choose " + OnnxExport.MIN_OPSET + " to " + OnnxExport.MAX_OPSET);
    }
    // what ONNX cannot express is a located error of the check, as for any backend
    options.opts.require(org.cnnc.compiler.shape.Backend.ONNX, spec);
    Compiler.Compilation c = options.opts.compile(List.of(file));
    Reports.print(c, options.opts, err);
    if (!c.ok()) {
      return Main.SPEC_ERRORS;
    }
    Network net = SummaryCommand.one(c, model, List.of(file));
    Map<String, Npz.Array> values = null;
    if (weights != null) {
      try {
        values = Npz.readStateDict(weights, net.stateDictShapes(), Map.of());
      } catch (Npz.StateDictException e) {
        List<String> lines = new ArrayList<>();
        lines.add(e.file() + ": the weights do not fit model " + net.name() + ":");
        e.problems().forEach(p -> lines.add("  " + p));
        Main.printError(err, lines);
        return Main.USAGE;
      }
    }
    ModelProto m = OnnxExport.export(net, values, new OnnxExport.Options(opset, Main.version(), seed));
    Path out = output != null ? output : Path.of(net.name() + ".onnx");
    try {
      OnnxExport.write(m, out);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + Escape.terminal(out.toString()) + ": " + Compiler.reason(e), e);
    }
    spec.commandLine().getOut().println("wrote " + Escape.terminal(out.toString()) + ": model " + net.name() + ", "
        + m.getGraph().getNodeCount() + " ONNX nodes, " + m.getGraph().getInitializerCount() + " initializers ("
        + (weights == null ? "seeded weights, seed " + seed : "weights of " + Escape.terminal(weights.toString()))
        + "), opset " + opset);
    return Main.OK;
  }
}
