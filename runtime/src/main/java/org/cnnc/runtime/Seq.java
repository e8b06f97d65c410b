// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

/**
 * Names the modules of a sequence as PyTorch does: a labeled item by its label, an unlabeled one
 * by its position (as {@code nn.Sequential} numbers it). Every item takes a position, labeled or
 * not; a branch of an unlabeled concat or add is named in the enclosing sequence without taking one.
 */
public final class Seq {
  private final String prefix;
  private int pos;

  Seq(String prefix) {
    this.prefix = prefix;
  }

  /** The dotted path of this sequence's module ("" for the model). */
  public String path() {
    return prefix;
  }

  /** The next unlabeled item's path. */
  public String next() {
    return child(Integer.toString(pos++));
  }

  /** A labeled item's path; it takes a position too. */
  public String named(String label) {
    pos++;
    return child(label);
  }

  /** A path below this module that takes no position (a branch of a merge). */
  public String child(String name) {
    return prefix.isEmpty() ? name : prefix + "." + name;
  }
}
