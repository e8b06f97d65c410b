// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ir;

/**
 * Names the modules of a sequence as PyTorch does: a labeled item by its label, an unlabeled one
 * by its position (as {@code nn.Sequential} numbers it). Every item takes a position, labeled or
 * not; a branch of a merge is named below it without taking one.
 *
 * <p>The one copy of this rule: the compiler names its network's nodes with it, and the generated
 * Java names the modules it builds with it, at run time (a {@code repeat} count may be an
 * argument), so the two cannot disagree.
 */
public final class ModulePath {
  private final String path;
  private int pos;

  /** A sequence whose module is {@code path} ("" for the model). */
  public ModulePath(String path) {
    this.path = path;
  }

  /** The dotted path of this sequence's module ("" for the model). */
  public String path() {
    return path;
  }

  /** The next unlabeled item's path; it takes the next position. */
  public String next() {
    return child(Integer.toString(pos++));
  }

  /** A labeled item's path; it takes a position too. */
  public String named(String label) {
    pos++;
    return child(label);
  }

  /**
   * The name of the next item in this sequence, labeled or not, without its path; it takes a
   * position unless it takes none (an unlabeled {@code repeat}, whose items take the positions).
   */
  public String segment(String label, boolean takesPosition) {
    String name = label != null ? label : Integer.toString(pos);
    if (takesPosition) {
      pos++;
    }
    return name;
  }

  /** A path below this module that takes no position (a branch of a merge). */
  public String child(String segment) {
    return join(path, segment);
  }

  /** {@code segment} below {@code prefix} ("" for the model). */
  public static String join(String prefix, String segment) {
    return prefix.isEmpty() ? segment : prefix + "." + segment;
  }
}
