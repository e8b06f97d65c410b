// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
import org.cnnc.onnx.proto.OnnxProto.AttributeProto;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.NodeProto;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Opset 18's forms (ReduceMean's axes as an input, Resize's {@code axes}, Split's {@code
 * num_outputs}, and Split's sizes as an input), in small models written by {@code
 * tools/pytorch/onnx_opset18.py} with onnx.helper: imported as the cnnc ops named here, and the
 * imported spec with its weights, exported by cnnc, gives ONNX Runtime's output of the original
 * model within 1e-5 of its largest value; forms cnnc's ops cannot be are refused by name.
 */
class OnnxImportOpset18Test {
  @TempDir static Path dir;

  @BeforeAll
  static void write() throws Exception {
    OnnxExportTest.python("tools/pytorch/onnx_opset18.py", "--out", dir.toString());
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of("reducemean_axes_input", List.of("conv", "global_avgpool", "flatten", "dense")),
        Arguments.of("resize_axes_scales", List.of("conv", "upsample")),
        Arguments.of("resize_axes_sizes", List.of("conv", "upsample")),
        Arguments.of("split_num_outputs", List.of("conv", "chunk", "relu", "chunk", "concat", "conv")),
        Arguments.of("split_sizes_input", List.of("conv", "chunk", "relu", "chunk", "concat", "conv")));
  }

  @ParameterizedTest
  @MethodSource("cases")
  void opset18FormImportsAsTheOpAndComputesOnnxRuntimesOutput(String name, List<String> ops) throws Exception {
    Path original = dir.resolve(name + ".onnx");
    OnnxImport.Result r = OnnxImport.importModel(OnnxImport.readModel(original), null, name, name + ".onnx", "test");
    assertEquals(ops, r.network().nodes().stream().map(Node::op).filter(op -> !op.equals("input")).toList(),
        name + ":\n" + r.spec());
    assertEquals(List.of(), r.notes(), name);
    Path onnx = dir.resolve(name + "_reexported.onnx");
    OnnxExport.write(OnnxExport.export(r.network(), r.weights(), OnnxExport.Options.defaults("test")), onnx);
    Npz.Array x = Npz.readNpy(dir.resolve(name + "_input.npy"));
    float[] expected = ort(original, x);
    float[] got = ort(onnx, x);
    assertEquals(expected.length, got.length, name);
    double err = OnnxExportTest.relErr(expected, got);
    assertTrue(err <= 1e-5, name + ": " + err);
  }

  static float[] ort(Path model, Npz.Array x) throws Exception {
    var env = OrtEnvironment.getEnvironment();
    try (var opts = new OrtSession.SessionOptions()) {
      opts.setIntraOpNumThreads(1);
      try (OrtSession s = env.createSession(model.toString(), opts);
          OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(x.data()), x.shape());
          OrtSession.Result out = s.run(Map.of(s.getInputNames().iterator().next(), in))) {
        OnnxTensor t = (OnnxTensor) out.get(0);
        float[] v = new float[Math.toIntExact(t.getInfo().getNumElements())];
        t.getFloatBuffer().get(v);
        return v;
      }
    }
  }

  /** The model of {@code name} with its node named {@code node} changed by {@code edit}. */
  static ModelProto edited(String name, String node, java.util.function.UnaryOperator<NodeProto.Builder> edit)
      throws Exception {
    ModelProto.Builder m = OnnxImport.readModel(dir.resolve(name + ".onnx")).toBuilder();
    for (NodeProto.Builder n : m.getGraphBuilder().getNodeBuilderList()) {
      if (n.getName().equals(node)) {
        edit.apply(n);
      }
    }
    return m.build();
  }

  static String refusal(ModelProto m) {
    return assertThrows(ImportException.class, () -> OnnxImport.importModel(m, null, "m", "m.onnx", "test")).getMessage();
  }

  static AttributeProto ints(String name, long... v) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) {
      a.addInts(x);
    }
    return a.build();
  }

  /** Negative axes are H and W too (ONNX Runtime 1.23 refuses them in Resize, so this compares with [2, 3]'s import). */
  @Test
  void negativeAxesOfAResizeAreHAndW() throws Exception {
    for (String name : List.of("resize_axes_scales", "resize_axes_sizes")) {
      ModelProto negative = edited(name, "/up/Resize", n -> {
        for (int i = 0; i < n.getAttributeCount(); i++) {
          if (n.getAttribute(i).getName().equals("axes")) {
            n.setAttribute(i, ints("axes", -2, -1));
          }
        }
        return n;
      });
      String spec = OnnxImport.importModel(OnnxImport.readModel(dir.resolve(name + ".onnx")), null, "m", "m.onnx", "t").spec();
      assertEquals(spec, OnnxImport.importModel(negative, null, "m", "m.onnx", "t").spec(), name);
      assertTrue(spec.contains(name.endsWith("scales") ? "up: upsample(2.0)\n" : "up: upsample(size = [12, 20]"), spec);
    }
  }

  @Test
  void formsCnncsOpsCannotBeAreRefusedByName() throws Exception {
    // three parts of 8 channels: not equal
    String m = refusal(edited("split_num_outputs", "/Split", n -> n.addOutput("c3").setAttribute(1,
        AttributeProto.newBuilder().setName("num_outputs").setType(AttributeProto.AttributeType.INT).setI(3))));
    assertTrue(m.contains("/Split") && m.contains("splits 8 channels into 3 parts; cnnc's chunk makes equal parts"), m);
    // num_outputs that is not the number of outputs (a hostile 2^31 - 1)
    m = refusal(edited("split_num_outputs", "/Split", n -> n.setAttribute(1,
        AttributeProto.newBuilder().setName("num_outputs").setType(AttributeProto.AttributeType.INT).setI(Integer.MAX_VALUE))));
    assertTrue(m.contains("has 2 outputs and num_outputs 2147483647"), m);
    // a split of H
    m = refusal(edited("split_num_outputs", "/Split", n -> n.setAttribute(0,
        AttributeProto.newBuilder().setName("axis").setType(AttributeProto.AttributeType.INT).setI(2))));
    assertTrue(m.contains("splits axis 2; cnnc imports Split only of the channels"), m);
    // Resize of the channels and H
    m = refusal(edited("resize_axes_scales", "/up/Resize", n -> {
      for (int i = 0; i < n.getAttributeCount(); i++) {
        if (n.getAttribute(i).getName().equals("axes")) {
          n.setAttribute(i, ints("axes", 1, 2));
        }
      }
      return n;
    }));
    assertTrue(m.contains("resizes axes [1, 2]; cnnc's upsample resizes H and W (axes [2, 3])"), m);
  }
}
