package org.cnnc.compiler.diag;

/** One line per diagnostic, {@code file:line:col: severity: message [ID]}, as compilers print for tools. */
public final class ShortRenderer {
  public String render(Diagnostic d) {
    return d.span().location() + ": " + d.severity().word() + ": " + d.message() + " [" + d.id() + "]";
  }
}
