// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.sema;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.ast.Ast.BlockDecl;
import org.cnnc.compiler.ast.Ast.Body;
import org.cnnc.compiler.ast.Ast.Call;
import org.cnnc.compiler.ast.Ast.Chain;
import org.cnnc.compiler.ast.Ast.CnnFile;
import org.cnnc.compiler.ast.Ast.Decl;
import org.cnnc.compiler.ast.Ast.Element;
import org.cnnc.compiler.ast.Ast.Group;
import org.cnnc.compiler.ast.Ast.Merge;
import org.cnnc.compiler.ast.Ast.ModelDecl;
import org.cnnc.compiler.ast.Ast.Repeat;
import org.cnnc.compiler.ast.Ast.Term;
import org.cnnc.compiler.source.SourceFile;

/**
 * The parsed files of one compilation and what each can see: its own declarations and those of
 * the files it imports, directly or through other imports. Files given together do not see each
 * other: each is its own namespace.
 */
public final class Program {
  private final List<CnnFile> files;
  private final Map<SourceFile, List<SourceFile>> imports;
  private final Map<SourceFile, CnnFile> byFile = new LinkedHashMap<>();
  private final Map<SourceFile, Set<String>> broken;

  public Program(List<CnnFile> files, Map<SourceFile, List<SourceFile>> imports) {
    this(files, imports, Map.of());
  }

  /**
   * @param broken per file, the names of declarations left out for a syntax error in them
   */
  public Program(List<CnnFile> files, Map<SourceFile, List<SourceFile>> imports, Map<SourceFile, Set<String>> broken) {
    this.files = List.copyOf(files);
    this.imports = imports;
    this.broken = Map.copyOf(broken);
    for (CnnFile f : files) {
      byFile.put(f.source(), f);
    }
  }

  /** The files a file imports itself, in the order of its imports (those found). */
  public List<SourceFile> directImports(SourceFile from) {
    return imports.getOrDefault(from, List.of());
  }

  /**
   * Whether a declaration of that name, visible from the file, was left out for a syntax error:
   * a call to it is no unknown name, and what calls it is not checked further.
   */
  public boolean isBroken(SourceFile from, String name) {
    for (SourceFile f : visibleFiles(from)) {
      Set<String> b = broken.getOrDefault(f, Set.of());
      if (b.contains(name) || b.contains(org.cnnc.compiler.syntax.Parsing.ANY_NAME)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The blocks a declaration uses, directly or through other blocks (each call resolved from the
   * file of the declaration that makes it), the declaration itself first; and sets
   * {@code broken[0]} when a call names a block left out for a syntax error.
   */
  public List<Decl> uses(Decl d, boolean[] broken) {
    List<Decl> out = new ArrayList<>();
    java.util.Set<Decl> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    Deque<Decl> todo = new ArrayDeque<>(List.of(d));
    while (!todo.isEmpty()) {
      Decl x = todo.removeFirst();
      if (!seen.add(x)) {
        continue;
      }
      out.add(x);
      SourceFile file = x.span().file();
      for (Call c : calls(x.body(), new ArrayList<>())) {
        String name = c.callee().text();
        if (org.cnnc.compiler.shape.Ops.get(name) != null) {
          continue;
        }
        BlockDecl b = block(file, name);
        if (b != null) {
          todo.add(b);
        } else if (isBroken(file, name)) {
          broken[0] = true;
        }
      }
    }
    return out;
  }

  /** Every call in a body, nested ones included. */
  private static List<Call> calls(Body body, List<Call> out) {
    for (Chain c : body.chains()) {
      calls(c, out);
    }
    return out;
  }

  private static void calls(Chain chain, List<Call> out) {
    for (Element e : chain.elements()) {
      Term t = e.term();
      if (t instanceof Call c) {
        out.add(c);
      } else if (t instanceof Group g) {
        calls(g.body(), out);
      } else if (t instanceof Repeat r) {
        calls(r.body(), out);
      } else if (t instanceof Merge m) {
        m.branches().forEach(b -> b.chain().ifPresent(ch -> calls(ch, out)));
      }
    }
  }

  public List<CnnFile> files() {
    return files;
  }

  public List<Decl> decls() {
    List<Decl> out = new ArrayList<>();
    files.forEach(f -> out.addAll(f.decls()));
    return out;
  }

  public List<ModelDecl> models() {
    List<ModelDecl> out = new ArrayList<>();
    files.forEach(f -> out.addAll(f.models()));
    return out;
  }

  public CnnFile file(SourceFile source) {
    return byFile.get(source);
  }

  /** The files visible from {@code from}: itself first, then its imports, transitively. */
  public Set<SourceFile> visibleFiles(SourceFile from) {
    Set<SourceFile> seen = new LinkedHashSet<>();
    Deque<SourceFile> todo = new ArrayDeque<>(List.of(from));
    while (!todo.isEmpty()) {
      SourceFile f = todo.removeFirst();
      if (seen.add(f)) {
        todo.addAll(imports.getOrDefault(f, List.of()));
      }
    }
    return seen;
  }

  /** The first block of that name visible from a file, or null. */
  public BlockDecl block(SourceFile from, String name) {
    for (SourceFile f : visibleFiles(from)) {
      CnnFile cf = byFile.get(f);
      if (cf == null) {
        continue;
      }
      for (BlockDecl b : cf.blocks()) {
        if (b.name().text().equals(name)) {
          return b;
        }
      }
    }
    return null;
  }

  public List<String> blockNames(SourceFile from) {
    List<String> out = new ArrayList<>();
    for (SourceFile f : visibleFiles(from)) {
      CnnFile cf = byFile.get(f);
      if (cf != null) {
        cf.blocks().forEach(b -> out.add(b.name().text()));
      }
    }
    return out;
  }
}
