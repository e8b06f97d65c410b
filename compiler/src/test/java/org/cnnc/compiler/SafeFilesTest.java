// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.cnnc.compiler.codegen.Generator;
import org.cnnc.compiler.io.SafeFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every file cnnc writes: exclusive temp file, atomic move, never through a link, permissions kept. */
class SafeFilesTest {
  @TempDir Path dir;

  List<String> names() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void writesANewFileAndReplacesOneKeepingItsPermissions() throws Exception {
    Path f = dir.resolve("a.txt");
    SafeFiles.write(f, "one");
    assertEquals("one", Files.readString(f));
    for (String mode : new String[] {"rw-------", "rw-r-----", "rwxr-x---"}) {
      Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
      SafeFiles.write(f, mode);
      assertEquals(mode, Files.readString(f));
      assertEquals(mode, PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    }
    assertEquals(List.of("a.txt"), names());
  }

  @Test
  void refusesALinkAndLeavesItAndItsTargetAlone() throws Exception {
    Path victim = Files.writeString(dir.resolve("victim"), "mine");
    Path link = Files.createSymbolicLink(dir.resolve("out.svg"), victim);
    IOException e = assertThrows(IOException.class, () -> SafeFiles.write(link, "theirs"));
    assertEquals("refusing to write " + link + ": it is a symbolic link (cnnc does not write through links)", e.getMessage());
    assertEquals("mine", Files.readString(victim));
    assertTrue(Files.isSymbolicLink(link));
    // a dangling link too: nothing is created where it points
    Path dangling = Files.createSymbolicLink(dir.resolve("d.svg"), dir.resolve("nowhere"));
    assertThrows(SafeFiles.Refused.class, () -> SafeFiles.write(dangling, "x"));
    assertTrue(Files.notExists(dir.resolve("nowhere")));
    assertEquals(List.of("d.svg", "out.svg", "victim"), names());
  }

  @Test
  void refusesAReadOnlyFileAndWhatIsNotAFile() throws Exception {
    Path f = Files.writeString(dir.resolve("ro.cnn"), "mine");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("r--r--r--"));
    IOException e = assertThrows(IOException.class, () -> SafeFiles.write(f, "theirs"));
    assertEquals("refusing to write " + f + ": it is read-only", e.getMessage());
    assertEquals("mine", Files.readString(f));
    Path d = Files.createDirectory(dir.resolve("sub"));
    assertEquals("refusing to write " + d + ": it is not a regular file",
        assertThrows(IOException.class, () -> SafeFiles.write(d, "x")).getMessage());
    assertEquals(List.of("ro.cnn", "sub"), names());
  }

  @Test
  void aFailureLeavesTheTargetAsItWasAndNoTemporaryFile() throws Exception {
    Path f = Files.writeString(dir.resolve("w.npz"), "old");
    IOException e = assertThrows(IOException.class, () -> SafeFiles.write(f, out -> {
      out.write("half".getBytes());
      throw new IOException("disk full");
    }));
    assertEquals("cannot write " + f + ": disk full", e.getMessage());
    assertThrows(IllegalStateException.class, () -> SafeFiles.write(f, out -> {
      throw new IllegalStateException("bug");
    }));
    assertEquals("old", Files.readString(f));
    assertEquals(List.of("w.npz"), names());
    assertEquals("cannot write " + dir.resolve("no/such.txt") + ": no directory " + dir.resolve("no"),
        assertThrows(IOException.class, () -> SafeFiles.write(dir.resolve("no/such.txt"), "x")).getMessage());
  }

  @Test
  void theOldFixedTemporaryNamesAreNotFollowed() throws Exception {
    Path victim = Files.writeString(dir.resolve("victim"), "mine");
    Files.createSymbolicLink(dir.resolve("X.java.tmp"), victim);
    Files.createSymbolicLink(dir.resolve("m.cnn.cnnc-fmt.tmp"), victim);
    Files.createSymbolicLink(dir.resolve("W.npz.tmp"), victim);
    SafeFiles.write(dir.resolve("X.java"), "x");
    SafeFiles.write(dir.resolve("m.cnn"), "m");
    SafeFiles.write(dir.resolve("W.npz"), "w");
    assertEquals("mine", Files.readString(victim));
    assertEquals("x", Files.readString(dir.resolve("X.java")));
  }

  @Test
  void generateRefusesLinksOnTheWayAndAtTheFile() throws Exception {
    Path victim = Files.writeString(dir.resolve("victim"), Generator.MARKER + "x\n");
    Path out = Files.createDirectory(dir.resolve("out"));
    Files.createSymbolicLink(out.resolve("A.java"), victim);
    IOException e = assertThrows(IOException.class,
        () -> Generator.write(out, new Generator.Output(Path.of("A.java"), Generator.MARKER + "y\n")));
    assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
    Path elsewhere = Files.createDirectory(dir.resolve("elsewhere"));
    Files.createSymbolicLink(out.resolve("pkg"), elsewhere);
    e = assertThrows(IOException.class,
        () -> Generator.write(out, new Generator.Output(Path.of("pkg/B.java"), Generator.MARKER + "y\n")));
    assertEquals("refusing to write " + out.resolve("pkg/B.java") + ": " + out.resolve("pkg")
        + " is a symbolic link (cnnc does not write through links)", e.getMessage());
    assertEquals(Generator.MARKER + "x\n", Files.readString(victim));
    try (Stream<Path> s = Files.list(elsewhere)) {
      assertEquals(0, s.count());
    }
    assertEquals(Generator.Written.CREATED,
        Generator.write(out, new Generator.Output(Path.of("q/r/C.java"), Generator.MARKER + "c\n")));
  }
}
