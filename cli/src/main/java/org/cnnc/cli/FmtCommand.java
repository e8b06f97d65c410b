// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ast.Ast;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.fmt.Diff;
import org.cnnc.compiler.fmt.Formatter;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.SafeFiles;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.syntax.Parsing;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "fmt", mixinStandardHelpOptions = true,
    description = "Rewrite specs in the canonical layout; with --check, only report (exit 1 and a diff) what would change. "
        + "A file is rewritten only when the result parses to the same tree, never through a symbolic link, "
        + "never when read-only (exit 2).")
final class FmtCommand implements Callable<Integer> {
  @Parameters(arity = "1..*", paramLabel = "FILE",
      description = "The specs to format; - reads standard input and writes the result to standard output.")
  List<Path> files;

  @Option(names = "--check", description = "Change nothing; print a diff and exit 1 when a file is not formatted.")
  boolean check;

  @Mixin CompileOptionsMixin options;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    var out = spec.commandLine().getOut();
    var err = spec.commandLine().getErr();
    boolean refused = false;
    boolean unformatted = false;
    boolean errors = false;
    for (Path given : files) {
      // `-`: standard input, formatted to standard output (or, with --check, diffed), as <stdin>
      boolean stdin = CompileOptions.isStdin(given);
      Path file = stdin ? CompileOptions.STDIN : given;
      String text;
      if (stdin) {
        text = CompileOptions.readStdin(options.opts.limits().maxFileBytes());
      } else {
        try {
          text = SourceFile.readText(file, options.opts.limits().maxFileBytes());
        } catch (IOException e) {
          throw new UncheckedIOException("cannot read " + file + ": " + Compiler.reason(e), e);
        }
      }
      SourceFile src = new SourceFile(stdin ? null : file, file.toString(), text);
      Diagnostics d = new Diagnostics(options.opts.limits().maxErrorsPerFile());
      Ast.CnnFile ast = Parsing.parse(src, d);
      if (ast == null) {
        // A file that does not parse is left exactly as it is.
        Reports.print(d, options.opts, spec.commandLine().getErr());
        errors = true;
        continue;
      }
      String formatted;
      try {
        formatted = Formatter.formatWithImports(src, ast, stdin ? null : file, options.opts.limits());
      } catch (Formatter.NotSameTree e) {
        err.println("cnnc: " + Escape.terminal(e.getMessage()));
        refused = true;
        continue;
      }
      if (stdin && !check) {
        out.print(formatted);
        continue;
      }
      if (formatted.equals(text)) {
        continue;
      }
      unformatted = true;
      if (check) {
        out.print(Diff.unified(file.toString(), text, formatted));
      } else {
        try {
          SafeFiles.write(file, formatted);
        } catch (IOException e) {
          // a link, a read-only file, a full disk: said, the file left as it was, the others formatted
          err.println("cnnc: " + Escape.terminal(e.getMessage()));
          refused = true;
          continue;
        }
        out.println("formatted " + Escape.terminal(file.toString()));
      }
    }
    return refused ? Main.USAGE : errors || (check && unformatted) ? Main.SPEC_ERRORS : Main.OK;
  }

}
