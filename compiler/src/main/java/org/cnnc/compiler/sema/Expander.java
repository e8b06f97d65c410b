// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.diag.Note;
import org.cnnc.compiler.ir.ModulePath;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.ir.Scope;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.shape.Layer;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.OpInput;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.ParamSig;
import org.cnnc.compiler.shape.Shape;
import org.cnnc.compiler.source.Span;

/**
 * Expands one model: evaluates arguments, instantiates blocks (keeping the call chain for
 * errors), unrolls {@code repeat}, infers and checks every shape, and builds the {@link Network}.
 *
 * <p>A node that cannot be built is "poisoned" ({@link #POISON}): what follows it is not
 * checked, so one mistake gives one error, not a cascade, while independent mistakes elsewhere
 * are all reported.
 *
 * <p>Module paths follow PyTorch: a label or a block instance is a module name; an unlabeled item
 * of a sequence is named by its position, as in {@code nn.Sequential}; an unlabeled
 * {@code concat}/{@code add} adds no level (its labeled branches are attributes of the enclosing
 * module, as in a hand-written {@code forward}); an unlabeled {@code repeat} adds its items to
 * the enclosing sequence.
 */
public final class Expander {
  /** A value that could not be computed; whatever depends on it is skipped silently. */
  static final int POISON = -1;
  public static final long MAX_REPEAT = 1_000_000;
  /**
   * A network's totals (parameters, buffers, MACs, activation elements) stay below 2^60, so that
   * every figure derived from them (sums, bytes) is exact in 64 bits.
   */
  public static final long MAX_TOTAL = 1L << 60;
  private static final int MAX_DEPTH = 200;

  private final Program program;
  private final Diagnostics diags;
  private final Resolution resolution;

  private final List<Node> nodes = new ArrayList<>();
  private final Set<String> nodeNames = new HashSet<>();
  private final List<Integer> inputs = new ArrayList<>();
  private final List<Output> outputs = new ArrayList<>();
  /** Per undeclared block parameter: the kind of value its first instance received, and where. */
  private final Map<Param, Map.Entry<String, Span>> paramKinds = new java.util.IdentityHashMap<>();
  /** Running totals: parameters, buffers, MACs, output elements (the input's included). */
  private final long[] totals = new long[4];

  private int[] inputOverride;
  private long maxLayers = org.cnnc.compiler.Limits.DEFAULT_MAX_LAYERS;
  /** Layers a block's body expands to, by block and argument values (see {@link #count}). */
  private final Map<BlockDecl, Map<Map<String, Value>, Long>> counted = new java.util.IdentityHashMap<>();

  /** An expander of the program's models: the {@link Resolver} has run over it (its {@link Resolution} is read). */
  public Expander(Program program, Diagnostics diags) {
    this.program = program;
    this.diags = diags;
    this.resolution = program.resolution();
    if (!resolution.isDone()) {
      throw new IllegalStateException("expanding a program the resolver has not seen");
    }
  }

  /** Expands with this shape for the model's (first) input instead of the declared one (lint's size sweep). */
  public Expander withInput(int[] shape) {
    this.inputOverride = shape.clone();
    return this;
  }

  /** Layers a network may have; a block call or repeat that would pass it is refused before it is expanded. */
  public Expander withMaxLayers(long max) {
    this.maxLayers = max;
    return this;
  }

  private static final class TooLarge extends RuntimeException {
    TooLarge() {
      super(null, null, false, false);
    }
  }

  /** Expansion stopped after its reason was reported. */
  private static final class Refused extends RuntimeException {
    Refused() {
      super(null, null, false, false);
    }
  }

  /** Block parameters in scope, and the call chain (innermost first) added to every error. */
  private record Frame(Map<String, Value> vars, List<Note> chain, int depth) {}

  /**
   * Whether this expansion reported an error. Not the count of the shared diagnostics: they drop a
   * repeated diagnostic (the resolver may have reported the same constant's error already), and a
   * network built past a dropped error had no outputs.
   */
  private boolean failed;

  private Reporter reporter(Frame f) {
    return d -> {
      Diagnostic built = d.build().withNotes(f.chain);
      failed |= built.severity() == org.cnnc.compiler.diag.Severity.ERROR;
      diags.report(built);
    };
  }

  /** A sequence being filled: its module, the positions used, and the nodes its labels name. */
  private static final class Seq {
    final Scope scope;
    final Seq parent;
    /** The node each label declaration (its span) names in this sequence, for `from` as the resolver bound it. */
    final Map<Span, Integer> byDeclaration = new java.util.IdentityHashMap<>(); // spans compare equal: by identity
    final Map<String, Span> names;
    final ModulePath modules;

    Seq(Scope scope, Seq parent, Map<String, Span> names) {
      this.scope = scope;
      this.parent = parent;
      this.names = names;
      this.modules = new ModulePath(scope.path());
    }

    /** The node a label declaration names, here or in an enclosing sequence; null if none. */
    Integer node(Span declaration) {
      for (Seq s = this; s != null; s = s.parent) {
        Integer id = s.byDeclaration.get(declaration);
        if (id != null) {
          return id;
        }
      }
      return null;
    }
  }

  /** The network, or null when the model has errors (all reported). */
  public Network expand(ModelDecl model, Map<String, Value> overrides, Optional<String> javaPackage) {
    int before = diags.errorCount();
    Scope root = new Scope("", "", Scope.Kind.MODEL, model.name().text(), model.span());
    Frame top = new Frame(Map.of(), List.of(), 0);
    Map<String, Value> args = modelArgs(model, overrides, top);
    if (args == null) {
      return null;
    }
    Frame f = new Frame(args, List.of(), 0);
    Seq seq = new Seq(root, null, new HashMap<>());
    try {
      int tail = POISON;
      for (Stmt s : model.body().stmts()) {
        if (s instanceof InputStmt in) {
          tail = input(in, seq, f);
        } else if (s instanceof OutputStmt out) {
          output(out, tail, seq, f);
        } else if (s instanceof ChainStmt c) {
          tail = chainStmt(c, tail, seq, f);
        }
      }
      if (outputs.isEmpty() && tail != POISON) {
        outputs.add(new Output("output", tail, "cross_entropy", 1.0, model.name().span()));
      }
    } catch (TooLarge e) {
      failed = true;
      diags.report(Diagnostic.error(Code.NETWORK_TOO_LARGE, model.name().span(),
              "model `" + model.name().text() + "` expands to more than " + maxLayers + " layers")
          .label("expansion stopped here")
          .help("check `repeat` counts; the limit is raised with --max-layers"));
    } catch (Refused e) {
      // reported where the expansion would have passed the limit
    }
    if (failed || diags.errorCount() > before || inputs.isEmpty()) {
      return null;
    }
    return new Network(model.name().text(), javaPackage, args, nodes, inputs, outputs, root, model.span());
  }

  private Map<String, Value> modelArgs(ModelDecl model, Map<String, Value> overrides, Frame f) {
    Map<String, Value> vars = new LinkedHashMap<>();
    Reporter r = reporter(f);
    boolean ok = true;
    for (Param p : model.params()) {
      String name = p.name().text();
      if (vars.containsKey(name)) {
        continue;
      }
      Type type = p.type().flatMap(t -> Type.byKeyword(t.text())).orElse(Type.ANY);
      Value v = overrides.get(name);
      if (v != null) {
        Optional<Value> c = type.convert(v);
        if (c.isEmpty()) {
          r.report(Diagnostic.error(Code.ARGUMENT_TYPE, p.name().span(),
                  "model argument `" + name + "` expects " + type.description() + ", found " + v.typeName() + " " + v.show())
              .label("declared here"));
          ok = false;
          continue;
        }
        javaValue(c.get(), name, p.name().span(), r); // an error, but the model is still checked with the value
        vars.put(name, c.get());
      } else if (p.defaultValue().isPresent()) {
        Value d = Evaluator.eval(p.defaultValue().get(), Map.copyOf(vars), r);
        Value c = d == null ? null : Checks.convert(d, type, name, "model `" + model.name().text() + "`", p.defaultValue().get(), r);
        if (c == null) {
          ok = false;
          continue;
        }
        javaValue(c, name, p.defaultValue().get().span(), r);
        vars.put(name, c);
      } else {
        r.report(Diagnostic.error(Code.MISSING_ARGUMENT, p.name().span(),
                "model `" + model.name().text() + "` needs a value for `" + name + "`")
            .label("no default")
            .help("give it a default (`" + name + " = ...`) or pass `--arg " + name + "=...`"));
        ok = false;
      }
    }
    return ok ? vars : null;
  }

  /**
   * A model argument becomes a field and a constructor argument of the generated class: an integer
   * must fit Java's {@code int}, a float must be finite (Java has no literal for NaN or infinity).
   */
  private static boolean javaValue(Value v, String name, Span at, Reporter r) {
    String problem = null;
    if (v instanceof Value.IntV i && i.value() != (int) i.value()) {
      problem = "does not fit the 32-bit `int` of the generated Java";
    } else if (v instanceof Value.FloatV x && !Double.isFinite(x.value())) {
      problem = "is not a finite number";
    } else if (v instanceof Value.ListV l) {
      return l.items().stream().allMatch(item -> javaValue(item, name, at, r));
    }
    if (problem == null) {
      return true;
    }
    r.report(Diagnostic.error(v instanceof Value.IntV ? Code.INT_OVERFLOW : Code.INVALID_ARGUMENT, at,
            "model argument `" + name + "` = " + v.show() + " " + problem)
        .label(v instanceof Value.IntV ? "beyond 32 bits" : "not finite")
        .help(v instanceof Value.IntV ? "integers range from " + Integer.MIN_VALUE + " to " + Integer.MAX_VALUE
            : "give a finite value, e.g. `--arg " + name + "=0.5`"));
    return false;
  }

  // ---- statements ------------------------------------------------------------------------------

  private int input(InputStmt in, Seq seq, Frame f) {
    Reporter r = reporter(f);
    String name = in.name().map(Ident::text).orElse("input");
    List<Integer> dims = new ArrayList<>();
    boolean ok = true;
    for (Expr e : in.shape().dims()) {
      Value v = Evaluator.eval(e, f.vars, r);
      Value c = v == null ? null : Checks.convert(v, Type.INT, "shape", "`input`", e, r);
      if (c == null || fits(c) && !Evaluator.fitsJava(e, f.vars, r)) {
        ok = false;
        continue;
      }
      long d = ((Value.IntV) c).value();
      if (d < 1 || d > Integer.MAX_VALUE) {
        r.report(Diagnostic.error(d < 1 ? Code.INVALID_ARGUMENT : Code.INT_OVERFLOW, e.span(),
                "input dimension must be between 1 and " + Integer.MAX_VALUE + ", found " + d)
            .label("here"));
        ok = false;
        continue;
      }
      dims.add((int) d);
    }
    if (!ok) {
      return POISON;
    }
    if (dims.size() != 1 && dims.size() != 3) {
      r.report(Diagnostic.error(Code.RANK_MISMATCH, in.shape().span(),
              "input shape must be [C, H, W] or [F], found " + dims.size() + (dims.size() == 1 ? " dimension" : " dimensions"))
          .label("here")
          .help("give one example's shape without the batch: channels, height, width"));
      return POISON;
    }
    Shape shape = Shape.of(dims.stream().mapToInt(Integer::intValue).toArray());
    if (inputOverride != null && inputs.isEmpty()) {
      shape = Shape.of(inputOverride);
    }
    if (!declare(seq, name, in.name().map(Ident::span).orElse(in.span()), f)) {
      return POISON;
    }
    int id = addNode("input", name, Map.of(), List.of(), shape, Layer.of(shape), in.span(), f, seq.scope);
    if (id == POISON) {
      return POISON;
    }
    inputs.add(id);
    seq.byDeclaration.put(in.name().map(Ident::span).orElse(in.span()), id);
    return id;
  }

  private void output(OutputStmt out, int tail, Seq seq, Frame f) {
    Reporter r = reporter(f);
    String name = out.name().text();
    int start = out.from().isPresent() ? lookup(out.from().get(), seq, f) : tail;
    String loss = "cross_entropy";
    double weight = 1.0;
    Optional<Binder.Bound> bound = resolution.of(out);
    boolean ok = bound.isPresent();
    failed |= !ok;
    if (ok) {
      for (var e : bound.get().args().entrySet()) {
        Type t = e.getKey().equals("loss") ? Type.SYMBOL : Type.FLOAT;
        Value v = t == Type.SYMBOL && e.getValue() instanceof NameRef n ? new Value.SymV(n.name().text())
            : Evaluator.eval(e.getValue(), f.vars, r);
        Value c = v == null ? null : Checks.convert(v, t, e.getKey(), "`output`", e.getValue(), r);
        if (c == null) {
          ok = false;
        } else if (t == Type.SYMBOL) {
          loss = Checks.loss(c, e.getValue(), r);
          ok &= loss != null;
        } else {
          weight = ((Value.FloatV) c).value();
          if (weight < 0) {
            r.report(Diagnostic.error(Code.INVALID_ARGUMENT, e.getValue().span(), "loss weight must not be negative, found "
                + c.show()).label("here"));
            ok = false;
          }
        }
      }
    }
    int node = start;
    if (out.chain().isPresent()) {
      List<Element> els = out.chain().get().elements();
      if (els.size() == 1 && els.get(0).label().isEmpty()) {
        node = element(els.get(0), start, seq, f, name, true);
      } else {
        node = chain(out.chain().get(), start, seq, f);
      }
    }
    if (outputs.stream().anyMatch(o -> o.name().equals(name))) {
      Output first = outputs.stream().filter(o -> o.name().equals(name)).findFirst().orElseThrow();
      r.report(Diagnostic.error(Code.DUPLICATE_NAME, out.name().span(), "output `" + name + "` is defined twice")
          .label("defined again here")
          .note("first defined at " + first.span().location(), first.span()));
      return;
    }
    if (ok && node != POISON) {
      outputs.add(new Output(name, node, loss, weight, out.name().span()));
    }
  }

  private int chainStmt(ChainStmt s, int tail, Seq seq, Frame f) {
    int start = s.from().isPresent() ? lookup(s.from().get(), seq, f) : tail;
    return chain(s.chain(), start, seq, f);
  }

  private int lookup(Ident ref, Seq seq, Frame f) {
    // which label a `from` reads is the resolver's (LabelScopes), which reported one that names nothing
    Optional<Span> declaration = resolution.declarationOf(ref);
    if (declaration.isEmpty()) {
      failed = true;
      return POISON;
    }
    Integer id = seq.node(declaration.get());
    if (id != null) {
      return id;
    }
    // declared before, but its item was not built in this instance (a `repeat` that ran no times)
    Span at = declaration.get();
    reporter(f).report(Diagnostic.error(Code.UNKNOWN_NAME, ref.span(), "no node `" + ref.text() + "` was built before this point")
        .label("not built")
        .note("`" + ref.text() + "` is declared at " + at.location() + ", in an item that was not built here (a `repeat` "
            + "that ran no times)", at)
        .help("read a node that is always built, or make the repeat count at least 1"));
    return POISON;
  }

  private int body(Body b, int tail, Seq seq, Frame f) {
    for (Stmt s : b.stmts()) {
      if (s instanceof ChainStmt c) {
        tail = chainStmt(c, tail, seq, f);
      }
    }
    return tail;
  }

  private int chain(Chain c, int input, Seq seq, Frame f) {
    for (Element e : c.elements()) {
      boolean inline = e.term() instanceof Repeat && e.label().isEmpty();
      String label = labelOf(e, f);
      if (label == BAD_LABEL) {
        input = POISON;
        continue;
      }
      String name = seq.modules.segment(label, !inline);
      input = element(e, input, seq, f, name, false);
    }
    return input;
  }

  /** Declares a module name in a scope; false (after an error) when it is taken. */
  private boolean declare(Seq seq, String name, Span at, Frame f) {
    Span first = seq.names.putIfAbsent(name, at);
    if (first == null) {
      return true;
    }
    if (first.samePlace(at)) { // one label, declared again by each repetition of an unlabeled `repeat`
      reporter(f).report(Diagnostic.error(Code.DUPLICATE_NAME, at, "`" + name + "` is defined twice in the same scope")
          .label("declared again by each repetition of the `repeat`")
          .help("number it with the repetition's counter: `repeat n as i { \"" + name + "{i}\": ... }`"));
      return false;
    }
    reporter(f).report(Diagnostic.error(Code.DUPLICATE_NAME, at, "`" + name + "` is defined twice in the same scope")
        .label("defined again here")
        .note("first defined at " + first.location(), first)
        .help("give it another name"));
    return false;
  }

  // ---- elements --------------------------------------------------------------------------------

  /**
   * An element's label: as written, or for a numbered label ({@code "denselayer{i + 1}"}) its
   * text with each expression's value (an integer in decimal, or a string) in this frame; null
   * for no label; {@link #BAD_LABEL} after reporting a value that makes no module name.
   */
  /** What {@link #labelOf} gives for a label it could not compute (compared by identity). */
  private static final String BAD_LABEL = new String("<bad label>");

  private String labelOf(Element e, Frame f) {
    if (e.label().isEmpty()) {
      return null;
    }
    if (e.numbered().isEmpty()) {
      return e.label().get().text();
    }
    Reporter r = reporter(f);
    NumberedLabel n = e.numbered().get();
    StringBuilder name = new StringBuilder(n.texts().get(0));
    for (int i = 0; i < n.exprs().size(); i++) {
      Expr x = n.exprs().get(i);
      Value v = Evaluator.eval(x, f.vars, r);
      if (v instanceof Value.IntV iv) {
        name.append(iv.value());
      } else if (v instanceof Value.StrV sv) {
        name.append(sv.value());
      } else {
        if (v != null) {
          r.report(Diagnostic.error(Code.ARGUMENT_TYPE, x.span(), "a numbered label's `{...}` gives an integer or a string, found "
                  + v.show())
              .label("not an integer or a string"));
        }
        return BAD_LABEL;
      }
      name.append(n.texts().get(i + 1));
    }
    String s = name.toString();
    if (!org.cnnc.compiler.syntax.Labels.QUOTED.matcher(s).matches()) {
      r.report(Diagnostic.error(Code.INVALID_ARGUMENT, n.span(), "the label " + org.cnnc.compiler.io.Escape.cnnString(s)
              + " is no module name")
          .label("computed here")
          .help("a module name is a letter or `_`, then letters, digits, `_` or `-`"));
      return BAD_LABEL;
    }
    return s;
  }

  private int element(Element e, int input, Seq seq, Frame f, String name, boolean named) {
    boolean labeled = e.label().isPresent() || named;
    if (labeled && !declare(seq, name, e.label().map(Ident::span).orElse(e.span()), f)) {
      return POISON;
    }
    Term t = e.term();
    int out;
    if (t instanceof Call c) {
      out = call(c, input, seq, f, name);
    } else if (t instanceof Group g) {
      Scope child = new Scope(name, seq.scope.child(name), Scope.Kind.GROUP, null, g.span());
      seq.scope.add(child);
      out = body(g.body(), input, new Seq(child, seq, new HashMap<>()), f);
    } else if (t instanceof Merge m) {
      out = merge(m, input, seq, f, name, labeled);
    } else {
      out = repeat((Repeat) t, input, seq, f, name, labeled);
    }
    if (labeled && e.numbered().isEmpty()) { // a numbered label names a module; `from` reads plain ones
      seq.byDeclaration.put(e.label().map(Ident::span).orElse(e.span()), out);
    }
    if (out != POISON && e.assertion().isPresent()) {
      assertShape(e.assertion().get(), nodes.get(out).shape(), f);
    }
    return out;
  }

  private int repeat(Repeat rep, int input, Seq seq, Frame f, String name, boolean labeled) {
    Reporter r = reporter(f);
    Value v = Evaluator.eval(rep.count(), f.vars, r);
    Value c = v == null ? null : Checks.convert(v, Type.INT, "count", "`repeat`", rep.count(), r);
    if (c == null || fits(c) && !Evaluator.fitsJava(rep.count(), f.vars, r)) {
      return POISON;
    }
    long n = ((Value.IntV) c).value();
    if (n < 0 || n > MAX_REPEAT) {
      r.report(Diagnostic.error(Code.INVALID_ARGUMENT, rep.count().span(),
              "repeat count must be between 0 and " + MAX_REPEAT + ", found " + n)
          .label("here"));
      return POISON;
    }
    budget(mul(n, count(rep.body(), f.vars, f.depth)), rep.count().span(), "`repeat " + n + "`", r);
    Seq target = seq;
    if (labeled) {
      Scope child = new Scope(name, seq.scope.child(name), Scope.Kind.GROUP, null, rep.span());
      seq.scope.add(child);
      target = new Seq(child, seq, new HashMap<>());
    }
    for (long i = 0; i < n; i++) {
      input = body(rep.body(), input, target, counting(rep, f, i));
    }
    return input;
  }

  /** The frame of repetition {@code i} of {@code rep}: its counter bound, if it has one. */
  private static Frame counting(Repeat rep, Frame f, long i) {
    return rep.var().isEmpty() ? f : new Frame(withCounter(f.vars, rep, i), f.chain, f.depth);
  }

  private static Map<String, Value> withCounter(Map<String, Value> vars, Repeat rep, long i) {
    Map<String, Value> out = new LinkedHashMap<>(vars);
    out.put(rep.var().get().text(), new Value.IntV(i));
    return out;
  }

  private int call(Call c, int input, Seq seq, Frame f, String name) {
    // what the call names and how its arguments bind were decided once, by the resolver, which
    // reported a call that names nothing or does not bind
    Optional<Resolution.Binding> b = resolution.of(c);
    if (b.isEmpty()) {
      failed = true;
      return POISON;
    }
    return b.get().isOp() ? op(b.get().op(), c, b.get().bound(), input, seq, f, name)
        : block(b.get().block(), c, b.get().bound(), input, seq, f, name);
  }

  private int op(OpDef op, Call c, Binder.Bound bound, int input, Seq seq, Frame f, String name) {
    Reporter r = reporter(f);
    String callee = "`" + op.name() + "`";
    Map<String, Value> given = new LinkedHashMap<>();
    boolean ok = true;
    for (ParamSig p : op.params()) {
      Expr e = bound.args().get(p.name());
      if (e != null) {
        Value v = Evaluator.eval(e, f.vars, r);
        Value conv = v == null ? null : Checks.convert(v, p.type(), p.name(), callee, e, r);
        conv = conv == null ? null : Checks.range(conv, p, callee, e, r);
        if (conv == null || fits(conv) && !Evaluator.fitsJava(e, f.vars, r)) {
          ok = false;
        } else {
          given.put(p.name(), conv);
        }
      }
    }
    Map<String, Value> args = op.withDefaults(given);
    Integer explicitIn = null;
    Span explicitInSpan = null;
    if (bound.explicitIn().isPresent()) {
      Expr e = bound.explicitIn().get();
      Value v = Evaluator.eval(e, f.vars, r);
      Value conv = v == null ? null : Checks.convert(v, Type.INT, "in", callee, e, r);
      if (conv == null || fits(conv) && !Evaluator.fitsJava(e, f.vars, r)) {
        ok = false;
      } else {
        long n = ((Value.IntV) conv).value();
        explicitIn = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, n));
        explicitInSpan = e.span();
      }
    }
    ok &= intArgsFit(op, args, bound, c, r);
    if (!ok || input == POISON) {
      return POISON;
    }
    Node in = nodes.get(input);
    final Span inSpan = explicitInSpan;
    OpInput opIn = new OpInput(op.name(), in.shape(), args, explicitIn) {
      @Override
      public Span argSpan(String n) {
        Expr e = bound.args().get(n);
        return e != null ? e.span() : c.callee().span();
      }

      @Override
      public Span explicitInSpan() {
        return inSpan;
      }

      @Override
      public Span callSpan() {
        return c.callee().span();
      }

      @Override
      public String inputDescription() {
        return describe(in);
      }

      @Override
      protected void emit(Diagnostic.Builder d) {
        r.report(d);
      }
    };
    Layer layer = op.rule().infer(opIn);
    if (layer == null || opIn.failed()) {
      return POISON;
    }
    int id = addNode(op.name(), seq.scope.child(name), args, List.of(input), layer.out(), layer, c.span(), f, seq.scope);
    return id;
  }

  /** Integer arguments must fit the 32-bit sizes tensors have. */
  private boolean intArgsFit(OpDef op, Map<String, Value> args, Binder.Bound bound, Call c, Reporter r) {
    boolean ok = true;
    for (var e : args.entrySet()) {
      if (!fits(e.getValue())) {
        Expr at = bound.args().get(e.getKey());
        r.report(Diagnostic.error(Code.INT_OVERFLOW, at != null ? at.span() : c.span(),
                "argument `" + e.getKey() + "` of `" + op.name() + "` is too large: " + e.getValue().show())
            .label("beyond " + Integer.MAX_VALUE)
            .help("sizes and counts must fit in 32 bits, as tensor dimensions do"));
        ok = false;
      }
    }
    return ok;
  }

  private static boolean fits(Value v) {
    if (v instanceof Value.IntV i) {
      return i.value() >= Integer.MIN_VALUE && i.value() <= Integer.MAX_VALUE;
    }
    if (v instanceof Value.ListV l) {
      return l.items().stream().allMatch(Expander::fits);
    }
    return true;
  }

  private int block(BlockDecl block, Call c, Binder.Bound bound, int input, Seq seq, Frame f, String name) {
    if (resolution.cyclic().contains(block)) {
      return POISON;
    }
    Reporter r = reporter(f);
    if (f.depth >= MAX_DEPTH) {
      r.report(Diagnostic.error(Code.NETWORK_TOO_LARGE, c.callee().span(),
              "blocks nested more than " + MAX_DEPTH + " deep")
          .label("here"));
      return POISON;
    }
    String callee = "block `" + block.name().text() + "`";
    List<Formal> formals = Resolver.blockFormals(block);
    List<Note> chain = new ArrayList<>();
    chain.add(new Note("in block `" + block.name().text() + "` called at " + c.callee().span().location(), c.callee().span()));
    chain.addAll(f.chain);
    Frame inner = new Frame(Map.of(), chain, f.depth + 1);
    Map<String, Value> vars = argValues(block, formals, bound, c, f.vars, callee, r, reporter(inner), true);
    if (vars == null || input == POISON) {
      return POISON;
    }
    budget(countBlock(block, vars, f.depth + 1), c.callee().span(), "this call of `" + block.name().text() + "`", r);
    Map<String, Boolean> given = new LinkedHashMap<>();
    bound.args().keySet().forEach(p -> given.put(p, false));
    c.args().forEach(a -> a.name().ifPresent(id -> given.put(id.text(), true)));
    Scope child = new Scope(name, seq.scope.child(name), Scope.Kind.BLOCK, block.name().text(), c.span(), vars, given);
    seq.scope.add(child);
    return body(block.body(), input, new Seq(child, null, new HashMap<>()), new Frame(vars, chain, f.depth + 1));
  }

  /**
   * A block is one Java method, so an undeclared parameter has one Java type: its instances must
   * all receive ints (or sizes), or all floats, or all the same other kind. An int in one call and
   * a float in another would divide differently in the compiler ({@code p / 4} floors for 1) and in
   * the Java method (where {@code p} is a double): an error, with the help to declare the type.
   */
  private boolean sameKind(BlockDecl block, Param p, Value v, Span at, Reporter r) {
    String kind = v instanceof Value.IntV || v instanceof Value.ListV ? "int" : v.typeName();
    Map.Entry<String, Span> first = paramKinds.putIfAbsent(p, Map.entry(kind, at));
    if (first == null || first.getKey().equals(kind)) {
      return true;
    }
    r.report(Diagnostic.error(Code.ARGUMENT_TYPE, at, "parameter `" + p.name().text() + "` of block `" + block.name().text()
            + "` takes " + article(v.typeName()) + " here and " + article(first.getKey()) + " at "
            + first.getValue().location())
        .label(v.typeName() + " " + v.show())
        .note("the " + first.getKey() + " is given here", first.getValue())
        .help("declare its type (`" + p.name().text() + ": float`): the block becomes one Java method, with one type per parameter"));
    return false;
  }

  private static String article(String kind) {
    return ("aeiou".indexOf(kind.charAt(0)) >= 0 ? "an " : "a ") + kind;
  }

  private int merge(Merge m, int input, Seq seq, Frame f, String name, boolean labeled) {
    Seq bseq = seq;
    String prefix = name + ".";
    Scope mergeScope = seq.scope;
    if (labeled) {
      mergeScope = new Scope(name, seq.scope.child(name), Scope.Kind.MERGE, null, m.span());
      seq.scope.add(mergeScope);
      bseq = new Seq(mergeScope, seq, new HashMap<>());
      prefix = "";
    }
    List<Integer> tails = new ArrayList<>();
    List<Branch> branches = m.branches();
    for (int j = 0; j < branches.size(); j++) {
      Branch b = branches.get(j);
      int start = b.from().isPresent() ? lookup(b.from().get(), seq, f) : input;
      int tail;
      if (b.chain().isEmpty()) {
        tail = start;
      } else {
        List<Element> els = b.chain().get().elements();
        if (els.size() == 1) {
          Element el = els.get(0);
          String label = labelOf(el, f);
          tail = label == BAD_LABEL ? POISON
              : element(el, start, bseq, f, label != null ? label : prefix + j, el.label().isPresent());
        } else {
          String bname = prefix + j;
          Scope bs = new Scope(bname, mergeScope.child(bname), Scope.Kind.BRANCH, null, b.span());
          mergeScope.add(bs);
          tail = chain(b.chain().get(), start, new Seq(bs, bseq, new HashMap<>()), f);
        }
      }
      tails.add(tail);
    }
    if (tails.contains(POISON)) {
      return POISON;
    }
    Shape joined = join(m, tails, f);
    if (joined == null) {
      return POISON;
    }
    String nodeName = labeled ? mergeScope.path() : seq.scope.child(name);
    return addNode(m.name(), nodeName, Map.of(), tails, joined, Layer.of(joined), m.span(), f, mergeScope);
  }

  /** The merge's shape by its registry rule, or null after reporting the branch that does not fit. */
  private Shape join(Merge m, List<Integer> tails, Frame f) {
    Reporter r = reporter(f);
    OpDef def = Ops.of(m.name());
    List<Shape> shapes = tails.stream().map(t -> nodes.get(t).shape()).toList();
    OpDef.Joined j = def.merge().join(shapes);
    if (j.shape() != null) {
      return j.shape();
    }
    if (j.branch() < 0) {
      r.report(Diagnostic.error(Code.NETWORK_TOO_LARGE, m.span(), j.message()).label("here"));
      return null;
    }
    Shape first = shapes.get(0);
    Diagnostic.Builder d = Diagnostic.error(Code.SHAPE_MISMATCH, m.branches().get(j.branch()).span(), j.message())
        .label(shapes.get(j.branch()) + " here")
        .note("the first branch gives " + first + ", at " + m.branches().get(0).span().location(),
            m.branches().get(0).span());
    r.report(j.help() == null ? d : d.help(j.help()));
    return null;
  }

  private void assertShape(ShapeExpr expected, Shape actual, Frame f) {
    Reporter r = reporter(f);
    List<Expr> dims = expected.dims();
    boolean ok = dims.size() == actual.rank();
    List<String> shown = new ArrayList<>();
    for (int i = 0; i < dims.size(); i++) {
      Expr e = dims.get(i);
      if (e instanceof NameRef n && n.name().text().equals("_")) {
        shown.add("_");
        continue;
      }
      Value v = Evaluator.eval(e, f.vars, r);
      if (v == null) {
        return;
      }
      Value c = Checks.convert(v, Type.INT, "shape", "the shape assertion", e, r);
      if (c == null) {
        return;
      }
      long d = ((Value.IntV) c).value();
      shown.add(Long.toString(d));
      if (i < actual.rank() && d != actual.dim(i)) {
        ok = false;
      }
    }
    if (!ok) {
      r.report(Diagnostic.error(Code.SHAPE_ASSERTION, expected.span(),
              "shape assertion failed: expected [" + String.join(", ", shown) + "], found " + actual)
          .label("the output is " + actual)
          .help("fix the layers before it, or the assertion; `_` matches any size"));
    }
  }

  /** How notes name the node an op reads: by its module path, or by op and place at the top level. */
  private static String describe(Node n) {
    if (n.op().equals("input")) {
      return "the model input " + n.shape();
    }
    boolean topLevelPosition = Character.isDigit(n.name().charAt(0)) && !n.name().contains(".");
    return topLevelPosition
        ? "the output of `" + n.op() + "` at " + n.span().location() + ", " + n.shape()
        : "`" + n.name() + "` (" + n.op() + "), " + n.shape();
  }

  // ---- the layer budget ----------------------------------------------------------------------
  // Before a block call or a repeat is expanded, the layers it would add are counted (without
  // building anything, each block once per distinct argument values), so that a spec whose blocks
  // double forty times is refused at once, at the call that passes the limit, with its call chain.

  private void budget(long layers, Span at, String what, Reporter r) {
    if (layers > maxLayers - nodes.size()) {
      r.report(Diagnostic.error(Code.NETWORK_TOO_LARGE, at, what + " would expand to "
              + (layers >= SATURATED ? "more than " + SATURATED : Long.toString(layers)) + " layers, "
              + (nodes.size() > 0 ? "after " + nodes.size() + " already, " : "") + "more than the limit of " + maxLayers)
          .label("not expanded")
          .help("check `repeat` counts and blocks that call blocks; the limit is raised with --max-layers"));
      throw new Refused();
    }
  }

  private static final long SATURATED = Long.MAX_VALUE / 4;
  private static final Reporter SILENT = d -> { };

  private static long add(long a, long b) {
    return Math.min(SATURATED, a + b);
  }

  private static long mul(long a, long b) {
    return a == 0 || b == 0 ? 0 : a > SATURATED / b ? SATURATED : Math.min(SATURATED, a * b);
  }

  /** The layers a body adds (errors in it count nothing: expanding it reports them). */
  private long count(Body b, Map<String, Value> vars, int depth) {
    long total = 0;
    for (Stmt s : b.stmts()) {
      if (s instanceof ChainStmt c) {
        total = add(total, count(c.chain(), vars, depth));
      } else if (s instanceof OutputStmt o && o.chain().isPresent()) {
        total = add(total, count(o.chain().get(), vars, depth));
      }
    }
    return total;
  }

  private long count(Chain c, Map<String, Value> vars, int depth) {
    long total = 0;
    for (Element e : c.elements()) {
      total = add(total, count(e.term(), vars, depth));
    }
    return total;
  }

  private long count(Term t, Map<String, Value> vars, int depth) {
    if (t instanceof Call c) {
      Optional<Resolution.Binding> b = resolution.of(c);
      if (b.isPresent() && b.get().isOp()) {
        return 1;
      }
      BlockDecl block = b.map(Resolution.Binding::block).orElse(null);
      if (block == null || resolution.cyclic().contains(block) || depth >= MAX_DEPTH) {
        return 0;
      }
      Map<String, Value> args = blockArgs(block, b.get().bound(), c, vars);
      return args == null ? 0 : countBlock(block, args, depth + 1);
    }
    if (t instanceof Group g) {
      return count(g.body(), vars, depth);
    }
    if (t instanceof Merge m) {
      long total = 1;
      for (Branch b : m.branches()) {
        if (b.chain().isPresent()) {
          total = add(total, count(b.chain().get(), vars, depth));
        }
      }
      return total;
    }
    Repeat r = (Repeat) t;
    Value v = Evaluator.eval(r.count(), vars, SILENT);
    Value n = v == null ? null : Checks.convert(v, Type.INT, "count", "`repeat`", r.count(), SILENT);
    if (n == null || ((Value.IntV) n).value() <= 0) {
      return 0;
    }
    long times = ((Value.IntV) n).value();
    if (r.var().isEmpty()) {
      return mul(times, count(r.body(), vars, depth));
    }
    // the body may depend on the counter: the larger of its first and last repetitions, n times
    long first = count(r.body(), withCounter(vars, r, 0), depth);
    long last = count(r.body(), withCounter(vars, r, times - 1), depth);
    return mul(times, Math.max(first, last));
  }

  private long countBlock(BlockDecl block, Map<String, Value> args, int depth) {
    Map<Map<String, Value>, Long> byArgs = counted.computeIfAbsent(block, k -> new HashMap<>());
    Long known = byArgs.get(args);
    if (known == null) {
      known = count(block.body(), args, depth);
      byArgs.put(Map.copyOf(args), known);
    }
    return known;
  }

  /** A block call's argument values as {@link #block} computes them, reporting nothing; null on an error. */
  private Map<String, Value> blockArgs(BlockDecl block, Binder.Bound bound, Call c, Map<String, Value> vars) {
    return argValues(block, Resolver.blockFormals(block), bound, c, vars, "", SILENT, SILENT, false);
  }

  /**
   * The values of a bound block call's parameters, in order: a given argument evaluated in the
   * caller's variables ({@code callerVars}), a default in the parameters before it; each converted
   * to its parameter's type. Null when any fails (every failure is reported: given arguments' to
   * {@code r}, defaults' to {@code rDefaults}). With {@code forJava}, also what the generated Java
   * needs: 32-bit arithmetic, and one kind of value per untyped parameter across calls.
   */
  private Map<String, Value> argValues(BlockDecl block, List<Formal> formals, Binder.Bound bound, Call c,
      Map<String, Value> callerVars, String callee, Reporter r, Reporter rDefaults, boolean forJava) {
    Map<String, Value> vars = new LinkedHashMap<>();
    boolean ok = true;
    for (int i = 0; i < formals.size(); i++) {
      Formal formal = formals.get(i);
      Param p = block.params().get(i);
      if (vars.containsKey(formal.name())) {
        continue;
      }
      Expr given = bound.args().get(formal.name());
      Expr e = given != null ? given : p.defaultValue().orElse(null);
      if (e == null) {
        return null;
      }
      Map<String, Value> scope = given != null ? callerVars : Map.copyOf(vars);
      Reporter at = given != null ? r : rDefaults;
      Value v = Evaluator.eval(e, scope, at);
      Value conv = v == null ? null : Checks.convert(v, formal.type(), formal.name(), callee, e, at);
      if (conv != null && forJava && (!Evaluator.fitsJava(e, scope, at)
          || formal.type() == Type.ANY && !sameKind(block, p, conv, given != null ? given.span() : c.callee().span(), r))) {
        conv = null;
      }
      if (conv == null) {
        ok = false;
      } else {
        vars.put(formal.name(), conv);
      }
    }
    return ok ? vars : null;
  }

  private static final String[] TOTALS = {"parameters", "buffer elements", "multiply-accumulates", "activation elements"};

  /** Adds a layer's figures to the totals; false (after an error at the layer) when one would pass {@link #MAX_TOTAL}. */
  private boolean count(Layer layer, Shape out, Span span, Frame f) {
    long[] next = totals.clone();
    int which = 0;
    try {
      for (var t : layer.params()) {
        next[0] = Math.addExact(next[0], new Tensor("", t.dims()).numel());
      }
      which = 1;
      for (var t : layer.buffers()) {
        next[1] = Math.addExact(next[1], new Tensor("", t.dims()).numel());
      }
      which = 2;
      next[2] = Math.addExact(next[2], layer.macs());
      which = 3;
      next[3] = Math.addExact(next[3], out.numel());
      for (which = 0; which < next.length && next[which] <= MAX_TOTAL; which++) {
        // finds the first total past the limit
      }
    } catch (ArithmeticException e) {
      // `which` names the total that overflowed
    }
    if (which < next.length) {
      reporter(f).report(Diagnostic.error(Code.NETWORK_TOO_LARGE, span,
              "the network has more than 2^60 " + TOTALS[which] + " with this layer")
          .label("the total passes " + String.format(java.util.Locale.ROOT, "%,d", MAX_TOTAL) + " here")
          .help("cnnc counts every figure exactly in 64 bits; shrink the layers"));
      return false;
    }
    System.arraycopy(next, 0, totals, 0, next.length);
    return true;
  }

  private int addNode(String op, String name, Map<String, Value> args, List<Integer> ins, Shape shape, Layer layer,
      Span span, Frame f, Scope scope) {
    if (nodes.size() >= maxLayers) {
      throw new TooLarge();
    }
    if (!count(layer, shape, span, f)) {
      return POISON;
    }
    String unique = name;
    for (int k = 2; !nodeNames.add(unique); k++) {
      unique = name + "_" + k;
    }
    final String path = unique;
    // An empty suffix is a parameter the module holds itself (`scale`): its key is the path.
    List<Tensor> params = layer.params().stream().map(t -> new Tensor(t.keyUnder(path), t.dims())).toList();
    List<Tensor> buffers = layer.buffers().stream().map(t -> new Tensor(t.keyUnder(path), t.dims())).toList();
    int id = nodes.size();
    nodes.add(new Node(id, op, unique, args, ins, shape, params, buffers, layer.macs(), span, f.chain));
    scope.add(id);
    return id;
  }

}
