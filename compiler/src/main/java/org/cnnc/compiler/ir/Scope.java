// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.ir;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.cnnc.compiler.source.Span;

/**
 * A module of the network: the model, a block instance, a named group or a named merge. Scopes
 * form the module tree that parameter paths and the summary follow.
 */
public final class Scope {
  public enum Kind { MODEL, BLOCK, GROUP, MERGE, BRANCH }

  private final String name;
  private final String path;
  private final Kind kind;
  private final String blockName;
  private final Span span;
  private final List<Object> children = new ArrayList<>();
  private final java.util.Map<String, org.cnnc.compiler.sema.Value> args;
  private final java.util.Map<String, Boolean> given;

  public Scope(String name, String path, Kind kind, String blockName, Span span) {
    this(name, path, kind, blockName, span, java.util.Map.of());
  }

  public Scope(String name, String path, Kind kind, String blockName, Span span,
      java.util.Map<String, org.cnnc.compiler.sema.Value> args) {
    this(name, path, kind, blockName, span, args, java.util.Map.of());
  }

  /** @param given the parameters the call wrote, in its order, each mapped to whether it was named */
  public Scope(String name, String path, Kind kind, String blockName, Span span,
      java.util.Map<String, org.cnnc.compiler.sema.Value> args, java.util.Map<String, Boolean> given) {
    this.given = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(given));
    this.name = name;
    this.path = path;
    this.kind = kind;
    this.blockName = blockName;
    this.span = span;
    this.args = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(args));
  }

  /** A block instance's arguments (defaults included), by parameter name; empty for other scopes. */
  public java.util.Map<String, org.cnnc.compiler.sema.Value> args() {
    return args;
  }

  /**
   * How a block instance's call wrote its arguments: the parameters it gave (defaults left out), in
   * the order written, each mapped to whether it was given by name ({@code stride = 2}).
   */
  public java.util.Map<String, Boolean> given() {
    return given;
  }

  /** Every scope below this one, depth first. */
  public List<Scope> descendants() {
    List<Scope> out = new ArrayList<>();
    for (Object c : children) {
      if (c instanceof Scope s) {
        out.add(s);
        out.addAll(s.descendants());
      }
    }
    return out;
  }

  /** The last segment of the path: a label or a position. */
  public String name() {
    return name;
  }

  /** The dotted module path; empty for the model. */
  public String path() {
    return path;
  }

  public Kind kind() {
    return kind;
  }

  /** The block this scope instantiates, or null. */
  public String blockName() {
    return blockName;
  }

  public Span span() {
    return span;
  }

  /** Child scopes and node ids ({@link Integer}), in order. */
  public List<Object> children() {
    return Collections.unmodifiableList(children);
  }

  public void add(Object child) {
    children.add(child);
  }

  /** A path below this scope. */
  public String child(String segment) {
    return ModulePath.join(path, segment);
  }

  /** Ids of all nodes in this scope and below, in order. */
  public List<Integer> nodeIds() {
    List<Integer> out = new ArrayList<>();
    collect(out);
    return out;
  }

  private void collect(List<Integer> out) {
    for (Object c : children) {
      if (c instanceof Integer id) {
        out.add(id);
      } else {
        ((Scope) c).collect(out);
      }
    }
  }
}
