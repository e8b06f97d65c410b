// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.Compiler.Compilation;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.diag.HumanRenderer;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.diag.ShortRenderer;

/** Prints a compilation's diagnostics in the chosen format. */
public final class Reports {
  private Reports() {}

  public static void print(Compilation c, CompileOptions opts, PrintWriter err) {
    print(c.diagnostics(), opts, err);
  }

  public static void print(Diagnostics diags, CompileOptions opts, PrintWriter err) {
    print(diags.sorted(), diags.hidden(), diags.maxErrorsPerFile(), opts, err);
  }

  /** The line that stands for the errors of a file past the limit. */
  public static String hidden(String file, long count, int limit) {
    return file + ": " + count + " more error" + (count == 1 ? "" : "s") + " not shown (at most " + limit
        + " per file are shown; --max-errors changes it)";
  }

  public static void print(List<Diagnostic> all, CompileOptions opts, PrintWriter err) {
    print(all, Map.of(), Integer.MAX_VALUE, opts, err);
  }

  /** {@code hidden}: per file, the errors past the limit of {@code maxPerFile}, counted but not shown. */
  public static void print(List<Diagnostic> all, Map<String, Long> hidden, int maxPerFile, CompileOptions opts,
      PrintWriter err) {
    boolean color = opts.colorFor(System.console() != null);
    boolean human = opts.errorFormat != CompileOptions.ErrorFormat.short_;
    HumanRenderer hr = new HumanRenderer(color);
    ShortRenderer sr = new ShortRenderer();
    for (Diagnostic d : all) {
      err.println(human ? hr.render(d) : sr.render(d));
    }
    long more = 0;
    for (Map.Entry<String, Long> e : hidden.entrySet()) {
      err.println(hidden(e.getKey(), e.getValue(), maxPerFile));
      more += e.getValue();
    }
    if (!human) {
      return;
    }
    long errors = more + all.stream().filter(d -> d.severity() == Severity.ERROR).count();
    long warnings = all.stream().filter(d -> d.severity() == Severity.WARNING).count();
    if (errors > 0 || warnings > 0) {
      err.println((errors > 0 ? "error: " : "warning: ") + summary(errors, warnings));
    }
  }

  private static String summary(long errors, long warnings) {
    String e = errors + (errors == 1 ? " error" : " errors");
    String w = warnings + (warnings == 1 ? " warning" : " warnings");
    return errors > 0 && warnings > 0 ? e + " and " + w : errors > 0 ? e : w;
  }
}
