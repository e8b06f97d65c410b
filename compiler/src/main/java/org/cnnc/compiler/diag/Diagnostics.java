// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.diag;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Collects the diagnostics of a compilation. Phases report and go on; the pipeline asks
 * {@link #hasErrors()} between phases. The same problem reached twice (a block expanded nine
 * times with an error in a constant argument) is kept once: the id, place and message decide.
 *
 * <p>At most {@code maxErrorsPerFile} errors are kept per file; the rest are only counted
 * ({@link #hidden()}), so a file of two million bad characters costs a counter, not two million
 * diagnostics.
 */
public final class Diagnostics {
  private final List<Diagnostic> all = new ArrayList<>();
  private final Set<String> seen = new HashSet<>();
  private final Map<String, Integer> kept = new HashMap<>();
  private final Map<String, Long> hidden = new LinkedHashMap<>();
  private final int maxErrorsPerFile;
  private long errors;

  /** Keeps every diagnostic. */
  public Diagnostics() {
    this(Integer.MAX_VALUE);
  }

  /** Keeps at most this many errors per file, counting the others. */
  public Diagnostics(int maxErrorsPerFile) {
    if (maxErrorsPerFile < 1) {
      throw new IllegalArgumentException("maxErrorsPerFile must be positive");
    }
    this.maxErrorsPerFile = maxErrorsPerFile;
  }

  public void report(Diagnostic d) {
    String file = d.span().file().name();
    if (d.severity() == Severity.ERROR && kept.getOrDefault(file, 0) >= maxErrorsPerFile) {
      hide(file, 1);
      return;
    }
    String key = d.id() + '\u0000' + file + '\u0000' + d.span().start() + '\u0000'
        + d.span().end() + '\u0000' + d.message();
    if (!seen.add(key)) {
      return;
    }
    all.add(d);
    if (d.severity() == Severity.ERROR) {
      errors++;
      kept.merge(file, 1, Integer::sum);
    }
  }

  /** Whether the next error of this file would only be counted. */
  public boolean full(String fileName) {
    return kept.getOrDefault(fileName, 0) >= maxErrorsPerFile;
  }

  /** Counts errors of a file that are not kept (past the limit, found without being built). */
  public void hide(String fileName, long count) {
    if (count > 0) {
      hidden.merge(fileName, count, Long::sum);
      errors += count;
    }
  }

  /** Per file name, the errors counted but not kept (past the limit per file), in the order first met. */
  public Map<String, Long> hidden() {
    return java.util.Collections.unmodifiableMap(hidden);
  }

  public int maxErrorsPerFile() {
    return maxErrorsPerFile;
  }

  public void report(Diagnostic.Builder b) {
    report(b.build());
  }

  public boolean hasErrors() {
    return errors > 0;
  }

  /** Every error, those past the limit per file included. */
  public int errorCount() {
    return (int) Math.min(Integer.MAX_VALUE, errors);
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
