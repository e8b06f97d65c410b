package org.cnnc.run;

import java.nio.file.Path;
import java.util.List;
import org.cnnc.cli.CompileOptionsMixin;
import org.cnnc.cli.Main;
import org.cnnc.cli.Reports;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.runtime.CnnModel;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** The spec and model a command runs. */
final class ModelOptions {
  @Parameters(index = "0", paramLabel = "FILE", description = "The .cnn spec.")
  Path file;

  @Option(names = "--model", required = true, paramLabel = "NAME", description = "The model to run.")
  String model;

  @Mixin CompileOptionsMixin compile;

  /** The compiled model, or null after printing the spec's errors. */
  CnnModel load(java.io.PrintWriter err) throws java.io.IOException {
    Compiler.Compilation c = Compiler.compile(compile.opts.request(List.of(file)));
    Reports.print(c, compile.opts, err);
    if (!c.ok()) {
      return null;
    }
    Network n = c.network(model).orElseThrow(() -> new Main.UsageError("no model named `" + model + "`; models: "
        + String.join(", ", c.networks().stream().map(Network::name).toList())));
    return ModelLoader.load(c, n);
  }
}
