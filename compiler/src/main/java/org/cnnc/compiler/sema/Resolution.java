// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.cnnc.compiler.ast.Ast.BlockDecl;
import org.cnnc.compiler.ast.Ast.Call;
import org.cnnc.compiler.ast.Ast.Ident;
import org.cnnc.compiler.ast.Ast.OutputStmt;
import org.cnnc.compiler.shape.OpDef;
import org.cnnc.compiler.source.Span;

/**
 * What the {@link Resolver} decided, kept for everything after it: what each call names (an op or
 * a block, seen from its file), how its arguments bind to the callee's parameters, the options of
 * each {@code output}, and which blocks take part in a cycle. Expansion, code generation and lint
 * read it; none of them binds a call again, so they cannot disagree on what a call means.
 *
 * <p>A call that names nothing, or whose arguments do not bind, has no binding: the resolver
 * reported why, once.
 */
public final class Resolution {
  /**
   * One call, resolved: exactly one of {@code op} and {@code block} is set.
   *
   * @param bound its arguments by parameter name
   */
  public record Binding(OpDef op, BlockDecl block, Binder.Bound bound) {
    public boolean isOp() {
      return op != null;
    }
  }

  private final Map<Call, Binding> calls = new IdentityHashMap<>();
  private final Set<Call> unbound = Collections.newSetFromMap(new IdentityHashMap<>());
  private final Map<OutputStmt, Optional<Binder.Bound>> outputs = new IdentityHashMap<>();
  private final Set<BlockDecl> cyclic = Collections.newSetFromMap(new IdentityHashMap<>());
  private final Map<Ident, Span> labels = new IdentityHashMap<>();
  private boolean done;

  Resolution() {}

  void call(Call c, Binding b) {
    calls.put(c, b);
  }

  void unbound(Call c) {
    unbound.add(c);
  }

  void output(OutputStmt out, Optional<Binder.Bound> b) {
    outputs.put(out, b);
  }

  void cyclic(Set<BlockDecl> blocks) {
    cyclic.addAll(blocks);
  }

  void finish() {
    done = true;
  }

  /** Whether the resolver has run over the program. */
  public boolean isDone() {
    return done;
  }

  /**
   * The call's binding, or empty when it names nothing or its arguments do not bind (reported by
   * the resolver).
   *
   * @throws IllegalStateException for a call the resolver never saw: a bug in cnnc
   */
  public Optional<Binding> of(Call c) {
    Binding b = calls.get(c);
    if (b == null && !unbound.contains(c)) {
      throw new IllegalStateException("call `" + c.callee().text() + "` at " + c.span().location() + " was never resolved");
    }
    return Optional.ofNullable(b);
  }

  /** The options of an {@code output}, bound; empty when they do not bind (reported). */
  public Optional<Binder.Bound> of(OutputStmt out) {
    Optional<Binder.Bound> b = outputs.get(out);
    if (b == null) {
      throw new IllegalStateException("output `" + out.name().text() + "` at " + out.span().location() + " was never resolved");
    }
    return b;
  }

  /**
   * Where the node a {@code from} reads is declared (its label, or the input's name), by the
   * language's scoping ({@link LabelScopes}); empty for a reference that names nothing (reported).
   */
  public Optional<Span> declarationOf(Ident ref) {
    return Optional.ofNullable(labels.get(ref));
  }

  void label(Ident ref, Span declaration) {
    labels.put(ref, declaration);
  }

  /** The blocks that take part in a cycle of calls. */
  public Set<BlockDecl> cyclic() {
    return Collections.unmodifiableSet(cyclic);
  }
}
