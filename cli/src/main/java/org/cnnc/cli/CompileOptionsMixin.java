package org.cnnc.cli;

import picocli.CommandLine.Mixin;

/** Makes {@link CompileOptions} usable as a picocli mixin. */
final class CompileOptionsMixin {
  @Mixin CompileOptions opts = new CompileOptions();

}
