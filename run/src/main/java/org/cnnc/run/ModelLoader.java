// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.cnnc.cli.Main;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.ir.Network;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.layers.Gemm;
import org.cnnc.runtime.layers.Parallel;

/**
 * Turns a model of a spec into a {@link CnnModel} the way a user's build does: generate the Java,
 * compile it with javac, load the class. `run`, `train` and `bench` thus execute the generated code
 * itself, not an interpretation of it.
 */
final class ModelLoader {
  private ModelLoader() {}

  static CnnModel load(Compiler.Compilation c, Network network) throws IOException {
    checkKernelSettings();
    Path dir = Files.createTempDirectory("cnnc-model");
    Throwable failure = null;
    try {
      Generator.Output source = Generator.generate(c, List.of(network), "cnnc.generated").get(0);
      Generator.write(dir.resolve("src"), source);
      Path classes = Files.createDirectories(dir.resolve("classes"));
      JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
      if (javac == null) {
        throw new IOException("running a model needs a JDK (javac), not only a JRE");
      }
      List<String> args = new ArrayList<>(List.of("-d", classes.toString(), "-cp", System.getProperty("java.class.path"),
          "-nowarn", dir.resolve("src").resolve(source.relativePath()).toString()));
      java.io.ByteArrayOutputStream log = new java.io.ByteArrayOutputStream();
      int rc = javac.run(null, log, log, args.toArray(new String[0]));
      if (rc != 0) {
        String text = log.toString(java.nio.charset.StandardCharsets.UTF_8);
        throw new IllegalStateException("the generated source does not compile (a bug in cnnc): "
            + (text.length() > 2000 ? text.substring(0, 2000) + "..." : text));
      }
      URLClassLoader loader = new URLClassLoader(new URL[] {classes.toUri().toURL()}, ModelLoader.class.getClassLoader());
      // every class loaded now, so that the folder can go
      try (var files = Files.walk(classes)) {
        for (Path f : files.filter(f -> f.toString().endsWith(".class")).toList()) {
          String rel = classes.relativize(f).toString();
          loader.loadClass(rel.substring(0, rel.length() - ".class".length()).replace(java.io.File.separatorChar, '.'));
        }
      }
      String name = "cnnc.generated." + source.relativePath().getFileName().toString().replace(".java", "");
      return (CnnModel) loader.loadClass(name).getConstructor().newInstance();
    } catch (ReflectiveOperationException e) {
      failure = new IllegalStateException("cannot load the generated model: " + e, e);
      throw (IllegalStateException) failure;
    } catch (IOException | RuntimeException | Error e) {
      failure = e;
      throw e;
    } finally {
      try {
        delete(dir);
      } catch (IOException e) {
        // a folder that cannot be removed must not hide why loading failed
        if (failure == null) {
          throw e;
        }
        failure.addSuppressed(e);
      }
    }
  }

  /**
   * The kernels' settings ({@code -Dcnnc.blas} and the rest, the user's JVM options) name a library
   * that loads: a mistake there is a usage error before any work, not an internal error in the
   * first conv.
   */
  static void checkKernelSettings() {
    try {
      Gemm.library();
      Parallel.checkSettings();
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new Main.UsageError(e.getMessage());
    }
  }

  /** Removes the generated sources and classes (they were left in the temporary folder before). */
  private static void delete(Path dir) throws IOException {
    try (var all = Files.walk(dir)) {
      for (Path p : all.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
