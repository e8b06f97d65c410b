// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.shape.Backend;
import org.junit.jupiter.api.Test;

/**
 * Every spec of the repository that {@code check --backend onnx} accepts exports and runs on ONNX
 * Runtime with seeded weights: each output has the compiler's shape and finite values; one it
 * refuses is refused at an op with the backend named, never for another reason.
 */
class OnnxRepositoryTest {
  /** Specs above this many nodes are left out (the hostile corpus's 30,000 layers); VGG-sized weights too. */
  static final int MAX_NODES = 2_000;
  static final long MAX_PARAMS = 20_000_000;

  static List<Path> specs() throws IOException {
    try (Stream<Path> walk = Files.walk(OnnxExportTest.ROOT)) {
      return walk.filter(p -> p.toString().endsWith(".cnn") && Files.isRegularFile(p))
          .filter(p -> !p.toString().contains("/target/") && !p.toString().contains("/.git/")
              && !p.toString().contains("/node_modules/"))
          .filter(p -> {
            try {
              return Files.size(p) < 64 * 1024;
            } catch (IOException e) {
              return false;
            }
          })
          .sorted().toList();
    }
  }

  @Test
  void whatCheckAcceptsForOnnxRunsOnOnnxRuntime() throws Exception {
    int ran = 0;
    int refused = 0;
    List<String> seen = new ArrayList<>();
    for (Path spec : specs()) {
      Compiler.Compilation all = Compiler.compile(Compiler.Request.of(spec).withBackends(Set.of()));
      if (!all.ok() || all.networks().stream().anyMatch(n -> n.nodes().size() > MAX_NODES)) {
        continue;
      }
      Compiler.Compilation onnx = Compiler.compile(Compiler.Request.of(spec).withBackends(Set.of(Backend.ONNX)));
      if (!onnx.ok()) {
        assertTrue(onnx.diagnostics().sorted().stream().allMatch(d -> !d.severity().name().equals("ERROR")
                || d.id().equals("UNSUPPORTED_ON_BACKEND") && d.message().contains("backend onnx")),
            spec + ": refused for another reason than the onnx backend: " + onnx.diagnostics().sorted());
        refused++;
        continue;
      }
      for (Network net : onnx.networks()) {
        if (net.paramCount() > MAX_PARAMS) {
          continue;
        }
        String where = OnnxExportTest.ROOT.relativize(spec) + " model " + net.name();
        seen.add(where);
        try (OrtModel m = OrtModel.of(net, null, new OnnxExport.Options(OnnxExport.DEFAULT_OPSET, "test", 1), 1)) {
          Map<String, Npz.Array> in = new LinkedHashMap<>();
          SplittableRandom r = new SplittableRandom(3);
          for (int id : net.inputs()) {
            Node n = net.node(id);
            long[] shape = shape(2, n.shape().dims());
            float[] v = new float[(int) (n.shape().numel() * 2)];
            for (int i = 0; i < v.length; i++) {
              v[i] = (float) r.nextGaussian();
            }
            in.put(n.name(), Npz.Array.of(shape, v));
          }
          Map<String, Npz.Array> out = m.predict(in);
          for (Output o : net.outputs()) {
            Npz.Array y = out.get(o.name());
            assertArrayEquals(shape(2, net.node(o.node()).shape().dims()), y.shape(), where + ": output " + o.name());
            for (float f : y.data()) {
              assertTrue(Float.isFinite(f), where + ": output " + o.name() + " holds " + f);
            }
          }
        } catch (ai.onnxruntime.OrtException | RuntimeException e) {
          throw new AssertionError(where + ": " + e, e);
        }
        ran++;
      }
    }
    System.out.printf("repository specs on ONNX Runtime: %d models ran, %d files refused by check%n", ran, refused);
    assertTrue(seen.stream().anyMatch(s -> s.contains("GoogLeNet")), seen.toString());
    assertTrue(ran > 20, "models run: " + ran);
  }

  static long[] shape(int batch, int[] dims) {
    long[] s = new long[dims.length + 1];
    s[0] = batch;
    for (int i = 0; i < dims.length; i++) {
      s[i + 1] = dims[i];
    }
    return s;
  }
}
