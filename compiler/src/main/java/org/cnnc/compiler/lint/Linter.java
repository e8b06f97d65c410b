// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.lint;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ast.Ast.ModelDecl;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.source.SourceFile;

/**
 * Runs the lint rules on a compilation: the compiler's errors first (under their ids), then, when
 * the specs compile, every rule on every declaration and network. Configuration decides each
 * rule's severity per path; comments in the spec suppress a rule on a line or in a file:
 *
 * <pre>
 * softmax   // cnnc-disable-line SOFTMAX_BEFORE_CROSS_ENTROPY
 * // cnnc-disable-next-line UNUSED_NODE, DENSE_ON_MAP
 * // cnnc-disable-file WINDOW_DROPS_INPUT
 * </pre>
 */
public final class Linter {
  /** The findings, in source order, and the rules they come from. */
  public record Result(List<Diagnostic> diagnostics, Map<String, Rule> rules) {
    public long count(Severity s) {
      return diagnostics.stream().filter(d -> d.severity() == s).count();
    }
  }

  private static final Pattern SUPPRESS = Pattern.compile("//[ \\t]*cnnc-disable-(line|next-line|file)[ \\t]+([A-Z0-9_, \\t]+)");

  private Linter() {}

  /** {@code base}: the directory configuration paths are relative to. */
  public static Result lint(Compiler.Compilation c, LintConfig config, Path base) {
    Diagnostics out = new Diagnostics();
    Map<String, Rule> used = new LinkedHashMap<>();
    for (Diagnostic d : c.diagnostics().sorted()) {
      out.report(d);
      used.putIfAbsent(d.id(), Rules.byId(d.id()));
    }
    // The rules look at what compiled: every network, and the declarations of each file without an
    // error (a file's error hides nothing of another file's findings; within the file, what an error
    // left unchecked could only give false findings).
    java.util.Set<SourceFile> failed = new java.util.HashSet<>();
    c.diagnostics().sorted().stream().filter(d -> d.severity() == Severity.ERROR).forEach(d -> failed.add(d.span().file()));
    c.diagnostics().hidden().keySet().forEach(name -> c.sources().stream().filter(f -> f.name().equals(name))
        .forEach(failed::add));
    {
      Map<SourceFile, java.util.Set<String>> fileWide = new java.util.HashMap<>();
      Rules.Sink sink = (rule, builder) -> {
        Diagnostic d = builder.build();
        SourceFile file = d.span().file();
        Optional<Severity> severity = config.severity(rule, relative(file, base));
        if (severity.isEmpty() || fileWide.computeIfAbsent(file, Linter::fileWide).contains(rule.id())
            || suppressed(file, d.span().line(), rule.id())) {
          return;
        }
        out.report(new Diagnostic(d.id(), severity.get(), d.span(), d.message(), d.label(), d.notes(), d.help()));
        used.putIfAbsent(rule.id(), rule);
      };
      Rules.declarations(c.program(), (rule, builder) -> {
        if (!failed.contains(builder.build().span().file())) {
          sink.report(rule, builder);
        }
      });
      for (Network n : c.networks()) {
        Rules.network(n, sink);
        ModelDecl model = c.program().models().stream()
            .filter(m -> m.name().text().equals(n.name()) && m.span().samePlace(n.span())).findFirst().orElseThrow();
        Rules.contracts(c.program(), model, n, n.modelArgs(), sink);
      }
    }
    return new Result(out.sorted(), used);
  }

  static String relative(SourceFile file, Path base) {
    if (file.path() == null || base == null) {
      return file.name();
    }
    Path abs = file.path().toAbsolutePath().normalize();
    Path b = base.toAbsolutePath().normalize();
    return abs.startsWith(b) ? b.relativize(abs).toString() : abs.toString();
  }

  /** Whether a comment turns the rule off on this line. */
  static boolean suppressed(SourceFile file, int line, String id) {
    return mentions(file.lineText(line), "line", id) || (line > 1 && mentions(file.lineText(line - 1), "next-line", id));
  }

  /** The rules a `cnnc-disable-file` comment turns off in a whole file (read once per file). */
  static java.util.Set<String> fileWide(SourceFile file) {
    java.util.Set<String> out = new java.util.HashSet<>();
    Matcher m = SUPPRESS.matcher(file.text());
    while (m.find()) {
      if (m.group(1).equals("file")) {
        for (String s : m.group(2).split("[,\\s]+")) {
          if (!s.isEmpty()) {
            out.add(s);
          }
        }
      }
    }
    return out;
  }

  private static boolean mentions(String text, String kind, String id) {
    Matcher m = SUPPRESS.matcher(text);
    while (m.find()) {
      if (m.group(1).equals(kind)) {
        for (String s : m.group(2).split("[,\\s]+")) {
          if (s.equals(id)) {
            return true;
          }
        }
      }
    }
    return false;
  }

}
