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
import java.util.stream.Stream;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Node;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The forms {@code torch.onnx.export} (torch 1.13, opset 17) gives ops cnnc has, each in a small
 * network written by {@code tools/pytorch/onnx_forms.py}: imported as the cnnc ops named here, and
 * the imported spec with its weights, exported by cnnc and run by ONNX Runtime, gives PyTorch's
 * output within 1e-5 of its largest value.
 */
class OnnxImportFormsTest {
  @TempDir static Path dir;

  @BeforeAll
  static void exportFromTorch() throws Exception {
    OnnxExportTest.python("tools/pytorch/onnx_forms.py", "--out", dir.toString());
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("mean", List.of("conv", "global_avgpool", "flatten", "dense")),
        Arguments.of("mean_keepdim", List.of("conv", "global_avgpool", "flatten", "dense")),
        Arguments.of("adaptive_avgpool_1", List.of("conv", "global_avgpool", "flatten", "dense")),
        Arguments.of("view", List.of("conv", "relu", "flatten", "dense")),
        Arguments.of("relu6", List.of("conv", "relu6", "flatten", "dense")),
        Arguments.of("hardswish", List.of("conv", "hardswish", "flatten", "dense")),
        Arguments.of("hardsigmoid", List.of("conv", "hardsigmoid", "flatten", "dense")),
        Arguments.of("silu", List.of("conv", "silu", "flatten", "dense")),
        Arguments.of("gelu", List.of("conv", "gelu", "flatten", "dense")));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void torchsFormImportsAsTheOpAndComputesPyTorchsOutput(String name, List<String> ops) throws Exception {
    OnnxImport.Result r = OnnxImport.importModel(OnnxImport.readModel(dir.resolve(name + ".onnx")), null, name,
        name + ".onnx", "test");
    assertEquals(ops, r.network().nodes().stream().map(Node::op).filter(op -> !op.equals("input")).toList(),
        name + ":\n" + r.spec());
    assertEquals(List.of(), r.notes(), name);
    Path onnx = dir.resolve(name + "_reexported.onnx");
    OnnxExport.write(OnnxExport.export(r.network(), r.weights(), OnnxExport.Options.defaults("test")), onnx);
    Npz.Array x = Npz.readNpy(dir.resolve(name + "_input.npy"));
    Npz.Array expected = Npz.readNpy(dir.resolve(name + "_output.npy"));
    var env = OrtEnvironment.getEnvironment();
    try (var opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(1);
      try (OrtSession s = env.createSession(onnx.toString(), opts);
          OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data()), x.shape());
          OrtSession.Result out = s.run(Map.of(s.getInputNames().iterator().next(), in))) {
        OnnxTensor actual = (OnnxTensor) out.get(0);
        assertArrayEquals(expected.shape(), actual.getInfo().getShape(), name);
        float[] got = new float[Math.toIntExact(actual.getInfo().getNumElements())];
        actual.getFloatBuffer().get(got);
        double err = OnnxExportTest.relErr(expected.data(), got);
        assertTrue(err <= 1e-5, name + ": " + err);
      }
    }
  }
}
