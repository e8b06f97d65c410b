// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.Limits;
import org.cnnc.compiler.io.SafeFiles;
import org.cnnc.compiler.graph.GraphModel;
import org.cnnc.compiler.graph.Renderers;
import org.cnnc.compiler.ir.Network;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "graph", mixinStandardHelpOptions = true,
    description = "Draw a model: SVG (laid out inside cnnc by Eclipse ELK, no external program), Graphviz DOT or Mermaid.")
final class GraphCommand implements Callable<Integer> {
  enum Format { svg, dot, mermaid }

  enum RankDir { TB, LR }

  @Parameters(index = "0", paramLabel = "FILE", description = "The .cnn spec; - reads standard input.")
  Path file;

  @Option(names = "--model", paramLabel = "NAME", description = "The model to draw (needed when FILE has several).")
  String model;

  @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Where to write (default: standard output).")
  Path output;

  @Option(names = "--format", defaultValue = "svg", paramLabel = "F", description = "svg, dot or mermaid.")
  Format format;

  @Option(names = "--expand", split = ",", paramLabel = "BLOCK",
      description = "Draw the instances of these blocks layer by layer (`all` for every block); others are one box each.")
  List<String> expand = List.of();

  @Option(names = "--rankdir", defaultValue = "TB", paramLabel = "DIR", description = "TB (top to bottom) or LR.")
  RankDir rankdir;

  @Option(names = "--max-nodes", paramLabel = "N",
      description = "The most boxes drawn; for SVG, boxes and bend points of long edges (default: "
          + Renderers.DEFAULT_MAX_SVG_POINTS + " for SVG, whose layout takes seconds per ten thousand; "
          + Limits.DEFAULT_MAX_GRAPH_NODES + " for DOT and Mermaid).")
  Integer maxNodes;

  @Mixin CompileOptionsMixin options;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Compiler.Compilation c = options.opts.compile(List.of(file));
    Reports.print(c, options.opts, spec.commandLine().getErr());
    if (!c.ok()) {
      return Main.SPEC_ERRORS;
    }
    int maxNodes = this.maxNodes != null ? this.maxNodes
        : format == Format.svg ? Renderers.DEFAULT_MAX_SVG_POINTS : Limits.DEFAULT_MAX_GRAPH_NODES;
    if (maxNodes < 1) {
      throw new Main.UsageError("--max-nodes must be at least 1");
    }
    Network n = SummaryCommand.one(c, model, List.of(file));
    Set<String> blocks = new LinkedHashSet<>(expand);
    for (String b : blocks) {
      if (!b.equals("all") && c.program().block(n.span().file(), b) == null) {
        throw new Main.UsageError("no block named `" + b + "` to expand");
      }
    }
    GraphModel g = new GraphModel(n, blocks);
    // Checked before laying out: time and memory grow with what is drawn.
    long drawn = format == Format.svg ? Renderers.svgPoints(g) : g.boxes().size();
    if (drawn > maxNodes) {
      Main.printError(spec.commandLine().getErr(), file + ": model `" + n.name() + "` would draw " + drawn
          + (format == Format.svg ? " boxes and bend points" : " boxes") + ", more than the limit of " + maxNodes
          + " (--max-nodes raises it; expanding fewer blocks draws fewer)");
      return Main.SPEC_ERRORS;
    }
    boolean lr = rankdir == RankDir.LR;
    String text;
    try {
      text = switch (format) {
        case svg -> Renderers.svg(g, lr);
        case dot -> Renderers.dot(g, lr);
        case mermaid -> Renderers.mermaid(g, lr);
      };
    } catch (Renderers.TooLarge e) {
      throw new Main.UsageError(e.getMessage());
    }
    if (output == null) {
      spec.commandLine().getOut().print(text);
    } else {
      try {
        SafeFiles.write(output, text);
      } catch (IOException e) {
        throw new UncheckedIOException(e.getMessage(), e);
      }
    }
    return Main.OK;
  }
}
