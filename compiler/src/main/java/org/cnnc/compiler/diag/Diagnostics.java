package org.cnnc.compiler.diag;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Collects the diagnostics of a compilation. Phases report and go on; the pipeline asks
 * {@link #hasErrors()} between phases. The same problem reached twice (a block expanded nine
 * times with an error in a constant argument) is kept once: the id, place and message decide.
 */
public final class Diagnostics {
  private final List<Diagnostic> all = new ArrayList<>();
  private final Set<String> seen = new HashSet<>();
  private int errors;

  public void report(Diagnostic d) {
    String key = d.id() + '\u0000' + d.span().file().name() + '\u0000' + d.span().start() + '\u0000'
        + d.span().end() + '\u0000' + d.message();
    if (!seen.add(key)) {
      return;
    }
    all.add(d);
    if (d.severity() == Severity.ERROR) {
      errors++;
    }
  }

  public void report(Diagnostic.Builder b) {
    report(b.build());
  }

  public boolean hasErrors() {
    return errors > 0;
  }

  public int errorCount() {
    return errors;
  }

  /** All diagnostics, by file then position in it (source order). */
  public List<Diagnostic> sorted() {
    List<Diagnostic> out = new ArrayList<>(all);
    out.sort(ORDER);
    return out;
  }

  public static final Comparator<Diagnostic> ORDER =
      Comparator.<Diagnostic, String>comparing(d -> d.span().file().name())
          .thenComparingInt(d -> d.span().start())
          .thenComparingInt(d -> d.span().end());
}
