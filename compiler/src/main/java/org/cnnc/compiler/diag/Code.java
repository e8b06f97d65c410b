// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.diag;

/**
 * The compiler's diagnostic ids. Ids are stable: tools, suppressions and CI configuration refer
 * to them, so an id is never renamed or reused. README.md lists each with its meaning (a test
 * keeps the two in step).
 */
public enum Code {
  SYNTAX_ERROR("the text does not follow the grammar; the message names what was expected"),
  BAD_CHARACTER("a character that cannot start any token"),
  UNTERMINATED_COMMENT("a block comment that is never closed"),
  UNTERMINATED_STRING("a string that is not closed on its line"),
  NESTING_TOO_DEEP("brackets or expressions nested deeper than the parser allows (256 levels)"),
  UNKNOWN_NAME("a name that resolves to nothing: an op, block, parameter or named node"),
  UNKNOWN_ARGUMENT("an argument name that the op or block does not take"),
  TOO_MANY_ARGUMENTS("more positional arguments than the op or block takes"),
  MISSING_ARGUMENT("a required argument is not given"),
  DUPLICATE_ARGUMENT("the same argument is given twice"),
  ARGUMENT_TYPE("an argument value of the wrong type"),
  INVALID_ARGUMENT("an argument value outside what the op accepts (a negative stride, p > 1, ...)"),
  INT_OVERFLOW("integer arithmetic or a literal beyond what the compiler can represent"),
  DIVISION_BY_ZERO("an argument expression divides by zero"),
  DUPLICATE_NAME("a declaration, parameter or named node defined twice in the same scope"),
  CYCLIC_BLOCK("a block that calls itself, directly or through other blocks"),
  IMPORT_NOT_FOUND("an imported file that does not exist or cannot be read"),
  IMPORT_OUTSIDE_ROOT("an import that resolves outside the source roots"),
  MISPLACED_STATEMENT("an input or output statement where it has no meaning"),
  NO_INPUT("a model without an input statement"),
  RANK_MISMATCH("an op applied to a tensor of the wrong rank (a conv on a flat vector, ...)"),
  KERNEL_TOO_LARGE("a conv or pool window larger than its padded input: the output would be empty"),
  PADDING_TOO_LARGE("pooling padding larger than half the kernel, which PyTorch refuses"),
  CHANNEL_MISMATCH("explicit input channels or features that differ from what flows in"),
  GROUPS_MISMATCH("channels not divisible by a convolution's groups"),
  SHAPE_MISMATCH("concat or add branches whose shapes cannot be joined"),
  SHAPE_ASSERTION("a shape assertion that does not hold"),
  NETWORK_TOO_LARGE("a network or tensor beyond the compiler's limits"),
  UNSUPPORTED_ON_BACKEND("an op or argument that a backend checked for (--backend) cannot run"),
  JAVA_NAME("a package that Java cannot name, or models whose classes would be one file (equal after case or underscore folding)");

  private final String summary;

  Code(String summary) {
    this.summary = summary;
  }

  public String summary() {
    return summary;
  }
}
