// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.cnnc.onnx.ImportedNet.Layer;
import org.cnnc.compiler.syntax.Labels;

/**
 * Writes an {@link ImportedNet} as a spec whose module paths are the ONNX names: the layers are
 * grouped into the module tree their paths give (a module is a group, {@code label: { ... }}),
 * a module's items are written in an order of their data flow, a child named by a number lands at
 * that position of its sequence (an {@code identity} stands in for a position the graph left out,
 * such as an eval-mode dropout), merges take the branches only they read inline, and other reads
 * go through labels ({@code from}). Where a name cannot be kept (a module's items interleave
 * another's, a position already passed), the layer gets another name and a note says so; the
 * weights follow the spec's names either way. Every name that reaches the text is a cnnc
 * identifier: others are rewritten.
 */
final class SpecWriter {
  static final Pattern ID = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  static final Pattern NUMBER = Pattern.compile("0|[1-9][0-9]{0,8}");

  private final ImportedNet net;
  final List<String> notes = new ArrayList<>();

  /** A module: its children by name, the layer it is (a leaf, or a merge whose branches it holds), its functional layers. */
  static final class Mod {
    final String name;
    final Mod parent;
    final Map<String, Mod> children = new LinkedHashMap<>();
    Layer self;
    final List<Layer> functionals = new ArrayList<>();
    List<Unit> units;

    Mod(String name, Mod parent) {
      this.name = name;
      this.parent = parent;
    }

    String path() {
      return parent == null ? "" : parent.parent == null ? name : parent.path() + "." + name;
    }

    boolean isMergeHolder() {
      return self != null && !children.isEmpty();
    }
  }

  /** An item of a module's sequence: a child module, or a layer of the module itself (no name of its own). */
  static final class Unit {
    final Mod mod; // a child module, or null
    final Layer layer; // a functional layer, or null
    final Set<Integer> layers = new LinkedHashSet<>();
    int out = -1; // the layer whose value leaves the unit
    boolean inline;
    String label; // assigned when written

    Unit(Mod mod, Layer layer) {
      this.mod = mod;
      this.layer = layer;
    }

    String name() {
      return mod != null ? mod.name : null;
    }

    boolean numbered() {
      return mod != null && NUMBER.matcher(mod.name).matches();
    }

    Layer leaf() {
      return layer != null ? layer : mod.children.isEmpty() ? mod.self : null;
    }
  }

  private final Mod root = new Mod("", null);
  private final Map<Integer, List<Unit>> unitsOfLayer = new HashMap<>(); // the units holding each layer, outermost first
  private final List<Seq> open = new ArrayList<>();
  private final Map<Integer, Mod> ownerOf = new HashMap<>(); // the module whose sequence holds the layer's unit
  private final Map<Integer, List<Integer>> readers = new HashMap<>();
  private final Set<Integer> outputLayers = new HashSet<>();
  // requests found while writing: written again until none is new
  private final Set<Integer> wantLabel = new HashSet<>();
  private final Set<Mod> wantInputLabel = new HashSet<>();
  private boolean again;

  // the text being written
  private StringBuilder out;
  private final List<Map<Integer, String>> scopes = new ArrayList<>();
  /** The layers in the order the compiler will create nodes; -1 for an identity the writer adds. */
  List<Integer> order;

  SpecWriter(ImportedNet net) {
    this.net = net;
  }

  // ---- names ------------------------------------------------------------------------------------

  private final Map<String, String> renamed = new LinkedHashMap<>();

  /**
   * A path component as a cnnc name: a number, an identifier that is no keyword, or a quoted name
   * ({@code "block1-0"}, {@code "block"}: letters, digits, {@code _} and {@code -}); others rewritten.
   */
  String component(String c) {
    if (!NUMBER.matcher(c).matches() && !(ID.matcher(c).matches() && !Labels.keyword(c))
        && org.cnnc.compiler.syntax.Labels.QUOTED.matcher(c).matches()
        && c.length() <= 64) {
      return '"' + c + '"';
    }
    return plainComponent(c);
  }

  /** A path component as a number or an identifier that is no keyword; others rewritten. */
  String plainComponent(String c) {
    if (NUMBER.matcher(c).matches() || ID.matcher(c).matches() && !Labels.keyword(c)) {
      return c;
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < c.length() && b.length() < 64; i++) {
      char ch = c.charAt(i);
      b.append(ch < 128 && (Character.isLetterOrDigit(ch) || ch == '_') ? ch : '_');
    }
    String s = b.toString();
    if (s.isEmpty() || Character.isDigit(s.charAt(0))) {
      s = "_" + s;
    }
    if (Labels.keyword(s)) {
      s = s + "_";
    }
    renamed.putIfAbsent(c, s);
    return s;
  }

  static String labelHint(Layer l) {
    String h = l.hint;
    if (h != null && ID.matcher(h).matches() && !Labels.keyword(h) && h.length() <= 40) {
      return h;
    }
    return switch (l.op) {
      case "add" -> "sum";
      case "concat" -> "cat";
      case "mul" -> "prod";
      default -> l.op;
    };
  }

  // ---- module tree ------------------------------------------------------------------------------

  /** Components of a module path: deeper ones would nest groups past what the compiler reads (256 levels). */
  static final int MAX_DEPTH = 64;

  private void tree() throws ImportException {
    for (Layer l : net.layers) {
      for (int in : l.inputs) {
        readers.computeIfAbsent(in, k -> new ArrayList<>()).add(l.id);
      }
    }
    net.outputs.forEach(e -> outputLayers.add(e.getValue()));
    List<Layer> pathless = new ArrayList<>();
    Map<Mod, List<Layer>> scoped = new LinkedHashMap<>();
    for (Layer l : net.layers) {
      if (l.op.equals("input")) {
        continue;
      }
      if (l.path == null || l.path.isEmpty() || l.path.stream().anyMatch(String::isEmpty)) {
        if (l.path != null && l.path.isEmpty()) {
          root.functionals.add(l);
        } else {
          pathless.add(l);
        }
        continue;
      }
      if (l.path.size() > MAX_DEPTH) {
        throw new ImportException("node `" + OnnxReader.show(l.onnxNode) + "` (" + OnnxReader.show(l.onnxOp) + ") is in a module "
            + "path of " + l.path.size() + " components; cnnc imports paths of at most " + MAX_DEPTH);
      }
      Mod m = root;
      for (String c : l.path) {
        String name = component(c);
        Mod parent = m;
        m = m.children.computeIfAbsent(name, k -> new Mod(k, parent));
      }
      if (m.self == null) {
        m.self = l;
      } else if (l.tensors.isEmpty() && m.self.tensors.isEmpty() && inScope(l) && inScope(m.self)) {
        scoped.computeIfAbsent(m, k -> new ArrayList<>()).add(l);
      } else if (!m.self.tensors.isEmpty() || l.tensors.isEmpty()) {
        displace(m, l);
      } else {
        m.parent.functionals.add(m.self);
        m.self = l;
      }
    }
    // torch's functional steps within a module's forward (/stage2/stage2.1/Concat, .../Slice) are
    // the module's own layers when it has children; in a leaf they stand beside it, as above
    scoped.forEach((m, ls) -> ls.forEach(l -> {
      if (m.children.isEmpty()) {
        displace(m, l);
      } else {
        m.functionals.add(l);
      }
    }));
    settle(root);
    // a layer no name places goes into the deepest module that holds what it reads and what reads it
    for (Layer l : pathless) {
      Mod m = null;
      for (int in : l.inputs) {
        m = common(m, ownerOrRoot(in));
      }
      for (int r : readers.getOrDefault(l.id, List.of())) {
        if (ownerOf.containsKey(r)) {
          m = common(m, ownerOf.get(r));
          break;
        }
      }
      m = m == null ? root : m;
      m.functionals.add(l);
      ownerOf.put(l.id, m);
    }
  }

  /** A second layer named by module {@code m}: one of its parent's, named after it. */
  private static void displace(Mod m, Layer l) {
    m.parent.functionals.add(l);
    l.hint = m.name.matches("[A-Za-z_].*") ? m.name + "_1" : l.hint;
  }

  /** Whether the layer's path is the torch scope its node ran in ({@code /a/a.0/Concat}), not a module it is. */
  private static boolean inScope(Layer l) {
    return !l.fromInitializers && l.onnxNode != null && l.onnxNode.startsWith("/");
  }

  private Mod ownerOrRoot(int layer) {
    return ownerOf.getOrDefault(layer, root);
  }

  private static Mod common(Mod a, Mod b) {
    if (a == null) {
      return b;
    }
    Set<Mod> up = new HashSet<>();
    for (Mod m = a; m != null; m = m.parent) {
      up.add(m);
    }
    for (Mod m = b; m != null; m = m.parent) {
      if (up.contains(m)) {
        return m;
      }
    }
    return null;
  }

  /** Decides what each module's own layer is, and records each layer's owner. */
  private void settle(Mod m) {
    if (m.self != null && !m.children.isEmpty()) {
      Layer s = m.self;
      boolean holder = s.isMerge() && m.children.keySet().stream().allMatch(k -> NUMBER.matcher(k).matches()
          && Integer.parseInt(k) < s.inputs.size());
      if (!holder) {
        // a layer named like a module with children is the module's own (functional) layer
        m.functionals.add(0, s);
        m.self = null;
      }
    }
    if (m.self != null) {
      ownerOf.put(m.self.id, m.parent);
    }
    for (Layer f : m.functionals) {
      ownerOf.put(f.id, m);
    }
    for (Mod c : m.children.values()) {
      settle(c);
    }
  }

  // ---- units and their order --------------------------------------------------------------------

  private void units(Mod m) throws ImportException {
    List<Unit> us = new ArrayList<>();
    for (Mod c : m.children.values()) {
      Unit u = new Unit(c, null);
      collect(c, u.layers);
      us.add(u);
    }
    for (Layer f : m.functionals) {
      Unit u = new Unit(null, f);
      u.layers.add(f.id);
      us.add(u);
    }
    Map<Integer, Unit> of = new HashMap<>();
    for (Unit u : us) {
      for (int l : u.layers) {
        of.put(l, u);
      }
    }
    // the value that leaves each unit, and the order of the units by data flow (then by first layer)
    Map<Unit, Set<Unit>> after = new HashMap<>();
    Map<Unit, Integer> waiting = new HashMap<>();
    for (Unit u : us) {
      waiting.put(u, 0);
    }
    for (Unit u : us) {
      Set<Integer> exits = new LinkedHashSet<>();
      for (int l : u.layers) {
        for (int r : readers.getOrDefault(l, List.of())) {
          if (!u.layers.contains(r)) {
            exits.add(l);
            Unit v = of.get(r);
            if (v != null && after.computeIfAbsent(u, k -> new LinkedHashSet<>()).add(v)) {
              waiting.merge(v, 1, Integer::sum);
            }
          }
        }
        if (outputLayers.contains(l)) {
          exits.add(l);
        }
      }
      if (u.mod != null && u.mod.isMergeHolder()) {
        exits.removeIf(x -> x != u.mod.self.id);
      }
      if (exits.size() > 1) {
        throw new ImportException("module `" + OnnxReader.show(u.mod.path()) + "` has " + exits.size()
            + " values read outside it (" + String.join(", ", exits.stream().map(x -> "`"
            + OnnxReader.show(net.layers.get(x).onnxNode) + "`").toList()) + "); a group of a spec has one output");
      }
      u.out = exits.isEmpty() ? u.mod != null && u.mod.isMergeHolder() ? u.mod.self.id
          : u.layers.stream().mapToInt(Integer::intValue).max().orElseThrow() : exits.iterator().next();
    }
    List<Unit> ready = new ArrayList<>();
    for (Unit u : us) {
      if (waiting.get(u) == 0) {
        ready.add(u);
      }
    }
    List<Unit> sorted = new ArrayList<>();
    while (!ready.isEmpty()) {
      Unit best = ready.get(0);
      for (Unit u : ready) {
        if (first(u) < first(best)) {
          best = u;
        }
      }
      ready.remove(best);
      sorted.add(best);
      for (Unit v : after.getOrDefault(best, Set.of())) {
        if (waiting.merge(v, -1, Integer::sum) == 0) {
          ready.add(v);
        }
      }
    }
    if (sorted.size() != us.size()) {
      throw new ImportException("the layers of module `" + OnnxReader.show(m.path().isEmpty() ? "(model)" : m.path())
          + "` interleave with those of its siblings in the data flow, so it cannot be one group of a spec");
    }
    m.units = sorted;
    for (Unit u : sorted) {
      for (int l : u.layers) {
        unitsOfLayer.computeIfAbsent(l, k -> new ArrayList<>()).add(u);
      }
    }
    for (Mod c : m.children.values()) {
      if (!c.children.isEmpty()) {
        if (c.isMergeHolder()) {
          for (Mod b : c.children.values()) {
            if (!b.children.isEmpty()) {
              units(b);
            }
          }
        } else {
          units(c);
        }
      }
    }
  }

  private static int first(Unit u) {
    return u.layers.iterator().next();
  }

  private void collect(Mod m, Set<Integer> into) {
    if (m.self != null) {
      into.add(m.self.id);
    }
    for (Layer f : m.functionals) {
      into.add(f.id);
    }
    for (Mod c : m.children.values()) {
      collect(c, into);
    }
    // the merge a holder is comes after its branches
    if (m.isMergeHolder()) {
      into.remove(m.self.id);
      into.add(m.self.id);
    }
  }

  // ---- writing ----------------------------------------------------------------------------------

  /** The spec's text of the model. */
  String write(String modelName, String header) throws ImportException {
    tree();
    units(root);
    plan(root);
    for (int round = 0; ; round++) {
      again = false;
      out = new StringBuilder(header);
      order = new ArrayList<>();
      scopes.clear();
      open.clear();
      topLabels.clear();
      notes.clear();
      renamedNotes();
      out.append("model ").append(modelName).append(" {\n");
      Map<Integer, String> top = new HashMap<>();
      scopes.add(top);
      int tail = -1;
      for (Layer l : net.layers) {
        if (l.op.equals("input")) {
          boolean plain = l.onnxNode.equals("input");
          String name = plain ? "input" : component(l.onnxNode);
          if (Labels.keyword(name) && !plain) {
            name = name + "_";
          }
          out.append("    input ").append(plain ? "" : name + " ").append(shape(l.shape)).append('\n');
          top.put(l.id, plain ? "input" : name);
          order.add(l.id);
          tail = l.id;
        }
      }
      Seq s = new Seq(root, tail, "    ");
      s.names.addAll(top.values());
      tail = seq(s);
      outputs(tail, s);
      out.append("}\n");
      if (!again) {
        return out.toString();
      }
      if (round > 50) {
        throw new IllegalStateException("the spec writer does not settle");
      }
    }
  }

  private void renamedNotes() {
    renamed.forEach((from, to) -> notes.add("the name `" + OnnxReader.show(from) + "` is not a cnnc name: written `" + to + "`"));
  }

  static String shape(int[] s) {
    StringBuilder b = new StringBuilder("[");
    for (int i = 0; i < s.length; i++) {
      b.append(i > 0 ? ", " : "").append(s[i]);
    }
    return b.append(']').toString();
  }

  /** A sequence being written: its module, where it starts, its positions and the names taken. */
  final class Seq {
    final Mod mod;
    final int entry;
    final String indent;
    int pos;
    final Set<String> names = new HashSet<>();
    /** The labels of this sequence, while it is written. */
    Map<Integer, String> scope;

    Seq(Mod mod, int entry, String indent) {
      this.mod = mod;
      this.entry = entry;
      this.indent = indent;
      for (Unit u : mod.units) {
        if (u.mod != null) {
          names.add(u.mod.name);
        }
      }
    }
  }

  /** Writes a module's sequence; returns the value it ends with. */
  private int seq(Seq s) {
    Map<Integer, String> scope = new HashMap<>();
    s.scope = scope;
    scopes.add(scope);
    open.add(s);
    int tail = s.entry;
    if (wantInputLabel.contains(s.mod)) {
      String x = fresh(s, "x");
      out.append(s.indent).append(x).append(": identity  // the input, for the reads below\n");
      order.add(-1);
      scope.put(s.entry, x);
      s.pos++;
    }
    List<Unit> units = s.mod.units;
    for (int i = 0; i < units.size(); i++) {
      Unit u = units.get(i);
      if (u.inline) {
        continue;
      }
      if (u.numbered() && constrained(u)) {
        int want = Integer.parseInt(u.mod.name);
        while (s.pos < want) {
          out.append(s.indent).append("identity  // ").append(pathOf(s.mod, Integer.toString(s.pos)))
              .append(": no node in the ONNX graph (a dropout in eval mode?)\n");
          order.add(-1);
          s.pos++;
        }
        if (s.pos > want) {
          notes.add("`" + OnnxReader.show(pathOf(s.mod, u.mod.name)) + "` is written at position " + s.pos
              + ": its tensors are named `" + OnnxReader.show(pathOf(s.mod, Integer.toString(s.pos))) + ".*`");
        }
      }
      int entry = entry(u);
      wrapBudget = positionsWanted(s, units, i);
      wrapped = 0;
      StringBuilder line = new StringBuilder(s.indent);
      String comment = u.leaf() != null && u.leaf().comment != null ? "  // " + u.leaf().comment : "";
      line.append(element(s, u, tail));
      if (entry >= 0 && entry != tail) {
        line.append(" from ").append(labelOf(entry, s));
      }
      out.append(line).append(comment).append('\n');
      s.pos += 1 + wrapped;
      wrapBudget = 0;
      tail = u.out;
      if (u.label != null) {
        scope.put(u.out, u.label);
      }
    }
    if (s.mod == root) {
      topLabels.putAll(scope);
    }
    open.remove(open.size() - 1);
    scopes.remove(scopes.size() - 1);
    return tail;
  }

  /** Decides the inline branches of every sequence, innermost first (a group starts where its first item does). */
  private void plan(Mod m) {
    for (Unit u : m.units) {
      if (u.mod != null && !u.mod.children.isEmpty()) {
        if (u.mod.isMergeHolder()) {
          for (Mod b : u.mod.children.values()) {
            if (!b.children.isEmpty()) {
              plan(b);
            }
          }
        } else {
          plan(u.mod);
        }
      }
    }
    planInline(m.units);
  }

  private int wrapBudget;
  private int wrapped;

  /**
   * How many positions a merge at {@code units[i]} should take beyond its own so that the next
   * numbered item lands on its number: a labeled branch written as {@code repeat 1 { ... }} takes
   * a position of the sequence (as cnnc's own `from x -> repeat n { downsample: ... }` does).
   */
  private int positionsWanted(Seq s, List<Unit> units, int i) {
    Unit u = units.get(i);
    boolean merge = u.leaf() != null && u.leaf().isMerge() || u.mod != null && u.mod.isMergeHolder();
    if (!merge) {
      return 0;
    }
    int between = 0;
    for (int j = i + 1; j < units.size(); j++) {
      Unit v = units.get(j);
      if (v.inline) {
        continue;
      }
      if (v.numbered()) {
        return Math.max(0, Integer.parseInt(v.mod.name) - (s.pos + 1 + between));
      }
      between++;
    }
    return 0;
  }

  private String pathOf(Mod m, String child) {
    return m.path().isEmpty() ? child : m.path() + "." + child;
  }

  private boolean constrained(Unit u) {
    return u.layers.stream().anyMatch(l -> net.layers.get(l).fromInitializers);
  }

  /** The value a unit starts from, or -1 when it starts from none in particular (a merge reading labels only). */
  private int entry(Unit u) {
    Layer leaf = u.leaf();
    if (leaf != null && !leaf.isMerge()) {
      return leaf.inputs.get(0);
    }
    if (leaf != null || u.mod.isMergeHolder()) {
      return mergeEntry(u);
    }
    for (Unit c : u.mod.units) {
      if (!c.inline) {
        return entry(c);
      }
    }
    return -1;
  }

  private final Map<Unit, Integer> mergeEntries = new HashMap<>();

  private int mergeEntry(Unit u) {
    return mergeEntries.getOrDefault(u, -1);
  }

  /** Which units of a sequence a merge takes inline as branches (those only it reads, not a plain continuation). */
  private void planInline(List<Unit> units) {
    for (Unit u : units) {
      u.inline = false;
    }
    for (int i = 0; i < units.size(); i++) {
      Unit m = units.get(i);
      Layer merge = m.leaf() != null && m.leaf().isMerge() ? m.leaf() : m.mod != null && m.mod.isMergeHolder() ? m.mod.self : null;
      if (merge == null) {
        continue;
      }
      Map<Integer, Unit> cands = new LinkedHashMap<>();
      for (int t : merge.inputs) {
        Unit c = unitProducing(units, t);
        if (c != null && c != m && units.indexOf(c) < i && !outputLayers.contains(t) && !c.numbered()
            && readers.getOrDefault(t, List.of()).stream().allMatch(r -> r == merge.id)
            && merge.inputs.stream().filter(x -> x == t).count() == 1 && entry(c) >= 0) {
          cands.put(t, c);
        }
      }
      List<Integer> holderEntries = new ArrayList<>();
      if (m.mod != null && m.mod.isMergeHolder()) {
        for (Mod b : m.mod.children.values()) {
          Unit bu = branchUnit(b);
          holderEntries.add(entry(bu));
        }
      }
      // a candidate that reads the tail before it continues the chain: it stays a statement, unless other
      // branches start where it does (Inception's branches) or the merge reads its start too (x + f(x))
      int tailBefore = -2;
      List<Unit> kept = new ArrayList<>();
      for (int j = 0; j < i; j++) {
        Unit u = units.get(j);
        boolean isCand = cands.containsValue(u);
        int e = isCand ? entry(u) : -3;
        boolean continues = isCand && (tailBefore == -2 || e == tailBefore);
        boolean shared = false;
        if (isCand) {
          for (Unit o : cands.values()) {
            shared |= o != u && entry(o) == e;
          }
          shared |= holderEntries.contains(e) || merge.inputs.contains(e);
        }
        if (isCand && (!continues || shared)) {
          u.inline = true;
          kept.add(u);
        } else if (!u.inline) {
          tailBefore = u.out;
        }
      }
      // a numbered merge lands on its number: branches written inline take no position of the
      // sequence, so the first of them are written as items before it (regnet's `f`, then
      // add(from f, proj: ...) at position 2, as cnnc's own spec writes it)
      if (m.numbered() && !kept.isEmpty()) {
        int before = 0;
        for (int j = 0; j < i; j++) {
          before += units.get(j).inline ? 0 : 1;
        }
        for (int want = Integer.parseInt(m.mod.name); before < want && !kept.isEmpty(); before++) {
          kept.remove(0).inline = false;
        }
      }
      if (!kept.isEmpty() || !holderEntries.isEmpty()) {
        // the merge starts where its inline branches do, when they agree
        int e = !kept.isEmpty() ? entry(kept.get(0)) : holderEntries.get(0);
        mergeEntries.put(m, e);
      } else {
        mergeEntries.put(m, -1);
      }
    }
  }

  private Unit branchUnit(Mod b) {
    Unit u = new Unit(b, null);
    collect(b, u.layers);
    u.out = b.children.isEmpty() ? b.self.id : lastOut(b);
    return u;
  }

  private int lastOut(Mod b) {
    Unit last = b.units.get(b.units.size() - 1);
    return last.out;
  }

  private Unit unitProducing(List<Unit> units, int value) {
    for (Unit u : units) {
      if (u.out == value) {
        return u;
      }
    }
    return null;
  }

  /** An item as text: its label, if any, and its term. */
  private String element(Seq s, Unit u, int tail) {
    String label = null;
    if (u.mod != null && !NUMBER.matcher(u.mod.name).matches()) {
      label = u.mod.name;
    } else if (u.mod == null && wantLabel.contains(u.layer.id)) {
      label = fresh(s, labelHint(u.layer));
    } else if (u.mod != null && wantLabel.contains(u.out) && u.out >= 0) {
      label = fresh(s, u.leaf() != null ? labelHint(u.leaf()) : "part");
    }
    u.label = label;
    String term = term(s, u, tail);
    return label == null ? term : label + ": " + term;
  }

  private String fresh(Seq s, String base) {
    String name = base;
    for (int i = 1; s.names.contains(name) || Labels.keyword(name); i++) {
      name = base + "_" + i;
    }
    s.names.add(name);
    return name;
  }

  private String term(Seq s, Unit u, int tail) {
    Layer leaf = u.leaf();
    if (leaf != null && !leaf.isMerge()) {
      order.add(leaf.id);
      return leaf.call();
    }
    if (leaf != null || u.mod.isMergeHolder()) {
      return merge(s, u, tail);
    }
    Seq inner = new Seq(u.mod, entryFor(u, tail), s.indent + "    ");
    StringBuilder b = new StringBuilder("{\n");
    StringBuilder saved = out;
    out = b;
    seq(inner);
    out = saved;
    return b.append(s.indent).append('}').toString();
  }

  private int entryFor(Unit u, int tail) {
    int e = entry(u);
    return e >= 0 ? e : tail;
  }

  /** A merge: its inline branches and {@code from} reads of the others. */
  private String merge(Seq s, Unit u, int tail) {
    Layer m = u.leaf() != null ? u.leaf() : u.mod.self;
    int budget = wrapBudget;
    int used = 0;
    int start = mergeEntry(u) >= 0 ? mergeEntry(u) : tail;
    Map<Integer, Unit> inline = new HashMap<>();
    for (Unit c : s.mod.units) {
      if (c.inline && m.inputs.contains(c.out)) {
        inline.put(c.out, c);
      }
    }
    Map<Integer, Mod> holders = new HashMap<>();
    if (u.mod != null && u.mod.isMergeHolder()) {
      for (Mod b : u.mod.children.values()) {
        holders.put(Integer.parseInt(b.name), b);
      }
    }
    boolean labeledMerge = u.mod != null && !NUMBER.matcher(u.mod.name).matches();
    Seq bseq = labeledMerge ? new Seq(emptyMod(u.mod), start, s.indent) : s;
    if (labeledMerge) {
      scopes.add(new HashMap<>());
    }
    List<String> branches = new ArrayList<>();
    for (int j = 0; j < m.inputs.size(); j++) {
      int t = m.inputs.get(j);
      Mod holder = holders.get(j);
      if (holder != null) {
        Unit bu = branchUnit(holder);
        int e = entry(bu);
        String prefix = e >= 0 && e != start ? "from " + labelOf(e, s) + " -> " : "";
        if (holder.children.isEmpty()) {
          order.add(holder.self.id);
          branches.add(prefix + holder.self.call());
        } else {
          branches.add(prefix + chainOf(holder, e >= 0 ? e : start, s.indent));
        }
      } else if (inline.containsKey(t)) {
        Unit c = inline.get(t);
        int e = entry(c);
        String prefix = e >= 0 && e != start ? "from " + labelOf(e, s) + " -> " : "";
        String el = element(bseq, c, e >= 0 ? e : start);
        if (c.label != null && used < budget && !labeledMerge) {
          el = "repeat 1 { " + el + " }";
          used++;
        }
        branches.add(prefix + el);
        if (c.label != null) {
          scopes.get(scopes.size() - 1).put(c.out, c.label);
        }
      } else if (t == start && !visible(t) && !isFree(t)) {
        order.add(-1);
        branches.add("identity");
      } else {
        branches.add("from " + labelOf(t, s));
      }
    }
    if (labeledMerge) {
      scopes.remove(scopes.size() - 1);
    }
    order.add(m.id);
    wrapped = used;
    String kw = m.op;
    String one = kw + "(" + String.join(", ", branches) + ")";
    if (one.length() + s.indent.length() <= 100 && !one.contains("\n")) {
      return one;
    }
    StringBuilder b = new StringBuilder(kw).append("(\n");
    for (String br : branches) {
      b.append(s.indent).append("    ").append(br.replace("\n", "\n    ")).append(",\n");
    }
    return b.append(s.indent).append(')').toString();
  }

  private Mod emptyMod(Mod m) {
    Mod e = new Mod(m.name, m.parent);
    e.units = List.of();
    return e;
  }

  /** A branch of several numbered items, written as a chain: {@code a -> b -> c}. */
  private String chainOf(Mod holder, int entry, String indent) {
    Seq s = new Seq(holder, entry, indent + "    ");
    List<String> items = new ArrayList<>();
    int tail = entry;
    for (Unit u : holder.units) {
      items.add(element(s, u, tail));
      tail = u.out;
    }
    return String.join(" -> ", items);
  }

  private boolean visible(int value) {
    for (Map<Integer, String> sc : scopes) {
      if (sc.containsKey(value)) {
        return true;
      }
    }
    return false;
  }

  /** The label a read of {@code value} uses; asks for one (and writes again) when none is visible. */
  private String labelOf(int value, Seq s) {
    for (int i = scopes.size() - 1; i >= 0; i--) {
      String l = scopes.get(i).get(value);
      if (l != null) {
        Seq own = ownInput(value, scopes.get(i));
        if (own == null) {
          return l;
        }
        wantInputLabel.add(own.mod);
        again = true;
        return "?";
      }
    }
    again = true;
    Unit named = null;
    for (Unit u : unitsOfLayer.getOrDefault(value, List.of())) {
      if (u.out == value) {
        named = u;
        break;
      }
    }
    if (named != null && (named.mod == null || named.numbered() && !constrained(named))) {
      wantLabel.add(value);
      return "?";
    }
    // the input of an open sequence: an identity at its start labels it
    for (int i = open.size() - 1; i >= 0; i--) {
      if (open.get(i).entry == value && !wantInputLabel.contains(open.get(i).mod)) {
        wantInputLabel.add(open.get(i).mod);
        return "?";
      }
    }
    if (!wantLabel.add(value)) {
      again = false; // nothing more to ask: the compiled spec will show what is wrong
    }
    return "?";
  }

  /**
   * The group being written, when {@code value} is its input, it reads nothing else outside itself
   * and {@code value} is labelled outside it: its reads of its input then go through its own {@code
   * x: identity}, so that the group reads nothing outside itself and equal groups are equal text
   * (torch's first residual block of a stage reads {@code maxpool} or {@code layer1}, the others
   * their input: all read {@code x}, and they become one block).
   */
  private Seq ownInput(int value, Map<Integer, String> labelled) {
    Seq o = open.isEmpty() ? null : open.get(open.size() - 1);
    if (o == null || o.entry != value || o.mod == root || o.scope == null || o.scope == labelled) {
      return null;
    }
    Set<Integer> outside = readsOutside.computeIfAbsent(o.mod, m -> {
      Set<Integer> inside = new HashSet<>();
      collect(m, inside);
      Set<Integer> reads = new HashSet<>();
      for (int l : inside) {
        for (int in : net.layers.get(l).inputs) {
          if (!inside.contains(in)) {
            reads.add(in);
          }
        }
      }
      return reads;
    });
    return outside.size() == 1 && outside.contains(value) ? o : null;
  }

  /** The values each module reads outside itself (computed once: a hostile graph may read a group's input often). */
  private final Map<Mod, Set<Integer>> readsOutside = new HashMap<>();

  private boolean isFree(int value) {
    for (Unit u : unitsOfLayer.getOrDefault(value, List.of())) {
      if (u.out == value) {
        return u.mod == null;
      }
    }
    return false;
  }

  // ---- outputs ----------------------------------------------------------------------------------

  private void outputs(int tail, Seq s) {
    if (net.outputs.size() == 1 && net.outputs.get(0).getKey().equals("output") && net.outputs.get(0).getValue() == tail) {
      return;
    }
    scopes.add(new HashMap<>());
    for (Map.Entry<String, Integer> o : net.outputs) {
      String name = plainComponent(o.getKey());
      if (Labels.keyword(name) || !ID.matcher(name).matches()) {
        name = name + "_";
        notes.add("output `" + OnnxReader.show(o.getKey()) + "` is written `" + name + "`");
      }
      out.append("    output ").append(name);
      if (o.getValue() != tail) {
        out.append(" from ").append(labelOfOutput(o.getValue(), s));
      }
      out.append('\n');
    }
    scopes.remove(scopes.size() - 1);
  }

  private String labelOfOutput(int value, Seq s) {
    String l = topLabels.get(value);
    if (l != null) {
      return l;
    }
    for (Map<Integer, String> sc : scopes) {
      if (sc.containsKey(value)) {
        return sc.get(value);
      }
    }
    if (wantLabel.add(value)) {
      again = true;
    }
    return "?";
  }

  private final Map<Integer, String> topLabels = new HashMap<>();
}
