// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.summary.Summary;
import org.cnnc.compiler.summary.SummaryRenderer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "summary", mixinStandardHelpOptions = true,
    description = "Print a table per model: every layer and block with its output shape, parameters and MACs, then totals.")
public final class SummaryCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "FILE", description = "The .cnn spec; - reads standard input.")
  Path file;

  @Option(names = "--model", paramLabel = "NAME", description = "Only this model (default: every model of FILE).")
  String model;

  @Option(names = "--params", description = "Also list every parameter and buffer with its PyTorch state_dict path.")
  boolean params;

  @Option(names = "--depth", paramLabel = "N", defaultValue = "" + Integer.MAX_VALUE,
      description = "Show modules down to this depth (0: the model's direct children). Default: all.")
  int depth;

  @Mixin CompileOptionsMixin options;

  @Spec CommandSpec spec;

  /**
   * The one model a command works on: {@code model}, or, without it, the only model of the given
   * files; a usage error naming the models when there are several.
   */
  public static Network one(Compiler.Compilation c, String model, List<Path> files) {
    List<Network> in = select(c, model, files);
    if (in.size() != 1) {
      throw new Main.UsageError(in.isEmpty() ? "no model in " + org.cnnc.compiler.io.Escape.terminal(files.toString())
          : "--model NAME chooses one of " + in.size() + " models: "
          + String.join(", ", in.stream().map(Network::name).toList()));
    }
    return in.get(0);
  }

  /** The named model, or every model of the files named on the command line (not of their imports). */
  public static List<Network> select(Compiler.Compilation c, String model, List<Path> files) {
    if (model != null) {
      return List.of(c.network(model).orElseThrow(() -> new Main.UsageError("no model named `" + model + "`; models: "
          + String.join(", ", c.networks().stream().map(Network::name).toList()))));
    }
    int given = Math.min(files.size(), c.sources().size());
    var roots = c.sources().subList(0, given);
    return c.networks().stream().filter(n -> roots.contains(n.span().file())).toList();
  }

  @Override
  public Integer call() {
    var out = spec.commandLine().getOut();
    var err = spec.commandLine().getErr();
    Compiler.Compilation c = options.opts.compile(List.of(file));
    Reports.print(c, options.opts, err);
    if (!c.ok()) {
      return Main.SPEC_ERRORS;
    }
    List<Network> shown = select(c, model, List.of(file));
    boolean first = true;
    for (Network n : shown) {
      if (!first) {
        out.println();
      }
      first = false;
      out.print(SummaryRenderer.render(new Summary(n), depth, params));
    }
    return Main.OK;
  }
}
