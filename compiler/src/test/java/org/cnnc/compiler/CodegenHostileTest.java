// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.diag.Diagnostic;
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
    // bidirectional controls ("Trojan Source") never reach the generated source as such
    assertEquals("a&#8238;b&#8294;c", JavaText.comment("a\u202eb\u2066c"));
    assertEquals("\"a\\u202eb\\u2066c\"", JavaText.literal("a\u202eb\u2066c").toString());
  }

  // ---- arithmetic: the generated Java computes nothing the compiler did not check -------------------

  @Test
  void constantArithmeticIsEmittedAsTheCompilerEvaluatedIt() throws Exception {
    Path spec = write("w.cnn", "model W {\n    input [3, 8, 8]\n    conv(100000 * 100000 / 1000000000, 3)\n"
        + "    conv(3000000000 - 2999999996, 3)\n    repeat 4000000000 / 2000000000 { conv(-(-4000000000 + 3999999992), 1) }\n}\n");
    var c = compile(spec, List.of(), Map.of());
    assertEquals(10, c.networks().get(0).node(1).shape().dim(0));
    String text = generate(c).get(0).text();
    assertTrue(text.contains("x = b.op(s.next(), \"conv\", x, \"out\", 10, \"kernel\", 3)"), text);
    assertTrue(text.contains("x = b.op(s.next(), \"conv\", x, \"out\", 4, \"kernel\", 3)"), text);
    assertTrue(text.contains("for (int i = 0; i < 2; i++)"), text);
    assertTrue(text.contains("x = b.op(s.next(), \"conv\", x, \"out\", 8, \"kernel\", 1)"), text);
  }

  static List<String> errors(Compiler.Compilation c) {
    return HostileSpecTest.errors(c);
  }

  @Test
  void valuesTheJavaComputesFromParametersMustFitItsInt() throws Exception {
    String block = "block B(n) {\n    conv(n * n / 100000000, 3)\n}\n";
    var bad = Compiler.compile(Compiler.Request.of(write("b.cnn", block
        + "model G {\n    input [3, 16, 16]\n    B(100000)\n}\n")));
    assertEquals(List.of("INT_OVERFLOW 2:10 `n * n` is 10000000000 here, beyond the 32-bit `int` of the generated Java"),
        errors(bad));
    Path ok = write("ok.cnn", block + "model G {\n    input [3, 16, 16]\n    B(10000)\n}\n");
    String text = generate(compile(ok, List.of(), Map.of())).get(0).text();
    assertTrue(text.contains("b.op(s.next(), \"conv\", x, \"out\", Math.floorDiv(n * n, 100000000), \"kernel\", 3)"), text);
    var unused = Compiler.compile(Compiler.Request.of(write("u.cnn", "block U(n) {\n    relu\n}\n"
        + "model G {\n    input [3, 16, 16]\n    U(3000000000)\n    U(n = 7)\n}\n")));
    assertEquals(List.of("INT_OVERFLOW 6:7 `3000000000` is 3000000000 here, beyond the 32-bit `int` of the generated Java"),
        errors(unused));
    var divisor = Compiler.compile(Compiler.Request.of(write("d.cnn", "block D(n) {\n    conv(n / 3000000000 + 1, 1)\n}\n"
        + "model G {\n    input [3, 16, 16]\n    D(5)\n}\n")));
    assertEquals(List.of("INT_OVERFLOW 2:14 `3000000000` is 3000000000 here, beyond the 32-bit `int` of the generated Java"),
        errors(divisor));
  }

  @Test
  void anUndeclaredBlockParameterTakesOneKindOfValue() throws Exception {
    String block = "block D(p) {\n    dropout(p / 4)\n}\n";
    var mixed = Compiler.compile(Compiler.Request.of(write("mix.cnn", block
        + "model M {\n    input [3]\n    D(1)\n    D(0.5)\n}\n")));
    assertEquals(List.of("ARGUMENT_TYPE 7:7 parameter `p` of block `D` takes a float here and an int at "
        + mixed.sources().get(0).name() + ":6:7"), errors(mixed));
    Path declared = write("decl.cnn", block.replace("D(p)", "D(p: float)") + "model M {\n    input [3]\n    D(1)\n    D(0.5)\n}\n");
    var c = compile(declared, List.of(), Map.of());
    assertEquals(new Value.FloatV(0.25), c.networks().get(0).node(1).arg("p"));
    String text = generate(c).get(0).text();
    assertTrue(text.contains("private static String d(NetBuilder b, String name, String in, double p)"), text);
    Path sizes = write("sizes.cnn", "block K(k) {\n    conv(4, k)\n}\nmodel M {\n    input [3, 9, 9]\n    K(3)\n    K([1, 3])\n}\n");
    generate(compile(sizes, List.of(), Map.of()));
  }

  @Test
  void modelArgumentsJavaCannotHoldAreLocatedErrors() throws Exception {
    Path spec = write("f.cnn", "model F(f: float = 0.5, n: int = 3) {\n    input [3, 8, 8]\n    conv(4, 3)\n}\n");
    for (double bad : new double[] {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
      var c = Compiler.compile(new Compiler.Request(List.of(spec), List.of(), Map.of("f", new Value.FloatV(bad))));
      assertEquals(List.of("INVALID_ARGUMENT 1:9 model argument `f` = " + new Value.FloatV(bad).show()
          + " is not a finite number"), errors(c));
    }
    var big = Compiler.compile(new Compiler.Request(List.of(spec), List.of(), Map.of("n", new Value.IntV(3_000_000_000L))));
    assertEquals(List.of("INT_OVERFLOW 1:25 model argument `n` = 3000000000 does not fit the 32-bit `int` of the generated Java"),
        errors(big));
    String text = generate(compile(spec, List.of(), Map.of("f", new Value.FloatV(-0.0), "n", new Value.IntV(-2147483648))))
        .get(0).text();
    assertTrue(text.contains("this(-0.0, -2147483648);"), text);
  }

  // ---- names -----------------------------------------------------------------------------------------

  @Test
  void javaKeywordsAndTheGeneratedCodesOwnNamesAreUsableInSpecs() throws Exception {
    StringBuilder spec = new StringBuilder("package p.q\n");
    spec.append("block int(class, _, b, s, x, i, in, name, build, a_, a, A, this) {\n"
        + "    new: conv(class + _ + b + s + x + i + in + name + build + a_ + a + A + this, 1)\n    for: relu\n"
        + "    repeat 2 { repeat 2 { repeat 2 { repeat 2 { relu } } } }\n}\n");
    spec.append("block a_(n) {\n    conv(n, 1)\n}\nblock a(n) {\n    conv(n, 1)\n}\n");
    int k = 0;
    for (String model : List.of("Math", "String", "List", "Override", "Seq", "Loss", "NetBuilder", "CnnModel", "Object",
        "Integer", "Double", "Long", "Class", "System", "Size", "Pad", "p", "q")) {
      spec.append("model ").append(model).append("(classes = 2, _ = 1, this = 1, PARAMS = 1, INPUT_SHAPE = 3) {\n"
          + "    input [3, 8, 8]\n    goto: int(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)\n    a_(2)\n    a(2)\n"
          + "    output while = final: dense(classes) from goto\n    output double = { flatten\n dense(this) }\n}\n");
      k++;
    }
    Path file = write("names.cnn", spec.toString());
    List<Generator.Output> out = generate(compile(file, List.of(), Map.of()));
    assertEquals(k, out.size());
  }

  private static final String TINY = " {\n    input [3]\n    dense(2)\n}\n";

  @Test
  void modelsWhoseClassesWouldBeOneFileAreErrorsNamingBoth() throws Exception {
    var c = Compiler.compile(Compiler.Request.of(write("clash.cnn", "model foo_bar" + TINY + "model FooBar" + TINY
        + "model a_" + TINY + "model a" + TINY + "model Xy" + TINY + "model XY" + TINY + "model _1" + TINY)));
    assertEquals(List.of(
        "JAVA_NAME 5:7 models `foo_bar` and `FooBar` both generate FooBar.java",
        "JAVA_NAME 13:7 models `a_` and `a` both generate A.java",
        "JAVA_NAME 21:7 models `Xy` and `XY` generate Xy.java and XY.java, one file where case is ignored (macOS, Windows)",
        "JAVA_NAME 25:7 model `_1` gives no Java class name"), errors(c));
    Diagnostic first = c.diagnostics().sorted().get(0);
    assertEquals("`foo_bar` is declared at " + first.span().file().name() + ":1:7", first.notes().get(0).message());
  }

  @Test
  void aPackageOverrideCanMakeClassesClash() throws Exception {
    Path a = write("a.cnn", "package x.a\nmodel Net" + TINY);
    Path b = write("b.cnn", "package x.b\nmodel NET" + TINY);
    var c = Compiler.compile(new Compiler.Request(List.of(a, b), List.of(), Map.of()));
    assertTrue(c.ok(), () -> errors(c).toString());
    assertEquals(List.of(), Generator.check(c.program(), c.networks(), null));
    assertEquals(List.of("JAVA_NAME 2:7 models `Net` and `NET` generate p/Net.java and p/NET.java, one file where case is"
        + " ignored (macOS, Windows)"), Generator.check(c.program(), c.networks(), "p").stream()
        .map(d -> d.id() + " " + d.span().line() + ":" + d.span().column() + " " + d.message()).toList());
  }

  @Test
  void packagesMustBeJavaPackages() throws Exception {
    var c = Compiler.compile(Compiler.Request.of(write("kw.cnn", "package org.class.x\nmodel M" + TINY)));
    assertEquals(List.of("JAVA_NAME 1:13 package `org.class.x` cannot be a Java package"), errors(c));
    assertEquals(null, Generator.packageProblem("org.cnnc.models"));
    assertEquals(null, Generator.packageProblem(""));
    for (String bad : List.of("a.1b", "a..b", ".a", "a.", "a.b.int", "_", "a-b", "a b", "a.true")) {
      assertTrue(Generator.packageProblem(bad) != null, bad);
    }
  }

  // ---- writing ---------------------------------------------------------------------------------------

  @Test
  void writingNeverFollowsASymbolicLink() throws Exception {
    Path victim = Files.writeString(dir.resolve("victim.txt"), "precious\n");
    Path out = Files.createDirectories(dir.resolve("out"));
    Generator.Output o = CodegenGoldenTest.generate().get(0);
    Path pkg = Files.createDirectories(out.resolve(o.relativePath()).getParent());
    String name = o.relativePath().getFileName().toString();
    // a planted temporary file of the old fixed name: written through before
    Files.createSymbolicLink(pkg.resolve(name + ".tmp"), victim);
    assertEquals(Generator.Written.CREATED, Generator.write(out, o));
    assertEquals("precious\n", Files.readString(victim));
    assertEquals(o.text(), Files.readString(out.resolve(o.relativePath())));
    assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(out.resolve(o.relativePath()))));
    // the target itself a link
    Files.delete(out.resolve(o.relativePath()));
    Files.createSymbolicLink(out.resolve(o.relativePath()), victim);
    var e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> Generator.write(out, o));
    assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
    assertEquals("precious\n", Files.readString(victim));
    // a directory below the output that leads out of it
    Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
    Path out2 = Files.createDirectories(dir.resolve("out2"));
    Files.createSymbolicLink(out2.resolve(o.relativePath().getName(0)), elsewhere);
    e = org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class, () -> Generator.write(out2, o));
    assertTrue(e.getMessage().contains(out2.resolve(o.relativePath().getName(0)) + " is a symbolic link"), e.getMessage());
    try (var files = Files.walk(elsewhere)) {
      assertEquals(List.of(elsewhere), files.toList());
    }
  }
}
