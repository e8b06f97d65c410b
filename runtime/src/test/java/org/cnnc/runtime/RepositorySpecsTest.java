// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.shape.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Every spec of the repository (examples, models, the zoo, test and corpus specs that check): what
 * its generated {@code build} makes is the compiler's network, op by op ({@link Recorded}); and on
 * each backend, a network {@code check --backend} accepts runs, and one it refuses is refused by
 * the builder with the same reason, never an internal error.
 */
class RepositorySpecsTest {
  /** Specs above this many nodes are left to the tests that build them (the hostile corpus's 30,000 layers). */
  static final int MAX_NODES = 2_000;

  @TempDir Path dir;

  @Test
  void everySpecBuildsAsCheckedAndRunsWhereCheckAcceptsIt() throws Exception {
    List<Path> specs = specs();
    assertTrue(specs.size() > 20, "specs found: " + specs);
    List<String> seen = new ArrayList<>();
    for (Path spec : specs) {
      Compiler.Compilation all = Compiler.compile(Compiler.Request.of(spec).withBackends(Set.of()));
      if (!all.ok() || all.networks().isEmpty()
          || all.networks().stream().anyMatch(n -> n.nodes().size() > MAX_NODES)) {
        continue;
      }
      ClassLoader loader = Generated.compile(all, dir.resolve("g" + seen.size()));
      for (Network ir : all.networks()) {
        String where = Generated.ROOT.relativize(spec) + " model " + ir.name();
        seen.add(where);
        CnnModel model = (CnnModel) loader.loadClass(ir.javaPackage().map(p -> p + ".").orElse("") + javaName(ir.name()))
            .getConstructor().newInstance();
        try {
          checkOne(spec, ir, model, where);
        } catch (RuntimeException e) {
          throw new AssertionError(where + ": " + e, e);
        }
      }
    }
    System.out.printf("repository specs: %d models; %d builds ran, %d refused by check and builder alike%n",
        seen.size(), built, refused);
    assertTrue(seen.stream().anyMatch(s -> s.contains("GoogLeNet")), seen.toString());
    assertTrue(refused >= 2, "the refused specs (runtime/src/test/resources/backends) were refused: " + refused);
  }

  private int built;
  private int refused;

  private void checkOne(Path spec, Network ir, CnnModel model, String where) throws Exception {
        for (NetBuilder.Kernels k : NetBuilder.Kernels.values()) {
          NetBuilder recorder = new NetBuilder(1).kernels(k);
          try {
            model.build(recorder);
          } catch (UnsupportedOperationException e) {
            continue; // a backend that refuses the network: the loop below checks that check refuses it too
          }
          Recorded.assertSame(ir, recorder, where);
        }
        for (Backend backend : Backend.values()) {
          if (backend == Backend.ONNX) {
            continue; // an export, not a DL4J build: the onnx module's OnnxRepositoryTest runs it on ONNX Runtime
          }
          Compiler.Compilation c = Compiler.compile(Compiler.Request.of(spec).withBackends(Set.of(backend)));
          NetBuilder.Kernels kernels = backend == Backend.CPU ? NetBuilder.Kernels.CNNC : NetBuilder.Kernels.DL4J;
          if (c.ok()) {
            runs(ir, CnnNetwork.create(model, new NetBuilder(1).kernels(kernels)), where + " on " + backend.id());
            built++;
          } else {
            String reason = c.diagnostics().sorted().stream()
                .filter(d -> d.id().equals("UNSUPPORTED_ON_BACKEND")).findFirst()
                .orElseThrow(() -> new AssertionError(where + ": refused for another reason than its backend: "
                    + c.diagnostics().sorted())).message();
            UnsupportedOperationException e = org.junit.jupiter.api.Assertions.assertThrows(
                UnsupportedOperationException.class, () -> model.build(new NetBuilder(1).kernels(kernels)), where);
            String why = reason.substring(reason.indexOf(": ") + 2);
            assertTrue(e.getMessage().endsWith(why), where + ": the builder refuses with \"" + e.getMessage()
                + "\", check with \"" + reason + "\"");
            refused++;
          }
        }
  }

  private static String javaName(String model) {
    return org.cnnc.compiler.codegen.JavaGenerator.javaClassName(model);
  }

  /** Inference of one random example: every output has the compiler's shape. */
  static void runs(Network ir, CnnNetwork net, String where) {
    Nd4j.getRandom().setSeed(5);
    List<INDArray> xs = new ArrayList<>();
    for (int i : ir.inputs()) {
      int[] d = ir.node(i).shape().dims();
      long[] shape = new long[d.length + 1];
      shape[0] = 1;
      for (int k = 0; k < d.length; k++) {
        shape[k + 1] = d[k];
      }
      xs.add(Nd4j.randn(DataType.FLOAT, shape));
    }
    Map<String, INDArray> out = net.predict(xs.toArray(new INDArray[0]));
    for (Output o : ir.outputs()) {
      INDArray y = out.get(o.name());
      assertNotNull(y, where + ": output " + o.name());
      int[] d = ir.node(o.node()).shape().dims();
      long[] want = new long[d.length + 1];
      want[0] = 1;
      for (int k = 0; k < d.length; k++) {
        want[k + 1] = d[k];
      }
      assertArrayEquals(want, y.shape(), where + ": shape of output " + o.name());
      for (float v : y.dup().data().asFloat()) {
        assertTrue(Float.isFinite(v), where + ": output " + o.name() + " is finite");
      }
    }
  }

  /** Every .cnn file of the repository, but the fuzzers' corpora and build outputs. */
  static List<Path> specs() throws IOException {
    try (Stream<Path> walk = Files.walk(Generated.ROOT.toAbsolutePath().normalize())) {
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
}
