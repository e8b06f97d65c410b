// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.Limits;
import org.cnnc.compiler.sema.Value;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Options every command that compiles shares. */
public final class CompileOptions {
  @Option(names = "--source-root", paramLabel = "DIR",
      description = "A directory imports may reach (repeatable). Default: the directories of the given files.")
  List<Path> sourceRoots = new ArrayList<>();

  @Option(names = "--arg", paramLabel = "NAME=VALUE",
      description = "A value for a model parameter, e.g. --arg classes=10 (repeatable).")
  Map<String, String> args = new LinkedHashMap<>();

  @Option(names = "--error-format", paramLabel = "FORMAT", defaultValue = "human",
      description = "How diagnostics are printed: human (rustc-style) or short (file:line:col: severity: message).")
  ErrorFormat errorFormat = ErrorFormat.human;

  @Option(names = "--color", paramLabel = "WHEN", defaultValue = "auto",
      description = "Colour diagnostics: auto (on a terminal), always or never.")
  Color color = Color.auto;

  @Option(names = "--backend", paramLabel = "NAMES", defaultValue = "cpu",
      description = "The backends whose capabilities are checked: cpu (cnnc's kernels on DL4J), cuda (DL4J's own"
          + " layers), onnx (an ONNX export), a comma-separated list, all, or none. An op a backend cannot run is an"
          + " error. Default: cpu (export: onnx).")
  String backend = "cpu";

  @Mixin LimitOptions limitOptions = new LimitOptions();

  enum ErrorFormat { human, short_;

    @Override
    public String toString() {
      return this == short_ ? "short" : name();
    }
  }

  enum Color { auto, always, never }

  /** How a file named {@code -} (standard input) is named in diagnostics. */
  public static final Path STDIN = Path.of("<stdin>");

  /** Whether a file argument means standard input. */
  public static boolean isStdin(Path file) {
    return file.toString().equals("-");
  }

  /**
   * Compiles the files; a file named {@code -} is standard input, read once, named
   * {@code <stdin>} in diagnostics, its imports resolved from the working directory.
   */
  public Compiler.Compilation compile(List<Path> files) {
    if (files.stream().noneMatch(CompileOptions::isStdin)) {
      return Compiler.compile(request(files));
    }
    List<Path> named = files.stream().map(f -> isStdin(f) ? STDIN : f).distinct().toList();
    return Compiler.compile(request(named), Map.of(STDIN, readStdin(limits().maxFileBytes())));
  }

  /** Standard input as strict UTF-8, at most {@code maxBytes}; a failure is the user's (exit 2). */
  public static String readStdin(long maxBytes) {
    try {
      return org.cnnc.compiler.source.SourceFile.readText(System.in, maxBytes);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot read standard input: " + Compiler.reason(e), e);
    }
  }

  public Compiler.Request request(List<Path> files) {
    Map<String, Value> values = new LinkedHashMap<>();
    args.forEach((k, v) -> values.put(k, parseValue(v)));
    return new Compiler.Request(files, sourceRoots, values, limits(), backends());
  }

  /**
   * Makes a command that targets one backend check it: the only one when {@code --backend} was not
   * given, else added to those given.
   */
  public void require(org.cnnc.compiler.shape.Backend b, picocli.CommandLine.Model.CommandSpec command) {
    if (!command.commandLine().getParseResult().hasMatchedOption("--backend")) {
      backend = b.id();
    } else if (!backends().contains(b)) {
      backend = backend + "," + b.id();
    }
  }

  /** The backends asked for; an unknown name is a usage error. */
  public java.util.Set<org.cnnc.compiler.shape.Backend> backends() {
    return org.cnnc.compiler.sema.Capabilities.parse(backend).orElseThrow(() -> new Main.UsageError(
        "--backend " + backend + ": expected " + org.cnnc.compiler.sema.Capabilities.names()));
  }

  /** The limits asked for; a limit below 1 is a usage error. */
  public Limits limits() {
    return limitOptions.limits();
  }

  static Value parseValue(String text) {
    String t = text.trim();
    if (t.equals("true") || t.equals("false")) {
      return new Value.BoolV(Boolean.parseBoolean(t));
    }
    try {
      return new Value.IntV(Long.parseLong(t.replace("_", "")));
    } catch (NumberFormatException e) {
      // not an integer
    }
    try {
      return new Value.FloatV(Double.parseDouble(t));
    } catch (NumberFormatException e) {
      return new Value.StrV(t);
    }
  }

  boolean colorFor(boolean terminal) {
    return switch (color) {
      case always -> true;
      case never -> false;
      case auto -> terminal && System.getenv("NO_COLOR") == null && !"dumb".equals(System.getenv("TERM"));
    };
  }
}
