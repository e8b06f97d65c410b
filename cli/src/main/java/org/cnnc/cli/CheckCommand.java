// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.cnnc.compiler.Compiler;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "check", mixinStandardHelpOptions = true,
    description = "Parse the specs, resolve and expand their blocks, infer and check every shape.")
final class CheckCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "FILE", description = "The .cnn specs to check; - reads standard input (named <stdin> in diagnostics).")
  List<Path> files;

  @Mixin CompileOptionsMixin options;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    var out = spec.commandLine().getOut();
    var err = spec.commandLine().getErr();
    Compiler.Compilation c = options.opts.compile(files);
    Reports.print(c, options.opts, err);
    if (!c.ok()) {
      return Main.SPEC_ERRORS;
    }
    int models = c.networks().size();
    out.println("ok: " + models + (models == 1 ? " model" : " models") + " in " + c.sources().size()
        + (c.sources().size() == 1 ? " file" : " files"));
    return Main.OK;
  }
}
