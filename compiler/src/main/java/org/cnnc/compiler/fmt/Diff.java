// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.fmt;

import java.util.ArrayList;
import java.util.List;
import org.cnnc.compiler.io.Escape;

/**
 * A unified diff of two texts (line-based, longest common subsequence), as `diff -u` prints it,
 * for reading on a terminal: names and lines escaped ({@link Escape#terminal}).
 */
public final class Diff {
  private Diff() {}

  public static String unified(String file, String before, String after) {
    String name = Escape.terminal(file);
    List<String> a = before.lines().toList();
    List<String> b = after.lines().toList();
    int n = a.size();
    int m = b.size();
    if ((long) n * m > 25_000_000L) {
      return "--- " + name + "\n+++ " + name + " (formatted)\n@@ -1," + n + " +1," + m + " @@\n"
          + String.join("", a.stream().map(l -> "-" + Escape.terminal(l) + "\n").toList())
          + String.join("", b.stream().map(l -> "+" + Escape.terminal(l) + "\n").toList());
    }
    int[][] lcs = new int[n + 1][m + 1];
    for (int i = n - 1; i >= 0; i--) {
      for (int j = m - 1; j >= 0; j--) {
        lcs[i][j] = a.get(i).equals(b.get(j)) ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
      }
    }
    // edit script: ' ' keep, '-' delete, '+' insert, with positions
    List<char[]> ops = new ArrayList<>();
    List<String> texts = new ArrayList<>();
    List<int[]> at = new ArrayList<>();
    int i = 0;
    int j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a.get(i).equals(b.get(j))) {
        ops.add(new char[] {' '});
        texts.add(a.get(i));
        at.add(new int[] {i++, j++});
      } else if (j < m && (i == n || lcs[i][j + 1] > lcs[i + 1][j])) {
        ops.add(new char[] {'+'});
        texts.add(b.get(j));
        at.add(new int[] {i, j++});
      } else {
        ops.add(new char[] {'-'});
        texts.add(a.get(i));
        at.add(new int[] {i++, j});
      }
    }
    StringBuilder out = new StringBuilder("--- " + name + "\n+++ " + name + " (formatted)\n");
    int k = 0;
    int context = 3;
    while (k < ops.size()) {
      if (ops.get(k)[0] == ' ') {
        k++;
        continue;
      }
      int start = Math.max(0, k - context);
      int end = k;
      int quiet = 0;
      while (end < ops.size() && quiet <= 2 * context) {
        quiet = ops.get(end)[0] == ' ' ? quiet + 1 : 0;
        end++;
      }
      end = Math.min(ops.size(), end - Math.max(0, quiet - context));
      int aStart = at.get(start)[0];
      int bStart = at.get(start)[1];
      int aLen = 0;
      int bLen = 0;
      for (int x = start; x < end; x++) {
        char op = ops.get(x)[0];
        aLen += op != '+' ? 1 : 0;
        bLen += op != '-' ? 1 : 0;
      }
      out.append("@@ -").append(aStart + 1).append(',').append(aLen).append(" +").append(bStart + 1).append(',')
          .append(bLen).append(" @@\n");
      for (int x = start; x < end; x++) {
        out.append(ops.get(x)[0]).append(Escape.terminal(texts.get(x))).append('\n');
      }
      k = end;
    }
    return out.toString();
  }
}
