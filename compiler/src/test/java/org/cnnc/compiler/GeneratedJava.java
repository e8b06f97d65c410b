// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.JavacTask;
import java.io.IOException;
import java.io.StringWriter;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.ToolProvider;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.sema.Checks;

/**
 * Compiles generated sources with javac in the compiler's tests, against stubs of cnnc's runtime API
 * (made from the op registry; the runtime needs DL4J, which the compiler must not depend on). The
 * stubs take any arguments: this checks what the generator controls (syntax, comments, literals,
 * names, declarations), not the runtime's signatures (the runtime's tests compile against the real ones).
 */
final class GeneratedJava {
  private GeneratedJava() {}

  /** javac's errors for these generated sources (empty when they compile). */
  static List<String> errors(List<Generator.Output> outputs, Path dir) throws IOException {
    List<JavaFileObject> units = new ArrayList<>(stubs());
    for (Generator.Output o : outputs) {
      units.add(source(o.relativePath().toString().replace('\\', '/'), o.text()));
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    assertNotNull(javac, "the tests need a JDK");
    StringWriter log = new StringWriter();
    List<String> errors = new ArrayList<>();
    Path classes = Files.createDirectories(dir.resolve("classes"));
    boolean ok = javac.getTask(log, null, d -> {
      if (d.getKind() == javax.tools.Diagnostic.Kind.ERROR) {
        errors.add(d.getSource() + ":" + d.getLineNumber() + ": " + d.getMessage(Locale.ROOT));
      }
    }, List.of("-d", classes.toString(), "-proc:none"), null, units).call();
    if (!ok && errors.isEmpty()) {
      errors.add(log.toString());
    }
    return errors;
  }

  /** The top-level types of a generated source and the kinds of their members, as javac parses it. */
  static List<String> declarations(String text) throws IOException {
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    JavacTask task = (JavacTask) javac.getTask(null, null, d -> { }, List.of("-proc:none"), null,
        List.of(source("Parsed.java", text)));
    List<String> out = new ArrayList<>();
    for (CompilationUnitTree unit : task.parse()) {
      for (Tree t : unit.getTypeDecls()) {
        ClassTree c = (ClassTree) t;
        out.add("type " + c.getSimpleName());
        for (Tree m : c.getMembers()) {
          out.add("  " + m.getKind());
        }
      }
    }
    return out;
  }

  private static JavaFileObject source(String path, String text) {
    return new SimpleJavaFileObject(URI.create("string:///" + path), JavaFileObject.Kind.SOURCE) {
      @Override
      public CharSequence getCharContent(boolean ignoreEncodingErrors) {
        return text;
      }
    };
  }

  private static List<JavaFileObject> stubs() {
    StringBuilder builder = new StringBuilder("""
        package org.cnnc.runtime;
        public class NetBuilder {
          public static int[] size(int... v) { return v; }
          public static int[] pad(int... v) { return v; }
          public static int[] pad4(Object v) { return null; }
          public org.cnnc.compiler.ir.ModulePath root() { return new org.cnnc.compiler.ir.ModulePath(""); }
          public org.cnnc.compiler.ir.ModulePath seq(String name) { return new org.cnnc.compiler.ir.ModulePath(name); }
          public String input(String name, int... dims) { return name; }
          public void output(String name, String in, Loss loss, double weight) { }
          public String merge(String name, String op, String... in) { return name; }
          /** Every op call's name-value arguments, in order (tests read them). */
          public final java.util.List<Object[]> calls = new java.util.ArrayList<>();
          public String op(String name, String op, String in, Object... args) { calls.add(args); return name; }
        """);
    builder.append("}\n");
    String loss = "package org.cnnc.runtime;\npublic enum Loss { "
        + String.join(", ", Checks.LOSSES.stream().map(l -> l.toUpperCase(Locale.ROOT)).toList()) + " }\n";
    return List.of(
        source("org/cnnc/runtime/NetBuilder.java", builder.toString()),
        source("org/cnnc/runtime/Loss.java", loss),
        source("org/cnnc/runtime/CnnModel.java", """
            package org.cnnc.runtime;
            public interface CnnModel {
              String name();
              default long[] inputShape() { return null; }
              java.util.List<String> outputNames();
              void build(NetBuilder b);
            }
            """));
  }

}
