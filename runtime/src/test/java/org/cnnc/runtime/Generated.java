// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.sema.Value;

/**
 * The article's models as users get them: models.cnn compiled by cnnc, the generated Java
 * compiled by javac against this module, and loaded. Also gives the compiler's IR, to compare.
 */
final class Generated {
  static final Path ROOT = Path.of(System.getProperty("cnnc.root", ".."));
  private static ClassLoader loader;
  private static Compiler.Compilation compilation;

  private Generated() {}

  static synchronized Compiler.Compilation compilation() {
    if (compilation == null) {
      compilation = Compiler.compile(Compiler.Request.of(ROOT.resolve("models.cnn")));
      assertTrue(compilation.ok(), () -> compilation.diagnostics().sorted().toString());
    }
    return compilation;
  }

  static Network network(String name) {
    return compilation().network(name).orElseThrow();
  }

  static synchronized CnnModel model(String name, Object... args) throws Exception {
    if (loader == null) {
      loader = compile(compilation(), Path.of("target/generated-models"));
    }
    Class<?> c = loader.loadClass("org.cnnc.models." + name);
    if (args.length == 0) {
      return (CnnModel) c.getConstructor().newInstance();
    }
    Class<?>[] types = new Class<?>[args.length];
    for (int i = 0; i < args.length; i++) {
      types[i] = args[i] instanceof Integer ? int.class : args[i].getClass();
    }
    return (CnnModel) c.getConstructor(types).newInstance(args);
  }

  /** Generates every model of a compilation, compiles the sources with javac, and loads them. */
  static ClassLoader compile(Compiler.Compilation c, Path dir) throws IOException {
    Path src = dir.resolve("src");
    Path classes = dir.resolve("classes");
    Files.createDirectories(classes);
    List<String> files = new ArrayList<>();
    for (Generator.Output o : Generator.generate(c, c.networks(), null)) {
      Generator.write(src, o);
      files.add(src.resolve(o.relativePath()).toString());
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", System.getProperty("java.class.path"),
        "-Xlint:all,-path,-processing", "-Werror"));
    args.addAll(files);
    int rc = javac.run(null, null, null, args.toArray(new String[0]));
    assertTrue(rc == 0, "the generated sources compile without warnings");
    return new URLClassLoader(new URL[] {classes.toUri().toURL()}, Generated.class.getClassLoader());
  }

  static Map<String, Value> noArgs() {
    return Map.of();
  }
}
