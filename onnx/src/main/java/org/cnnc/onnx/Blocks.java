// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.cnnc.compiler.syntax.Labels;

/**
 * Repeated subgraphs as blocks: the groups of a written spec ({@code label: { ... }} or an
 * unlabeled {@code { ... }} at a position) whose bodies are equal up to their integer literals
 * become one {@code block} with an {@code int} parameter for each literal that differs between
 * them, and each group a call of it; equal calls that follow each other at positions become
 * {@code repeat n { ... }}. A call is the group it replaces (the same module path, positions and
 * reads), so the compiled network is the same; {@link OnnxImport} checks that node by node and keeps
 * the flat spec otherwise. Greedy: the shape that saves the most lines first, then again on the
 * text with its calls (so that ResNet's stages, once their bottlenecks are calls, may become a
 * block too).
 */
final class Blocks {
  private Blocks() {}

  /** Rounds of extraction: each declares one block. */
  static final int MAX_BLOCKS = 64;
  /** Parameters of one block: more differences than this and the groups are not "the same" subgraph. */
  static final int MAX_PARAMS = 8;
  /** Limits of the work on an untrusted graph: longer specs stay flat, longer groups are not blocks. */
  static final int MAX_LINES = 50_000;
  static final int MAX_BODY = 400;

  private static final Pattern OPEN = Pattern.compile("( *)((?:[A-Za-z_][A-Za-z0-9_]*|\"[A-Za-z0-9_-]+\"): )?\\{");
  private static final Pattern LABEL_DEF = Pattern.compile("(?m)^ *([A-Za-z_][A-Za-z0-9_]*): ");
  private static final Pattern FROM = Pattern.compile("\\bfrom ([A-Za-z_][A-Za-z0-9_]*)");
  private static final Pattern CALL = Pattern.compile("( *)(Block[0-9]+(?:\\([^()]*\\))?)");

  /** A group of the text: lines {@code open} to {@code close}, its label (with ": ") or "", its indent. */
  record Group(int open, int close, String indent, String label, String shape, List<String> ints) {}

  /** The spec with blocks (declared before its model), or the spec itself when no group repeats. */
  static String extract(String spec) {
    List<String> lines = new ArrayList<>(List.of(spec.split("\n", -1)));
    if (lines.size() > MAX_LINES) {
      return spec;
    }
    int model = -1;
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).startsWith("model ")) {
        model = i;
        break;
      }
    }
    if (model < 0) {
      return spec;
    }
    List<String> blocks = new ArrayList<>();
    for (int round = 0; round < MAX_BLOCKS; round++) {
      List<Group> groups = groups(lines, model);
      Map<String, List<Group>> byShape = new LinkedHashMap<>();
      for (Group g : groups) {
        byShape.computeIfAbsent(g.shape(), k -> new ArrayList<>()).add(g);
      }
      List<Group> best = null;
      long bestSaving = 0;
      for (List<Group> same : byShape.values()) {
        List<Group> disjoint = disjoint(same);
        int body = disjoint.get(0).close() - disjoint.get(0).open() - 1;
        long saving = (long) (disjoint.size() - 1) * body - 2;
        if (disjoint.size() >= 2 && body >= 2 && saving > bestSaving && params(disjoint).size() <= MAX_PARAMS) {
          best = disjoint;
          bestSaving = saving;
        }
      }
      if (best == null) {
        break;
      }
      String name = "Block" + (blocks.size() + 1);
      blocks.add(declare(name, lines, best));
      List<Integer> params = params(best);
      // one pass over the lines: each group becomes its call
      List<String> next = new ArrayList<>(lines.size());
      int k = 0;
      for (int i = 0; i < lines.size(); i++) {
        Group g = k < best.size() ? best.get(k) : null;
        if (g == null || i < g.open()) {
          next.add(lines.get(i));
          continue;
        }
        StringBuilder call = new StringBuilder(g.indent()).append(g.label()).append(name);
        if (!params.isEmpty()) {
          call.append('(');
          for (int p = 0; p < params.size(); p++) {
            call.append(p > 0 ? ", " : "").append(g.ints().get(params.get(p)));
          }
          call.append(')');
        }
        next.add(call.toString());
        i = g.close();
        k++;
      }
      lines = next;
      lines = repeats(lines, model);
    }
    if (blocks.isEmpty()) {
      return spec;
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < model; i++) {
      out.append(lines.get(i)).append('\n');
    }
    for (String b : blocks) {
      out.append(b).append('\n');
    }
    for (int i = model; i < lines.size(); i++) {
      out.append(lines.get(i)).append(i + 1 < lines.size() ? "\n" : "");
    }
    return out.toString();
  }

  /** The groups of the model that stand alone: closed by a bare brace, reading no label outside them. */
  private static List<Group> groups(List<String> lines, int model) {
    List<Group> out = new ArrayList<>();
    for (int i = model + 1; i < lines.size(); i++) {
      Matcher m = OPEN.matcher(lines.get(i));
      if (!m.matches()) {
        continue;
      }
      String indent = m.group(1);
      int close = -1;
      for (int j = i + 1; j < lines.size() && j <= i + MAX_BODY + 1; j++) {
        String l = lines.get(j);
        if (l.equals(indent + "}")) {
          close = j;
          break;
        }
        if (!l.startsWith(indent + "    ")) {
          break; // the group ends otherwise (`} from x`, `} },`): not one that stands alone
        }
      }
      if (close < 0 || close == i + 1) {
        continue;
      }
      StringBuilder body = new StringBuilder();
      for (int j = i + 1; j < close; j++) {
        body.append(lines.get(j).substring(indent.length())).append('\n');
      }
      String b = body.toString();
      Set<String> defined = new LinkedHashSet<>();
      Matcher d = LABEL_DEF.matcher(b);
      while (d.find()) {
        defined.add(d.group(1));
      }
      boolean alone = true;
      Matcher f = FROM.matcher(b);
      while (f.find()) {
        alone &= defined.contains(f.group(1));
      }
      if (!alone || b.contains("//")) {
        continue;
      }
      List<String> ints = new ArrayList<>();
      String shape = abstractInts(b, ints);
      out.add(new Group(i, close, indent, m.group(2) == null ? "" : m.group(2), shape, ints));
    }
    return out;
  }

  /** The body with each integer literal outside quotes as {@code #}; the literals in {@code ints}. */
  static String abstractInts(String body, List<String> ints) {
    StringBuilder b = new StringBuilder();
    int n = body.length();
    for (int i = 0; i < n; i++) {
      char c = body.charAt(i);
      if (c == '"') {
        int end = body.indexOf('"', i + 1);
        end = end < 0 ? n - 1 : end;
        b.append(body, i, end + 1);
        i = end;
        continue;
      }
      boolean start = Character.isDigit(c) && (i == 0 || !isWord(body.charAt(i - 1)) && body.charAt(i - 1) != '.');
      if (start) {
        int j = i;
        while (j < n && Character.isDigit(body.charAt(j))) {
          j++;
        }
        if (j < n && (isWord(body.charAt(j)) || body.charAt(j) == '.')) {
          b.append(body, i, j); // a float or a name: kept as written
        } else {
          ints.add(body.substring(i, j));
          b.append('#');
        }
        i = j - 1;
        continue;
      }
      b.append(c);
    }
    return b.toString();
  }

  private static boolean isWord(char c) {
    return Character.isLetterOrDigit(c) || c == '_';
  }

  /** Groups that do not overlap, in order. */
  private static List<Group> disjoint(List<Group> same) {
    List<Group> out = new ArrayList<>();
    for (Group g : same) {
      if (out.isEmpty() || g.open() > out.get(out.size() - 1).close()) {
        out.add(g);
      }
    }
    return out;
  }

  /** The literal positions that differ between the groups, one per distinct vector of values. */
  private static List<Integer> params(List<Group> groups) {
    List<Integer> out = new ArrayList<>();
    Map<List<String>, Integer> seen = new HashMap<>();
    int k = groups.get(0).ints().size();
    for (int p = 0; p < k; p++) {
      List<String> values = new ArrayList<>();
      for (Group g : groups) {
        values.add(g.ints().get(p));
      }
      if (values.stream().distinct().count() > 1 && seen.putIfAbsent(values, p) == null) {
        out.add(p);
      }
    }
    return out;
  }

  /** The block's declaration: the first group's body with the differing literals as parameters. */
  private static String declare(String name, List<String> lines, List<Group> groups) {
    Group first = groups.get(0);
    List<Integer> params = params(groups);
    int k = first.ints().size();
    String[] use = new String[k];
    List<String> names = new ArrayList<>();
    StringBuilder body = new StringBuilder();
    for (int j = first.open() + 1; j < first.close(); j++) {
      body.append("    ").append(lines.get(j).substring(first.indent().length() + 4)).append('\n');
    }
    List<String> ints = new ArrayList<>();
    String shape = abstractInts(body.toString(), ints);
    Set<String> taken = new LinkedHashSet<>();
    Matcher d = LABEL_DEF.matcher(shape);
    while (d.find()) {
      taken.add(d.group(1));
    }
    List<String> paramNames = new ArrayList<>();
    for (int q = 0; q < params.size(); q++) {
      String base = paramName(shape, params.get(q));
      String n = base;
      for (int i = 2; taken.contains(n) || Labels.keyword(n); i++) {
        n = base + i;
      }
      taken.add(n);
      paramNames.add(n);
      names.add(n + ": int");
    }
    for (int p = 0; p < k; p++) {
      List<String> values = new ArrayList<>();
      for (Group g : groups) {
        values.add(g.ints().get(p));
      }
      for (int q = 0; q < params.size(); q++) {
        List<String> pv = new ArrayList<>();
        for (Group g : groups) {
          pv.add(g.ints().get(params.get(q)));
        }
        if (pv.equals(values)) {
          use[p] = paramNames.get(q);
        }
      }
    }
    StringBuilder out = new StringBuilder("block ").append(name);
    if (!names.isEmpty()) {
      out.append('(').append(String.join(", ", names)).append(')');
    }
    out.append(" {\n");
    int p = 0;
    for (int i = 0; i < shape.length(); i++) {
      char c = shape.charAt(i);
      if (c == '#' && !inQuotes(shape, i)) {
        out.append(use[p] != null ? use[p] : ints.get(p));
        p++;
      } else {
        out.append(c);
      }
    }
    return out.append("}\n").toString();
  }

  private static final Pattern NAMED_ARG = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*) = $");
  private static final Pattern FIRST_ARG = Pattern.compile("\\b(conv|dense|conv_transpose)\\($");

  /** A parameter's name from where its literal is first written: {@code stride = #}, {@code conv(#}, {@code repeat #}. */
  private static String paramName(String shape, int literal) {
    int seen = -1;
    for (int i = 0; i < shape.length(); i++) {
      if (shape.charAt(i) == '#' && !inQuotes(shape, i) && ++seen == literal) {
        String before = shape.substring(Math.max(0, i - 40), i);
        Matcher m = NAMED_ARG.matcher(before);
        if (m.find()) {
          return m.group(1);
        }
        if (FIRST_ARG.matcher(before).find()) {
          return "channels";
        }
        return before.endsWith("repeat ") ? "count" : "n";
      }
    }
    return "n";
  }

  private static boolean inQuotes(String s, int at) {
    int q = 0;
    for (int i = 0; i < at; i++) {
      q += s.charAt(i) == '"' ? 1 : 0;
    }
    return q % 2 == 1;
  }

  /** Equal unlabeled calls on consecutive lines at one indent: {@code repeat n { call }}. */
  private static List<String> repeats(List<String> lines, int model) {
    List<String> out = new ArrayList<>(lines.size());
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = CALL.matcher(lines.get(i));
      int j = i + 1;
      if (i > model && m.matches()) {
        while (j < lines.size() && lines.get(j).equals(lines.get(i))) {
          j++;
        }
      }
      if (j - i >= 2) {
        out.add(m.group(1) + "repeat " + (j - i) + " { " + m.group(2) + " }");
        i = j - 1;
      } else {
        out.add(lines.get(i));
      }
    }
    return out;
  }
}
