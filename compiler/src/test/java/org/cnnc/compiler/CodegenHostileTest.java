package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.codegen.JavaText;
import org.cnnc.compiler.sema.Value;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Specs written to attack the generated Java: its comments, literals, names and arithmetic. */
class CodegenHostileTest {
  @TempDir Path dir;

  static final String INJECTION = "*/ class Math { static { System.exit(42); } } /*";

  private Compiler.Compilation compile(Path spec, List<Path> roots, Map<String, Value> args) {
    var c = Compiler.compile(new Compiler.Request(List.of(spec), roots, args));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    return c;
  }

  private List<Generator.Output> generate(Compiler.Compilation c) throws Exception {
    List<Generator.Output> out = Generator.generate(c, c.networks(), null);
    List<String> errors = GeneratedJava.errors(out, dir.resolve("javac"));
    assertEquals(List.of(), errors, () -> out.get(0).text());
    for (Generator.Output o : out) {
      List<String> decls = GeneratedJava.declarations(o.text());
      assertEquals(1, decls.stream().filter(d -> d.startsWith("type ")).count(), o.text());
      assertFalse(decls.contains("  BLOCK"), "an initializer block was injected:\n" + o.text());
      assertFalse(o.text().contains(dir.toString()), "an absolute path in the generated source:\n" + o.text());
    }
    return out;
  }

  private Path write(String relative, String text) throws Exception {
    Path p = dir.resolve(relative);
    Files.createDirectories(p.getParent());
    Files.writeString(p, text);
    return p;
  }

  @Test
  void theArticlesModelsCompileAgainstTheStubs() throws Exception {
    assertEquals(List.of(), GeneratedJava.errors(CodegenGoldenTest.generate(), dir));
  }

  @Test
  void aStringDefaultCannotEndTheJavadoc() throws Exception {
    Path spec = write("inj.cnn", "model Inj(tag: string = \"" + INJECTION + "\") {\n"
        + "    input [3, 8, 8]\n    conv(4, 3)\n}\n");
    String text = generate(compile(spec, List.of(), Map.of())).get(0).text();
    assertTrue(text.contains("this(\"*/ class Math { static { System.exit(42); } } /*\")"), text);
    assertTrue(text.contains("tag = \"*&#47; class Math &#123;"), text);
  }

  @Test
  void unicodeEscapesAndLineBreaksInAnArgumentStayText() throws Exception {
    Path spec = write("u.cnn", "model U(tag: string = \"x\") {\n    input [3, 8, 8]\n    conv(4, 3)\n}\n");
    for (String evil : List.of("\\u002a/ class E {} /\\u002a", "a\nclass E {}\n/*", "a\r class E {} \r", "\\u000a}",
        "@param x {@code }} <b> & \u2028 \0")) {
      String text = generate(compile(spec, List.of(), Map.of("tag", new Value.StrV(evil)))).get(0).text();
      assertTrue(text.contains(JavaText.comment(new Value.StrV(evil).show())), text);
    }
  }

  @Test
  void specAndImportPathsCannotEndComments() throws Exception {
    String evilDir = "a*/ class Evil { static { System.exit(42); } } /*";
    write(evilDir + "/lib.cnn", "block Two(c) {\n    conv(c, 3, padding = 1)\n    relu\n}\n");
    Path spec = write(evilDir + "/b\\u002a/main.cnn",
        "import \"../lib.cnn\"\nmodel P {\n    input [3, 8, 8]\n    Two(4)\n}\n");
    String text = generate(compile(spec, List.of(dir), Map.of())).get(0).text();
    assertTrue(text.startsWith(Generator.MARKER + "a*&#47; class Evil &#123;"), text);
    assertTrue(text.contains("(a*&#47; class Evil &#123; static &#123; System.exit(42); &#125; &#125; /*&#47;lib.cnn:1)"), text);
  }

  @Test
  void generatedFilesNameSpecsBelowTheirSourceRootNeverAbsolutely() throws Exception {
    Path spec = write("src/nets/n.cnn", "model N {\n    input [3, 8, 8]\n    conv(4, 3)\n}\n");
    String text = generate(compile(spec.toAbsolutePath(), List.of(dir.resolve("src")), Map.of())).get(0).text();
    assertTrue(text.startsWith(Generator.MARKER + "nets/n.cnn."), text);
    assertTrue(text.contains("{@code N} of {@code nets/n.cnn}, line 1"), text);
    text = generate(compile(spec.toAbsolutePath(), List.of(), Map.of())).get(0).text();
    assertTrue(text.startsWith(Generator.MARKER + "n.cnn."), text);
  }

  @Test
  void commentTextIsEscapedOnlyWhereItMust() {
    assertEquals("conv1.weight_2 models/VGG16.cnn [3, 224, 224] = 1.0", JavaText.comment(
        "conv1.weight_2 models/VGG16.cnn [3, 224, 224] = 1.0"));
    assertEquals("*&#47; &#92;u002a/ &#64;x &#123;&#125; &lt;&amp;&gt; &#10;&#13;&#8232;",
        JavaText.comment("*/ \\u002a/ @x {} <&> \n\r\u2028"));
    assertEquals("\"conv1.0 \\\\ \\\" \\n \\000 \\0017 \\u2028 \\ud800\"",
        JavaText.literal("conv1.0 \\ \" \n \0 \u00017 \u2028 \ud800").toString());
  }
}
