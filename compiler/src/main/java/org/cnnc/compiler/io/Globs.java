// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.io;

import java.nio.file.FileSystems;
import java.nio.file.PathMatcher;
import java.util.List;
import java.util.Locale;
import java.util.regex.PatternSyntaxException;

/**
 * Path globs as cnnc.yaml and the Maven plugin take them: the JDK's glob syntax ({@code *},
 * {@code **}, {@code ?}, {@code [a-z]}, {@code {a,b}}), Ant-style in that a leading {@code **}/
 * also matches no directory at all. A malformed glob, or braces inside braces (which the JDK does
 * not support), is an {@link IllegalArgumentException} whose message says what is wrong in words,
 * never a {@code PatternSyntaxException}.
 */
public final class Globs {
  private Globs() {}

  /** The matchers of {@code glob}: one, or two for a leading {@code **}/. */
  public static List<PathMatcher> ant(String glob) {
    PathMatcher m = one(glob, glob);
    return glob.startsWith("**/") ? List.of(m, one(glob.substring(3), glob)) : List.of(m);
  }

  private static PathMatcher one(String pattern, String written) {
    try {
      return FileSystems.getDefault().getPathMatcher("glob:" + pattern);
    } catch (PatternSyntaxException e) {
      String d = e.getDescription();
      String at = e.getIndex() >= 0 ? " at character " + (e.getIndex() + 1 + written.length() - pattern.length()) : "";
      String why = d.equals("Cannot nest groups")
          ? "braces inside braces are not supported; list every alternative in one pair: {a,b,c}"
          : d.startsWith("Missing ']") ? "`[` is not closed" + at
          : d.startsWith("Missing '}") ? "`{` is not closed" + at
          : d.toLowerCase(Locale.ROOT) + at;
      throw new IllegalArgumentException("invalid glob `" + Escape.terminal(written) + "`: " + why);
    }
  }
}
