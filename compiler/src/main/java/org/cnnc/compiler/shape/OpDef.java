// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.shape;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.cnnc.compiler.sema.Value;

/**
 * One built-in op, defined once: its typed parameters, shape rule (with parameter and buffer
 * tensors and MACs), traits, family, documentation and what each backend cannot run. The
 * compiler, lint, pictures, the reference (README's op table, {@code cnnc ops}), the editors'
 * keywords and the runtime's lowering all read this definition; new ops are one entry in
 * {@link Ops} plus their lowering in the runtime.
 *
 * <p>A merge ({@code concat}, {@code add}) has a {@link MergeRule} over its branches' shapes
 * instead of a {@link Rule}.
 */
public final class OpDef {

  @FunctionalInterface
  public interface Rule {
    /** The inferred layer, or null after reporting an error through {@code in}. */
    Layer infer(OpInput in);
  }

  /** The shape rule of a merge: the joined shape, or the first branch that does not fit and why. */
  @FunctionalInterface
  public interface MergeRule {
    Joined join(List<Shape> branches);
  }

  /**
   * A merge's result: {@code shape}, or the message of why the branches cannot be joined, with
   * {@code branch} the index of the first that does not fit (-1 when the result itself is too
   * large) and a help (null if none).
   */
  public record Joined(Shape shape, int branch, String message, String help) {
    public static Joined of(Shape s) {
      return new Joined(s, -1, null, null);
    }

    public static Joined mismatch(int branch, String message, String help) {
      return new Joined(null, branch, message, help);
    }
  }

  /** Why a backend cannot run one application of an op; {@code arg} names the argument to point at, or null. */
  public record Refusal(Backend backend, String arg, String reason) {}

  /** A condition a backend puts on an op's arguments or input: the reason it refuses, or null. */
  @FunctionalInterface
  public interface Test {
    String refuse(BoundArgs args, List<Shape> inputs);
  }

  private record Limit(Set<Backend> on, String arg, Test test) {}

  private final String name;
  private final String summary;
  private final String torch;
  private final String tensors;
  private final List<ParamSig> params;
  private final boolean arrowIn;
  private final Rule rule;
  private final MergeRule merge;
  private final Category category;
  private final Set<Trait> traits;
  private final List<Limit> limits;

  private OpDef(Builder b) {
    this.name = b.name;
    this.summary = b.summary;
    this.torch = b.torch;
    this.tensors = b.tensors;
    this.params = List.copyOf(b.params);
    this.arrowIn = b.arrowIn;
    this.rule = b.rule;
    this.merge = b.merge;
    this.category = b.category;
    this.traits = Collections.unmodifiableSet(EnumSet.copyOf(b.traits));
    this.limits = List.copyOf(b.limits);
  }

  public static Builder op(String name) {
    return new Builder(name);
  }

  public String name() {
    return name;
  }

  /** One line: what the op computes. */
  public String summary() {
    return summary;
  }

  /** The PyTorch module or function it equals ({@code nn.Conv2d}), or empty. */
  public String torch() {
    return torch;
  }

  /** Its parameter and buffer tensors in words ({@code weight [out, in/groups, kh, kw]}), or empty. */
  public String tensors() {
    return tensors;
  }

  public List<ParamSig> params() {
    return params;
  }

  /** Whether the first argument may state input channels: {@code conv(3 -> 64, 3)}. */
  public boolean arrowIn() {
    return arrowIn;
  }

  /** The shape rule of a single-input op (null for a merge). */
  public Rule rule() {
    return rule;
  }

  /** The shape rule of a merge (null for other ops). */
  public MergeRule merge() {
    return merge;
  }

  public boolean isMerge() {
    return merge != null;
  }

  public Category category() {
    return category;
  }

  public Set<Trait> traits() {
    return traits;
  }

  public boolean has(Trait t) {
    return traits.contains(t);
  }

  public Optional<ParamSig> param(String name) {
    return params.stream().filter(p -> p.name().equals(name)).findFirst();
  }

  /**
   * Every argument of an application, in parameter order: the given ones (converted and checked by
   * the caller) and the defaults of the others (a {@code defaultFrom} takes its parameter's
   * value). Optional parameters not given stay absent. The compiler and the runtime both bind
   * through this, so a default is defined here only.
   */
  public Map<String, Value> withDefaults(Map<String, Value> given) {
    Map<String, Value> out = new java.util.LinkedHashMap<>();
    for (ParamSig p : params) {
      Value v = given.get(p.name());
      if (v != null) {
        out.put(p.name(), v);
      } else if (p.defaultValue() != null) {
        out.put(p.name(), p.type().convert(p.defaultValue()).orElseThrow());
      } else if (p.defaultFrom() != null && out.containsKey(p.defaultFrom())) {
        out.put(p.name(), out.get(p.defaultFrom()));
      }
    }
    return out;
  }

  /** Why {@code backend} cannot run this op with these arguments and inputs, if it cannot. */
  public Optional<Refusal> refusal(Backend backend, Map<String, Value> args, List<Shape> inputs) {
    BoundArgs bound = new BoundArgs(args);
    for (Limit l : limits) {
      if (l.on().contains(backend)) {
        String why = l.test().refuse(bound, inputs);
        if (why != null) {
          return Optional.of(new Refusal(backend, l.arg(), why));
        }
      }
    }
    return Optional.empty();
  }

  @Override
  public String toString() {
    return "op " + name;
  }

  /** Builds a definition; {@link Ops} holds the table. */
  public static final class Builder {
    private final String name;
    private String summary = "";
    private String torch = "";
    private String tensors = "";
    private final List<ParamSig> params = new ArrayList<>();
    private boolean arrowIn;
    private Rule rule;
    private MergeRule merge;
    private Category category = Category.OTHER;
    private final Set<Trait> traits = EnumSet.noneOf(Trait.class);
    private final List<Limit> limits = new ArrayList<>();

    private Builder(String name) {
      this.name = name;
    }

    public Builder doc(String summary) {
      this.summary = summary;
      return this;
    }

    public Builder torch(String torch) {
      this.torch = torch;
      return this;
    }

    public Builder tensors(String tensors) {
      this.tensors = tensors;
      return this;
    }

    public Builder params(ParamSig... ps) {
      params.addAll(List.of(ps));
      return this;
    }

    public Builder arrowIn() {
      this.arrowIn = true;
      return this;
    }

    public Builder rule(Rule r) {
      this.rule = r;
      return this;
    }

    public Builder merge(MergeRule m) {
      this.merge = m;
      this.traits.add(Trait.MERGE);
      return this;
    }

    public Builder category(Category c) {
      this.category = c;
      return this;
    }

    public Builder traits(Trait... ts) {
      traits.addAll(List.of(ts));
      return this;
    }

    /** {@code on} cannot run the op when {@code test} gives a reason; {@code arg} is what a diagnostic points at. */
    public Builder limit(Set<Backend> on, String arg, Test test) {
      limits.add(new Limit(Set.copyOf(on), arg, test));
      return this;
    }

    public OpDef build() {
      if ((rule == null) == (merge == null)) {
        throw new IllegalStateException(name + ": an op has a shape rule or a merge rule");
      }
      return new OpDef(this);
    }
  }
}
