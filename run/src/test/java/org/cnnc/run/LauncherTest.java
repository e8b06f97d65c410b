// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The repository's launcher, {@code ./cnnc}, as a user starts it: a copy of the script in a
 * directory laid out as a built repository ({@code run/target/} with the run module's jar,
 * {@code classpath.txt} and the build stamp, so it builds nothing), whose classpath is this
 * test's (directories made into jars: class-data sharing takes jars only). README, "Start-up".
 */
class LauncherTest {
  static final Path ROOT = Path.of(System.getProperty("cnnc.root", "..")).toAbsolutePath().normalize();

  @TempDir Path root;
  Path target;

  record Run(int code, String out, String err) {}

  @BeforeEach
  void layOut() throws Exception {
    // the launcher is a bash script; the project's build and CI need bash anyway, so its absence fails
    assertTrue(new File("/bin/bash").canExecute(), "the launcher is a bash script: /bin/bash is needed");
    Files.copy(ROOT.resolve("cnnc"), root.resolve("cnnc"));
    Files.copy(ROOT.resolve("models.cnn"), root.resolve("models.cnn"));
    target = Files.createDirectories(root.resolve("run/target"));
    Path lib = Files.createDirectories(root.resolve("lib"));
    Path runClasses = location(Cnnc.class);
    Path testClasses = location(LauncherTest.class);
    jar(runClasses, target.resolve("cnnc-run-test.jar"));
    List<String> cp = new ArrayList<>();
    String[] entries = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"))
        .split(File.pathSeparator);
    for (String e : entries) {
      Path p = Path.of(e).toAbsolutePath().normalize();
      if (p.equals(runClasses) || p.equals(testClasses) || !Files.exists(p)) {
        continue;
      }
      if (Files.isDirectory(p)) {
        Path jar = lib.resolve("cnnc-" + cp.size() + "-" + p.getParent().getParent().getFileName() + ".jar");
        jar(p, jar);
        p = jar;
      }
      cp.add(p.toString());
    }
    Files.writeString(target.resolve("classpath.txt"), String.join(":", cp));
    Files.writeString(target.resolve("cnnc.built"), "");
  }

  @Test
  void versionAndCheckAnswerAsTheCommandLineDoes() throws Exception {
    Run v = cnnc(Map.of(), "--version");
    assertEquals(0, v.code(), v.err());
    assertEquals("cnnc " + version() + "\n", v.out());
    assertEquals("", v.err());

    Run ok = cnnc(Map.of(), "check", "models.cnn");
    assertEquals(0, ok.code(), ok.err());
    assertEquals("ok: 3 models in 1 file\n", ok.out());
    assertEquals("", ok.err());

    Files.writeString(root.resolve("broken.cnn"), "model M {\n    input [3, 8, 8]\n    conv(4, 3) nosuchop\n}\n");
    Run bad = cnnc(Map.of(), "check", "broken.cnn");
    assertEquals(1, bad.code(), bad.out() + bad.err());
    assertTrue(bad.err().contains("nosuchop"), bad.err());

    Run usage = cnnc(Map.of(), "check");
    assertEquals(2, usage.code());
    assertTrue(usage.err().contains("Missing required parameter"), usage.err());
  }

  @Test
  void theFirstCommandMakesTheArchiveAndTheNextMapsItsClasses() throws Exception {
    assertEquals(0, cnnc(Map.of(), "--version").code());
    Path archive = onlyArchive();
    Run r = cnnc(Map.of("CNNC_OPTS", "-Xlog:class+load"), "check", "models.cnn");
    assertEquals(0, r.code(), r.err());
    assertTrue(r.out().contains("org.cnnc.compiler.Compiler source: shared objects file (top)"),
        "the compiler's classes come from the archive");
    assertEquals(archive, onlyArchive(), "a fresh archive is kept");
    try (Stream<Path> files = Files.list(target)) {
      assertEquals(List.of(), files.filter(f -> f.getFileName().toString().startsWith(".cnnc-cds")).toList(),
          "no temporary archive left");
    }

    Run off = cnnc(Map.of("CNNC_CDS", "off", "JAVA_OPTS", "-Xlog:class+load"), "check", "models.cnn");
    assertEquals(0, off.code(), off.err());
    assertFalse(off.out().contains("shared objects file (top)"), "CNNC_CDS=off maps no archive");
  }

  @Test
  void aChangedJarRunsItsOwnClassesAndGetsANewArchive() throws Exception {
    assertEquals(0, cnnc(Map.of(), "check", "models.cnn").code());
    Path before = onlyArchive();
    Path runJar = target.resolve("cnnc-run-test.jar");
    var mtime = Files.getLastModifiedTime(runJar);
    // another org.cnnc.run.Cnnc in the run module's jar, dated as the one the archive holds
    Path src = Files.createDirectories(root.resolve("other/src/org/cnnc/run")).resolve("Cnnc.java");
    Files.writeString(src, "package org.cnnc.run; public final class Cnnc { public static void main(String[] a) {"
        + " System.out.println(\"the new Cnnc\"); } }");
    Path classes = Files.createDirectories(root.resolve("other/classes"));
    assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(), src.toString()));
    jar(classes, runJar);
    Files.setLastModifiedTime(runJar, mtime);

    // dated as before, the launcher takes the archive for fresh: the JVM sees another size and ignores it
    Run same = cnnc(Map.of(), "check", "models.cnn");
    assertEquals(0, same.code(), same.err());
    assertEquals("the new Cnnc\n", same.out(), "never the archived classes of the old jar");
    assertEquals("", same.err());

    // newer than the archive: a new archive
    Files.setLastModifiedTime(runJar, java.nio.file.attribute.FileTime.from(java.time.Instant.now()));
    Run r = cnnc(Map.of(), "check", "models.cnn");
    assertEquals(0, r.code(), r.err());
    assertEquals("the new Cnnc\n", r.out());
    assertEquals("", r.err());
    Path after = onlyArchive();
    assertNotEquals(before, after, "a new archive for the new jars");
    assertFalse(Files.exists(before), "the stale archive is removed");
  }

  @Test
  void aDamagedArchiveIsNeverMapped() throws Exception {
    assertEquals(0, cnnc(Map.of(), "--version").code());
    Path archive = onlyArchive();
    byte[] bytes = Files.readAllBytes(archive);
    archive.toFile().setWritable(true);
    // cut short (JDK 17 dies of SIGBUS mapping it): its size is not the one its name holds
    Files.write(archive, java.util.Arrays.copyOf(bytes, bytes.length / 3));
    Run cut = cnnc(Map.of(), "check", "models.cnn");
    assertEquals(0, cut.code(), cut.err());
    assertEquals("ok: 3 models in 1 file\n", cut.out());
    assertEquals("", cut.err());
    assertEquals(bytes.length, Files.size(onlyArchive()), "made again");

    // the right size, not an archive: the JVM reads its header and ignores it
    archive = onlyArchive();
    archive.toFile().setWritable(true);
    byte[] garbage = new byte[bytes.length];
    java.util.Arrays.fill(garbage, (byte) 'x');
    Files.write(archive, garbage);
    Run other = cnnc(Map.of(), "check", "models.cnn");
    assertEquals(0, other.code(), other.err());
    assertEquals("ok: 3 models in 1 file\n", other.out());
    assertEquals("", other.err());
  }

  @Test
  void anArchiveThatIsASymbolicLinkIsNeitherUsedNorWrittenThrough() throws Exception {
    assertEquals(0, cnnc(Map.of(), "--version").code());
    Path archive = onlyArchive();
    Files.delete(archive);
    Path elsewhere = root.resolve("elsewhere.txt");
    Files.writeString(elsewhere, "someone else's file\n");
    Files.createSymbolicLink(archive, elsewhere);
    Run r = cnnc(Map.of(), "check", "models.cnn");
    assertEquals(0, r.code(), r.err());
    assertEquals("ok: 3 models in 1 file\n", r.out());
    assertEquals("someone else's file\n", Files.readString(elsewhere));
    assertTrue(Files.isRegularFile(archive, LinkOption.NOFOLLOW_LINKS), "the link is replaced by an archive of its own");
  }

  @Test
  void twoFirstRunsAtOnceBothAnswerAndLeaveOneArchive() throws Exception {
    Process a = start(Map.of(), "check", "models.cnn");
    Process b = start(Map.of(), "check", "models.cnn");
    for (Process p : List.of(a, b)) {
      assertTrue(p.waitFor(300, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue());
      assertEquals("ok: 3 models in 1 file\n", new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }
    onlyArchive();
    try (Stream<Path> files = Files.list(target)) {
      assertEquals(List.of(), files.filter(f -> f.getFileName().toString().startsWith(".cnnc-cds")).toList());
    }
  }

  @Test
  void javaOptsThenCnncOptsReachTheJvm() throws Exception {
    Run java = cnnc(Map.of("JAVA_OPTS", "-Xlog:class+load"), "--version");
    assertTrue(java.out().contains("[class,load]"), "JAVA_OPTS");
    Run cnnc = cnnc(Map.of("CNNC_OPTS", "-Xlog:class+load"), "--version");
    assertTrue(cnnc.out().contains("[class,load]"), "CNNC_OPTS");
    Run both = cnnc(Map.of("JAVA_OPTS", "-Xlog:class+load", "CNNC_OPTS", "-Xlog:disable"), "--version");
    assertEquals("cnnc " + version() + "\n", both.out(), "CNNC_OPTS comes last and wins");
  }

  private Path onlyArchive() throws IOException {
    try (Stream<Path> files = Files.list(target)) {
      List<Path> archives = files.filter(f -> f.getFileName().toString().matches("cnnc-cds-.+-[0-9]+\\.jsa")).toList();
      assertEquals(1, archives.size(), "one archive: " + archives);
      return archives.get(0);
    }
  }

  /** A bad thread setting in the JVM options is the user's mistake, told before any work (exit 2). */
  @Test
  void aBadThreadSettingIsAUsageError() throws Exception {
    Files.writeString(root.resolve("tiny.cnn"), "model Tiny {\n    input [3, 8, 8]\n    conv(4, 3)\n    relu\n}\n");
    Run bad = cnnc(Map.of("CNNC_OPTS", "-Dcnnc.threads.spin=fast"), "run", "tiny.cnn", "--random");
    assertEquals(2, bad.code(), bad.err());
    // the JVM's own warning about the Vector API may come first
    assertTrue(bad.err().endsWith("\ncnnc: cnnc.threads.spin is 'fast'; it takes off or microseconds from 0 to 1000000\n"),
        bad.err());
    assertFalse(bad.err().contains("\tat "), bad.err());
    Run off = cnnc(Map.of("CNNC_OPTS", "-Dcnnc.threads.spin=off"), "run", "tiny.cnn", "--random");
    assertEquals(0, off.code(), off.err());
  }

  private Process start(Map<String, String> env, String... args) throws IOException {
    List<String> command = new ArrayList<>(List.of("/bin/bash", root.resolve("cnnc").toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile());
    pb.environment().keySet().removeAll(List.of("JAVA_OPTS", "CNNC_OPTS", "CNNC_CDS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"));
    pb.environment().putAll(env);
    pb.redirectError(ProcessBuilder.Redirect.DISCARD);
    return pb.start();
  }

  private Run cnnc(Map<String, String> env, String... args) throws Exception {
    List<String> command = new ArrayList<>(List.of("/bin/bash", root.resolve("cnnc").toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(root.toFile());
    pb.environment().keySet().removeAll(List.of("JAVA_OPTS", "CNNC_OPTS", "CNNC_CDS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS"));
    pb.environment().putAll(env);
    Path out = Files.createTempFile(root, "out", ".txt");
    Path err = Files.createTempFile(root, "err", ".txt");
    pb.redirectOutput(out.toFile()).redirectError(err.toFile());
    Process p = pb.start();
    if (!p.waitFor(300, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("./cnnc " + String.join(" ", args) + " took more than 300 s");
    }
    Run r = new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    Files.delete(out);
    Files.delete(err);
    return r;
  }

  private static String version() throws IOException {
    Properties p = new Properties();
    try (InputStream in = org.cnnc.cli.Main.class.getResourceAsStream("version.properties")) {
      p.load(in);
    }
    return p.getProperty("version");
  }

  private static Path location(Class<?> c) throws URISyntaxException {
    return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath().normalize();
  }

  /** A jar of the files under {@code dir}, in a sorted order. */
  private static void jar(Path dir, Path jar) throws IOException {
    try (OutputStream o = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(o);
        Stream<Path> files = Files.walk(dir)) {
      for (Path f : files.filter(Files::isRegularFile).sorted().toList()) {
        j.putNextEntry(new JarEntry(dir.relativize(f).toString().replace(File.separatorChar, '/')));
        Files.copy(f, j);
        j.closeEntry();
      }
    }
  }
}
