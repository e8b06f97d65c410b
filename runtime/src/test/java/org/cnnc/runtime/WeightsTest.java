// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** PyTorch state dicts in and out: all or nothing, every problem named. */
class WeightsTest {
  static Path fixtures;
  @TempDir Path dir;

  @BeforeAll
  static void make() throws Exception {
    fixtures = Fixtures.dir();
  }

  static CnnNetwork nin() throws Exception {
    return CnnNetwork.create(Generated.model("NiN"), 3);
  }

  static Map<String, INDArray> valid() throws Exception {
    Map<String, INDArray> out = new LinkedHashMap<>();
    Npz.read(fixtures.resolve("NiN.npz")).forEach((k, v) -> out.put(k, NdNpz.toNd4j(v)));
    return out;
  }

  /** Loading must fail with exactly these problems, and leave every parameter as it was. */
  void refused(Path file, String... problems) throws Exception {
    CnnNetwork net = nin();
    INDArray before = net.graph().params().dup();
    WeightsException e = assertThrows(WeightsException.class, () -> net.loadWeights(file));
    assertEquals(List.of(problems), e.problems());
    assertTrue(e.getMessage().startsWith("cannot load " + file + ":"));
    assertEquals(before, net.graph().params(), "a refused import changes nothing");
  }

  @Test
  void missingTensor() throws Exception {
    Map<String, INDArray> w = valid();
    w.remove("block2.2.bias");
    Path f = dir.resolve("missing.npz");
    NdNpz.write(f, w);
    refused(f, "missing tensor block2.2.bias [192]");
  }

  @Test
  void extraTensor() throws Exception {
    Map<String, INDArray> w = valid();
    w.put("block4.0.weight", Nd4j.zeros(3, 3));
    w.put("block1.0.num_batches_tracked", Nd4j.scalar(1f));
    Path f = dir.resolve("extra.npz");
    NdNpz.write(f, w);
    refused(f, "unexpected tensor block4.0.weight [3, 3]: the network has no such parameter");
  }

  @Test
  void wrongShape() throws Exception {
    Map<String, INDArray> w = valid();
    w.put("block1.0.weight", Nd4j.zeros(192, 3, 3, 3));
    Path f = dir.resolve("shape.npz");
    NdNpz.write(f, w);
    refused(f, "tensor block1.0.weight has shape [192, 3, 3, 3], expected [192, 3, 5, 5]");
  }

  @Test
  void float64IsRefusedByName() throws Exception {
    CnnNetwork net = nin();
    WeightsException e = assertThrows(WeightsException.class, () -> net.loadWeights(fixtures.resolve("NiN_float64.npz")));
    assertEquals(18, e.problems().size());
    assertTrue(e.problems().contains(
        "tensor block1.0.weight has dtype <f8 (float64); expected float32 ('<f4'): save it with tensor.float()"), e.problems().toString());
  }

  @Test
  void truncatedFile() throws Exception {
    byte[] bytes = Files.readAllBytes(fixtures.resolve("NiN.npz"));
    Path f = dir.resolve("truncated.npz");
    Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length / 2));
    CnnNetwork net = nin();
    INDArray before = net.graph().params().dup();
    WeightsException e = assertThrows(WeightsException.class, () -> net.loadWeights(f));
    assertTrue(e.getMessage().contains("not a valid .npz archive (truncated or corrupt)"), e.getMessage());
    assertEquals(before, net.graph().params());
  }

  @Test
  void fortranOrderAndCompressedArchivesReadAsNumpyWroteThem() throws Exception {
    CnnNetwork plain = nin();
    plain.loadWeights(fixtures.resolve("NiN.npz"));
    for (String variant : new String[] {"NiN_fortran.npz", "NiN_compressed.npz"}) {
      CnnNetwork net = nin();
      net.loadWeights(fixtures.resolve(variant));
      assertEquals(plain.graph().params(), net.graph().params(), variant);
    }
    assertTrue(Npz.read(fixtures.resolve("NiN_fortran.npz")).get("block1.0.weight").fortranOrder());
  }

  @Test
  void exportThenImportRoundTrips() throws Exception {
    CnnNetwork a = nin();
    a.loadWeights(fixtures.resolve("NiN.npz"));
    Path out = dir.resolve("out.npz");
    a.saveWeights(out);
    Map<String, Npz.Array> saved = Npz.read(out);
    Map<String, Npz.Array> original = Npz.read(fixtures.resolve("NiN.npz"));
    assertEquals(original.keySet(), saved.keySet());
    for (String k : original.keySet()) {
      assertTrue(java.util.Arrays.equals(original.get(k).data(), saved.get(k).data()), k);
    }
    CnnNetwork b = nin();
    b.loadWeights(out);
    assertEquals(a.graph().params(), b.graph().params());
  }

  /** Saved weights go through a fresh temporary file: a link at the target or at the old `W.npz.tmp` is not followed. */
  @Test
  void savingNeverWritesThroughALink() throws Exception {
    Path victim = Files.writeString(dir.resolve("victim"), "mine");
    Files.createSymbolicLink(dir.resolve("w.npz.tmp"), victim);
    NdNpz.write(dir.resolve("w.npz"), Map.of("x", Nd4j.ones(2)));
    assertEquals("mine", Files.readString(victim));
    assertEquals(List.of(2L), java.util.Arrays.stream(Npz.read(dir.resolve("w.npz")).get("x").shape()).boxed().toList());
    Path link = Files.createSymbolicLink(dir.resolve("l.npz"), victim);
    assertThrows(java.io.IOException.class, () -> NdNpz.write(link, Map.of("x", Nd4j.ones(2))));
    assertEquals("mine", Files.readString(victim));
  }

  @Test
  void renameMapForSpecsThatDoNotMirrorTheirModuleTree() throws Exception {
    Map<String, INDArray> w = valid();
    INDArray moved = w.remove("block3.4.weight");
    w.put("head.weight", moved);
    Path f = dir.resolve("renamed.npz");
    NdNpz.write(f, w);
    CnnNetwork net = nin();
    net.loadWeights(f, Map.of("head.weight", "block3.4.weight"));
    assertEquals(moved, net.stateDict().get("block3.4.weight"));
  }
}
