// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Weights, checkpoints and outputs are written whole, through a new temporary file, never through a link. */
class WeightFilesTest {
  @TempDir Path dir;

  private static Map<String, INDArray> weights() {
    Map<String, INDArray> w = new LinkedHashMap<>();
    w.put("fc.weight", Nd4j.createFromArray(new float[] {1, 2, 3}));
    return w;
  }

  private List<String> names() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  /** A link at the target is refused; what it points to is untouched (WeightsTest: a link at the old fixed temporary name). */
  @Test
  void aLinkAtTheTargetIsRefusedNotWrittenThrough() throws Exception {
    Path victim = Files.writeString(dir.resolve("victim.txt"), "precious");
    Path target = Files.createSymbolicLink(dir.resolve("out.npy"), victim);
    assertThrows(IOException.class, () -> NdNpz.writeNpy(target, Nd4j.createFromArray(new float[] {4, 5})));
    assertThrows(IOException.class, () -> org.cnnc.compiler.io.SafeFiles.checkWritable(target));
    assertEquals("precious", Files.readString(victim));
    assertTrue(Files.isSymbolicLink(target));
    assertEquals(List.of("out.npy", "victim.txt"), names());
  }

  @Test
  void nothingIsLeftBehindWhenTheWriteFails() throws Exception {
    Path target = dir.resolve("W.npz");
    assertThrows(IOException.class, () -> org.cnnc.compiler.io.SafeFiles.write(target, os -> {
      os.write(1);
      throw new IOException("disk full");
    }));
    assertEquals(List.of(), names());
  }

  @Test
  void theTargetIsCheckedBeforeAnyWork() throws Exception {
    IOException missing = assertThrows(IOException.class, () -> org.cnnc.compiler.io.SafeFiles.checkWritable(dir.resolve("no/W.npz")));
    assertTrue(missing.getMessage().contains(dir.resolve("no") + " does not exist"), missing.getMessage());
    IOException folder = assertThrows(IOException.class, () -> org.cnnc.compiler.io.SafeFiles.checkWritable(dir));
    assertTrue(folder.getMessage().endsWith(dir + " is a directory"), folder.getMessage());
    org.cnnc.compiler.io.SafeFiles.checkWritable(dir.resolve("W.npz"));
    assertEquals(List.of(), names());
  }
}
