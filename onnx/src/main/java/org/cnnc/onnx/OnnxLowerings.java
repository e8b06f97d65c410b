// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.shape.BoundArgs;
import org.cnnc.onnx.proto.OnnxProto.AttributeProto;
import org.cnnc.onnx.proto.OnnxProto.AttributeProto.AttributeType;
import org.cnnc.onnx.proto.OnnxProto.NodeProto;
import org.cnnc.onnx.proto.OnnxProto.TensorProto;

/**
 * How each op of the registry ({@code org.cnnc.compiler.shape.Ops}) becomes ONNX: one entry per
 * op, keyed by its name, as the runtime's {@code Lowerings} lowers the same ops onto DL4J. Each
 * lowering reads the node's checked arguments (defaults filled in) and writes its output to the
 * value {@link Context#out()} names. A test checks that every op of the registry has an entry.
 */
public final class OnnxLowerings {
  private OnnxLowerings() {}

  /** Writes the ONNX nodes of one cnnc node. */
  @FunctionalInterface
  public interface Lowering {
    void lower(Context c);
  }

  private static final Map<String, Lowering> TABLE = new HashMap<>();

  static {
    TABLE.put("conv", c -> {
      int[] k = c.args.ints("kernel");
      int[] p = c.args.ints("padding");
      List<String> in = new ArrayList<>(List.of(c.in(0), c.tensor("weight")));
      if (c.args.bool("bias")) {
        in.add(c.tensor("bias"));
      }
      c.emit("Conv", in, ints("kernel_shape", k), ints("strides", c.args.ints("stride")),
          ints("pads", p[0], p[1], p[0], p[1]), ints("dilations", c.args.ints("dilation")),
          integer("group", c.args.integer("groups")));
    });
    TABLE.put("maxpool", c -> {
      int[] p = c.args.ints("padding");
      c.emit("MaxPool", List.of(c.in(0)), ints("kernel_shape", c.args.ints("kernel")),
          ints("strides", c.args.ints("stride")), ints("pads", p[0], p[1], p[0], p[1]),
          ints("dilations", c.args.ints("dilation")), integer("ceil_mode", c.args.bool("ceil") ? 1 : 0));
    });
    // PyTorch's divisor: with count_include_pad, the window clipped to the input plus its padding;
    // without padding that is count_include_pad 0. With padding and ceil, ONNX Runtime 1.23 is wrong
    // whichever way the pool is written (count_include_pad 1 divides by the whole kernel, its issue
    // 29629; zeros padded first are fused back into the pool as padding it does not count), so the
    // window sums are a depthwise convolution with ones and the divisors a constant (OnnxPoolGridTest).
    TABLE.put("avgpool", c -> {
      int[] p = c.args.ints("padding");
      boolean padded = p[0] > 0 || p[1] > 0;
      boolean ceil = c.args.bool("ceil");
      boolean include = c.args.bool("count_include_pad") && padded;
      if (include && ceil) {
        sumOverCount(c);
        return;
      }
      c.emit("AveragePool", List.of(c.in(0)), ints("kernel_shape", c.args.ints("kernel")),
          ints("strides", c.args.ints("stride")), ints("pads", p[0], p[1], p[0], p[1]), integer("ceil_mode", ceil ? 1 : 0),
          integer("count_include_pad", include ? 1 : 0));
    });
    TABLE.put("global_avgpool", c -> c.emit("GlobalAveragePool", List.of(c.in(0))));
    TABLE.put("global_maxpool", c -> c.emit("GlobalMaxPool", List.of(c.in(0))));
    // ONNX's momentum weighs the running statistic, PyTorch's the batch's: 1 - m
    TABLE.put("batchnorm", c -> c.emit("BatchNormalization",
        List.of(c.in(0), c.tensor("weight"), c.tensor("bias"), c.tensor("running_mean"), c.tensor("running_var")),
        real("epsilon", c.args.number("eps")), real("momentum", 1 - c.args.number("momentum"))));
    TABLE.put("lrn", c -> c.emit("LRN", List.of(c.in(0)), integer("size", c.args.integer("size")),
        real("alpha", c.args.number("alpha")), real("beta", c.args.number("beta")), real("bias", c.args.number("k"))));
    TABLE.put("relu", c -> c.emit("Relu", List.of(c.in(0))));
    TABLE.put("relu6", c -> c.emit("Clip", List.of(c.in(0), c.scalar(0), c.scalar(6))));
    TABLE.put("hardsigmoid", c -> c.emit("HardSigmoid", List.of(c.in(0)), real("alpha", 1.0 / 6), real("beta", 0.5)));
    TABLE.put("hardswish", c -> c.emit("HardSwish", List.of(c.in(0))));
    TABLE.put("silu", c -> c.emit("Mul", List.of(c.in(0), c.step("Sigmoid", List.of(c.in(0))))));
    TABLE.put("gelu", c -> {
      // x * (erf(x / sqrt 2) + 1) / 2, as torch.onnx writes it (ONNX has Gelu from opset 20)
      String erf = c.step("Erf", List.of(c.step("Div", List.of(c.in(0), c.scalar(Math.sqrt(2))))));
      String half = c.step("Mul", List.of(c.in(0), c.step("Add", List.of(erf, c.scalar(1)))));
      c.emit("Mul", List.of(half, c.scalar(0.5)));
    });
    TABLE.put("leaky_relu", c -> c.emit("LeakyRelu", List.of(c.in(0)), real("alpha", c.args.number("slope"))));
    TABLE.put("sigmoid", c -> c.emit("Sigmoid", List.of(c.in(0))));
    TABLE.put("tanh", c -> c.emit("Tanh", List.of(c.in(0))));
    TABLE.put("softmax", c -> c.emit("Softmax", List.of(c.in(0)), integer("axis", 1)));
    TABLE.put("identity", c -> c.emit("Identity", List.of(c.in(0))));
    // kept as Dropout (an identity in inference) so that an import gives the spec's dropout back
    TABLE.put("dropout", c -> c.emit("Dropout", List.of(c.in(0), c.scalar(c.args.number("p")))));
    TABLE.put("dense", c -> {
      String x = c.inputShape(0).rank() == 1 ? c.in(0) : c.step("Flatten", List.of(c.in(0)), integer("axis", 1));
      List<String> in = new ArrayList<>(List.of(x, c.tensor("weight")));
      if (c.args.bool("bias")) {
        in.add(c.tensor("bias"));
      }
      c.emit("Gemm", in, integer("transB", 1));
    });
    TABLE.put("flatten", c -> c.emit("Flatten", List.of(c.in(0)), integer("axis", 1)));
    TABLE.put("zeropad", c -> {
      int[] p = c.args.ints("padding"); // left, right, top, bottom
      c.emit("Pad", List.of(c.in(0), c.int64s(0, 0, p[2], p[0], 0, 0, p[3], p[1])), text("mode", "constant"));
    });
    TABLE.put("concat", c -> c.emit("Concat", c.inputs(), integer("axis", 1)));
    TABLE.put("add", c -> c.emit(c.node.inputs().size() == 2 ? "Add" : "Sum", c.inputs()));
    // ONNX's Mul broadcasts as PyTorch does (numpy's rules); more than two branches multiply in order
    TABLE.put("mul", c -> {
      List<String> in = c.inputs();
      String acc = in.get(0);
      for (int i = 1; i < in.size() - 1; i++) {
        acc = c.step("Mul", List.of(acc, in.get(i)));
      }
      c.emit("Mul", List.of(acc, in.get(in.size() - 1)));
    });
    // the identity in inference, which an export is
    TABLE.put("stochastic_depth", c -> c.emit("Identity", List.of(c.in(0))));
    TABLE.put("chunk", c -> {
      int size = c.node.shape().channels();
      long start = (long) c.args.integer("index") * size;
      c.emit("Slice", List.of(c.in(0), c.int64s(start), c.int64s(start + size), c.int64s(1)));
    });
    // [N, C, H, W] -> [N, g, C/g, H, W] -> swap the two channel axes -> [N, C, H, W], as torch.onnx writes it
    TABLE.put("channel_shuffle", c -> {
      org.cnnc.compiler.shape.Shape sh = c.inputShape(0);
      int g = c.args.integer("groups");
      String split = c.step("Reshape", List.of(c.in(0), c.int64s(0, g, sh.channels() / g, sh.height(), sh.width())));
      String swapped = c.step("Transpose", List.of(split), ints("perm", 0, 2, 1, 3, 4));
      c.emit("Reshape", List.of(swapped, c.int64s(0, sh.channels(), sh.height(), sh.width())));
    });
    // nn.AdaptiveAvgPool2d: a pool when its windows are one kernel at one stride, else a constant
    // matrix of PyTorch's window weights over the flattened map (ONNX has no adaptive pool)
    TABLE.put("adaptive_avgpool", c -> {
      org.cnnc.compiler.shape.Shape in = c.inputShape(0);
      org.cnnc.compiler.shape.Shape out = c.node.shape();
      int[] size = {in.height(), in.width()};
      int[] to = {out.height(), out.width()};
      if (size[0] % to[0] == 0 && size[1] % to[1] == 0) {
        int[] k = {size[0] / to[0], size[1] / to[1]};
        c.emit("AveragePool", List.of(c.in(0)), ints("kernel_shape", k), ints("strides", k));
        return;
      }
      float[] m = adaptiveWeights(size, to);
      String flat = c.step("Reshape", List.of(c.in(0), c.int64s(0, in.channels(), (long) size[0] * size[1])));
      String pooled = c.step("MatMul", List.of(flat, c.constant(new long[] {(long) size[0] * size[1], (long) to[0] * to[1]}, m)));
      c.emit("Reshape", List.of(pooled, c.int64s(0, out.channels(), to[0], to[1])));
    });
    // F.interpolate as torch.onnx writes it: Resize by the spec's scale factors (ONNX maps by
    // 1 / scale, as PyTorch does when it is given a factor; an axis whose size a factor keeps is
    // copied by PyTorch's bilinear, so its factor becomes 1), or to sizes (the batch and channels
    // read from the input's shape). Nearest is PyTorch's `nearest`: asymmetric coordinates, floor;
    // bilinear half_pixel (ONNX Runtime clamps the coordinate at 0, as PyTorch does) or
    // align_corners.
    TABLE.put("upsample", c -> {
      boolean bilinear = c.args.string("mode").equals("bilinear");
      boolean corners = c.args.has("align_corners") && c.args.bool("align_corners");
      org.cnnc.compiler.shape.Shape in = c.inputShape(0);
      org.cnnc.compiler.shape.Shape out = c.node.shape();
      String coordinates = !bilinear ? "asymmetric" : corners ? "align_corners" : "half_pixel";
      List<AttributeProto> attrs = new ArrayList<>(List.of(text("mode", bilinear ? "linear" : "nearest"),
          text("coordinate_transformation_mode", coordinates)));
      if (!bilinear) {
        attrs.add(text("nearest_mode", "floor"));
      }
      AttributeProto[] a = attrs.toArray(new AttributeProto[0]);
      // with align_corners ONNX divides by in * scale unrounded where PyTorch divides by the output
      // size less one: written to sizes, which the two read alike
      if (c.args.has("scale") && !corners) {
        double[] f = c.args.numbers("scale");
        float sh = bilinear && out.height() == in.height() ? 1f : (float) f[0];
        float sw = bilinear && out.width() == in.width() ? 1f : (float) f[1];
        c.emit("Resize", List.of(c.in(0), "", c.constant(new long[] {4}, new float[] {1f, 1f, sh, sw})), a);
        return;
      }
      String shape = c.step("Shape", List.of(c.in(0)));
      String batchAndChannels = c.step("Slice", List.of(shape, c.int64s(0), c.int64s(2)));
      String sizes = c.step("Concat", List.of(batchAndChannels, c.int64s(out.height(), out.width())), integer("axis", 0));
      c.emit("Resize", List.of(c.in(0), "", "", sizes), a);
    });
    // nn.ConvTranspose2d: ONNX's weights are PyTorch's [in, out/groups, kh, kw]
    TABLE.put("conv_transpose", c -> {
      int[] p = c.args.ints("padding");
      List<String> in = new ArrayList<>(List.of(c.in(0), c.tensor("weight")));
      if (c.args.bool("bias")) {
        in.add(c.tensor("bias"));
      }
      c.emit("ConvTranspose", in, ints("kernel_shape", c.args.ints("kernel")), ints("strides", c.args.ints("stride")),
          ints("pads", p[0], p[1], p[0], p[1]), ints("output_padding", c.args.ints("output_padding")),
          ints("dilations", c.args.ints("dilation")), integer("group", c.args.integer("groups")));
    });
    // ConvNeXt's ops. permute's dims are x.permute's, the batch first: ONNX's perm.
    TABLE.put("permute", c -> c.emit("Transpose", List.of(c.in(0)), ints("perm", c.args.ints("dims"))));
    TABLE.put("layernorm", c -> {
      org.cnnc.compiler.shape.Shape in = c.inputShape(0);
      if (c.g.opset >= 17) {
        c.emit("LayerNormalization", List.of(c.in(0), c.tensor("weight"), c.tensor("bias")), integer("axis", -1),
            real("epsilon", c.args.number("eps")));
        return;
      }
      c.emit("Add", List.of(c.step("Mul", List.of(layerNorm(c, c.in(0), in.dim(in.rank() - 1)), c.tensor("weight"))),
          c.tensor("bias")));
    });
    // over the channels: to channels-last, normalized over the last axis, weight and bias per channel, back
    TABLE.put("layernorm2d", c -> {
      String last = c.step("Transpose", List.of(c.in(0)), ints("perm", 0, 2, 3, 1));
      String y = c.g.opset >= 17
          ? c.step("LayerNormalization", List.of(last, c.tensor("weight"), c.tensor("bias")), integer("axis", -1),
              real("epsilon", c.args.number("eps")))
          : c.step("Add", List.of(c.step("Mul", List.of(layerNorm(c, last, c.inputShape(0).channels()),
              c.tensor("weight"))), c.tensor("bias")));
      c.emit("Transpose", List.of(y), ints("perm", 0, 3, 1, 2));
    });
    // nn.Linear on the last axis: x @ W^T (+ b), MatMul broadcasting over the leading axes
    TABLE.put("linear", c -> {
      String wt = c.step("Transpose", List.of(c.tensor("weight")), ints("perm", 1, 0));
      if (c.args.bool("bias")) {
        c.emit("Add", List.of(c.step("MatMul", List.of(c.in(0), wt)), c.tensor("bias")));
      } else {
        c.emit("MatMul", List.of(c.in(0), wt));
      }
    });
    // the parameter is an initializer named by the node's path; Mul broadcasts it as PyTorch does
    TABLE.put("scale", c -> c.emit("Mul", List.of(c.in(0), c.tensor(""))));
  }

  /**
   * (x - mean) / sqrt(var + eps) over the last axis of size {@code d}, PyTorch's biased variance,
   * written with MatMul by a constant column of 1/d for opsets before 17, which lack
   * LayerNormalization (ReduceMean's axes move to an input in 18: the column reads alike in all).
   */
  private static String layerNorm(Context c, String x, int d) {
    float[] mean = new float[d];
    java.util.Arrays.fill(mean, 1f / d);
    String column = c.constant(new long[] {d, 1}, mean);
    String centred = c.step("Sub", List.of(x, c.step("MatMul", List.of(x, column))));
    String var = c.step("MatMul", List.of(c.step("Mul", List.of(centred, centred)), column));
    String std = c.step("Sqrt", List.of(c.step("Add", List.of(var, c.scalar(c.args.number("eps"))))));
    return c.step("Div", List.of(centred, std));
  }

  /** PyTorch's adaptive average pooling from {@code size} to {@code to} as a matrix [H*W, h*w] of window weights. */
  static float[] adaptiveWeights(int[] size, int[] to) {
    float[] m = new float[size[0] * size[1] * to[0] * to[1]];
    for (int oh = 0; oh < to[0]; oh++) {
      int h0 = oh * size[0] / to[0];
      int h1 = -Math.floorDiv(-(oh + 1) * size[0], to[0]);
      for (int ow = 0; ow < to[1]; ow++) {
        int w0 = ow * size[1] / to[1];
        int w1 = -Math.floorDiv(-(ow + 1) * size[1], to[1]);
        float weight = 1f / ((h1 - h0) * (w1 - w0));
        for (int h = h0; h < h1; h++) {
          for (int w = w0; w < w1; w++) {
            m[(h * size[1] + w) * to[0] * to[1] + oh * to[1] + ow] = weight;
          }
        }
      }
    }
    return m;
  }

  /**
   * An average pool with counted padding and ceil mode, exactly as PyTorch computes it: the input
   * padded with zeros (and at the end as far as the last window reaches), each window summed by a
   * depthwise convolution with ones, times the reciprocal of PyTorch's divisor at each output.
   */
  private static void sumOverCount(Context c) {
    int[] k = c.args.ints("kernel");
    int[] st = c.args.ints("stride");
    int[] p = c.args.ints("padding");
    org.cnnc.compiler.shape.Shape in = c.inputShape(0);
    org.cnnc.compiler.shape.Shape out = c.node.shape();
    int channels = in.channels();
    int[] size = {in.height(), in.width()};
    int[] outSize = {out.height(), out.width()};
    int[] extra = new int[2];
    float[][] divisor = new float[2][];
    for (int d = 0; d < 2; d++) {
      extra[d] = Math.max(0, (outSize[d] - 1) * st[d] + k[d] - (size[d] + 2 * p[d]));
      divisor[d] = new float[outSize[d]];
      for (int o = 0; o < outSize[d]; o++) {
        int start = o * st[d] - p[d];
        divisor[d][o] = Math.min(start + k[d], size[d] + p[d]) - start;
      }
    }
    float[] scale = new float[outSize[0] * outSize[1]];
    for (int h = 0; h < outSize[0]; h++) {
      for (int w = 0; w < outSize[1]; w++) {
        scale[h * outSize[1] + w] = 1f / (divisor[0][h] * divisor[1][w]);
      }
    }
    float[] ones = new float[channels * k[0] * k[1]];
    java.util.Arrays.fill(ones, 1f);
    String x = c.step("Pad", List.of(c.in(0), c.int64s(0, 0, p[0], p[1], 0, 0, p[0] + extra[0], p[1] + extra[1])),
        text("mode", "constant"));
    String sums = c.step("Conv", List.of(x, c.constant(new long[] {channels, 1, k[0], k[1]}, ones)),
        ints("kernel_shape", k), ints("strides", st), integer("group", channels));
    c.emit("Mul", List.of(sums, c.constant(new long[] {1, 1, outSize[0], outSize[1]}, scale)));
  }

  /** The lowering of an op, or null. */
  public static Lowering of(String op) {
    return TABLE.get(op);
  }

  /** One node being lowered: its arguments, inputs and output, and how to write ONNX nodes. */
  public static final class Context {
    final OnnxExport.GraphBuilder g;
    final Node node;
    final BoundArgs args;

    Context(OnnxExport.GraphBuilder g, Node node) {
      this.g = g;
      this.node = node;
      this.args = new BoundArgs(node.args());
    }

    /** The value of the node's i-th input. */
    String in(int i) {
      return g.valueOf(node.inputs().get(i));
    }

    List<String> inputs() {
      return node.inputs().stream().map(g::valueOf).toList();
    }

    org.cnnc.compiler.shape.Shape inputShape(int i) {
      return g.net.node(node.inputs().get(i)).shape();
    }

    /** The value the node's output is. */
    String out() {
      return g.valueOf(node.id());
    }

    /** The initializer of the node's tensor {@code key} ({@code weight}, {@code running_mean}, ...). */
    String tensor(String key) {
      String path = node.name().isEmpty() ? key : key.isEmpty() ? node.name() : node.name() + "." + key;
      List<Tensor> all = new ArrayList<>(node.params());
      all.addAll(node.buffers());
      return all.stream().map(Tensor::path).filter(path::equals).findFirst()
          .orElseThrow(() -> new IllegalStateException(node.op() + " " + node.name() + " has no tensor " + key));
    }

    /** Writes the node's last ONNX node, whose output is {@link #out()}; its name is the module path. */
    void emit(String opType, List<String> inputs, AttributeProto... attrs) {
      g.graph.addNode(node(g.freshNode(node.name().isEmpty() ? opType : node.name()), opType, inputs, out(), attrs));
    }

    /** Writes an intermediate ONNX node; returns its output. */
    String step(String opType, List<String> inputs, AttributeProto... attrs) {
      String name = g.fresh((node.name().isEmpty() ? "" : node.name() + "/") + opType);
      g.graph.addNode(node(g.freshNode(name), opType, inputs, name, attrs));
      return name;
    }

    /** A float32 scalar, as a Constant node; returns its value. */
    String scalar(double v) {
      String name = g.fresh((node.name().isEmpty() ? "" : node.name() + "/") + "Constant");
      g.graph.addNode(node(g.freshNode(name), "Constant", List.of(), name, AttributeProto.newBuilder().setName("value")
          .setType(AttributeType.TENSOR).setT(OnnxExport.floats("", new long[0], new float[] {(float) v})).build()));
      return name;
    }

    /** A float32 tensor, as a Constant node (no initializer: those are the state dict's); returns its value. */
    String constant(long[] dims, float[] values) {
      String name = g.fresh((node.name().isEmpty() ? "" : node.name() + "/") + "Constant");
      g.graph.addNode(node(g.freshNode(name), "Constant", List.of(), name, AttributeProto.newBuilder().setName("value")
          .setType(AttributeType.TENSOR).setT(OnnxExport.floats("", dims, values)).build()));
      return name;
    }

    /** An int64 vector, as a Constant node; returns its value. */
    String int64s(long... values) {
      String name = g.fresh((node.name().isEmpty() ? "" : node.name() + "/") + "Constant");
      TensorProto t = OnnxExport.longs("", values);
      g.graph.addNode(node(g.freshNode(name), "Constant", List.of(), name, AttributeProto.newBuilder().setName("value")
          .setType(AttributeType.TENSOR).setT(t).build()));
      return name;
    }

    private static NodeProto node(String name, String opType, List<String> inputs, String output,
        AttributeProto... attrs) {
      NodeProto.Builder n = NodeProto.newBuilder().setName(name).setOpType(opType).addAllInput(inputs).addOutput(output);
      n.addAllAttribute(Arrays.asList(attrs));
      return n.build();
    }
  }

  static AttributeProto ints(String name, int... values) {
    AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeType.INTS);
    for (int v : values) {
      a.addInts(v);
    }
    return a.build();
  }

  static AttributeProto integer(String name, long value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.INT).setI(value).build();
  }

  static AttributeProto real(String name, double value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.FLOAT).setF((float) value).build();
  }

  static AttributeProto text(String name, String value) {
    return AttributeProto.newBuilder().setName(name).setType(AttributeType.STRING)
        .setS(com.google.protobuf.ByteString.copyFromUtf8(value)).build();
  }
}
