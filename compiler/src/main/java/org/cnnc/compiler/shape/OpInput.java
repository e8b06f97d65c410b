// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.Map;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.source.Span;

/**
 * What an op rule sees: the input shape, the bound and converted arguments with their places,
 * and a way to report a problem (the caller adds the block call chain).
 */
public abstract class OpInput extends BoundArgs {
  private final String op;
  private final Shape in;
  private final Integer explicitIn;
  private boolean failed;

  protected OpInput(String op, Shape in, Map<String, Value> args, Integer explicitIn) {
    super(args);
    this.op = op;
    this.in = in;
    this.explicitIn = explicitIn;
  }

  public String op() {
    return op;
  }

  public Shape in() {
    return in;
  }

  /** The input channels or features the spec states with {@code in -> out}, or null. */
  public Integer explicitIn() {
    return explicitIn;
  }

  /** The place of an argument's value, or of the call when the argument took its default. */
  public abstract Span argSpan(String name);

  /** The place of the explicit input channels ({@code 480} in {@code conv(480 -> 192, 1)}). */
  public abstract Span explicitInSpan();

  public abstract Span callSpan();

  /** Where the input comes from, for notes ("the input is `inception4a`, [512, 14, 14]"). */
  public abstract String inputDescription();

  protected abstract void emit(Diagnostic.Builder d);

  public boolean failed() {
    return failed;
  }

  public Diagnostic.Builder error(Code code, Span span, String message) {
    failed = true;
    return Diagnostic.error(code, span, message);
  }

  public void report(Diagnostic.Builder d) {
    emit(d);
  }
}
