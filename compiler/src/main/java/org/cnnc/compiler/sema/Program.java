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
import org.cnnc.compiler.ast.Ast.Import;
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
  /** Per file, the files it imports itself, each with the import that names it, in the order of the imports. */
  private final Map<SourceFile, Map<SourceFile, Import>> imports;
  private final Map<SourceFile, CnnFile> byFile = new LinkedHashMap<>();
  private final Map<SourceFile, Set<String>> broken;
  private final Resolution resolution = new Resolution();

  public Program(List<CnnFile> files, Map<SourceFile, Map<SourceFile, Import>> imports) {
    this(files, imports, Map.of());
  }

  /**
   * @param broken per file, the names of declarations left out for a syntax error in them
   */
  public Program(List<CnnFile> files, Map<SourceFile, Map<SourceFile, Import>> imports,
      Map<SourceFile, Set<String>> broken) {
    this.files = List.copyOf(files);
    this.imports = imports;
    this.broken = Map.copyOf(broken);
    for (CnnFile f : files) {
      byFile.put(f.source(), f);
    }
  }

  /** What the {@link Resolver} decided about this program's calls (filled when it runs). */
  public Resolution resolution() {
    return resolution;
  }

  /** The files a file imports itself, in the order of its imports (those found). */
  public List<SourceFile> directImports(SourceFile from) {
    return List.copyOf(imports.getOrDefault(from, Map.of()).keySet());
  }

  /** The import of {@code from} that names {@code target} (one of its direct imports), or null. */
  public Import importOf(SourceFile from, SourceFile target) {
    return imports.getOrDefault(from, Map.of()).get(target);
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
   * The blocks a declaration uses, directly or through other blocks, each call resolved from the
   * file of the declaration that makes it (so two blocks of one name in two files stay apart), in
   * the order of first use, depth first. Lint, code generation and the compiler all walk this.
   */
  public List<BlockDecl> blocksUsed(Decl d) {
    Set<BlockDecl> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    List<BlockDecl> out = new ArrayList<>();
    blocksUsed(d, seen, out);
    return out;
  }

  private void blocksUsed(Decl d, Set<BlockDecl> seen, List<BlockDecl> out) {
    for (Call c : calls(d.body(), new ArrayList<>())) {
      BlockDecl b = calledBlock(d.span().file(), c);
      if (b != null && seen.add(b)) {
        out.add(b);
        blocksUsed(b, seen, out);
      }
    }
  }

  /** The block a call names, seen from {@code file}; null for an op or a name that resolves to nothing. */
  private BlockDecl calledBlock(SourceFile file, Call c) {
    return org.cnnc.compiler.shape.Ops.callable(c.callee().text()) != null ? null : block(file, c.callee().text());
  }

  /**
   * Whether a declaration, or a block it uses, calls a name that a declaration left out for a
   * syntax error may have declared: what it builds is unknown, so it is not checked further.
   */
  public boolean callsBroken(Decl d) {
    List<Decl> all = new ArrayList<>(List.of(d));
    all.addAll(blocksUsed(d));
    for (Decl x : all) {
      SourceFile file = x.span().file();
      for (Call c : calls(x.body(), new ArrayList<>())) {
        if (org.cnnc.compiler.shape.Ops.callable(c.callee().text()) == null && block(file, c.callee().text()) == null
            && isBroken(file, c.callee().text())) {
          return true;
        }
      }
    }
    return false;
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
        todo.addAll(directImports(f));
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
