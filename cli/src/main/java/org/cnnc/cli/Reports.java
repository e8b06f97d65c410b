package org.cnnc.cli;

import java.io.PrintWriter;
import java.util.List;
import org.cnnc.compiler.Compiler.Compilation;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.HumanRenderer;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.diag.ShortRenderer;

/** Prints a compilation's diagnostics in the chosen format. */
public final class Reports {
  private Reports() {}

  public static void print(Compilation c, CompileOptions opts, PrintWriter err) {
    print(c.diagnostics().sorted(), opts, err);
  }

  public static void print(List<Diagnostic> all, CompileOptions opts, PrintWriter err) {
    boolean color = opts.colorFor(System.console() != null);
    if (opts.errorFormat == CompileOptions.ErrorFormat.short_) {
      ShortRenderer r = new ShortRenderer();
      all.forEach(d -> err.println(r.render(d)));
      return;
    }
    HumanRenderer r = new HumanRenderer(color);
    for (Diagnostic d : all) {
      err.println(r.render(d));
    }
    long errors = all.stream().filter(d -> d.severity() == Severity.ERROR).count();
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
