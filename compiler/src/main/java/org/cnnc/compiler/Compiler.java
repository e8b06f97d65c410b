// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.cnnc.compiler.ast.Ast;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.diag.Code;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.sema.Capabilities;
import org.cnnc.compiler.sema.Expander;
import org.cnnc.compiler.sema.Program;
import org.cnnc.compiler.sema.Resolver;
import org.cnnc.compiler.sema.Value;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.syntax.Parsing;

/**
 * The compiler's entry point: files in, diagnostics and shaped networks out. Text flows one way:
 * tokens, parse tree, AST, resolved and expanded, shaped IR. Each phase collects its diagnostics;
 * the next phase runs only when there are no errors (parsing, then names and blocks, then shapes).
 */
public final class Compiler {
  private Compiler() {}

  /** What a request checks unless told otherwise: the backend {@code run} and {@code train} use. */
  public static final Set<Backend> DEFAULT_BACKENDS = Set.of(Backend.CPU);

  /**
   * What to compile.
   *
   * @param files the specs named by the user
   * @param sourceRoots directories imports may reach; empty means the directories of {@code files}
   * @param modelArgs values for model parameters, by name ({@code classes = 10}); each applies to
   *     every model that declares that parameter
   * @param limits the sizes accepted (file size, errors shown, layers expanded)
   */
  public record Request(List<Path> files, List<Path> sourceRoots, Map<String, Value> modelArgs, Limits limits,
      Set<Backend> backends) {
    public Request {
      files = List.copyOf(files);
      sourceRoots = List.copyOf(sourceRoots);
      modelArgs = Map.copyOf(modelArgs);
      limits = java.util.Objects.requireNonNull(limits);
      backends = backends.isEmpty() ? Set.of() : java.util.Collections.unmodifiableSet(java.util.EnumSet.copyOf(backends));
    }

    /** Checked for the CPU backend ({@link #DEFAULT_BACKENDS}). */
    public Request(List<Path> files, List<Path> sourceRoots, Map<String, Value> modelArgs, Limits limits) {
      this(files, sourceRoots, modelArgs, limits, DEFAULT_BACKENDS);
    }

    /** With the default {@link Limits}. */
    public Request(List<Path> files, List<Path> sourceRoots, Map<String, Value> modelArgs) {
      this(files, sourceRoots, modelArgs, Limits.defaults());
    }

    public Request withLimits(Limits l) {
      return new Request(files, sourceRoots, modelArgs, l, backends);
    }

    /** The backends whose capabilities are checked ({@link Capabilities}); empty checks none. */
    public Request withBackends(Set<Backend> b) {
      return new Request(files, sourceRoots, modelArgs, limits, b);
    }

    public static Request of(Path... files) {
      return new Request(List.of(files), List.of(), Map.of());
    }
  }

  /**
   * The outcome: every source read, every diagnostic, a network per model without errors, and the
   * source roots (real paths; empty for text compiled from memory).
   */
  public record Compilation(List<SourceFile> sources, Diagnostics diagnostics, List<Network> networks, Program program,
      List<Path> sourceRoots) {
    public Compilation {
      sourceRoots = List.copyOf(sourceRoots);
    }

    public Compilation(List<SourceFile> sources, Diagnostics diagnostics, List<Network> networks, Program program) {
      this(sources, diagnostics, networks, program, List.of());
    }

    public boolean ok() {
      return !diagnostics.hasErrors();
    }

    /**
     * A spec's name as generated files show it: its path below the source root that holds it, with
     * {@code /} separators; only its file name when no root holds it (or it is not on disk).
     */
    public String sourceName(SourceFile f) {
      Path p = f.path();
      if (p != null) {
        for (Path root : sourceRoots) {
          if (p.startsWith(root) && !p.equals(root)) {
            Path rel = root.relativize(p);
            List<String> parts = new ArrayList<>();
            rel.forEach(part -> parts.add(part.toString()));
            return String.join("/", parts);
          }
        }
      }
      return org.cnnc.compiler.codegen.JavaGenerator.fileName(f);
    }

    public Optional<Network> network(String name) {
      return networks.stream().filter(n -> n.name().equals(name)).findFirst();
    }
  }

  /** Reads, parses and checks the files and their imports. A file named in the request that cannot be read throws. */
  public static Compilation compile(Request request) {
    return compile(request, Map.of());
  }

  /**
   * As {@link #compile(Request)}, reading the given texts instead of the files at those paths
   * (an editor's unsaved buffers).
   */
  public static Compilation compile(Request request, Map<Path, String> overlays) {
    Compilation loaded = load(request, overlays);
    Program program = loaded.program();
    Diagnostics diags = loaded.diagnostics();
    List<Network> networks = check(program, request.modelArgs(), diags, request.limits());
    networks.forEach(n -> Capabilities.check(n, request.backends(), diags));
    return new Compilation(loaded.sources(), diags, networks, program, loaded.sourceRoots());
  }

  /**
   * Reads and parses the files and their imports, without checking them: the program (what each
   * file can see), its syntax and import errors, no networks. {@code fmt} reads callees' parameter
   * orders from it.
   */
  public static Compilation load(Request request, Map<Path, String> overlays) {
    Map<Path, String> open = new LinkedHashMap<>();
    overlays.forEach((k, v) -> open.put(real(k), v));
    Map<Path, SourceFile> loaded = new LinkedHashMap<>();
    List<Path> roots = new ArrayList<>();
    for (Path root : request.sourceRoots().isEmpty() ? parents(request.files()) : request.sourceRoots()) {
      roots.add(real(root));
    }
    Deque<Path> todo = new ArrayDeque<>();
    for (Path f : request.files()) {
      Path abs = real(f);
      if (!loaded.containsKey(abs)) {
        loaded.put(abs, open.containsKey(abs) ? new SourceFile(abs, f.toString(), open.get(abs))
            : read(f, abs, request.limits().maxFileBytes()));
        todo.add(abs);
      }
    }
    Diagnostics diags = new Diagnostics(request.limits().maxErrorsPerFile());
    List<Ast.CnnFile> files = new ArrayList<>();
    Map<SourceFile, Map<SourceFile, Ast.Import>> imports = new LinkedHashMap<>();
    Map<SourceFile, Set<String>> broken = new LinkedHashMap<>();
    while (!todo.isEmpty()) {
      Path abs = todo.removeFirst();
      SourceFile src = loaded.get(abs);
      Parsing.Parsed parsed = Parsing.parseRecovering(src, diags);
      Ast.CnnFile ast = parsed.ast();
      if (ast == null) {
        continue;
      }
      files.add(ast);
      Map<SourceFile, Ast.Import> direct = new LinkedHashMap<>();
      int found = 0;
      Set<String> brokenHere = new java.util.LinkedHashSet<>(parsed.broken());
      broken.put(src, brokenHere);
      for (Ast.Import imp : ast.imports()) {
        Path target;
        try {
          target = abs.getParent().resolve(imp.path()).normalize();
        } catch (java.nio.file.InvalidPathException e) {
          diags.report(Diagnostic.error(Code.IMPORT_NOT_FOUND, imp.span(), "`" + imp.path() + "` is not a valid file path")
              .label(e.getReason())
              .help("import paths name files relative to the importing file"));
          continue;
        }
        Path realTarget = Files.exists(target) ? real(target) : target;
        if (roots.stream().noneMatch(realTarget::startsWith)) {
          diags.report(Diagnostic.error(Code.IMPORT_OUTSIDE_ROOT, imp.span(),
                  "import `" + imp.path() + "` is outside the source roots")
              .label("resolves to " + display(realTarget))
              .note("source roots: " + String.join(", ", roots.stream().map(Compiler::display).toList()))
              .help("move the file under a source root, or add its directory with --source-root"));
          continue;
        }
        if (!Files.isRegularFile(realTarget) && !open.containsKey(realTarget)) {
          diags.report(Diagnostic.error(Code.IMPORT_NOT_FOUND, imp.span(), "cannot find `" + imp.path() + "`")
              .label("no such file: " + display(realTarget))
              .help("import paths are relative to the importing file"));
          continue;
        }
        SourceFile dep = loaded.get(realTarget);
        if (dep == null) {
          try {
            dep = new SourceFile(realTarget, display(realTarget), open.containsKey(realTarget) ? open.get(realTarget)
                : SourceFile.readText(realTarget, request.limits().maxFileBytes()));
          } catch (IOException | UncheckedIOException e) {
            Diagnostic.Builder b = Diagnostic.error(Code.IMPORT_NOT_FOUND, imp.span(), "cannot read `" + imp.path() + "`")
                .label(e instanceof IOException io ? reason(io) : String.valueOf(e.getMessage()));
            if (e instanceof SourceFile.TooLargeException) {
              b.help("split the file, or raise the limit (cnnc: --max-file-size)");
            }
            diags.report(b);
            continue;
          }
          loaded.put(realTarget, dep);
          todo.add(realTarget);
        }
        direct.putIfAbsent(dep, imp);
        found++;
      }
      imports.put(src, direct);
      if (found < ast.imports().size()) {
        // What an import that was not found would declare is unknown: calls to names the file
        // cannot see are not reported again (the import's error says why).
        brokenHere.add(Parsing.ANY_NAME);
      }
    }
    Program program = new Program(files, imports, broken);
    return new Compilation(List.copyOf(loaded.values()), diags, List.of(), program, roots);
  }

  /** Compiles text held in memory (tests, editors). Imports resolve against the working directory. */
  public static Compilation compileText(String name, String text, Map<String, Value> modelArgs) {
    SourceFile src = SourceFile.of(name, text);
    Diagnostics diags = new Diagnostics(Limits.DEFAULT_MAX_ERRORS_PER_FILE);
    Parsing.Parsed parsed = Parsing.parseRecovering(src, diags);
    Ast.CnnFile ast = parsed.ast();
    if (ast == null) {
      return new Compilation(List.of(src), diags, List.of(), new Program(List.of(), Map.of()));
    }
    for (Ast.Import imp : ast.imports()) {
      diags.report(Diagnostic.error(Code.IMPORT_NOT_FOUND, imp.span(), "cannot find `" + imp.path() + "`")
          .label("imports need a file on disk"));
    }
    Program program = new Program(List.of(ast), Map.of(), Map.of(src, parsed.broken()));
    List<Network> networks = check(program, modelArgs, diags, Limits.defaults());
    networks.forEach(n -> Capabilities.check(n, DEFAULT_BACKENDS, diags));
    return new Compilation(List.of(src), diags, networks, program);
  }

  /**
   * Names, blocks and shapes. Every declaration that parsed is checked, and every model expanded
   * (its shapes checked) unless it calls a block left out for a syntax error (or a name it cannot
   * see while an import of its file failed): one mistake, one error, and one file's errors hide
   * nothing of another's.
   */
  private static List<Network> check(Program program, Map<String, Value> modelArgs, Diagnostics diags, Limits limits) {
    Resolver resolver = new Resolver(program, diags);
    resolver.run();
    List<Network> networks = new ArrayList<>();
    for (Ast.CnnFile file : program.files()) {
      file.pkg().ifPresent(pkg -> javaPackage(pkg, diags));
    }
    for (Ast.CnnFile file : program.files()) {
      Optional<String> pkg = file.pkg().map(Ast.QualifiedName::dotted);
      List<Network> ofFile = new ArrayList<>();
      for (Ast.ModelDecl m : file.models()) {
        if (program.callsBroken(m)) {
          continue;
        }
        Network n = new Expander(program, diags).withMaxLayers(limits.maxLayers()).expand(m, modelArgs, pkg);
        if (n != null) {
          ofFile.add(n);
        }
      }
      // Models of one file share its package: classes that would be one file clash whatever is
      // generated. Across files only what is generated together can clash (generate, the plugin).
      Generator.check(program, ofFile, null).forEach(diags::report);
      networks.addAll(ofFile);
    }
    return networks;
  }

  /** A spec's `package` must be a Java package name: no keyword among its parts. */
  private static void javaPackage(Ast.QualifiedName pkg, Diagnostics diags) {
    for (Ast.Ident part : pkg.parts()) {
      String problem = Generator.packageProblem(part.text());
      if (problem != null) {
        diags.report(Diagnostic.error(Code.JAVA_NAME, part.span(), "package `" + pkg.dotted() + "` cannot be a Java package")
            .label("`" + part.text() + "` is a Java keyword")
            .help("rename this part of the package"));
        return;
      }
    }
  }

  private static List<Path> parents(List<Path> files) {
    List<Path> out = new ArrayList<>();
    for (Path f : files) {
      Path p = f.toAbsolutePath().normalize().getParent();
      if (p != null && !out.contains(p)) {
        out.add(p);
      }
    }
    return out;
  }

  private static Path real(Path p) {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      return p.toAbsolutePath().normalize();
    }
  }

  private static SourceFile read(Path given, Path abs, long maxBytes) {
    try {
      return new SourceFile(abs, given.toString(), SourceFile.readText(abs, maxBytes));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + given + ": " + reason(e), e);
    }
  }

  /** Why a file could not be read, in words. */
  public static String reason(IOException e) {
    if (e instanceof java.nio.file.NoSuchFileException) {
      return "no such file";
    }
    if (e instanceof java.nio.charset.CharacterCodingException) {
      return "not UTF-8 text";
    }
    return String.valueOf(e.getMessage());
  }

  /** A path as shown in messages: relative to the working directory when below it. */
  static String display(Path p) {
    Path cwd = real(Path.of(""));
    try {
      return p.isAbsolute() && p.getRoot().equals(cwd.getRoot()) ? cwd.relativize(p).toString() : p.toString();
    } catch (IllegalArgumentException e) {
      return p.toString();
    }
  }
}
