// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Every model of {@code zoo/} against torchvision 0.14 in eval mode: torchvision's seeded {@code
 * state_dict} (non-trivial BatchNorm statistics) loads by name with no renaming, and cnnc's output
 * equals torchvision's, computed in float64, within the bound zoo/README.md's table gives the
 * model in its parity column, relative to the largest value (tools/pytorch/zoo_parity.py writes
 * the weights, input and output at test time). ZooTest checks that no bound there is above 1e-4.
 */
class ZooParityTest {
  static final Path ZOO = Generated.ROOT.resolve("zoo");
  @TempDir static Path dir;
  static ClassLoader loader;
  static Compiler.Compilation compilation;

  static Stream<String> models() throws Exception {
    try (Stream<Path> files = Files.list(ZOO)) {
      return files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".cnn"))
          .map(n -> n.substring(0, n.length() - 4)).sorted().toList().stream();
    }
  }

  @BeforeAll
  static void fixtures() throws Exception {
    List<String> names = models().toList();
    Process p = new ProcessBuilder("/usr/bin/python3", Generated.ROOT.resolve("tools/pytorch/zoo_parity.py").toString(),
        "--out", dir.toString(), "--models", String.join(",", names)).redirectErrorStream(true).start();
    String log = new String(p.getInputStream().readAllBytes());
    assertTrue(p.waitFor() == 0, "tools/pytorch/zoo_parity.py failed:\n" + log);
    System.out.print(log);
    compilation = Compiler.compile(Compiler.Request.of(names.stream().map(n -> ZOO.resolve(n + ".cnn")).toArray(Path[]::new)));
    assertTrue(compilation.ok(), () -> compilation.diagnostics().sorted().toString());
    loader = Generated.compile(compilation, dir.resolve("generated"));
  }

  @ParameterizedTest
  @MethodSource("models")
  void outputEqualsTorchvision(String name) throws Exception {
    Network ir = compilation.network(name).orElseThrow();
    INDArray x = NdNpz.toNd4j(Npz.readNpy(dir.resolve(name + "_input.npy")));
    ClassLoader classes = loader;
    long side = x.size(2);
    if (side != ir.node(ir.inputs().get(0)).shape().height()) {
      // a model that takes any input size as `size` (fcn_resnet50), run at the script's smaller input
      Compiler.Compilation sized = Compiler.compile(new Compiler.Request(List.of(ZOO.resolve(name + ".cnn")), List.of(),
          Map.of("size", new org.cnnc.compiler.sema.Value.IntV(side))));
      assertTrue(sized.ok(), () -> sized.diagnostics().sorted().toString());
      ir = sized.network(name).orElseThrow();
      assertArrayEquals(new long[] {x.size(1), side, x.size(3)},
          java.util.Arrays.stream(ir.node(ir.inputs().get(0)).shape().dims()).asLongStream().toArray(), "input");
      classes = Generated.compile(sized, dir.resolve("generated-" + name));
    }
    CnnModel model = (CnnModel) classes.loadClass(ir.javaPackage().map(p -> p + ".").orElse("")
        + org.cnnc.compiler.codegen.JavaGenerator.javaClassName(name)).getConstructor().newInstance();
    CnnNetwork net = CnnNetwork.create(model, 1);
    net.loadWeights(dir.resolve(name + ".npz"));
    INDArray expected = NdNpz.toNd4j(Npz.readNpy(dir.resolve(name + "_output.npy")));
    Map<String, INDArray> out = net.predict(x);
    INDArray actual = out.values().iterator().next();
    // the second call on runs over the planned memory (InferenceExecutor): the first call's bits,
    // and with every inference pass the same again from the second call on
    assertArrayEquals(actual.data().asFloat(), net.predict(x).values().iterator().next().data().asFloat(),
        name + ": planned run");
    CnnNetwork opt = net.forInference(java.util.EnumSet.allOf(InferencePlan.Pass.class),
        java.util.Set.of(net.outputs().get(0).name()));
    INDArray passes = opt.predict(x).values().iterator().next();
    assertArrayEquals(passes.data().asFloat(), opt.predict(x).values().iterator().next().data().asFloat(),
        name + ": planned run with every pass");
    actual = actual.reshape(expected.shape());
    assertArrayEquals(expected.shape(), actual.shape(), name);
    double err = Transforms.abs(actual.sub(expected)).maxNumber().doubleValue()
        / Transforms.abs(expected).maxNumber().doubleValue();
    System.out.printf("zoo parity %s: max |a - b| / max |b| = %.2e%n", name, err);
    Double bound = readmeParity().get(name);
    assertTrue(bound != null, name + " has no row in zoo/README.md's table");
    assertTrue(err <= bound, name + ": max relative error " + err + ", above zoo/README.md's " + bound);
    double errPasses = Transforms.abs(passes.reshape(expected.shape()).sub(expected)).maxNumber().doubleValue()
        / Transforms.abs(expected).maxNumber().doubleValue();
    assertTrue(errPasses <= Math.max(bound, 1e-5), name + " with every inference pass: " + errPasses);
  }

  /** The parity column of zoo/README.md's table ({@code ≤ 3e-6}), by model. */
  static Map<String, Double> readmeParity() throws java.io.IOException {
    List<String> lines = Files.readAllLines(ZOO.resolve("README.md"));
    int start = lines.indexOf("<!-- zoo table: ZooTest checks it against reference/zoo/*.json -->");
    int end = lines.indexOf("<!-- /zoo table -->");
    assertTrue(start >= 0 && end > start, "zoo/README.md has no zoo table between its markers");
    List<String> header = java.util.Arrays.stream(lines.get(start + 1).split("\\|")).map(String::trim).toList();
    int column = header.indexOf("parity");
    assertTrue(column > 0, "zoo/README.md's table has no parity column: " + header);
    Map<String, Double> bounds = new java.util.TreeMap<>();
    for (String line : lines.subList(start + 3, end)) {
      List<String> cells = java.util.Arrays.stream(line.split("\\|")).map(String::trim).toList();
      bounds.put(cells.get(1), Double.parseDouble(cells.get(column).replace("≤", "").trim()));
    }
    return bounds;
  }
}
