// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.util.concurrent.Callable;
import org.cnnc.compiler.shape.OpReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

@Command(name = "ops", mixinStandardHelpOptions = true,
    description = "Print the reference of the built-in ops (a markdown table, as README shows it).")
final class OpsCommand implements Callable<Integer> {
  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().print(OpReference.markdown());
    spec.commandLine().getOut().flush();
    return 0;
  }
}
