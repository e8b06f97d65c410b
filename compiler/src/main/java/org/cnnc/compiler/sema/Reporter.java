// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import org.cnnc.compiler.diag.Diagnostic;

/** Where a phase sends a problem; expansion adds the block call chain on the way. */
@FunctionalInterface
public interface Reporter {
  void report(Diagnostic.Builder d);
}
