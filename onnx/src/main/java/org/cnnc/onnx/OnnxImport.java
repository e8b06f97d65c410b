// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.shape.Backend;
import org.cnnc.onnx.ImportedNet.Layer;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.StringStringEntryProto;
import org.cnnc.compiler.syntax.Labels;

/**
 * An ONNX model as a spec and its weights ({@code cnnc import}): the graph's ops read as cnnc ops
 * ({@link OnnxReader}), written as a model whose module paths are the ONNX names ({@link
 * SpecWriter}), and compiled back, so that what is returned is a checked spec; the weights are
 * keyed by the compiled spec's {@code state_dict} paths (torch's initializer names, where the
 * graph keeps them), so they load into it by name.
 */
public final class OnnxImport {
  private OnnxImport() {}

  /** The largest model read: protobuf's own limit for one message. */
  public static final long MAX_BYTES = Integer.MAX_VALUE;

  /**
   * What the import gives.
   *
   * @param spec the spec's text, a model named {@code modelName}
   * @param weights every tensor of the model by its {@code state_dict} path, in the model's order
   * @param notes what the reader should know: names rewritten, positions filled
   * @param network the compiled spec
   */
  public record Result(String spec, String modelName, Map<String, Npz.Array> weights, List<String> notes, Network network) {}

  /** Reads a model file: at most {@link #MAX_BYTES}, refused before reading when larger. */
  public static ModelProto readModel(Path file) throws IOException, ImportException {
    if (!Files.isRegularFile(file)) {
      throw new ImportException(OnnxReader.show(file.toString()) + " is not a regular file");
    }
    long size = Files.size(file);
    if (size > MAX_BYTES) {
      throw new ImportException(OnnxReader.show(file.toString()) + " has " + size + " bytes; cnnc reads models of at most "
          + MAX_BYTES + " (weights stored outside the file are not supported either)");
    }
    try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
      return parse(in.readNBytes((int) size), OnnxReader.show(file.toString()));
    }
  }

  /** Parses a model's bytes. */
  public static ModelProto parse(byte[] bytes, String where) throws ImportException {
    try {
      CodedInputStream in = CodedInputStream.newInstance(bytes);
      in.setSizeLimit(Integer.MAX_VALUE);
      ModelProto m = ModelProto.parseFrom(in);
      in.checkLastTagWas(0);
      return m;
    } catch (InvalidProtocolBufferException e) {
      throw new ImportException(where + " is not an ONNX model (" + OnnxReader.show(String.valueOf(e.getMessage())) + ")");
    } catch (IOException e) {
      throw new ImportException(where + ": " + OnnxReader.show(String.valueOf(e.getMessage())));
    }
  }

  /**
   * The model as a spec.
   *
   * @param name the model's name in the spec, or null: the cnnc name in the model's metadata, else
   *     {@code fallbackName} made a cnnc name
   * @param source the file's name, for the spec's first comment (escaped)
   */
  public static Result importModel(ModelProto model, String name, String fallbackName, String source, String version)
      throws ImportException {
    ImportedNet net = OnnxReader.read(model);
    String modelName = name != null ? name : metadataName(model);
    if (modelName == null) {
      modelName = identifier(fallbackName == null ? "" : fallbackName);
    }
    if (!SpecWriter.ID.matcher(modelName).matches() || Labels.keyword(modelName)) {
      throw new ImportException("`" + OnnxReader.show(modelName) + "` is not a cnnc model name (letters, digits and _)");
    }
    String header = "// " + comment("Imported by cnnc import" + (version == null ? "" : " " + version) + " from " + source)
        + "\n// " + comment("ONNX opset " + OnnxReader.opset(model) + ", written by " + model.getProducerName() + " "
        + model.getProducerVersion()) + "\n\n";
    SpecWriter w = new SpecWriter(net);
    String spec = w.write(modelName, header);
    Network compiled = compile(spec, modelName);
    String blocks = Blocks.extract(spec); // its names avoid the model's
    Network withBlocks = blocks.equals(spec) ? null : tryCompile(blocks, modelName);
    if (withBlocks != null && sameNetwork(compiled, withBlocks)) {
      spec = blocks;
      compiled = withBlocks;
    }
    Map<String, Npz.Array> weights = weights(net, w.order, compiled);
    List<String> notes = new ArrayList<>(w.notes);
    return new Result(spec, modelName, weights, notes, compiled);
  }

  private static String metadataName(ModelProto m) {
    for (StringStringEntryProto e : m.getMetadataPropsList()) {
      if (e.getKey().equals("cnnc.model") && SpecWriter.ID.matcher(e.getValue()).matches()
          && !Labels.keyword(e.getValue())) {
        return e.getValue();
      }
    }
    return null;
  }

  /** A file's base name as a cnnc name: {@code resnet-18.onnx} is {@code resnet_18}. */
  static String identifier(String file) {
    String base = file.replaceAll("\\.onnx$", "");
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < base.length() && b.length() < 64; i++) {
      char c = base.charAt(i);
      b.append(c < 128 && (Character.isLetterOrDigit(c) || c == '_') ? c : '_');
    }
    String s = b.toString();
    if (s.isEmpty() || s.chars().allMatch(c -> c == '_')) {
      return "Imported";
    }
    if (Character.isDigit(s.charAt(0))) {
      s = "m" + s;
    }
    return Labels.keyword(s) ? s + "_" : s;
  }

  /** Text for a line comment: printable ASCII only, everything else as {@code ?}. */
  static String comment(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && i < 300; i++) {
      char c = s.charAt(i);
      b.append(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return b.toString();
  }

  /** The spec compiled, or null when it does not compile. */
  private static Network tryCompile(String spec, String modelName) {
    Path virtual = Path.of("cnnc-import-" + modelName + ".cnn").toAbsolutePath();
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(virtual).withBackends(Set.of(Backend.ONNX)),
        Map.of(virtual, spec));
    return c.ok() ? c.network(modelName).orElse(null) : null;
  }

  /** Whether two compilations are the same network: node by node the same op, path, arguments, reads, shape and tensors. */
  static boolean sameNetwork(Network a, Network b) {
    if (a.nodes().size() != b.nodes().size() || !a.outputs().stream().map(o -> o.name() + " " + o.node()).toList()
        .equals(b.outputs().stream().map(o -> o.name() + " " + o.node()).toList())) {
      return false;
    }
    for (int i = 0; i < a.nodes().size(); i++) {
      Node x = a.nodes().get(i);
      Node y = b.nodes().get(i);
      if (!x.op().equals(y.op()) || !x.name().equals(y.name()) || !x.inputs().equals(y.inputs())
          || !Arrays.equals(x.shape().dims(), y.shape().dims()) || !x.args().toString().equals(y.args().toString())
          || !tensors(x).equals(tensors(y))) {
        return false;
      }
    }
    return true;
  }

  private static List<String> tensors(Node n) {
    List<String> out = new ArrayList<>();
    for (Tensor t : n.params()) {
      out.add("p " + t.path() + " " + Arrays.toString(t.dims()));
    }
    for (Tensor t : n.buffers()) {
      out.add("b " + t.path() + " " + Arrays.toString(t.dims()));
    }
    return out;
  }

  private static Network compile(String spec, String modelName) throws ImportException {
    Path virtual = Path.of("cnnc-import-" + modelName + ".cnn").toAbsolutePath();
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(virtual).withBackends(Set.of(Backend.ONNX)),
        Map.of(virtual, spec));
    if (!c.ok()) {
      throw new IllegalStateException("the spec written does not compile (a bug of cnnc import):\n"
          + c.diagnostics().sorted() + "\n" + spec);
    }
    return c.network(modelName).orElseThrow();
  }

  /**
   * The weights by the compiled spec's paths: the compiler creates one node per written layer, in
   * the order the writer wrote them; each must be the layer's op, read the same layers and hold
   * tensors of the same shapes (else the writer has a bug, and nothing is returned).
   */
  private static Map<String, Npz.Array> weights(ImportedNet net, List<Integer> order, Network compiled) {
    List<Node> nodes = compiled.nodes();
    if (nodes.size() != order.size()) {
      throw new IllegalStateException("the spec written has " + nodes.size() + " nodes, the graph " + order.size()
          + " (a bug of cnnc import)");
    }
    Map<Integer, Integer> nodeOf = new LinkedHashMap<>();
    for (int i = 0; i < order.size(); i++) {
      if (order.get(i) >= 0) {
        nodeOf.put(order.get(i), i);
      }
    }
    Map<String, Npz.Array> out = new LinkedHashMap<>();
    for (int i = 0; i < order.size(); i++) {
      Node n = nodes.get(i);
      int id = order.get(i);
      if (id < 0) {
        check(n.op().equals("identity"), n, "an identity");
        continue;
      }
      Layer l = net.layers.get(id);
      check(n.op().equals(l.op), n, l.op);
      List<Integer> want = new ArrayList<>();
      for (int in : l.inputs) {
        want.add(nodeOf.get(in));
      }
      List<Integer> got = new ArrayList<>();
      for (int in : n.inputs()) {
        got.add(skipIdentities(nodes, order, in));
      }
      check(want.equals(got), n, "reading " + want + " (it reads " + got + ")");
      check(Arrays.equals(n.shape().dims(), l.shape), n, "of shape " + Arrays.toString(l.shape));
      List<Tensor> tensors = new ArrayList<>(n.params());
      tensors.addAll(n.buffers());
      check(tensors.size() == l.tensors.size(), n, "with " + l.tensors.size() + " tensors");
      for (Tensor t : tensors) {
        // a tensor keyed by the node's own path (scale's) is the layer's tensor ""
        String key = t.path().equals(n.name()) ? "" : t.path().substring(t.path().lastIndexOf('.') + 1);
        Npz.Array a = l.tensors.get(key);
        check(a != null && Arrays.equals(a.shape(), OnnxExport.toLongs(t.dims())), n, "with tensor " + key);
        out.put(t.path(), a);
      }
    }
    return out;
  }

  /** The node a read reaches through the identities the writer added. */
  private static int skipIdentities(List<Node> nodes, List<Integer> order, int node) {
    while (order.get(node) < 0) {
      node = nodes.get(node).inputs().get(0);
    }
    return node;
  }

  private static void check(boolean ok, Node n, String what) {
    if (!ok) {
      throw new IllegalStateException("node " + n.name() + " (" + n.op() + ") of the spec written should be " + what
          + " (a bug of cnnc import)");
    }
  }
}
