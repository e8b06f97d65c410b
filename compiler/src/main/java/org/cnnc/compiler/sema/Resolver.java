// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.cnnc.compiler.ast.Ast.*;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.source.Span;

/**
 * The checks that need no call site: declarations, names, argument binding, constant argument
 * types, statement placement, and cycles between blocks. They run once per declaration, so a
 * block that no model uses is still checked, and an error in a block is reported once, not once
 * per instance.
 */
public final class Resolver {
  private final Program program;
  private final Diagnostics diags;
  private final Reporter r;
  /** Block to the blocks it calls, with the call's place, in source order. */
  private final Map<BlockDecl, List<Edge>> calls = new java.util.IdentityHashMap<>();
  private final List<BlockDecl> callers = new ArrayList<>();
  private final Set<BlockDecl> cyclic = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

  /** What `expect NAME <= N` can bound. */
  public static final List<String> EXPECTABLE = List.of("params", "macs", "buffers");

  private record Edge(BlockDecl callee, Span at) {}

  public Resolver(Program program, Diagnostics diags) {
    this.program = program;
    this.diags = diags;
    this.r = diags::report;
  }

  /** Runs every check; returns the blocks that take part in a cycle. */
  public Set<BlockDecl> run() {
    for (CnnFile file : program.files()) {
      duplicates(file);
    }
    for (CnnFile file : program.files()) {
      for (Decl d : file.decls()) {
        checkDecl(d);
      }
    }
    findCycles();
    program.resolution().cyclic(cyclic);
    program.resolution().finish();
    return cyclic;
  }

  /**
   * Names must be unique in each file's namespace: its own declarations and those it imports.
   * Two of its own: an error at the second. One of its own and an imported one: an error at its
   * own. Two imported ones: an error at the import that brings the second in. Files given
   * together do not see each other, so each may declare `model Net`.
   */
  private void duplicates(CnnFile file) {
    Map<String, Decl> seen = new HashMap<>();
    for (Decl d : file.decls()) {
      String name = d.name().text();
      Decl first = seen.putIfAbsent(name, d);
      if (first != null) {
        r.report(Diagnostic.error(Code.DUPLICATE_NAME, d.name().span(),
                kind(d) + " `" + name + "` is defined twice")
            .label("defined again here")
            .note("first defined at " + first.name().span().location(), first.name().span())
            .help("rename one of them"));
      } else if (d instanceof BlockDecl && Ops.get(name) != null) {
        r.report(Diagnostic.error(Code.DUPLICATE_NAME, d.name().span(),
                "block `" + name + "` has the name of a built-in op")
            .label("shadows the op `" + name + "`")
            .help("rename the block"));
      }
    }
    Map<String, Decl> imported = new HashMap<>();
    List<SourceFile> direct = program.directImports(file.source());
    for (SourceFile dep : direct) {
      Import at = program.importOf(file.source(), dep);
      for (SourceFile f : program.visibleFiles(dep)) {
        CnnFile cf = program.file(f);
        if (cf == null || f.equals(file.source())) {
          continue;
        }
        for (Decl d : cf.decls()) {
          String name = d.name().text();
          Decl own = seen.get(name);
          Decl other = imported.putIfAbsent(name, d);
          if (own != null && reportedOwn.add(own)) {
            r.report(Diagnostic.error(Code.DUPLICATE_NAME, own.name().span(),
                    kind(own) + " `" + name + "` is also defined in an imported file")
                .label("defined here and imported")
                .note("imported from " + d.name().span().location(), d.name().span())
                .help("rename one of them: a file sees its own declarations and those it imports"));
          } else if (own == null && other != null && other != d) {
            r.report(Diagnostic.error(Code.DUPLICATE_NAME, at.span(),
                    kind(d) + " `" + name + "` is defined in two imported files")
                .label("imports a second `" + name + "`")
                .note("one is defined at " + other.name().span().location(), other.name().span())
                .note("the other at " + d.name().span().location(), d.name().span())
                .help("rename one of them, or import only one of the files"));
          }
        }
      }
    }
  }

  /** Own declarations already reported as clashing with an import (once each). */
  private final Set<Decl> reportedOwn = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

  private static String kind(Decl d) {
    return d instanceof BlockDecl ? "block" : "model";
  }

  private void checkDecl(Decl d) {
    Set<String> names = new LinkedHashSet<>();
    Map<String, Span> firstAt = new HashMap<>();
    for (Param p : d.params()) {
      String name = p.name().text();
      if (!names.add(name)) {
        r.report(Diagnostic.error(Code.DUPLICATE_NAME, p.name().span(), "parameter `" + name + "` is declared twice")
            .label("declared again here")
            .note("first declared at " + firstAt.get(name).location(), firstAt.get(name)));
        continue;
      }
      firstAt.put(name, p.name().span());
      Type type = Type.ANY;
      if (p.type().isPresent()) {
        String t = p.type().get().text();
        Optional<Type> known = Type.byKeyword(t);
        if (known.isEmpty()) {
          r.report(Diagnostic.error(Code.UNKNOWN_NAME, p.type().get().span(), "unknown type `" + t + "`")
              .label("not a type")
              .note("types: " + String.join(", ", Type.keywords()))
              .help(Suggest.help(t, Type.keywords())));
        } else {
          type = known.get();
        }
      }
      if (p.defaultValue().isPresent()) {
        Expr e = p.defaultValue().get();
        List<String> earlier = new ArrayList<>(names);
        earlier.remove(name);
        if (namesIn(e, earlier) && Evaluator.isConstant(e)) {
          Value v = Evaluator.eval(e, Map.of(), r);
          if (v != null) {
            Checks.convert(v, type, name, kind(d) + " `" + d.name().text() + "`", e, r);
          }
        }
      }
    }
    List<String> params = new ArrayList<>(names);
    Ctx ctx = new Ctx(d, params);
    body(d.body(), ctx, true);
    new LabelScopes(program.resolution(), r).decl(d);
    if (d instanceof ModelDecl && d.body().stmts().stream().noneMatch(InputStmt.class::isInstance)) {
      r.report(Diagnostic.error(Code.NO_INPUT, d.name().span(), "model `" + d.name().text() + "` has no input")
          .label("no `input` statement")
          .help("start the model with its input shape, e.g. `input [3, 224, 224]` (channels, height, width)"));
    }
    if (d instanceof ModelDecl && d.body().stmts().stream().anyMatch(InputStmt.class::isInstance)) {
      beforeInput(d.body());
    }
  }

  /** Layers before a model's first input would read nothing: an error, not a silent drop. */
  private void beforeInput(Body b) {
    for (Stmt s : b.stmts()) {
      if (s instanceof InputStmt) {
        return;
      }
      boolean reads = s instanceof ChainStmt c && c.from().isEmpty()
          || s instanceof OutputStmt o && o.from().isEmpty();
      if (reads) {
        r.report(Diagnostic.error(Code.MISPLACED_STATEMENT, s.span(), "layers before `input` have nothing to read")
            .label("before the model's input")
            .help("move `input` above them: a model starts with its input shape"));
        return;
      }
    }
  }

  private record Ctx(Decl decl, List<String> params) {
    boolean isModel() {
      return decl instanceof ModelDecl;
    }
  }

  private void body(Body b, Ctx ctx, boolean top) {
    for (Stmt s : b.stmts()) {
      if (s instanceof InputStmt in) {
        if (!(ctx.isModel() && top)) {
          misplaced(in.span(), "input");
        }
        for (Expr e : in.shape().dims()) {
          namesIn(e, ctx.params);
        }
      } else if (s instanceof OutputStmt out) {
        if (!(ctx.isModel() && top)) {
          misplaced(out.span(), "output");
        }
        out.chain().ifPresent(c -> chain(c, ctx));
        Optional<Binder.Bound> options = Binder.bind("`output`", Checks.OUTPUT_OPTIONS, out.options(), out.name().span(), false, r);
        program.resolution().output(out, options);
        options.ifPresent(bound -> bound.args().forEach((name, e) -> constantArg(e, name,
                Checks.OUTPUT_OPTIONS.stream().filter(f -> f.name().equals(name)).findFirst().orElseThrow().type(),
                "`output`", ctx)));
      } else if (s instanceof ExpectStmt e) {
        if (!(ctx.isModel() && top)) {
          misplaced(e.span(), "expect");
        }
        if (!EXPECTABLE.contains(e.what().text())) {
          r.report(Diagnostic.error(Code.UNKNOWN_NAME, e.what().span(), "cannot expect `" + e.what().text() + "`")
              .label("not a figure of the network")
              .note("budgets: " + String.join(", ", EXPECTABLE))
              .help(Suggest.help(e.what().text(), EXPECTABLE)));
        }
        if (namesIn(e.limit(), ctx.params) && Evaluator.isConstant(e.limit())) {
          Value v = Evaluator.eval(e.limit(), Map.of(), r);
          if (v != null) {
            Checks.convert(v, Type.FLOAT, e.what().text(), "`expect`", e.limit(), r);
          }
        }
      } else if (s instanceof ExpectInputStmt e) {
        if (!(ctx.isModel() && top)) {
          misplaced(e.span(), "expect");
        }
        for (DimRange d : e.dims()) {
          namesIn(d.lo(), ctx.params);
          d.hi().ifPresent(h -> namesIn(h, ctx.params));
        }
      } else {
        chain(((ChainStmt) s).chain(), ctx);
      }
    }
  }

  private void misplaced(Span span, String what) {
    r.report(Diagnostic.error(Code.MISPLACED_STATEMENT, span, "`" + what + "` is only allowed at the top level of a model")
        .label("inside a " + "block or group")
        .help(what.equals("input")
            ? "blocks take their input from the layer before them"
            : what.equals("expect") ? "state budgets and accepted input sizes in the model"
            : "declare outputs in the model, with `from` to reach a named node"));
  }

  private void chain(Chain c, Ctx ctx) {
    for (Element e : c.elements()) {
      element(e, ctx);
    }
  }

  private void element(Element e, Ctx ctx) {
    e.numbered().ifPresent(n -> n.exprs().forEach(x -> namesIn(x, ctx.params)));
    e.assertion().ifPresent(shape -> shape.dims().forEach(d -> {
      if (!(d instanceof NameRef n && n.name().text().equals("_"))) {
        namesIn(d, ctx.params);
      }
    }));
    Term t = e.term();
    if (t instanceof Call call) {
      call(call, ctx);
    } else if (t instanceof Group g) {
      body(g.body(), ctx, false);
    } else if (t instanceof Merge m) {
      for (Branch b : m.branches()) {
        b.chain().ifPresent(c -> chain(c, ctx));
      }
    } else if (t instanceof Repeat rep) {
      constantArg(rep.count(), "count", Type.INT, "`repeat`", ctx);
      Ctx inner = ctx;
      if (rep.var().isPresent()) {
        Ident v = rep.var().get();
        if (ctx.params.contains(v.text())) {
          r.report(Diagnostic.error(Code.DUPLICATE_NAME, v.span(), "`" + v.text() + "` is already a name here")
              .label("hides the other `" + v.text() + "`")
              .help("give the repetition's counter another name"));
        }
        List<String> names = new ArrayList<>(ctx.params);
        names.add(v.text());
        inner = new Ctx(ctx.decl, names);
      }
      body(rep.body(), inner, false);
    }
  }

  private void call(Call call, Ctx ctx) {
    String name = call.callee().text();
    OpDef op = Ops.callable(name);
    BlockDecl block = op == null ? program.block(call.span().file(), name) : null;
    if (op == null && block == null) {
      program.resolution().unbound(call);
      if (!program.isBroken(call.span().file(), name)) {
        unknownCallee(call, program, r);
      }
      call.args().forEach(a -> {
        namesIn(a.value(), ctx.params);
        a.arrowOut().ifPresent(x -> namesIn(x, ctx.params));
      });
      return;
    }
    if (op != null) {
      String callee = "`" + name + "`";
      Optional<Binder.Bound> bound = Binder.bind(callee, Checks.formals(op), call.args(), call.span(), op.arrowIn(), r);
      keep(call, op, null, bound);
      bound.ifPresent(b -> {
        b.args().forEach((p, e) -> {
          Value v = constantArg(e, p, op.param(p).orElseThrow().type(), callee, ctx);
          if (v != null) {
            Checks.range(v, op.param(p).orElseThrow(), callee, e, r);
          }
        });
        b.explicitIn().ifPresent(e -> constantArg(e, "in", Type.INT, callee, ctx));
      });
      return;
    }
    if (ctx.decl instanceof BlockDecl caller) {
      calls.computeIfAbsent(caller, k -> {
        callers.add(k);
        return new ArrayList<>();
      }).add(new Edge(block, call.callee().span()));
    }
    String callee = "block `" + name + "`";
    List<Formal> formals = blockFormals(block);
    Optional<Binder.Bound> bound = Binder.bind(callee, formals, call.args(), call.span(), false, r);
    keep(call, null, block, bound);
    bound.ifPresent(b ->
        b.args().forEach((p, e) -> constantArg(e, p,
            formals.stream().filter(f -> f.name().equals(p)).findFirst().orElseThrow().type(), callee, ctx)));
  }

  private void keep(Call call, OpDef op, BlockDecl block, Optional<Binder.Bound> bound) {
    if (bound.isPresent()) {
      program.resolution().call(call, new Resolution.Binding(op, block, bound.get()));
    } else {
      program.resolution().unbound(call);
    }
  }

  /** Reports an unknown op or block, with the closest name known at that place. */
  static void unknownCallee(Call call, Program program, Reporter r) {
    String name = call.callee().text();
    List<String> known = new ArrayList<>();
    Ops.callable().forEach(o -> known.add(o.name()));
    known.addAll(program.blockNames(call.span().file()));
    r.report(Diagnostic.error(Code.UNKNOWN_NAME, call.callee().span(), "unknown op or block `" + name + "`")
        .label("not an op or a block")
        .help(Suggest.help(name, known)));
  }

  public static List<Formal> blockFormals(BlockDecl b) {
    List<Formal> out = new ArrayList<>();
    for (Param p : b.params()) {
      Type t = p.type().flatMap(x -> Type.byKeyword(x.text())).orElse(Type.ANY);
      out.add(new Formal(p.name().text(), t, p.defaultValue().isEmpty(),
          p.defaultValue().map(e -> e.span().text()).orElse(null)));
    }
    return out;
  }

  /** Checks an argument's names, and its type when it is constant; returns the converted constant or null. */
  private Value constantArg(Expr e, String param, Type type, String callee, Ctx ctx) {
    if (type == Type.SYMBOL && e instanceof NameRef) {
      return null;
    }
    if (namesIn(e, ctx.params) && Evaluator.isConstant(e)) {
      Value v = Evaluator.eval(e, Map.of(), r);
      if (v != null) {
        return Checks.convert(v, type, param, callee, e, r);
      }
    }
    return null;
  }

  /** Reports names that are not parameters in scope; true when there were none. */
  private boolean namesIn(Expr e, List<String> params) {
    if (e instanceof NameRef n) {
      if (!params.contains(n.name().text())) {
        Evaluator.unknownName(n, params, r);
        return false;
      }
      return true;
    }
    if (e instanceof ListExpr l) {
      boolean ok = true;
      for (Expr x : l.items()) {
        ok &= namesIn(x, params);
      }
      return ok;
    }
    if (e instanceof Unary u) {
      return namesIn(u.operand(), params);
    }
    if (e instanceof Binary b) {
      return namesIn(b.left(), params) & namesIn(b.right(), params);
    }
    return true;
  }

  private void findCycles() {
    Map<BlockDecl, Integer> state = new java.util.IdentityHashMap<>();
    for (BlockDecl block : callers) {
      visit(block, state, new ArrayList<>());
    }
  }

  private void visit(BlockDecl block, Map<BlockDecl, Integer> state, List<BlockDecl> path) {
    Integer s = state.get(block);
    if (s != null) {
      return;
    }
    state.put(block, 1);
    path.add(block);
    for (Edge e : calls.getOrDefault(block, List.of())) {
      Integer cs = state.get(e.callee);
      if (cs != null && cs == 1) {
        List<BlockDecl> cycle = new ArrayList<>(path.subList(indexOf(path, e.callee), path.size()));
        cyclic.addAll(cycle);
        cycle.add(e.callee);
        String chain = String.join(" -> ", cycle.stream().map(x -> "`" + x.name().text() + "`").toList());
        String callee = e.callee.name().text();
        r.report(Diagnostic.error(Code.CYCLIC_BLOCK, e.at,
                cycle.size() == 2 ? "block `" + callee + "` calls itself" : "blocks call each other in a cycle: " + chain)
            .label("this call closes the cycle")
            .note("cycle: " + chain)
            .help("a block cannot contain itself: the network would be infinite; use `repeat N { ... }` for stacks"));
      } else if (cs == null) {
        visit(e.callee, state, path);
      }
    }
    path.remove(path.size() - 1);
    state.put(block, 2);
  }

  private static int indexOf(List<BlockDecl> path, BlockDecl b) {
    for (int i = 0; i < path.size(); i++) {
      if (path.get(i) == b) {
        return i;
      }
    }
    return -1;
  }
}
