// SPDX-License-Identifier: Apache-2.0
package org.cnnc.maven;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.onnx.OnnxExport;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.compiler.diag.Diagnostic;
import org.cnnc.compiler.diag.Note;
import org.cnnc.compiler.diag.ShortRenderer;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.SafeFiles;
import org.cnnc.compiler.lint.LintConfig;
import org.cnnc.compiler.lint.Linter;
import org.cnnc.compiler.source.SourceFile;
import org.codehaus.plexus.build.DefaultBuildContext;

/**
 * One run of the plugin, independent of Maven: find the specs, compile them, write the generated
 * classes, remove those of deleted specs. Incremental: the content hash of every file read (specs
 * and their imports) and the options are kept in a state file; when nothing changed, nothing is
 * compiled or written. When something changed, everything is compiled (the compiler is fast) but
 * only files whose text changes are written, so downstream compilation sees exactly what changed.
 * Never writes outside the output directory; never replaces a file cnnc did not generate.
 */
public final class CnnBuild {

  /** What to do: immutable, built from the mojo's parameters. */
  /**
   * What to do: immutable, built from the mojo's parameters.
   *
   * @param onnxDirectory where each model's ONNX export goes ({@code <model>.onnx}, with the weights
   *     of {@code <model>.npz} beside the specs when there is one, else seeded), or null for none
   */
  public record Request(Path sourceDirectory, Path outputDirectory, Path stateFile, List<String> includes,
      List<String> excludes, String packageName, boolean generate, Path lintConfig, boolean failOnWarning,
      Path onnxDirectory) {
    public Request {
      includes = includes == null || includes.isEmpty() ? List.of("**/*.cnn") : List.copyOf(includes);
      excludes = excludes == null ? List.of() : List.copyOf(excludes);
    }

    /** Without ONNX exports. */
    public Request(Path sourceDirectory, Path outputDirectory, Path stateFile, List<String> includes,
        List<String> excludes, String packageName, boolean generate, Path lintConfig, boolean failOnWarning) {
      this(sourceDirectory, outputDirectory, stateFile, includes, excludes, packageName, generate, lintConfig,
          failOnWarning, null);
    }
  }

  /** What happened. */
  public record Result(boolean upToDate, List<Path> specs, List<Diagnostic> diagnostics, List<Path> written,
      List<Path> unchanged, List<Path> deleted, int earlierWarnings) {
    Result(boolean upToDate, List<Path> specs, List<Diagnostic> diagnostics, List<Path> written, List<Path> unchanged,
        List<Path> deleted) {
      this(upToDate, specs, diagnostics, written, unchanged, deleted, 0);
    }

    public long errors() {
      return diagnostics.stream().filter(d -> d.severity() == org.cnnc.compiler.diag.Severity.ERROR).count();
    }

    public long warnings() {
      return diagnostics.stream().filter(d -> d.severity() == org.cnnc.compiler.diag.Severity.WARNING).count();
    }
  }

  private CnnBuild() {}

  public static Result run(Request r) throws IOException {
    String badPackage = Generator.packageProblem(blankToNull(r.packageName()) == null ? "" : r.packageName());
    if (badPackage != null) {
      throw new IOException("packageName: " + badPackage);
    }
    List<Path> specs = specs(r);
    if (specs.isEmpty()) {
      return new Result(true, specs, List.of(), List.of(), List.of(), deleteStale(r, List.of()));
    }
    Properties previous = load(r.stateFile());
    // The configuration is part of the state: a build that passed with warnings is not "up to
    // date" for one that fails on them.
    String options = "package=" + r.packageName() + ";generate=" + r.generate() + ";output="
        + r.outputDirectory().toAbsolutePath().normalize() + ";failOnWarning=" + r.failOnWarning()
        + ";includes=" + r.includes() + ";excludes=" + r.excludes()
        + ";onnx=" + (r.onnxDirectory() == null ? "" : r.onnxDirectory().toAbsolutePath().normalize());
    if (options.equals(previous.getProperty("options")) && unchanged(previous, specs, r)) {
      return new Result(true, specs, List.of(), List.of(), List.of(), List.of(),
          Integer.parseInt(previous.getProperty("warnings", "0")));
    }
    Compiler.Request compile = new Compiler.Request(specs, List.of(r.sourceDirectory()), Map.of());
    if (r.onnxDirectory() != null) { // what ONNX cannot express is an error at its place, as for the CPU
      java.util.Set<Backend> b = java.util.EnumSet.of(Backend.ONNX);
      b.addAll(compile.backends());
      compile = compile.withBackends(b);
    }
    Compiler.Compilation c = Compiler.compile(compile);
    // The lint rules too (cnnc.yaml in the project, when there is one): warnings are reported, and
    // fail the build with failOnWarning.
    LintConfig config = LintConfig.defaults();
    if (r.lintConfig() != null && Files.isRegularFile(r.lintConfig())) {
      try {
        config = LintConfig.load(r.lintConfig());
      } catch (LintConfig.ConfigException e) {
        throw new IOException(e.getMessage(), e);
      }
    }
    Linter.Result lint = Linter.lint(c, config, r.lintConfig() != null ? r.lintConfig().getParent() : r.sourceDirectory());
    List<Path> written = new ArrayList<>();
    List<Path> same = new ArrayList<>();
    List<Path> outputs = new ArrayList<>();
    List<Path> deleted = List.of();
    List<Diagnostic> diagnostics = new ArrayList<>(lint.diagnostics());
    List<Diagnostic> clashes = c.ok() ? Generator.check(c.program(), c.networks(), blankToNull(r.packageName())) : List.of();
    diagnostics.addAll(clashes);
    if (c.ok() && clashes.isEmpty() && r.generate()) {
      for (Generator.Output o : Generator.generate(c, c.networks(), blankToNull(r.packageName()))) {
        Path target = r.outputDirectory().resolve(o.relativePath());
        outputs.add(target);
        (Generator.write(r.outputDirectory(), o) == Generator.Written.UNCHANGED ? same : written).add(target);
      }
      if (r.onnxDirectory() != null) {
        for (Network n : c.networks()) {
          Path target = r.onnxDirectory().resolve(n.name() + ".onnx");
          outputs.add(target);
          (writeOnnx(r, n, target) ? written : same).add(target);
        }
      }
      deleted = deleteStale(r, outputs);
    }
    Result result = new Result(false, specs, diagnostics, written, same, deleted);
    // Only a build that passes is "up to date" next time: one that fails (an error, a lint rule set
    // to error, a warning with failOnWarning) must fail again, not be skipped.
    if (c.ok() && clashes.isEmpty() && result.errors() == 0 && !(r.failOnWarning() && result.warnings() > 0)) {
      save(r, c, options, outputs, result.warnings());
    } else {
      Files.deleteIfExists(r.stateFile());
    }
    return result;
  }

  /**
   * Writes a model's ONNX export, with the weights of {@code <model>.npz} beside the specs when
   * there is one (else seeded); returns whether the file changed.
   */
  private static boolean writeOnnx(Request r, Network n, Path target) throws IOException {
    Path npz = weightsOf(r, n);
    Map<String, Npz.Array> weights = null;
    if (Files.isRegularFile(npz)) {
      try {
        weights = Npz.readStateDict(npz, n.stateDictShapes(), Map.of());
      } catch (Npz.StateDictException e) {
        throw new IOException(e.file() + ": the weights do not fit model " + n.name() + ": " + String.join("; ", e.problems()));
      }
    }
    byte[] bytes = OnnxExport.export(n, weights, OnnxExport.Options.defaults(version())).toByteArray();
    if (Files.isRegularFile(target, java.nio.file.LinkOption.NOFOLLOW_LINKS)
        && java.util.Arrays.equals(Files.readAllBytes(target), bytes)) {
      return false;
    }
    Files.createDirectories(target.getParent());
    SafeFiles.write(target, bytes);
    return true;
  }

  /** The weights file of a model's export: {@code <model>.npz} in the source directory. */
  private static Path weightsOf(Request r, Network n) {
    return r.sourceDirectory().resolve(n.name() + ".npz");
  }

  /** This plugin's version, as the exports' metadata records it. */
  private static String version() {
    String v = CnnBuild.class.getPackage().getImplementationVersion();
    return v == null ? "unknown" : v;
  }

  /** Whether a file is one this plugin generated: a Java class with cnnc's marker, or an ONNX model cnnc produced. */
  private static boolean generated(Path p) throws IOException {
    byte[] bytes = Files.readAllBytes(p);
    if (p.getFileName().toString().endsWith(".onnx")) {
      try {
        return ModelProto.parseFrom(bytes).getProducerName().equals("cnnc");
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        return false;
      }
    }
    return new String(bytes, StandardCharsets.UTF_8).startsWith(Generator.MARKER);
  }

  /**
   * A diagnostic as the IDE's build context shows it: its message escaped for a log or terminal
   * (text from a spec, such as an import's path, can hold newlines and escape sequences), and its id.
   */
  static String ideMessage(Diagnostic d) {
    return Escape.terminal(d.message()) + " [" + d.id() + "]";
  }

  /**
   * A diagnostic as the build log shows it: the {@code file:line:col: severity: message [ID]} line,
   * then its notes and its help, each on a line of its own, escaped for the terminal.
   */
  static List<String> logLines(Diagnostic d) {
    List<String> lines = new ArrayList<>();
    lines.add(new ShortRenderer().render(d));
    for (Note n : d.notes()) {
      String where = n.span() == null ? "" : n.span().location() + ": ";
      lines.add("  note: " + Escape.terminal(where + n.message()));
    }
    if (!d.help().isEmpty()) {
      lines.add("  help: " + Escape.terminal(d.help()));
    }
    return lines;
  }

  /**
   * Whether the build runs in an IDE (m2e), which shows BuildContext messages as markers; on the
   * command line the default context only logs them, which would print each diagnostic twice.
   */
  static boolean isIde(Class<?> context, Class<?> legacy) {
    boolean defaultContext = context == null || context == DefaultBuildContext.class;
    boolean defaultLegacy = legacy == null || legacy == org.sonatype.plexus.build.incremental.DefaultBuildContext.class;
    return !(defaultContext && defaultLegacy);
  }

  /** A failure's message for Maven's log, escaped as {@link #ideMessage} is. */
  static String failure(IOException e) {
    return "cnnc: " + Escape.terminal(String.valueOf(e.getMessage()));
  }

  static List<Path> specs(Request r) throws IOException {
    if (!Files.isDirectory(r.sourceDirectory())) {
      return List.of();
    }
    List<PathMatcher> in = matchers(r.includes(), "includes");
    List<PathMatcher> out = matchers(r.excludes(), "excludes");
    try (Stream<Path> s = Files.walk(r.sourceDirectory())) {
      return s.filter(Files::isRegularFile)
          .filter(p -> {
            Path rel = r.sourceDirectory().relativize(p);
            return in.stream().anyMatch(m -> m.matches(rel)) && out.stream().noneMatch(m -> m.matches(rel));
          })
          .sorted()
          .toList();
    }
  }

  /** Ant-style globs ({@link org.cnnc.compiler.io.Globs}); a malformed one is an error naming its list. */
  private static List<PathMatcher> matchers(List<String> globs, String list) throws IOException {
    List<PathMatcher> out = new ArrayList<>();
    for (String g : globs) {
      try {
        out.addAll(org.cnnc.compiler.io.Globs.ant(g));
      } catch (IllegalArgumentException e) {
        throw new IOException("<" + list + ">: " + e.getMessage());
      }
    }
    return out;
  }

  private static boolean unchanged(Properties previous, List<Path> specs, Request r) throws IOException {
    String recordedSpecs = previous.getProperty("specs");
    String current = String.join("\n", specs.stream().map(Path::toString).toList());
    if (!current.equals(recordedSpecs)) {
      return false;
    }
    for (String key : previous.stringPropertyNames()) {
      if (key.startsWith("input:")) {
        Path p = Path.of(key.substring(6));
        String recorded = previous.getProperty(key);
        String now = Files.isRegularFile(p) ? hash(Files.readAllBytes(p)) : "absent";
        if (!now.equals(recorded)) {
          return false;
        }
      } else if (key.startsWith("output:") && !Files.isRegularFile(Path.of(key.substring(7)))) {
        return false;
      }
    }
    return true;
  }

  private static void save(Request r, Compiler.Compilation c, String options, List<Path> outputs, long warnings)
      throws IOException {
    Map<String, String> state = new TreeMap<>();
    state.put("options", options);
    state.put("warnings", Long.toString(warnings));
    // The lint configuration is an input too: editing cnnc.yaml changes which warnings there are.
    Path config = r.lintConfig() == null ? null : r.lintConfig().toAbsolutePath().normalize();
    if (config != null) {
      state.put("input:" + config, Files.isRegularFile(config) ? hash(Files.readAllBytes(config)) : "absent");
    }
    state.put("specs", String.join("\n", specs(r).stream().map(Path::toString).toList()));
    for (SourceFile f : c.sources()) {
      if (f.path() != null) {
        state.put("input:" + f.path(), hash(f.text().getBytes(StandardCharsets.UTF_8)));
      }
    }
    if (r.onnxDirectory() != null) { // the exports' weights are inputs too, present or not
      for (Network n : c.networks()) {
        Path npz = weightsOf(r, n).toAbsolutePath().normalize();
        state.put("input:" + npz, Files.isRegularFile(npz) ? hash(Files.readAllBytes(npz)) : "absent");
      }
    }
    for (Path o : outputs) {
      state.put("output:" + o.toAbsolutePath().normalize(), "");
    }
    Properties p = new Properties();
    p.putAll(state);
    Files.createDirectories(r.stateFile().getParent());
    java.io.StringWriter w = new java.io.StringWriter();
    p.store(w, "cnnc incremental state: the inputs read and the outputs written");
    SafeFiles.write(r.stateFile(), w.toString());
  }

  /** Removes generated files a previous run wrote that this run did not produce. */
  private static List<Path> deleteStale(Request r, List<Path> outputs) throws IOException {
    Properties previous = load(r.stateFile());
    List<Path> keep = outputs.stream().map(p -> p.toAbsolutePath().normalize()).toList();
    List<Path> deleted = new ArrayList<>();
    Path root = r.outputDirectory().toAbsolutePath().normalize();
    for (String key : previous.stringPropertyNames()) {
      if (!key.startsWith("output:")) {
        continue;
      }
      Path p = Path.of(key.substring(7)).toAbsolutePath().normalize();
      Path onnxRoot = r.onnxDirectory() == null ? null : r.onnxDirectory().toAbsolutePath().normalize();
      boolean ours = p.startsWith(root) || (onnxRoot != null && p.startsWith(onnxRoot));
      if (!keep.contains(p) && ours && Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) && generated(p)) {
        Files.delete(p);
        deleted.add(p);
      }
    }
    return deleted;
  }

  private static Properties load(Path state) throws IOException {
    Properties p = new Properties();
    if (Files.isRegularFile(state)) {
      try (var in = Files.newBufferedReader(state, StandardCharsets.UTF_8)) {
        p.load(in);
      }
    }
    return p;
  }

  static String hash(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}
