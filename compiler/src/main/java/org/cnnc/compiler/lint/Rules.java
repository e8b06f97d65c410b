// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.lint;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.diag.Severity;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.lint.Rule.Category;
import org.cnnc.compiler.sema.Evaluator;
import org.cnnc.compiler.sema.Expander;
import org.cnnc.compiler.sema.Program;
import org.cnnc.compiler.sema.Resolver;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.Trait;
import org.cnnc.compiler.source.Span;
import org.cnnc.compiler.summary.SummaryRenderer;

/** The lint rules: each checks one thing and reports at the tightest span. */
public final class Rules {
  private Rules() {}

  public static final Rule SOFTMAX_BEFORE_CROSS_ENTROPY = new Rule("SOFTMAX_BEFORE_CROSS_ENTROPY", Category.CORRECTNESS,
      Severity.WARNING, "a softmax feeding a cross-entropy loss, which applies softmax again",
      "drop the softmax: cross_entropy (PyTorch's CrossEntropyLoss) takes logits; or use loss = nll on log_softmax");
  public static final Rule ACTIVATION_BEFORE_SOFTMAX = new Rule("ACTIVATION_BEFORE_SOFTMAX", Category.CORRECTNESS,
      Severity.WARNING, "a relu or sigmoid right before a softmax: the class scores cannot be negative",
      "remove the activation: the last layer before softmax should produce unbounded scores");
  public static final Rule DENSE_ON_MAP = new Rule("DENSE_ON_MAP", Category.SUSPICIOUS, Severity.WARNING,
      "a dense layer on a [C, H, W] input without an explicit flatten",
      "write `flatten` before it: cnnc flattens implicitly, but PyTorch's nn.Linear would act on the last dimension only");
  public static final Rule WINDOW_DROPS_INPUT = new Rule("WINDOW_DROPS_INPUT", Category.SUSPICIOUS, Severity.NOTE,
      "a conv or pool whose windows never reach the last rows or columns of its input (floor mode)",
      "pad the input, change the stride or kernel, or use ceil = true for pooling");
  public static final Rule CEIL_NO_EFFECT = new Rule("CEIL_NO_EFFECT", Category.HYGIENE, Severity.NOTE,
      "ceil = true on a pool whose output floor mode gives anyway", "remove `ceil = true`");
  public static final Rule UNUSED_NODE = new Rule("UNUSED_NODE", Category.HYGIENE, Severity.WARNING,
      "a layer whose output nothing reads and that is no output", "use it (`from name`), make it an output, or remove it");
  public static final Rule UNUSED_BLOCK = new Rule("UNUSED_BLOCK", Category.HYGIENE, Severity.WARNING,
      "a block that no model uses", "remove it, or use it in a model");
  public static final Rule UNUSED_PARAMETER = new Rule("UNUSED_PARAMETER", Category.HYGIENE, Severity.WARNING,
      "a block or model parameter that its body never reads", "remove the parameter, or use it");
  public static final Rule SHADOWED_NAME = new Rule("SHADOWED_NAME", Category.HYGIENE, Severity.WARNING,
      "a name that hides another: a nested label named like an enclosing one, a parameter named like an op or block",
      "rename it");
  public static final Rule OUTPUT_NOT_CLASSES = new Rule("OUTPUT_NOT_CLASSES", Category.CORRECTNESS, Severity.WARNING,
      "a classification output (cross_entropy or nll) that is not [classes] or [classes, 1, 1], nor a segmentation "
          + "map (cross_entropy on [classes, H, W] at the input's H x W, made by a 1x1 conv)",
      "pool or flatten to one score per class before the output; for segmentation, end in a 1x1 conv and "
          + "upsample to the input's size");
  public static final Rule INPUT_SIZES = new Rule("INPUT_SIZES", Category.CONTRACT, Severity.WARNING,
      "input sizes that `expect input [...]` declares but the network rejects",
      "adjust the layers, or narrow the declared sizes");
  public static final Rule BUDGET_EXCEEDED = new Rule("BUDGET_EXCEEDED", Category.CONTRACT, Severity.ERROR,
      "a network over an `expect params/macs/buffers <= N` budget", "shrink the network, or raise the budget");

  /** The rules, in documentation order. */
  public static final List<Rule> ALL = List.of(SOFTMAX_BEFORE_CROSS_ENTROPY, ACTIVATION_BEFORE_SOFTMAX, DENSE_ON_MAP,
      WINDOW_DROPS_INPUT, CEIL_NO_EFFECT, UNUSED_NODE, UNUSED_BLOCK, UNUSED_PARAMETER, SHADOWED_NAME,
      OUTPUT_NOT_CLASSES, INPUT_SIZES, BUDGET_EXCEEDED);

  /** The compiler's own errors as rules, under their ids. */
  public static Rule compiler(String id) {
    String purpose;
    try {
      purpose = Code.valueOf(id).summary();
    } catch (IllegalArgumentException e) {
      purpose = "a compiler error";
    }
    return new Rule(id, Category.COMPILER, Severity.ERROR, purpose, "");
  }

  public static Rule byId(String id) {
    return ALL.stream().filter(r -> r.id().equals(id)).findFirst().orElseGet(() -> compiler(id));
  }

  public static boolean known(String id) {
    if (ALL.stream().anyMatch(r -> r.id().equals(id))) {
      return true;
    }
    try {
      Code.valueOf(id);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /** Where checks report; the linter applies configuration and suppressions. */
  interface Sink {
    void report(Rule rule, Diagnostic.Builder d);
  }

  static Diagnostic.Builder at(Rule rule, Span span, String message) {
    return Diagnostic.of(rule.id(), rule.severity(), span, message).help(rule.help());
  }

  // ---- checks on networks ----------------------------------------------------------------------

  /** Whether a node's op has a trait (the network's input has none). */
  private static boolean is(Node node, Trait t) {
    OpDef def = Ops.get(node.op());
    return def != null && def.has(t);
  }

  static void network(Network n, Sink sink) {
    Map<Integer, List<Integer>> consumers = new HashMap<>();
    for (Node node : n.nodes()) {
      for (int in : node.inputs()) {
        consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(node.id());
      }
    }
    Set<Integer> outputs = new LinkedHashSet<>();
    n.outputs().forEach(o -> outputs.add(o.node()));

    for (Output o : n.outputs()) {
      Node node = n.node(o.node());
      if (o.loss().equals("cross_entropy")) {
        Node softmax = back(n, node, Trait.PASSES_VALUES, Trait.PROBABILITIES);
        if (softmax != null) {
          int classes = node.shape().dim(0);
          double floor = Math.log(classes - 1 + Math.E) - 1;
          sink.report(SOFTMAX_BEFORE_CROSS_ENTROPY, at(SOFTMAX_BEFORE_CROSS_ENTROPY, softmax.span(),
                  "softmax feeds the cross-entropy loss of output `" + o.name() + "`, which applies softmax again")
              .label("probabilities, then softmax again in the loss")
              .note(String.format(Locale.ROOT, "with %d classes the loss can never go below log(C - 1 + e) - 1 = %.4f, "
                  + "and its gradients shrink", classes, floor)));
        }
      }
      if (o.loss().equals("cross_entropy") || o.loss().equals("nll")) {
        int[] d = node.shape().dims();
        boolean scores = d.length == 1 || (d.length == 3 && d[1] == 1 && d[2] == 1);
        if (!scores && !(o.loss().equals("cross_entropy") && perPixelClassifier(n, node))) {
          sink.report(OUTPUT_NOT_CLASSES, at(OUTPUT_NOT_CLASSES, o.span(),
                  "output `" + o.name() + "` has shape " + node.shape() + ", not one score per class")
              .label("a " + o.loss() + " output"));
        }
      }
    }
    for (Node node : n.nodes()) {
      if (is(node, Trait.PROBABILITIES)) {
        Node act = node.inputs().isEmpty() ? null : back(n, n.node(node.inputs().get(0)), Trait.KEEPS_SIGN, Trait.NON_NEGATIVE);
        if (act != null) {
          sink.report(ACTIVATION_BEFORE_SOFTMAX, at(ACTIVATION_BEFORE_SOFTMAX, act.span(),
                  "`" + act.op() + "` before `" + node.op() + "`: the scores it normalizes can never be negative")
              .label("scores made non-negative: " + Ops.of(act.op()).summary())
              .note("the " + node.op() + " is at " + node.span().location(), node.span()));
        }
      }
      if (Ops.get(node.op()) != null && Ops.get(node.op()).category() == org.cnnc.compiler.shape.Category.DENSE) {
        Node in = n.node(node.inputs().get(0));
        if (in.shape().rank() == 3) {
          sink.report(DENSE_ON_MAP, at(DENSE_ON_MAP, node.span(),
                  "`" + node.op() + "` on the " + in.shape() + " feature map flattens it implicitly")
              .label("reads " + in.shape()));
        }
      }
      if (is(node, Trait.WINDOWED)) {
        windows(n, node, sink);
      }
      if (!node.op().equals("input") && !consumers.containsKey(node.id()) && !outputs.contains(node.id())) {
        sink.report(UNUSED_NODE, at(UNUSED_NODE, node.span(), "the output of `" + node.op() + "` (" + node.name()
            + ") is never used").label("nothing reads this"));
      }
    }
  }

  /** Walks back through ops with the trait {@code through} to a node with the trait {@code target}. */
  private static Node back(Network n, Node from, Trait through, Trait target) {
    Node node = from;
    while (true) {
      if (is(node, target)) {
        return node;
      }
      if (!is(node, through) || node.inputs().size() != 1) {
        return null;
      }
      node = n.node(node.inputs().get(0));
    }
  }

  /**
   * Whether a {@code [C, H, W]} output is a segmentation map, told from the network's structure and
   * shapes (never from names): it covers the input, H x W equal to a network input's, and its scores
   * are a per-pixel classifier's, a 1x1 conv (each pixel's C scores from that pixel's features
   * alone), reached from the output through upsampling and ops that pass values (dropout,
   * identity). A forgotten pooling (NiN without its global pool: a 1x1 conv at a coarser
   * resolution) or a last conv with a wider window still warns.
   */
  static boolean perPixelClassifier(Network n, Node output) {
    if (output.shape().rank() != 3) {
      return false;
    }
    boolean coversInput = n.nodes().stream().anyMatch(x -> x.op().equals("input") && x.shape().rank() == 3
        && x.shape().height() == output.shape().height() && x.shape().width() == output.shape().width());
    Node node = output;
    while (node.inputs().size() == 1 && (node.op().equals("upsample") || is(node, Trait.PASSES_VALUES))
        && node.shape().rank() == 3 && node.shape().dim(0) == output.shape().dim(0)) {
      node = n.node(node.inputs().get(0));
    }
    return coversInput && node.op().equals("conv") && node.arg("kernel") != null
        && java.util.Arrays.stream(ints(node.arg("kernel"))).allMatch(k -> k == 1);
  }

  private static void windows(Network n, Node node, Sink sink) {
    Node in = n.node(node.inputs().get(0));
    int[] k = ints(node.arg("kernel"));
    int[] s = node.arg("stride") == null ? k : ints(node.arg("stride"));
    int[] p = ints(node.arg("padding"));
    int[] d = node.arg("dilation") == null ? new int[] {1, 1} : ints(node.arg("dilation"));
    boolean ceil = node.arg("ceil") instanceof Value.BoolV b && b.value();
    int[] size = {in.shape().height(), in.shape().width()};
    int[] dropped = new int[2];
    boolean ceilMatters = false;
    for (int i = 0; i < 2; i++) {
      long eff = (long) d[i] * (k[i] - 1) + 1;
      long span = size[i] + 2L * p[i] - eff;
      dropped[i] = (int) Math.max(0, (span % s[i]) - p[i]);
      long floorOut = span / s[i] + 1;
      ceilMatters |= floorOut != node.shape().dim(i + 1);
    }
    if (!ceil && (dropped[0] > 0 || dropped[1] > 0)) {
      String what = dropped[0] > 0 && dropped[1] > 0
          ? "the last " + rows(dropped[0], "row") + " and " + rows(dropped[1], "column")
          : dropped[0] > 0 ? "the last " + rows(dropped[0], "row") : "the last " + rows(dropped[1], "column");
      sink.report(WINDOW_DROPS_INPUT, at(WINDOW_DROPS_INPUT, node.span(),
              "`" + node.op() + "` never reads " + what + " of its " + size[0] + "x" + size[1] + " input")
          .label("floor((" + size[0] + " + 2*" + p[0] + " - " + (d[0] * (k[0] - 1) + 1) + ") / " + s[0] + ") leaves a remainder"));
    }
    if (ceil && !ceilMatters) {
      sink.report(CEIL_NO_EFFECT, at(CEIL_NO_EFFECT, node.span(),
              "`ceil = true` changes nothing here: floor mode gives the same output size")
          .label("ceil has no effect (" + size[0] + "x" + size[1] + " -> " + node.shape().dim(1) + "x"
              + node.shape().dim(2) + " either way)"));
    }
  }

  private static String rows(int n, String word) {
    return n == 1 ? word : n + " " + word + "s";
  }

  private static int[] ints(Value v) {
    return ((Value.ListV) v).items().stream().mapToInt(x -> (int) ((Value.IntV) x).value()).toArray();
  }

  // ---- contracts: budgets and accepted input sizes -----------------------------------------------

  static void contracts(Program program, ModelDecl model, Network n, Map<String, Value> args, Sink sink) {
    for (Stmt st : model.body().stmts()) {
      if (st instanceof ExpectStmt e) {
        Value v = Evaluator.eval(e.limit(), n.modelArgs(), d -> { });
        if (v == null) {
          continue;
        }
        double limit = v instanceof Value.IntV i ? i.value() : ((Value.FloatV) v).value();
        long actual = switch (e.what().text()) {
          case "params" -> n.paramCount();
          case "macs" -> n.macs();
          default -> n.bufferCount();
        };
        if (actual > limit) {
          sink.report(BUDGET_EXCEEDED, at(BUDGET_EXCEEDED, e.span(),
                  n.name() + " has " + SummaryRenderer.num(actual) + " " + e.what().text() + ", over the budget of "
                      + SummaryRenderer.num((long) limit))
              .label("budget"));
        }
      } else if (st instanceof ExpectInputStmt e) {
        inputSizes(program, model, n, args, e, sink);
      }
    }
  }

  /**
   * At most this many layers expanded over all the sizes that {@code expect input} declares: about
   * 1.5 s here (GoogLeNet, 216 layers, 16,830 sizes: 5.5 s, an input the fuzzer found).
   */
  static final long MAX_EXPANDED_NODES = 1_000_000;

  /** Tries every declared input size; reports each run of consecutive failing sizes with its first error. */
  private static void inputSizes(Program program, ModelDecl model, Network n, Map<String, Value> args,
      ExpectInputStmt e, Sink sink) {
    List<long[]> ranges = new ArrayList<>();
    for (DimRange d : e.dims()) {
      Value lo = Evaluator.eval(d.lo(), n.modelArgs(), x -> { });
      Value hi = d.hi().map(h -> Evaluator.eval(h, n.modelArgs(), x -> { })).orElse(lo);
      if (!(lo instanceof Value.IntV l) || !(hi instanceof Value.IntV h)) {
        return;
      }
      ranges.add(new long[] {l.value(), h.value()});
    }
    if (ranges.size() != 3 || ranges.stream().anyMatch(r -> r[0] < 1 || r[1] < r[0])) {
      return;
    }
    boolean square = ranges.get(1)[0] == ranges.get(2)[0] && ranges.get(1)[1] == ranges.get(2)[1];
    // each size is one expansion of the whole network: past the budget, say so rather than
    // try them for seconds or minutes (or pass them unchecked)
    double count = 1;
    for (int i = 0; i < (square ? 2 : 3); i++) {
      count *= ranges.get(i)[1] - ranges.get(i)[0] + 1;
    }
    long layers = Math.max(1, n.nodes().size());
    if (count * layers > MAX_EXPANDED_NODES) {
      sink.report(INPUT_SIZES, at(INPUT_SIZES, e.span(),
              n.name() + ": `expect input` declares " + SummaryRenderer.num((long) Math.min(count, Long.MAX_VALUE))
                  + " input sizes, too many to try one by one (at most " + SummaryRenderer.num(MAX_EXPANDED_NODES / layers)
                  + " for its " + layers + " layers); narrow the ranges to have them checked")
          .label("declared here"));
      return;
    }
    List<int[]> sizes = new ArrayList<>();
    for (long c = ranges.get(0)[0]; c <= ranges.get(0)[1]; c++) {
      for (long h = ranges.get(1)[0]; h <= ranges.get(1)[1]; h++) {
        if (square) {
          sizes.add(new int[] {(int) c, (int) h, (int) h});
        } else {
          for (long w = ranges.get(2)[0]; w <= ranges.get(2)[1]; w++) {
            sizes.add(new int[] {(int) c, (int) h, (int) w});
          }
        }
      }
    }
    Map<String, List<int[]>> failing = new LinkedHashMap<>();
    Map<String, Diagnostic> why = new HashMap<>();
    List<int[]> accepted = new ArrayList<>();
    for (int[] size : sizes) {
      Diagnostics d = new Diagnostics();
      Network sized = new Expander(program, d).withInput(size).expand(model, args, n.javaPackage());
      if (sized != null) {
        accepted.add(size);
        continue;
      }
      Diagnostic first = d.sorted().get(0);
      String key = first.id() + "@" + first.span().location();
      failing.computeIfAbsent(key, k -> new ArrayList<>()).add(size);
      why.putIfAbsent(key, first);
    }
    for (var entry : failing.entrySet()) {
      Diagnostic first = why.get(entry.getKey());
      sink.report(INPUT_SIZES, at(INPUT_SIZES, e.span(),
              n.name() + " rejects input " + describe(entry.getValue(), square) + ": " + first.message())
          .label("declared here")
          .note("it fails at " + first.span().location() + " [" + first.id() + "]", first.span())
          .note(accepted.isEmpty() ? "no declared size is accepted" : "accepted: " + describe(accepted, square)));
    }
  }

  /** Sizes as runs: "[3, 35..64, 35..64]" for squares, else each run of [c, h, w]. */
  static String describe(List<int[]> sizes, boolean square) {
    List<String> runs = new ArrayList<>();
    int i = 0;
    while (i < sizes.size()) {
      int j = i;
      while (j + 1 < sizes.size() && next(sizes.get(j), sizes.get(j + 1), square)) {
        j++;
      }
      int[] a = sizes.get(i);
      int[] b = sizes.get(j);
      String h = a[1] == b[1] ? "" + a[1] : a[1] + ".." + b[1];
      String w = a[2] == b[2] ? "" + a[2] : a[2] + ".." + b[2];
      runs.add("[" + a[0] + ", " + h + ", " + w + "]");
      i = j + 1;
    }
    if (runs.size() > 4) {
      return String.join(", ", runs.subList(0, 4)) + " and " + (runs.size() - 4) + " more";
    }
    return String.join(", ", runs);
  }

  private static boolean next(int[] a, int[] b, boolean square) {
    return a[0] == b[0] && (square ? b[1] == a[1] + 1 : a[1] == b[1] && b[2] == a[2] + 1);
  }

  // ---- checks on declarations ------------------------------------------------------------------

  static void declarations(Program program, Sink sink) {
    Set<BlockDecl> used = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    for (ModelDecl m : program.models()) {
      used.addAll(program.blocksUsed(m));
    }
    for (Decl d : program.decls()) {
      if (d instanceof BlockDecl b && !used.contains(b)) {
        sink.report(UNUSED_BLOCK, at(UNUSED_BLOCK, b.name().span(), "block `" + b.name().text() + "` is never used")
            .label("no model uses it"));
      }
      Set<String> read = new LinkedHashSet<>();
      names(d.body(), read);
      for (Param p : d.params()) {
        p.defaultValue().ifPresent(e -> names(e, read));
      }
      for (Param p : d.params()) {
        String name = p.name().text();
        if (!read.contains(name)) {
          sink.report(UNUSED_PARAMETER, at(UNUSED_PARAMETER, p.name().span(),
              "parameter `" + name + "` of " + (d instanceof BlockDecl ? "block" : "model") + " `" + d.name().text()
                  + "` is never used").label("unused"));
        }
        if (Ops.get(name) != null || program.block(d.span().file(), name) != null) {
          sink.report(SHADOWED_NAME, at(SHADOWED_NAME, p.name().span(),
              "parameter `" + name + "` has the name of " + (Ops.get(name) != null ? "an op" : "a block"))
              .label("shadows `" + name + "`"));
        }
      }
      shadowedLabels(d.body(), new ArrayList<>(), sink);
    }
  }

  private static void shadowedLabels(Body body, List<Set<String>> enclosing, Sink sink) {
    Set<String> here = new LinkedHashSet<>();
    for (Chain c : body.chains()) {
      for (Element e : c.elements()) {
        e.label().ifPresent(l -> {
          for (Set<String> outer : enclosing) {
            if (outer.contains(l.text())) {
              sink.report(SHADOWED_NAME, at(SHADOWED_NAME, l.span(),
                  "`" + l.text() + "` hides a node of the same name in an enclosing sequence")
                  .label("`from " + org.cnnc.compiler.syntax.Labels.written(l.text()) + "` now means this one"));
            }
          }
          here.add(l.text());
        });
        List<Set<String>> inner = new ArrayList<>(enclosing);
        inner.add(here);
        if (e.term() instanceof Group g) {
          shadowedLabels(g.body(), inner, sink);
        } else if (e.term() instanceof Repeat r) {
          shadowedLabels(r.body(), inner, sink);
        }
      }
    }
  }

  private static void names(Body body, Set<String> out) {
    for (Stmt st : body.stmts()) {
      if (st instanceof InputStmt in) {
        in.shape().dims().forEach(e -> names(e, out));
      } else if (st instanceof OutputStmt o) {
        o.chain().ifPresent(c -> names(c, out));
        o.options().forEach(a -> names(a.value(), out));
      } else if (st instanceof ChainStmt c) {
        names(c.chain(), out);
      } else if (st instanceof ExpectStmt e) {
        names(e.limit(), out);
      } else if (st instanceof ExpectInputStmt e) {
        e.dims().forEach(d -> {
          names(d.lo(), out);
          d.hi().ifPresent(h -> names(h, out));
        });
      }
    }
  }

  private static void names(Chain c, Set<String> out) {
    for (Element e : c.elements()) {
      e.assertion().ifPresent(a -> a.dims().forEach(x -> names(x, out)));
      Term t = e.term();
      if (t instanceof Call call) {
        for (Arg a : call.args()) {
          names(a.value(), out);
          a.arrowOut().ifPresent(x -> names(x, out));
        }
      } else if (t instanceof Group g) {
        names(g.body(), out);
      } else if (t instanceof Repeat r) {
        names(r.count(), out);
        names(r.body(), out);
      } else if (t instanceof Merge m) {
        m.branches().forEach(b -> b.chain().ifPresent(ch -> names(ch, out)));
      }
    }
  }

  private static void names(Expr e, Set<String> out) {
    if (e instanceof NameRef n) {
      out.add(n.name().text());
    } else if (e instanceof ListExpr l) {
      l.items().forEach(x -> names(x, out));
    } else if (e instanceof Unary u) {
      names(u.operand(), out);
    } else if (e instanceof Binary b) {
      names(b.left(), out);
      names(b.right(), out);
    }
  }
}
