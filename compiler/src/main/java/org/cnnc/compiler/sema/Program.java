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
import org.cnnc.compiler.ast.Ast.CnnFile;
import org.cnnc.compiler.ast.Ast.Decl;
import org.cnnc.compiler.ast.Ast.ModelDecl;
import org.cnnc.compiler.source.SourceFile;

/**
 * The parsed files of one compilation and what each can see: its own declarations and those of
 * the files it imports, directly or through other imports.
 */
public final class Program {
  private final List<CnnFile> files;
  private final Map<SourceFile, List<SourceFile>> imports;
  private final Map<SourceFile, CnnFile> byFile = new LinkedHashMap<>();

  public Program(List<CnnFile> files, Map<SourceFile, List<SourceFile>> imports) {
    this.files = List.copyOf(files);
    this.imports = imports;
    for (CnnFile f : files) {
      byFile.put(f.source(), f);
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
