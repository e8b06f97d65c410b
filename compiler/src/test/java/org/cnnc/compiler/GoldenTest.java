// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.cnnc.compiler.ast.AstPrinter;
import org.cnnc.compiler.diag.Diagnostics;
import org.cnnc.compiler.diag.HumanRenderer;
import org.cnnc.compiler.source.SourceFile;
import org.cnnc.compiler.syntax.Parsing;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The example specs of grammar/examples against their expected trees and diagnostics. With
 * {@code -Dgolden.update=true} the expected files are rewritten from the current output instead
 * (read the diff before committing).
 */
class GoldenTest {
  static final Path EXAMPLES = Path.of("../grammar/examples");
  static final boolean UPDATE = Boolean.getBoolean("golden.update");

  @TestFactory
  Stream<DynamicTest> trees() throws IOException {
    return specs(EXAMPLES.resolve("trees")).map(spec -> DynamicTest.dynamicTest(spec.getFileName().toString(), () -> {
      SourceFile src = new SourceFile(spec, spec.getFileName().toString(), Files.readString(spec));
      Diagnostics d = new Diagnostics();
      var ast = Parsing.parse(src, d);
      assertNotNull(ast, () -> d.sorted().toString());
      compare(sibling(spec, ".tree"), AstPrinter.print(ast));
    }));
  }

  @TestFactory
  Stream<DynamicTest> errors() throws IOException {
    List<Path> cases = new ArrayList<>(specs(EXAMPLES.resolve("errors")).toList());
    try (Stream<Path> dirs = Files.list(EXAMPLES.resolve("errors"))) {
      dirs.filter(Files::isDirectory).sorted().forEach(d -> cases.add(d.resolve("main.cnn")));
    }
    return cases.stream().map(spec -> DynamicTest.dynamicTest(EXAMPLES.relativize(spec).toString(), () -> {
      var c = Compiler.compile(Compiler.Request.of(spec));
      StringBuilder out = new StringBuilder();
      HumanRenderer r = new HumanRenderer(false);
      c.diagnostics().sorted().forEach(d -> out.append(r.render(d)).append('\n'));
      Path expected = spec.getFileName().toString().equals("main.cnn")
          ? spec.getParent().resolveSibling(spec.getParent().getFileName() + ".errors")
          : sibling(spec, ".errors");
      compare(expected, out.toString());
    }));
  }

  private static Stream<Path> specs(Path dir) throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      List<Path> list = files.filter(p -> p.toString().endsWith(".cnn")).sorted().toList();
      assertTrue(!list.isEmpty(), "no specs in " + dir);
      return list.stream();
    }
  }

  private static Path sibling(Path spec, String ext) {
    String name = spec.getFileName().toString();
    return spec.resolveSibling(name.substring(0, name.length() - 4) + ext);
  }

  private static void compare(Path expected, String actual) throws IOException {
    if (UPDATE) {
      Files.writeString(expected, actual, StandardCharsets.UTF_8);
      return;
    }
    assertTrue(Files.exists(expected), "missing " + expected + "; run with -Dgolden.update=true to create it");
    assertEquals(Files.readString(expected), actual, expected.toString());
  }
}
