// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.io.SafeFiles;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.compiler.shape.Ops;
import org.cnnc.compiler.shape.Shape;
import org.cnnc.onnx.proto.OnnxProto.AttributeProto;
import org.cnnc.onnx.proto.OnnxProto.GraphProto;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.NodeProto;
import org.cnnc.onnx.proto.OnnxProto.OperatorSetIdProto;
import org.cnnc.onnx.proto.OnnxProto.StringStringEntryProto;
import org.cnnc.onnx.proto.OnnxProto.TensorProto;
import org.cnnc.onnx.proto.OnnxProto.TensorShapeProto;
import org.cnnc.onnx.proto.OnnxProto.TypeProto;
import org.cnnc.onnx.proto.OnnxProto.ValueInfoProto;

/**
 * A checked network as an ONNX model. It reads only the {@link Network} the compiler checked: one
 * ONNX node (or a few, where ONNX lacks the op at the opset) per cnnc op, through {@link
 * OnnxLowerings}; value and node names are the PyTorch module paths; the weights are initializers
 * named by their {@code state_dict} keys; the batch axis is dynamic ({@code batch}); the inputs and
 * outputs keep the spec's names. The network must have been checked for {@link Backend#ONNX}: an
 * op that backend refuses is a located error of {@code check}, before anything is written.
 */
public final class OnnxExport {
  private OnnxExport() {}

  /** The opset written by default: the newest the ONNX checker of Debian 12 (ONNX 1.12) knows. */
  public static final int DEFAULT_OPSET = 17;
  /** The oldest opset written: HardSwish and Softmax over one axis need 14. */
  public static final int MIN_OPSET = 14;
  /**
   * The newest opset written: ONNX Runtime 1.23, which cnnc runs exports on and tests them with, computes
   * AveragePool wrongly from opset 19 when the padding counts (its issues 24681 and 26708).
   */
  public static final int MAX_OPSET = 18;
  /** The name of the dynamic batch axis of every input and output. */
  public static final String BATCH = "batch";

  /**
   * What to export with.
   *
   * @param opset the ONNX opset of the default domain, {@link #MIN_OPSET} to {@link #MAX_OPSET}
   * @param version cnnc's version, written in the model's metadata and producer
   * @param seed the seed of the weights when no state dict is given
   */
  public record Options(int opset, String version, long seed) {
    public Options {
      if (opset < MIN_OPSET || opset > MAX_OPSET) {
        throw new IllegalArgumentException("opset " + opset + " is not supported: choose " + MIN_OPSET + " to " + MAX_OPSET);
      }
    }

    public static Options defaults(String version) {
      return new Options(DEFAULT_OPSET, version, 0);
    }
  }

  /** The IR version that goes with an opset (ONNX's docs/Versioning.md). */
  static int irVersion(int opset) {
    return opset <= 14 ? 7 : 8;
  }

  /**
   * The network as an ONNX model.
   *
   * @param weights every tensor of the network by its {@code state_dict} path (as {@link
   *     Npz#readStateDict} returns them), or null for weights seeded as PyTorch initialises its
   *     layers
   */
  public static ModelProto export(Network net, Map<String, Npz.Array> weights, Options options) {
    Map<String, float[]> values = new LinkedHashMap<>();
    if (weights == null) {
      values.putAll(seeded(net, options.seed()));
    } else {
      for (Tensor t : net.stateDict()) {
        Npz.Array a = weights.get(t.path());
        if (a == null) {
          throw new IllegalArgumentException("no weights for " + t.path());
        }
        values.put(t.path(), a.data());
      }
    }
    GraphBuilder g = new GraphBuilder(net, options.opset());
    for (Tensor t : net.stateDict()) {
      g.graph.addInitializer(floats(t.path(), toLongs(t.dims()), values.get(t.path())));
    }
    for (Node n : net.nodes()) {
      if (n.op().equals("input")) {
        g.graph.addInput(valueInfo(n.name(), n.shape()));
        continue;
      }
      OnnxLowerings.Lowering lowering = OnnxLowerings.of(n.op());
      if (lowering == null) {
        throw new IllegalStateException("no ONNX lowering for op " + n.op() + " (" + n.name() + "): the op registry and "
            + "OnnxLowerings disagree");
      }
      lowering.lower(g.context(n));
      if (!g.isOutputValue(n)) {
        g.graph.addValueInfo(valueInfo(g.valueOf(n.id()), n.shape()));
      }
    }
    for (Output o : net.outputs()) {
      g.graph.addOutput(valueInfo(o.name(), net.node(o.node()).shape()));
      if (!g.valueOf(o.node()).equals(o.name())) {
        g.graph.addNode(NodeProto.newBuilder().setOpType("Identity").setName(g.freshNode(o.name()))
            .addInput(g.valueOf(o.node())).addOutput(o.name()));
      }
    }
    g.graph.setName(net.name());
    g.graph.setDocString("cnnc model " + net.name() + " (" + net.span().file().toString() + ")");
    return ModelProto.newBuilder()
        .setIrVersion(irVersion(options.opset()))
        .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(options.opset()))
        .setProducerName("cnnc")
        .setProducerVersion(options.version())
        .setGraph(g.graph)
        .addMetadataProps(meta("cnnc.model", net.name()))
        .addMetadataProps(meta("cnnc.file", net.span().file().toString()))
        .addMetadataProps(meta("cnnc.version", options.version()))
        .build();
  }

  /** Writes the model's bytes atomically, never through a link ({@link SafeFiles}). */
  public static void write(ModelProto model, Path file) throws IOException {
    SafeFiles.write(file, model.toByteArray());
  }

  private static StringStringEntryProto meta(String key, String value) {
    return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
  }

  /**
   * Weights as PyTorch initialises its layers, from a seed: weights of rank 2 or more and the
   * biases beside them uniform in {@code +-1/sqrt(fan_in)} (kaiming_uniform with a = sqrt(5)), a
   * norm's weight 1 and bias 0, running means 0 and running variances 1.
   */
  static Map<String, float[]> seeded(Network net, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    Map<String, float[]> out = new LinkedHashMap<>();
    for (Node n : net.nodes()) {
      double fanIn = 0;
      for (Tensor t : n.params()) {
        int[] d = t.dims();
        if (d.length >= 2) {
          fanIn = (double) t.numel() / d[0];
        }
      }
      List<Tensor> all = new ArrayList<>(n.params());
      all.addAll(n.buffers());
      for (Tensor t : all) {
        float[] v = new float[Math.toIntExact(t.numel())];
        String key = t.path().substring(t.path().lastIndexOf('.') + 1);
        if (t.dims().length >= 2 || (key.equals("bias") && fanIn > 0)) {
          double bound = 1 / Math.sqrt(fanIn);
          for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
          }
        } else if (key.equals("weight") || key.equals("running_var")) {
          java.util.Arrays.fill(v, 1f);
        }
        out.put(t.path(), v);
      }
    }
    return out;
  }

  static long[] toLongs(int[] dims) {
    long[] out = new long[dims.length];
    for (int i = 0; i < dims.length; i++) {
      out[i] = dims[i];
    }
    return out;
  }

  /** A float32 tensor, its values little-endian in {@code raw_data}. */
  static TensorProto floats(String name, long[] dims, float[] values) {
    ByteBuffer bb = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    bb.asFloatBuffer().put(values);
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE);
    for (long d : dims) {
      t.addDims(d);
    }
    return t.setRawData(ByteString.copyFrom(bb.array())).build();
  }

  /** An int64 tensor of rank 1. */
  static TensorProto longs(String name, long[] values) {
    TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.INT64_VALUE)
        .addDims(values.length);
    for (long v : values) {
      t.addInt64Data(v);
    }
    return t.build();
  }

  /** A value of one example's shape with the dynamic batch axis in front. */
  static ValueInfoProto valueInfo(String name, Shape shape) {
    TensorShapeProto.Builder s = TensorShapeProto.newBuilder()
        .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(BATCH));
    for (int d : shape.dims()) {
      s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
    }
    return ValueInfoProto.newBuilder().setName(name)
        .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder()
            .setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(s)))
        .build();
  }

  /** The graph being built: the value each cnnc node's output is, and the names taken. */
  static final class GraphBuilder {
    final GraphProto.Builder graph = GraphProto.newBuilder();
    final Network net;
    final int opset;
    private final Map<Integer, String> valueOf = new LinkedHashMap<>();
    private final Set<String> taken = new HashSet<>();
    private final Set<String> nodeNames = new HashSet<>();
    private final Set<Integer> outputNodes = new HashSet<>();

    GraphBuilder(Network net, int opset) {
      this.net = net;
      this.opset = opset;
      // the spec's names first: the inputs', the outputs' and the state dict's are kept exactly
      for (Output o : net.outputs()) {
        taken.add(o.name());
      }
      for (Tensor t : net.stateDict()) {
        taken.add(t.path());
      }
      for (Node n : net.nodes()) {
        if (n.op().equals("input")) {
          taken.add(n.name());
          valueOf.put(n.id(), n.name());
        }
      }
      for (Output o : net.outputs()) {
        // an output whose node no other output shares, and that is not an input, takes the output's name
        if (!valueOf.containsKey(o.node()) && net.outputs().stream().filter(p -> p.node() == o.node()).count() == 1) {
          valueOf.put(o.node(), o.name());
          outputNodes.add(o.node());
        }
      }
    }

    boolean isOutputValue(Node n) {
      return outputNodes.contains(n.id());
    }

    /** A name no other value, node or initializer has: {@code base}, else {@code base_1}, ... */
    String fresh(String base) {
      String name = base;
      for (int i = 1; !taken.add(name); i++) {
        name = base + "_" + i;
      }
      return name;
    }

    /** A node name no other node has: {@code base}, else {@code base_1}, ... */
    String freshNode(String base) {
      String name = base;
      for (int i = 1; !nodeNames.add(name); i++) {
        name = base + "_" + i;
      }
      return name;
    }

    String valueOf(int node) {
      String v = valueOf.get(node);
      if (v == null) {
        v = fresh(net.node(node).name());
        valueOf.put(node, v);
      }
      return v;
    }

    OnnxLowerings.Context context(Node n) {
      return new OnnxLowerings.Context(this, n);
    }
  }

  /** Whether every op of the registry has a lowering here (a test asks; {@link Ops} is the list). */
  static List<String> opsWithoutLowering() {
    return Ops.all().stream().map(d -> d.name()).filter(n -> OnnxLowerings.of(n) == null).toList();
  }

  static AttributeProto.Builder attr(String name) {
    return AttributeProto.newBuilder().setName(name);
  }
}
