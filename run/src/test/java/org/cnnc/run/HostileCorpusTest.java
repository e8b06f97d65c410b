// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

/**
 * The corpus of hostile inputs in {@code hostile/}: one directory per case, with its input files
 * and a {@code case.properties} giving the command (arguments to {@code cnnc}, {@code {dir}} being
 * the case's copy in a fresh directory), the exact exit code, texts that must and must not appear
 * on standard output and error, and a time limit. An optional {@code setup.sh} runs first in the
 * copy (symlinks, large or binary files, permissions), and an optional {@code verify.sh} after,
 * which must exit 0 (a symlink's target unchanged, permissions kept). README, "Hostile input",
 * describes the format.
 */
class HostileCorpusTest {
  static final Path CORPUS = Path.of(System.getProperty("cnnc.root", "..")).resolve("hostile");

  @TempDir Path temp;

  @TestFactory
  Stream<DynamicTest> everyCase() throws IOException {
    List<Path> cases;
    try (Stream<Path> dirs = Files.list(CORPUS)) {
      cases = dirs.filter(d -> Files.isRegularFile(d.resolve("case.properties"))).sorted().toList();
    }
    assertFalse(cases.isEmpty(), "no cases under " + CORPUS);
    return cases.stream().map(c -> DynamicTest.dynamicTest(c.getFileName().toString(), () -> run(c)));
  }

  private void run(Path source) throws Exception {
    Properties p = new Properties();
    p.load(new StringReader(Files.readString(source.resolve("case.properties"), StandardCharsets.UTF_8)));
    String name = source.getFileName().toString();
    Path dir = temp.resolve(name);
    copy(source, dir);
    if (Files.exists(dir.resolve("setup.sh"))) {
      script(dir, "setup.sh");
    }
    String command = required(p, "command", name);
    List<String> args = new ArrayList<>();
    for (String a : command.trim().split("\\s+")) {
      args.add(a.replace("{dir}", dir.toString()));
    }
    int expected = Integer.parseInt(required(p, "exit", name).trim());
    long timeout = Long.parseLong(p.getProperty("timeout", "30").trim());
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    ExecutorService pool = Executors.newSingleThreadExecutor();
    int code;
    try {
      Future<Integer> f = pool.submit(() -> Cnnc.run(args.toArray(String[]::new), new PrintWriter(out, true),
          new PrintWriter(err, true)));
      try {
        code = f.get(timeout, TimeUnit.SECONDS);
      } catch (TimeoutException e) {
        f.cancel(true);
        fail(name + ": cnnc took more than " + timeout + " s");
        return;
      } catch (ExecutionException e) {
        throw new AssertionError(name + ": cnnc threw", e.getCause());
      }
    } finally {
      pool.shutdownNow();
    }
    String o = out.toString();
    String e = err.toString();
    String shown = "\n--- stdout ---\n" + clip(o) + "\n--- stderr ---\n" + clip(e);
    assertEquals(expected, code, name + ": exit code" + shown);
    for (String key : p.stringPropertyNames()) {
      String value = p.getProperty(key).replace("{dir}", dir.toString());
      String base = key.replaceAll("\\.\\d+$", "");
      switch (base) {
        case "out" -> assertTrue(o.contains(value), name + ": stdout lacks '" + value + "'" + shown);
        case "err" -> assertTrue(e.contains(value), name + ": stderr lacks '" + value + "'" + shown);
        case "not.out" -> assertFalse(o.contains(value), name + ": stdout has '" + value + "'" + shown);
        case "not.err" -> assertFalse(e.contains(value), name + ": stderr has '" + value + "'" + shown);
        case "command", "exit", "timeout" -> { }
        default -> fail(name + ": unknown key '" + key + "' in case.properties");
      }
    }
    if (code == 3 && expected != 3) {
      fail(name + ": an internal error" + shown);
    }
    if (Files.exists(dir.resolve("verify.sh"))) {
      script(dir, "verify.sh");
    }
  }

  private static String required(Properties p, String key, String name) {
    String v = p.getProperty(key);
    if (v == null) {
      fail(name + ": case.properties lacks '" + key + "'");
    }
    return v;
  }

  private static String clip(String s) {
    return s.length() <= 4000 ? s : s.substring(0, 4000) + "... (" + s.length() + " characters)";
  }

  /** Copies the case's files (regular files and folders; links in the corpus are made by setup.sh). */
  private static void copy(Path from, Path to) throws IOException {
    try (Stream<Path> all = Files.walk(from)) {
      for (Path f : (Iterable<Path>) all::iterator) {
        Path t = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
          Files.createDirectories(t);
        } else {
          Files.copy(f, t, LinkOption.NOFOLLOW_LINKS);
        }
      }
    }
  }

  private static void script(Path dir, String script) throws IOException, InterruptedException {
    Process p = new ProcessBuilder("bash", script).directory(dir.toFile()).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      fail(dir.getFileName() + "/" + script + " took more than 60 s");
    }
    assertEquals(0, p.exitValue(), dir.getFileName() + "/" + script + " failed:\n" + output);
  }
}
