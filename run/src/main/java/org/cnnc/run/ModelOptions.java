// SPDX-License-Identifier: Apache-2.0
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
  @Parameters(index = "0", paramLabel = "FILE", description = "The .cnn spec; - reads standard input.")
  Path file;

  @Option(names = "--model", paramLabel = "NAME", description = "The model (needed when FILE has several).")
  String model;

  @Mixin CompileOptionsMixin compile;

  /** The checked network of the model {@link #load} loaded (null before). */
  Network network;

  /** The checked network of the model, without generating its Java; null after printing the spec's errors. */
  Network check(java.io.PrintWriter err) {
    Compiler.Compilation c = compile.opts.compile(List.of(file));
    Reports.print(c, compile.opts, err);
    if (!c.ok()) {
      return null;
    }
    network = org.cnnc.cli.SummaryCommand.one(c, model, List.of(file));
    return network;
  }

  /** The compiled model, or null after printing the spec's errors. */
  CnnModel load(java.io.PrintWriter err) throws java.io.IOException {
    Compiler.Compilation c = compile.opts.compile(List.of(file));
    Reports.print(c, compile.opts, err);
    if (!c.ok()) {
      return null;
    }
    Network n = org.cnnc.cli.SummaryCommand.one(c, model, List.of(file));
    network = n;
    return ModelLoader.load(c, n);
  }
}
