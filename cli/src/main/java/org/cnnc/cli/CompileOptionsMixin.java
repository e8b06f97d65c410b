// SPDX-License-Identifier: Apache-2.0
package org.cnnc.cli;

import picocli.CommandLine.Mixin;

/** Makes {@link CompileOptions} usable as a picocli mixin. */
public final class CompileOptionsMixin {
  @Mixin public CompileOptions opts = new CompileOptions();

}
