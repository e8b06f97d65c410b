// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.diag;

import org.cnnc.compiler.io.Escape;

/**
 * One line per diagnostic, {@code file:line:col: severity: message [ID]}, as compilers print for
 * tools; escaped for the terminal, so a newline or an escape sequence in a spec cannot make more.
 */
public final class ShortRenderer {
  public String render(Diagnostic d) {
    return Escape.terminal(d.span().location() + ": " + d.severity().word() + ": " + d.message() + " [" + d.id() + "]");
  }
}
