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
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
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
  /** A line's comment (the writer's: {@code x: identity  // the input, ...}); quoted names hold no {@code /}. */
  private static final Pattern COMMENT = Pattern.compile("//[^\n]*");
  private static final Pattern CALL = Pattern.compile("( *)(([A-Za-z_][A-Za-z0-9_]*)(?:\\([^()]*\\))?)");
  private static final Pattern DECL = Pattern.compile("(?m)^(?:block|model) ([A-Za-z_][A-Za-z0-9_]*)");

  /** A group of the text: lines {@code open} to {@code close}, its label (with ": ") or "", its indent. */
  record Group(int open, int close, String indent, String label, String shape, List<String> ints, String module) {}

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
    // compared with every integer default written out: `conv(64, 3, padding = 1)` and
    // `conv(64, 3, padding = 2, dilation = 2)` are one shape, dilation a parameter
    for (int i = model + 1; i < lines.size(); i++) {
      lines.set(i, defaults(lines.get(i), true));
    }
    List<String> blocks = new ArrayList<>();
    Set<String> taken = new LinkedHashSet<>();
    Matcher decl = DECL.matcher(spec);
    while (decl.find()) {
      taken.add(decl.group(1));
    }
    Map<String, List<String>> declared = new LinkedHashMap<>(); // the blocks written, with their parameters
    for (int round = 0; round < MAX_BLOCKS; round++) {
      List<Group> groups = groups(lines, model);
      Map<String, List<Group>> byShape = new LinkedHashMap<>();
      for (Group g : groups) {
        byShape.computeIfAbsent(g.shape(), k -> new ArrayList<>()).add(g);
      }
      List<List<Group>> candidates = new ArrayList<>();
      for (List<Group> same : byShape.values()) {
        List<Group> disjoint = disjoint(same);
        int body = disjoint.get(0).close() - disjoint.get(0).open() - 1;
        if (disjoint.size() >= 2 && body >= 2 && params(disjoint).size() <= MAX_PARAMS) {
          candidates.add(disjoint);
        }
      }
      // innermost first: a group holding a repeated group waits until those are calls (so that
      // ResNet-18's stages call the same basic block as its first stage's groups)
      int[] candidateAt = new int[lines.size()]; // the candidate whose group opens at a line, + 1
      for (int c = 0; c < candidates.size(); c++) {
        for (Group g : candidates.get(c)) {
          candidateAt[g.open()] = c + 1;
        }
      }
      List<Group> best = null;
      long bestSaving = 0;
      for (int ci = 0; ci < candidates.size(); ci++) {
        List<Group> c = candidates.get(ci);
        int body = c.get(0).close() - c.get(0).open() - 1;
        long saving = (long) (c.size() - 1) * body - 2;
        if (saving > bestSaving && !holdsAny(c, ci + 1, candidateAt)) {
          best = c;
          bestSaving = saving;
        }
      }
      if (best == null) {
        break;
      }
      List<String> modules = new ArrayList<>();
      for (Group g : best) {
        modules.add(g.module());
      }
      String name = blockName(modules, taken);
      taken.add(name);
      blocks.add(declare(name, lines, best, declared));
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
      lines = repeats(lines, model, declared.keySet());
    }
    if (blocks.isEmpty()) {
      return spec;
    }
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < model; i++) {
      out.append(lines.get(i)).append('\n');
    }
    for (String b : blocks) {
      for (String line : b.split("\n", -1)) {
        out.append(defaults(line, false)).append('\n');
      }
    }
    for (int i = model; i < lines.size(); i++) {
      out.append(defaults(lines.get(i), false)).append(i + 1 < lines.size() ? "\n" : "");
    }
    return out.toString();
  }

  /** A line holding one op call, {@code [label: ]op(args)}, and whatever follows it (a comment). */
  private static final Pattern OP_LINE = Pattern.compile("( *(?:[A-Za-z_][A-Za-z0-9_]*: )?)([a-z_][a-z0-9_]*)\\((.*)\\)( *//.*)?");
  private static final Pattern NAMED = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*) = (.*)");

  /**
   * An op call's integer defaults written out as named arguments ({@code fill}: the parameters
   * after the positional ones, in the op's order), or every named argument equal to its integer
   * default left out again ({@code !fill}). A line of anything else, or of arguments this cannot
   * split, is returned as it is.
   */
  static String defaults(String line, boolean fill) {
    Matcher m = OP_LINE.matcher(line);
    if (!m.matches()) {
      return line;
    }
    OpDef op = Ops.callable(m.group(2));
    List<String> args = splitArgs(m.group(3));
    if (op == null || args == null) {
      return line;
    }
    List<org.cnnc.compiler.shape.ParamSig> params = op.params();
    int positional = 0;
    while (positional < args.size() && !NAMED.matcher(args.get(positional)).matches()) {
      positional++;
    }
    Map<String, String> named = new LinkedHashMap<>();
    for (int i = positional; i < args.size(); i++) {
      Matcher a = NAMED.matcher(args.get(i));
      if (!a.matches() || named.put(a.group(1), a.group(2)) != null) {
        return line;
      }
    }
    if (positional > params.size()) {
      return line;
    }
    List<String> out = new ArrayList<>(args.subList(0, positional));
    Set<String> known = new LinkedHashSet<>();
    for (int i = 0; i < params.size(); i++) {
      var p = params.get(i);
      known.add(p.name());
      if (i < positional) {
        continue;
      }
      String dflt = p.defaultValue() instanceof org.cnnc.compiler.sema.Value.IntV v ? Long.toString(v.value()) : null;
      String v = named.get(p.name());
      if (v == null && fill && dflt != null) {
        v = dflt;
      } else if (v != null && !fill && v.equals(dflt)) {
        v = null;
      }
      if (v != null) {
        out.add(p.name() + " = " + v);
      }
    }
    if (!known.containsAll(named.keySet())) {
      return line;
    }
    if (out.equals(args)) {
      return line;
    }
    String comment = m.group(4) == null ? "" : m.group(4);
    return m.group(1) + m.group(2) + (out.isEmpty() ? "" : "(" + String.join(", ", out) + ")") + comment;
  }

  /** Arguments split at the commas outside brackets and quotes, or null when unbalanced. */
  private static List<String> splitArgs(String text) {
    List<String> out = new ArrayList<>();
    int depth = 0;
    int start = 0;
    boolean quoted = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      } else if (quoted) {
        continue;
      } else if (c == '(' || c == '[') {
        depth++;
      } else if (c == ')' || c == ']') {
        if (--depth < 0) {
          return null;
        }
      } else if (c == ',' && depth == 0) {
        out.add(text.substring(start, i).trim());
        start = i + 1;
      }
    }
    if (depth != 0 || quoted) {
      return null;
    }
    String last = text.substring(start).trim();
    if (!last.isEmpty()) {
      out.add(last);
    }
    return out.contains("") ? null : out;
  }

  /** The groups of the model that stand alone: closed by a bare brace, reading no label outside them. */
  private static List<Group> groups(List<String> lines, int model) {
    List<Group> out = new ArrayList<>();
    List<Integer> openIndents = new ArrayList<>(); // the groups around the line: indents and labels
    List<String> openLabels = new ArrayList<>();
    for (int i = model + 1; i < lines.size(); i++) {
      String line = lines.get(i);
      int lineIndent = indent(line);
      while (!line.isBlank() && !openIndents.isEmpty() && openIndents.get(openIndents.size() - 1) >= lineIndent) {
        openIndents.remove(openIndents.size() - 1);
        openLabels.remove(openLabels.size() - 1);
      }
      String around = "";
      for (int j = openLabels.size() - 1; j >= 0 && around.isEmpty(); j--) {
        around = openLabels.get(j);
      }
      Matcher m = OPEN.matcher(line);
      if (!m.matches()) {
        continue;
      }
      String label = m.group(2) == null ? "" : m.group(2);
      openIndents.add(lineIndent);
      openLabels.add(label);
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
      String code = COMMENT.matcher(b).replaceAll("");
      Set<String> defined = new LinkedHashSet<>();
      Matcher d = LABEL_DEF.matcher(code);
      while (d.find()) {
        defined.add(d.group(1));
      }
      boolean alone = true;
      Matcher f = FROM.matcher(code);
      while (f.find()) {
        alone &= defined.contains(f.group(1));
      }
      if (!alone) {
        continue;
      }
      List<String> ints = new ArrayList<>();
      String shape = abstractInts(b, ints);
      out.add(new Group(i, close, indent, label, shape, ints, label.isEmpty() ? around + "." : label));
    }
    return out;
  }

  /** Longest block name written. */
  static final int MAX_NAME = 40;

  /**
   * A block's name from the module names of its instances ({@code layer2}, {@code layer3}; an
   * instance at a position is named by the group around it and a dot: {@code layer1.}): each name
   * cut at its first digit, its words ({@code _}, {@code -}) capitalised, a position adding
   * {@code Block} unless it ends so ({@code layer1.} is {@code LayerBlock}); the instances' common part of those
   * ({@code Layer}), else {@code Block}. Only ASCII letters reach it; a keyword, a name in {@code
   * taken} (the file's models and blocks) or a clash gets a number ({@code Layer2}).
   */
  static String blockName(List<String> modules, Set<String> taken) {
    String common = null;
    for (String m : modules) {
      String stem = stem(m);
      common = common == null ? stem : commonPrefix(common, stem);
    }
    String base = common == null || common.length() < 2 ? "Block" : common;
    String name = base;
    for (int i = 2; taken.contains(name) || Labels.keyword(name); i++) {
      name = base + i;
    }
    return name;
  }

  /** {@code layer1} is {@code Layer}, {@code trunk_output} {@code TrunkOutput}, {@code layer1.} {@code LayerBlock}. */
  static String stem(String module) {
    boolean position = module.endsWith(".");
    String m = module.replace(": ", "").replace("\"", "");
    StringBuilder b = new StringBuilder();
    boolean up = true;
    for (int i = 0; i < m.length() && b.length() < MAX_NAME - 5; i++) {
      char c = m.charAt(i);
      if (c >= '0' && c <= '9' || c == '.') {
        break;
      }
      if (c == '_' || c == '-') {
        up = true;
      } else if (c < 128 && Character.isLetter(c)) {
        b.append(up ? Character.toUpperCase(c) : c);
        up = false;
      }
    }
    return b.length() == 0 ? "" : position && !b.toString().endsWith("Block") ? b + "Block" : b.toString();
  }

  private static String commonPrefix(String a, String b) {
    int n = 0;
    while (n < a.length() && n < b.length() && a.charAt(n) == b.charAt(n)) {
      n++;
    }
    return a.substring(0, n);
  }

  private static int indent(String line) {
    int i = 0;
    while (i < line.length() && line.charAt(i) == ' ') {
      i++;
    }
    return i;
  }

  /** The body with each integer literal outside quotes as {@code #}; the literals in {@code ints}. */
  static String abstractInts(String body, List<String> ints) {
    StringBuilder b = new StringBuilder();
    int n = body.length();
    for (int i = 0; i < n; i++) {
      char c = body.charAt(i);
      if (c == '/' && i + 1 < n && body.charAt(i + 1) == '/') {
        int end = body.indexOf('\n', i);
        end = end < 0 ? n : end;
        b.append(body, i, end); // a comment: kept as written, part of the shape
        i = end - 1;
        continue;
      }
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

  /** Whether a group of {@code c} holds a group of another candidate (its bodies are at most {@link #MAX_BODY} lines). */
  private static boolean holdsAny(List<Group> c, int self, int[] candidateAt) {
    for (Group g : c) {
      for (int i = g.open() + 1; i < g.close(); i++) {
        if (candidateAt[i] != 0 && candidateAt[i] != self) {
          return true;
        }
      }
    }
    return false;
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
  private static String declare(String name, List<String> lines, List<Group> groups, Map<String, List<String>> declared) {
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
      String base = paramName(shape, params.get(q), declared);
      String n = base;
      String label = lineLabel(shape, params.get(q));
      if ((taken.contains(n) || Labels.keyword(n)) && label != null) {
        n = label + "_" + base; // a second `channels`, fed to `conv3: conv(#, ...)`: conv3_channels
      }
      String root = base.replaceAll("[0-9]+$", "");
      for (int i = 2; taken.contains(n) || Labels.keyword(n); i++) {
        n = root + i;
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
    declared.put(name, paramNames);
    StringBuilder out = new StringBuilder("block ").append(name);
    out.append('(').append(String.join(", ", names)).append(") {\n"); // a declaration has its parentheses, even empty
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
  private static final Pattern CALLEE = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)$");

  /**
   * A parameter's name from where its literal is first written: the op parameter it feeds, by
   * name ({@code stride = #}) or by position ({@code conv(#, 3)}: the op's own name for it, {@link
   * Ops}, with conv's {@code out} as {@code channels}), a parameter of a block it is passed to,
   * {@code count} for {@code repeat #}; else {@code n}.
   */
  static String paramName(String shape, int literal, Map<String, List<String>> declared) {
    int seen = -1;
    for (int i = 0; i < shape.length(); i++) {
      if (shape.charAt(i) == '#' && !inQuotes(shape, i) && ++seen == literal) {
        String before = shape.substring(shape.lastIndexOf('\n', i - 1) + 1, i);
        Matcher m = NAMED_ARG.matcher(before);
        if (m.find()) {
          return m.group(1);
        }
        if (before.endsWith("repeat ")) {
          return "count";
        }
        // the call the literal is a positional argument of: the innermost open parenthesis
        int depth = 0;
        int commas = 0;
        for (int j = before.length() - 1; j >= 0; j--) {
          char c = before.charAt(j);
          if (c == ')' || c == ']') {
            depth++;
          } else if ((c == '(' || c == '[') && depth > 0) {
            depth--;
          } else if (c == '[') {
            return "n";
          } else if (c == ',' && depth == 0) {
            commas++;
          } else if (c == '(') {
            Matcher callee = CALLEE.matcher(before.substring(0, j));
            return callee.find() ? positional(callee.group(1), commas, declared) : "n";
          }
        }
        return "n";
      }
    }
    return "n";
  }

  /** The label of the line where literal {@code literal} of a shape is written, or null. */
  private static String lineLabel(String shape, int literal) {
    int seen = -1;
    for (int i = 0; i < shape.length(); i++) {
      if (shape.charAt(i) == '#' && !inQuotes(shape, i) && ++seen == literal) {
        Matcher m = LINE_LABEL.matcher(shape.substring(shape.lastIndexOf('\n', i - 1) + 1, i));
        return m.find() && m.group(1).length() <= MAX_NAME ? m.group(1) : null;
      }
    }
    return null;
  }

  private static final Pattern LINE_LABEL = Pattern.compile("^ *([A-Za-z_][A-Za-z0-9_]*): ");

  private static String positional(String callee, int index, Map<String, List<String>> declared) {
    List<String> block = declared.get(callee);
    if (block != null) {
      return index < block.size() ? block.get(index) : "n";
    }
    OpDef op = Ops.callable(callee);
    if (op == null || index >= op.params().size()) {
      return "n";
    }
    String name = op.params().get(index).name();
    return name.equals("out") ? "channels" : name;
  }

  /** Whether a {@code #} of a shape is text (in a quoted name or a comment), not an abstracted literal. */
  private static boolean inQuotes(String s, int at) {
    boolean quoted = false;
    for (int i = s.lastIndexOf('\n', at - 1) + 1; i < at; i++) {
      char c = s.charAt(i);
      if (c == '"') {
        quoted = !quoted;
      } else if (!quoted && c == '/' && i + 1 < at && s.charAt(i + 1) == '/') {
        return true;
      }
    }
    return quoted;
  }

  /** Equal unlabeled calls on consecutive lines at one indent: {@code repeat n { call }}. */
  private static List<String> repeats(List<String> lines, int model, Set<String> blocks) {
    List<String> out = new ArrayList<>(lines.size());
    for (int i = 0; i < lines.size(); i++) {
      Matcher m = CALL.matcher(lines.get(i));
      int j = i + 1;
      if (i > model && m.matches() && blocks.contains(m.group(3))) {
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
