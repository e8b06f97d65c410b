// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.SafeFiles;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.HumanRenderer;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.diag.ShortRenderer;
import org.cnnc.compiler.lint.Formats;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "lint", mixinStandardHelpOptions = true,
    description = "Check the specs and report what is wrong or suspicious, with stable rule ids, in formats CI reads.")
final class LintCommand implements Callable<Integer> {
  enum Format { human, short_, json, sarif, github, checkstyle;

    @Override
    public String toString() {
      return this == short_ ? "short" : name();
    }
  }

  @Parameters(arity = "1..*", paramLabel = "FILE", description = "The .cnn specs; - reads standard input.")
  List<Path> files;

  @Option(names = {"-f", "--format"}, defaultValue = "human", paramLabel = "FORMAT",
      description = "human, short, json, sarif, github or checkstyle.", converter = FormatConverter.class)
  Format format;

  @Option(names = "--config", paramLabel = "FILE",
      description = "The configuration (default: cnnc.yaml in the working directory, if any).")
  Path config;

  @Option(names = "--max-warnings", paramLabel = "N", description = "Fail when there are more warnings than this.")
  Integer maxWarnings;

  @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write the report here instead of standard output.")
  Path output;

  @Mixin CompileOptionsMixin options;

  @Spec CommandSpec spec;

  static final class FormatConverter implements picocli.CommandLine.ITypeConverter<Format> {
    @Override
    public Format convert(String value) {
      return value.equals("short") ? Format.short_ : Format.valueOf(value);
    }
  }

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    LintConfig cfg = LintConfig.defaults();
    Path base = Path.of("").toAbsolutePath();
    Path cfgFile = config != null ? config : Files.isRegularFile(Path.of("cnnc.yaml")) ? Path.of("cnnc.yaml") : null;
    if (cfgFile != null) {
      try {
        cfg = LintConfig.load(cfgFile);
        base = cfgFile.toAbsolutePath().getParent();
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read " + cfgFile + ": " + e.getMessage(), e);
      } catch (LintConfig.ConfigException e) {
        throw new Main.UsageError(e.getMessage());
      }
    }
    Compiler.Compilation c = options.opts.compile(files);
    Linter.Result r = Linter.lint(c, cfg, base);
    c.diagnostics().hidden().forEach((file, n) ->
        spec.commandLine().getErr().println(Reports.hidden(file, n, c.diagnostics().maxErrorsPerFile())));
    String version = new Main.Version().versionText();
    String report = switch (format) {
      case json -> Formats.json(r, version);
      case sarif -> Formats.sarif(r, version);
      case github -> Formats.github(r);
      case checkstyle -> Formats.checkstyle(r);
      case short_ -> String.join("", r.diagnostics().stream().map(d -> new ShortRenderer().render(d) + "\n").toList());
      case human -> human(r);
    };
    if (output != null) {
      try {
        SafeFiles.write(output, report);
      } catch (IOException e) {
        throw new UncheckedIOException(e.getMessage(), e);
      }
    } else {
      out.print(report);
    }
    long errors = r.count(Severity.ERROR);
    long warnings = r.count(Severity.WARNING);
    int limit = maxWarnings != null ? maxWarnings : cfg.maxWarnings().orElse(Integer.MAX_VALUE);
    if (errors > 0 || warnings > limit) {
      if (warnings > limit && errors == 0) {
        spec.commandLine().getErr().println("cnnc: " + warnings + " warnings, more than the " + limit + " allowed");
      }
      return Main.SPEC_ERRORS;
    }
    return Main.OK;
  }

  private String human(Linter.Result r) {
    boolean color = options.opts.colorFor(System.console() != null && output == null);
    HumanRenderer renderer = new HumanRenderer(color);
    StringBuilder s = new StringBuilder();
    for (Diagnostic d : r.diagnostics()) {
      s.append(renderer.render(d)).append('\n');
    }
    long e = r.count(Severity.ERROR);
    long w = r.count(Severity.WARNING);
    long n = r.count(Severity.NOTE);
    s.append(e + w + n == 0 ? "lint: no problems\n"
        : String.format("lint: %d error%s, %d warning%s, %d note%s%n", e, e == 1 ? "" : "s", w, w == 1 ? "" : "s", n,
            n == 1 ? "" : "s"));
    return s.toString();
  }
}
