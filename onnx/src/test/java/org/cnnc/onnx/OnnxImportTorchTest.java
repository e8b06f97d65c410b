// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.shape.Backend;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@code torch.onnx.export} of the article's networks and the zoo (opset 17, eval mode, dynamic
 * batch; {@code tools/pytorch/onnx_export.py}), imported: the spec's parameters, buffers, MACs and
 * {@code state_dict} (keys and shapes) equal the original spec's, with no name rewritten, and the spec with the imported
 * weights, exported by cnnc and run by ONNX Runtime, gives PyTorch's outputs within 1e-4 of their
 * largest value.
 */
class OnnxImportTorchTest {
  static final Path ROOT = OnnxExportTest.ROOT;
  @TempDir static Path dir;
  static Compiler.Compilation article;
  static Compiler.Compilation zoo;

  static Stream<String> models() throws Exception {
    return OnnxExportTest.models();
  }

  @BeforeAll
  static void exportFromTorch() throws Exception {
    OnnxExportTest.python("tools/pytorch/onnx_export.py", "--out", dir.toString(), "--models",
        String.join(",", models().toList()));
    article = Compiler.compile(Compiler.Request.of(ROOT.resolve("models.cnn")).withBackends(Set.of(Backend.ONNX)));
    zoo = Compiler.compile(Compiler.Request.of(OnnxExportTest.zooModels().map(n -> ROOT.resolve("zoo/" + n + ".cnn"))
        .toArray(Path[]::new)).withBackends(Set.of(Backend.ONNX)));
    assertTrue(article.ok() && zoo.ok());
  }

  @ParameterizedTest
  @MethodSource("models")
  void importedTorchExportIsTheSpecAndComputesPyTorchsOutputs(String name) throws Exception {
    Network original = article.network(name).or(() -> zoo.network(name)).orElseThrow();
    OnnxImport.Result r = OnnxImport.importModel(OnnxImport.readModel(dir.resolve(name + ".onnx")), null, name,
        name + ".onnx", "test");
    Network imported = r.network();
    assertEquals(original.paramCount(), imported.paramCount(), name + " params");
    assertEquals(original.bufferCount(), imported.bufferCount(), name + " buffers");
    assertEquals(original.macs(), imported.macs(), name + " MACs");
    // the same keys and shapes; their order follows the graph's (torch computes GoogLeNet's aux heads mid-network)
    assertEquals(OnnxImportRoundTripTest.keys(original).stream().sorted().toList(),
        OnnxImportRoundTripTest.keys(imported).stream().sorted().toList(), name + " state_dict");
    assertEquals(List.of(), r.notes(), name + " notes");
    // repeated modules are blocks, whatever torch's names and node order (the spec was checked node
    // by node against the flat one); VGG and AlexNet repeat no module
    assertEquals(!Set.of("VGG16", "alexnet", "vgg19_bn").contains(name), r.spec().contains("\nblock "), name + ":\n" + r.spec());
    String blocks = switch (name) {
      // a stage's first residual block (with its downsample) reads its input through `x` as the others
      case "resnet18" -> "    layer1: {\n        repeat 2 { LayerBlock(64) }\n    }\n    layer2: Layer(128)\n"
          + "    layer3: Layer(256)\n    layer4: Layer(512)\n";
      // with stride a parameter (a default of the first stage), all four stages are one block
      case "resnet50" -> "    layer1: Layer(64, 1, 256, 2)\n    layer2: Layer(128, 2, 512, 3)\n"
          + "    layer3: Layer(256, 2, 1024, 5)\n    layer4: Layer(512, 2, 2048, 2)\n";
      // dilated stages: `padding = 2, dilation = 2` and the defaulted dilation of the others compare equal
      case "fcn_resnet50" -> "    repeat count { LayerBlock(channels, padding2, conv3_channels) }\n}\n\nmodel fcn_resnet50 {\n"
          + "    input [3, 224, 224]\n    backbone: {\n        conv1: conv(64, 7, stride = 2, padding = 3, bias = false)\n"
          + "        bn1: batchnorm\n        relu: relu\n        maxpool: maxpool(3, stride = 2, padding = 1)\n"
          + "        layer1: Layer(64, 1, 1, 256, 2, 1)\n        layer2: Layer(128, 2, 1, 512, 3, 1)\n"
          + "        layer3: Layer(256, 1, 1, 1024, 5, 2)\n        layer4: Layer(512, 1, 2, 2048, 2, 4)\n    }\n";
      // torch's dense layers concatenate every earlier output: chained, each is x -> cat(x, f(x))
      case "densenet121" -> "block Denselayer() {\n    x: identity  // the input, for the reads below\n"
          + "    norm1: batchnorm\n    relu1: relu\n    conv1: conv(128, 1, bias = false)\n    norm2: batchnorm\n"
          + "    relu2: relu\n    conv2: conv(32, 3, padding = 1, bias = false)\n    concat(from x, from conv2)\n}\n"
          + "\n";
      case "shufflenet_v2_x1_0" -> "    stage3: Stage(116, 116, 7)\n";
      default -> "";
    };
    assertTrue(r.spec().contains(blocks), name + ":\n" + r.spec());
    if (name.equals("fcn_resnet50")) {
      assertTrue(r.spec().contains("    conv2: conv(channels, 3, stride = stride, padding = padding, dilation = padding,"
          + " bias = false)\n"), r.spec());
    }
    if (name.equals("densenet121")) {
      assertTrue(r.spec().contains("        transition3: Transition(512)\n        denseblock4: {\n"
          + "            denselayer1: Denselayer\n            denselayer2: Denselayer\n"), r.spec());
      assertTrue(r.spec().lines().count() < 120, r.spec());
    }
    // the spec with its weights, exported by cnnc, run by ONNX Runtime, against PyTorch
    Path onnx = dir.resolve(name + "_reexported.onnx");
    OnnxExport.write(OnnxExport.export(imported, r.weights(), OnnxExport.Options.defaults("test")), onnx);
    Npz.Array x = Npz.readNpy(dir.resolve(name + "_input.npy"));
    var env = OrtEnvironment.getEnvironment();
    try (var opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(2);
      try (OrtSession s = env.createSession(onnx.toString(), opts);
          OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data()), x.shape());
          OrtSession.Result out = s.run(Map.of(s.getInputNames().iterator().next(), in))) {
        List<String> names = List.copyOf(s.getOutputNames());
        assertEquals(Set.copyOf(original.outputs().stream().map(o -> o.name()).toList()), Set.copyOf(names), name);
        for (int o = 0; o < names.size(); o++) {
          Npz.Array expected = Npz.readNpy(dir.resolve(name + "_" + names.get(o) + ".npy"));
          OnnxTensor actual = (OnnxTensor) out.get(o);
          assertArrayEquals(expected.shape(), actual.getInfo().getShape(), name + " " + names.get(o));
          float[] got = new float[Math.toIntExact(actual.getInfo().getNumElements())];
          actual.getFloatBuffer().get(got);
          double err = OnnxExportTest.relErr(expected.data(), got);
          System.out.printf("import %s %s: %,d params, %,d MACs, spec %d lines, %d notes;"
              + " max |ort - torch| / max |torch| = %.2e%n", name, names.get(o), imported.paramCount(), imported.macs(),
              r.spec().lines().count(), r.notes().size(), err);
          assertTrue(err <= 1e-4, name + " " + names.get(o) + ": " + err);
        }
      }
    }
  }
}
