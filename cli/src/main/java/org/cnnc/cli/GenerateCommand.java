// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.ir.Network;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "generate", mixinStandardHelpOptions = true,
    description = "Write one Java class per model that builds it as a Deeplearning4j graph (on cnnc-runtime).")
final class GenerateCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "FILE", description = "The .cnn specs; - reads standard input.")
  List<Path> files;

  @Option(names = {"-d", "--output-dir"}, required = true, paramLabel = "DIR", description = "Where the sources go.")
  Path dir;

  @Option(names = "--package", paramLabel = "P", description = "The Java package (default: the spec's `package`).")
  String pkg;

  @Option(names = "--model", paramLabel = "NAME", description = "Only this model (default: every model of the files).")
  String model;

  @Mixin CompileOptionsMixin options;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    var out = spec.commandLine().getOut();
    String problem = pkg == null ? null : Generator.packageProblem(pkg);
    if (problem != null) {
      throw new Main.UsageError("--package: " + problem);
    }
    Compiler.Compilation c = options.opts.compile(files);
    Reports.print(c, options.opts, spec.commandLine().getErr());
    if (!c.ok()) {
      return Main.SPEC_ERRORS;
    }
    List<Network> networks = SummaryCommand.select(c, model, files);
    var clashes = Generator.check(c.program(), networks, pkg);
    if (!clashes.isEmpty()) {
      Reports.print(clashes, options.opts, spec.commandLine().getErr());
      return Main.SPEC_ERRORS;
    }
    for (Generator.Output o : Generator.generate(c, networks, pkg)) {
      try {
        Generator.Written w = Generator.write(dir, o);
        out.println(w.name().toLowerCase(java.util.Locale.ROOT) + " " + org.cnnc.compiler.io.Escape.terminal(dir.resolve(o.relativePath()).toString()));
      } catch (IOException e) {
        throw new UncheckedIOException(e.getMessage(), e);
      }
    }
    return Main.OK;
  }
}
