// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.Npz;
import org.cnnc.onnx.ImportedNet.Layer;
import org.cnnc.onnx.proto.OnnxProto.AttributeProto;
import org.cnnc.onnx.proto.OnnxProto.GraphProto;
import org.cnnc.onnx.proto.OnnxProto.ModelProto;
import org.cnnc.onnx.proto.OnnxProto.NodeProto;
import org.cnnc.onnx.proto.OnnxProto.OperatorSetIdProto;
import org.cnnc.onnx.proto.OnnxProto.TensorProto;
import org.cnnc.onnx.proto.OnnxProto.TensorShapeProto;
import org.cnnc.onnx.proto.OnnxProto.ValueInfoProto;

/**
 * Reads an ONNX graph as cnnc ops ({@link ImportedNet}): the inverse of {@link OnnxLowerings}, and
 * of what {@code torch.onnx.export} writes for the same modules (the constants, shape arithmetic
 * and reshapes around them included). The model is untrusted: every size is checked before it is
 * used, a graph that is not a DAG is refused, and an op or attribute cnnc lacks is an {@link
 * ImportException} naming the node and op.
 */
final class OnnxReader {
  static final int MIN_OPSET = 13;
  static final int MAX_OPSET = 21;
  static final int MAX_NODES = 1_000_000;
  /** Elements of one tensor: a Java array's. */
  static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

  private final GraphProto graph;
  private final int opset;
  private final ImportedNet net = new ImportedNet();
  /** What each ONNX value is: a layer's output (Integer), a constant (Const) or shape arithmetic (Ints). */
  private final Map<String, Object> values = new HashMap<>();
  private final Map<String, TensorProto> initializers = new HashMap<>();
  private final Map<String, List<NodeProto>> consumers = new HashMap<>();
  private final Set<NodeProto> absorbed = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
  private final Set<String> graphOutputs = new HashSet<>();

  /** A constant tensor: float or integer values with their dims. */
  record Const(long[] dims, float[] floats, long[] ints) {
    long numel() {
      return floats != null ? floats.length : ints.length;
    }
  }

  /** A vector of integers from shape arithmetic; null elements are unknown (the batch). */
  record Ints(List<Long> v, boolean scalar) {}

  private OnnxReader(GraphProto graph, int opset) {
    this.graph = graph;
    this.opset = opset;
  }

  /** The model's default-domain opset, checked. */
  static int opset(ModelProto m) throws ImportException {
    Integer found = null;
    for (OperatorSetIdProto o : m.getOpsetImportList()) {
      if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
        found = (int) Math.min(Integer.MAX_VALUE, Math.max(Integer.MIN_VALUE, o.getVersion()));
      }
    }
    if (found == null) {
      throw new ImportException("the model imports no opset of the default ONNX domain");
    }
    if (found < MIN_OPSET || found > MAX_OPSET) {
      throw new ImportException("opset " + found + " is not supported: cnnc imports opsets " + MIN_OPSET + " to " + MAX_OPSET
          + " (convert the model with onnx.version_converter)");
    }
    return found;
  }

  static ImportedNet read(ModelProto m) throws ImportException {
    if (!m.hasGraph()) {
      throw new ImportException("the model has no graph");
    }
    OnnxReader r = new OnnxReader(m.getGraph(), opset(m));
    r.run();
    return r.net;
  }

  static String show(String name) {
    return Escape.terminal(name, 120);
  }

  private static String where(NodeProto n) {
    return "node `" + show(n.getName().isEmpty() ? "(unnamed)" : n.getName()) + "` (" + show(n.getOpType()) + ")";
  }

  private ImportException error(NodeProto n, String what) {
    return new ImportException(where(n) + ": " + what);
  }

  // ---- graph ------------------------------------------------------------------------------------

  private void run() throws ImportException {
    if (graph.getNodeCount() > MAX_NODES) {
      throw new ImportException("the graph has " + graph.getNodeCount() + " nodes; cnnc imports at most " + MAX_NODES);
    }
    for (TensorProto t : graph.getInitializerList()) {
      if (initializers.put(t.getName(), t) != null) {
        throw new ImportException("initializer `" + show(t.getName()) + "` is defined twice");
      }
      values.put(t.getName(), t);
    }
    if (graph.getSparseInitializerCount() > 0) {
      throw new ImportException("sparse initializers are not supported");
    }
    for (ValueInfoProto o : graph.getOutputList()) {
      graphOutputs.add(o.getName());
    }
    for (ValueInfoProto in : graph.getInputList()) {
      if (!initializers.containsKey(in.getName())) {
        input(in);
      }
    }
    if (net.layers.isEmpty()) {
      throw new ImportException("the graph has no input");
    }
    List<NodeProto> order = topological();
    for (NodeProto n : order) {
      for (String i : n.getInputList()) {
        if (!i.isEmpty()) {
          consumers.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
        }
      }
    }
    for (NodeProto n : order) {
      if (!absorbed.contains(n)) {
        node(n);
      }
    }
    denseConcats();
    if (graph.getOutputCount() == 0) {
      throw new ImportException("the graph has no output");
    }
    Set<String> seen = new HashSet<>();
    for (ValueInfoProto o : graph.getOutputList()) {
      if (!seen.add(o.getName())) {
        throw new ImportException("output `" + show(o.getName()) + "` is listed twice");
      }
      Object v = values.get(o.getName());
      if (!(v instanceof Integer id)) {
        throw new ImportException("output `" + show(o.getName()) + "` is not computed from the input by the graph's ops");
      }
      net.outputs.add(Map.entry(o.getName(), id));
    }
  }

  private void input(ValueInfoProto in) throws ImportException {
    String name = in.getName();
    if (!in.getType().hasTensorType()) {
      throw new ImportException("input `" + show(name) + "` is not a tensor");
    }
    var tt = in.getType().getTensorType();
    if (tt.getElemType() != TensorProto.DataType.FLOAT_VALUE) {
      throw new ImportException("input `" + show(name) + "` is not float32 (element type " + tt.getElemType() + ")");
    }
    List<TensorShapeProto.Dimension> dims = tt.getShape().getDimList();
    if (dims.size() != 4 && dims.size() != 2) {
      throw new ImportException("input `" + show(name) + "` has rank " + dims.size()
          + ": cnnc takes images [N, C, H, W] or vectors [N, F]");
    }
    int[] shape = new int[dims.size() - 1];
    long total = 1;
    for (int i = 1; i < dims.size(); i++) {
      TensorShapeProto.Dimension d = dims.get(i);
      if (!d.hasDimValue() || d.getDimValue() < 1 || d.getDimValue() > Integer.MAX_VALUE) {
        throw new ImportException("input `" + show(name) + "`: dimension " + i + " is "
            + (d.hasDimValue() ? Long.toString(d.getDimValue()) : "`" + show(d.getDimParam()) + "`")
            + "; cnnc needs fixed sizes from 1 to " + Integer.MAX_VALUE + " (only the batch may vary)");
      }
      shape[i - 1] = (int) d.getDimValue();
      total *= d.getDimValue();
      if (total > MAX_ELEMENTS) {
        throw new ImportException("input `" + show(name) + "` has more than " + MAX_ELEMENTS + " elements per example");
      }
    }
    Layer l = new Layer("input", name, "input");
    l.shape = shape;
    net.add(l);
    values.put(name, l.id);
  }

  /** The nodes in a topological order (Kahn); a value read before any node writes it, or a cycle, is an error. */
  private List<NodeProto> topological() throws ImportException {
    Map<String, NodeProto> producer = new HashMap<>();
    for (NodeProto n : graph.getNodeList()) {
      for (String o : n.getOutputList()) {
        if (o.isEmpty()) {
          continue;
        }
        if (values.containsKey(o) || producer.put(o, n) != null) {
          throw error(n, "value `" + show(o) + "` is written twice");
        }
      }
    }
    Map<NodeProto, Integer> waiting = new java.util.IdentityHashMap<>();
    Map<NodeProto, Integer> index = new java.util.IdentityHashMap<>();
    Map<String, List<NodeProto>> readers = new HashMap<>();
    // the file's order wherever it is a topological one
    java.util.PriorityQueue<NodeProto> ready = new java.util.PriorityQueue<>(java.util.Comparator.comparing(index::get));
    for (NodeProto n : graph.getNodeList()) {
      index.put(n, index.size());
    }
    for (NodeProto n : graph.getNodeList()) {
      int k = 0;
      for (String i : n.getInputList()) {
        if (i.isEmpty() || values.containsKey(i)) {
          continue;
        }
        if (!producer.containsKey(i)) {
          throw error(n, "reads `" + show(i) + "`, which no node, input or initializer defines");
        }
        k++;
        readers.computeIfAbsent(i, x -> new ArrayList<>()).add(n);
      }
      waiting.put(n, k);
      if (k == 0) {
        ready.add(n);
      }
    }
    List<NodeProto> out = new ArrayList<>();
    while (!ready.isEmpty()) {
      NodeProto n = ready.poll();
      out.add(n);
      for (String o : n.getOutputList()) {
        for (NodeProto r : readers.getOrDefault(o, List.of())) {
          if (waiting.merge(r, -1, Integer::sum) == 0) {
            ready.add(r);
          }
        }
      }
    }
    if (out.size() != graph.getNodeCount()) {
      NodeProto stuck = graph.getNodeList().stream().filter(n -> waiting.get(n) > 0).findFirst().orElseThrow();
      throw error(stuck, "the graph has a cycle through this node");
    }
    return out;
  }

  // ---- nodes ------------------------------------------------------------------------------------

  private void node(NodeProto n) throws ImportException {
    if (!n.getDomain().isEmpty() && !n.getDomain().equals("ai.onnx")) {
      throw error(n, "op of domain `" + show(n.getDomain()) + "` is not supported by cnnc");
    }
    if (n.getOutputCount() < 1) {
      throw error(n, "has no output");
    }
    switch (n.getOpType()) {
      case "Constant" -> values.put(n.getOutput(0), constantNode(n));
      case "Shape" -> shape(n);
      case "Gather" -> gather(n);
      case "Unsqueeze", "Squeeze" -> squeeze(n);
      case "Cast" -> alias(n, ints(n, 0));
      case "Concat" -> concat(n);
      case "Reshape" -> reshape(n);
      case "Flatten" -> flatten(n);
      case "Conv" -> conv(n);
      case "MaxPool" -> pool(n, true);
      case "AveragePool" -> pool(n, false);
      case "GlobalAveragePool" -> simple(n, "global_avgpool", 4);
      case "GlobalMaxPool" -> simple(n, "global_maxpool", 4);
      case "BatchNormalization" -> batchnorm(n);
      case "Gemm" -> gemm(n);
      case "MatMul" -> matmul(n);
      case "Relu" -> simple(n, "relu", 0);
      case "Sigmoid" -> sigmoid(n);
      case "Tanh" -> simple(n, "tanh", 0);
      case "HardSwish" -> simple(n, "hardswish", 0);
      case "Gelu" -> gelu(n);
      case "Identity" -> identity(n);
      case "Clip" -> clip(n);
      case "HardSigmoid" -> hardsigmoid(n);
      case "LeakyRelu" -> leaky(n);
      case "Softmax" -> softmax(n);
      case "Dropout" -> dropout(n);
      case "Pad" -> pad(n);
      case "Add", "Sum" -> add(n);
      case "Mul" -> mul(n);
      case "Slice" -> slice(n);
      case "Split" -> split(n);
      case "Transpose" -> transpose(n);
      case "Div" -> div(n);
      case "Sub" -> {
        if (!arithmetic(n, Math::subtractExact)) {
          throw error(n, "cnnc imports Sub only in shape arithmetic");
        }
      }
      case "LRN" -> lrn(n);
      case "ReduceMean" -> reduceMean(n);
      case "LayerNormalization" -> {
        if (!layerNorm(n)) {
          throw error(n, "cnnc imports LayerNormalization over the last axis, with float weight and bias of its size, "
              + "and no mean or inverse deviation output read");
        }
      }
      case "Resize" -> resize(n);
      case "ConvTranspose" -> convTranspose(n);
      default -> throw error(n, "op `" + show(n.getOpType()) + "` is not supported by cnnc (supported: Conv, MaxPool, "
          + "AveragePool, GlobalAveragePool, GlobalMaxPool, BatchNormalization, LRN, Gemm, MatMul, Flatten, Reshape, "
          + "ReduceMean (over H and W), Relu, Clip, HardSigmoid, HardSwish, Sigmoid, Tanh, LeakyRelu, Gelu, Softmax, Dropout, "
          + "Identity, Pad, "
          + "Concat, Add, Sum, Mul, Slice, Split (of the channels, in equal parts), Transpose (in a channel shuffle), and the Constant, Shape, Gather, Unsqueeze, Squeeze and Cast of shape arithmetic)");
    }
  }

  // ---- attributes and inputs --------------------------------------------------------------------

  private static AttributeProto attribute(NodeProto n, String name) {
    for (AttributeProto a : n.getAttributeList()) {
      if (a.getName().equals(name)) {
        return a;
      }
    }
    return null;
  }

  private void onlyAttributes(NodeProto n, String... known) throws ImportException {
    List<String> k = Arrays.asList(known);
    for (AttributeProto a : n.getAttributeList()) {
      if (!k.contains(a.getName())) {
        throw error(n, "attribute `" + show(a.getName()) + "` is not supported by cnnc");
      }
    }
  }

  private long attrInt(NodeProto n, String name, long dflt) throws ImportException {
    AttributeProto a = attribute(n, name);
    if (a == null) {
      return dflt;
    }
    if (a.getType() != AttributeProto.AttributeType.INT) {
      throw error(n, "attribute `" + name + "` is not an integer");
    }
    return a.getI();
  }

  private float attrFloat(NodeProto n, String name, float dflt) throws ImportException {
    AttributeProto a = attribute(n, name);
    if (a == null) {
      return dflt;
    }
    if (a.getType() != AttributeProto.AttributeType.FLOAT) {
      throw error(n, "attribute `" + name + "` is not a float");
    }
    return a.getF();
  }

  private String attrString(NodeProto n, String name, String dflt) throws ImportException {
    AttributeProto a = attribute(n, name);
    if (a == null) {
      return dflt;
    }
    if (a.getType() != AttributeProto.AttributeType.STRING) {
      throw error(n, "attribute `" + name + "` is not a string");
    }
    return a.getS().toStringUtf8();
  }

  /** An INTS attribute of {@code count} values each in [min, 2^31 - 1], or null when absent. */
  private int[] attrInts(NodeProto n, String name, int count, long min) throws ImportException {
    AttributeProto a = attribute(n, name);
    if (a == null) {
      return null;
    }
    if (a.getType() != AttributeProto.AttributeType.INTS || a.getIntsCount() != count) {
      throw error(n, "attribute `" + name + "` must hold " + count + " integers (2-D ops only)");
    }
    int[] out = new int[count];
    for (int i = 0; i < count; i++) {
      long v = a.getInts(i);
      if (v < min || v > Integer.MAX_VALUE) {
        throw error(n, "attribute `" + name + "` holds " + v + ", out of range");
      }
      out[i] = (int) v;
    }
    return out;
  }

  private String in(NodeProto n, int i) {
    return i < n.getInputCount() ? n.getInput(i) : "";
  }

  /** The layer a node's input is computed by. */
  private Layer layerIn(NodeProto n, int i) throws ImportException {
    Object v = values.get(in(n, i));
    if (v instanceof Integer id) {
      return net.layers.get(id);
    }
    throw error(n, "input " + i + (in(n, i).isEmpty() ? " is missing" : " (`" + show(in(n, i)) + "`) is a constant; cnnc "
        + "ops compute from the network's input"));
  }

  /** Whether input {@code i} is known sizes: shape arithmetic's, or an integer constant. */
  private boolean isInts(NodeProto n, int i) throws ImportException {
    if (values.get(in(n, i)) instanceof Ints) {
      return true;
    }
    Object v = values.get(in(n, i));
    if (isLayer(n, i) || v != null && !(v instanceof Const || v instanceof TensorProto)) {
      return false;
    }
    try {
      Const c = constIn(n, i);
      return c != null && c.ints() != null;
    } catch (ImportException notAConstant) {
      return false;
    }
  }

  private boolean isLayer(NodeProto n, int i) {
    return values.get(in(n, i)) instanceof Integer;
  }

  /** A constant input (an initializer or a Constant node's value), or null when the input is absent. */
  private Const constIn(NodeProto n, int i) throws ImportException {
    String name = in(n, i);
    if (name.isEmpty()) {
      return null;
    }
    Object v = values.get(name);
    if (v instanceof TensorProto t) {
      Const c = decode(t, "initializer `" + show(name) + "`");
      values.put(name, c);
      return c;
    }
    if (v instanceof Const c) {
      return c;
    }
    if (v instanceof Ints s && !s.v().contains(null)) {
      return new Const(s.scalar() ? new long[0] : new long[] {s.v().size()}, null,
          s.v().stream().mapToLong(Long::longValue).toArray());
    }
    throw error(n, "input " + i + " (`" + show(name) + "`) must be a constant for cnnc");
  }

  private Const requireConst(NodeProto n, int i, String what) throws ImportException {
    Const c = constIn(n, i);
    if (c == null) {
      throw error(n, "needs " + what + " (input " + i + ")");
    }
    return c;
  }

  private float[] floatsOf(NodeProto n, Const c, String what) throws ImportException {
    if (c.floats() == null) {
      throw error(n, what + " must be float32");
    }
    return c.floats();
  }

  /** A float constant that must hold one value (a scalar or one element). */
  private float scalarIn(NodeProto n, int i, String what) throws ImportException {
    Const c = requireConst(n, i, what);
    if (c.numel() != 1) {
      throw error(n, what + " must be a single value");
    }
    return c.floats() != null ? c.floats()[0] : c.ints()[0];
  }

  private void alias(NodeProto n, Object v) {
    values.put(n.getOutput(0), v);
  }

  // ---- tensors ----------------------------------------------------------------------------------

  static long[] checkedDims(List<Long> dims, String what) throws ImportException {
    long[] d = new long[dims.size()];
    long total = 1;
    for (int i = 0; i < d.length; i++) {
      d[i] = dims.get(i);
      if (d[i] < 0 || d[i] > MAX_ELEMENTS) {
        throw new ImportException(what + " has dimension " + d[i]);
      }
      total = d[i] == 0 ? 0 : total;
      if (total != 0 && (total = total * d[i]) > MAX_ELEMENTS) {
        throw new ImportException(what + " has more than " + MAX_ELEMENTS + " elements");
      }
    }
    return d;
  }

  static long numel(long[] dims) {
    long n = 1;
    for (long d : dims) {
      n *= d;
    }
    return n;
  }

  /** A tensor's values, every size checked against the data actually present before anything is allocated. */
  static Const decode(TensorProto t, String what) throws ImportException {
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0) {
      throw new ImportException(what + " is stored in an external file; cnnc reads weights inside the model only");
    }
    if (t.hasSegment()) {
      throw new ImportException(what + " is segmented; not supported");
    }
    long[] dims = checkedDims(t.getDimsList(), what);
    int n = (int) numel(dims);
    boolean raw = t.hasRawData();
    switch (t.getDataType()) {
      case TensorProto.DataType.FLOAT_VALUE -> {
        if (raw ? t.getRawData().size() != 4L * n : t.getFloatDataCount() != n) {
          throw new ImportException(what + " declares " + n + " floats but holds "
              + (raw ? t.getRawData().size() / 4 : t.getFloatDataCount()));
        }
        float[] v = new float[n];
        if (raw) {
          t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        } else {
          for (int i = 0; i < n; i++) {
            v[i] = t.getFloatData(i);
          }
        }
        return new Const(dims, v, null);
      }
      case TensorProto.DataType.DOUBLE_VALUE -> {
        if (raw ? t.getRawData().size() != 8L * n : t.getDoubleDataCount() != n) {
          throw new ImportException(what + " declares " + n + " doubles but holds a different count");
        }
        float[] v = new float[n];
        ByteBuffer bb = raw ? t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN) : null;
        for (int i = 0; i < n; i++) {
          v[i] = (float) (raw ? bb.getDouble() : t.getDoubleData(i));
        }
        return new Const(dims, v, null);
      }
      case TensorProto.DataType.INT64_VALUE, TensorProto.DataType.INT32_VALUE -> {
        boolean i64 = t.getDataType() == TensorProto.DataType.INT64_VALUE;
        int width = i64 ? 8 : 4;
        int count = raw ? -1 : i64 ? t.getInt64DataCount() : t.getInt32DataCount();
        if (raw ? t.getRawData().size() != (long) width * n : count != n) {
          throw new ImportException(what + " declares " + n + " integers but holds a different count");
        }
        long[] v = new long[n];
        ByteBuffer bb = raw ? t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN) : null;
        for (int i = 0; i < n; i++) {
          v[i] = raw ? (i64 ? bb.getLong() : bb.getInt()) : (i64 ? t.getInt64Data(i) : t.getInt32Data(i));
        }
        return new Const(dims, null, v);
      }
      default -> throw new ImportException(what + " has data type " + t.getDataType() + "; cnnc reads float32, float64,"
          + " int32 and int64 tensors");
    }
  }

  private Const constantNode(NodeProto n) throws ImportException {
    if (n.getAttributeCount() != 1) {
      throw error(n, "needs exactly one value attribute");
    }
    AttributeProto a = n.getAttribute(0);
    return switch (a.getName()) {
      case "value" -> decode(a.getT(), where(n));
      case "value_float" -> new Const(new long[0], new float[] {a.getF()}, null);
      case "value_floats" -> {
        float[] v = new float[a.getFloatsCount()];
        for (int i = 0; i < v.length; i++) {
          v[i] = a.getFloats(i);
        }
        yield new Const(new long[] {v.length}, v, null);
      }
      case "value_int" -> new Const(new long[0], null, new long[] {a.getI()});
      case "value_ints" -> new Const(new long[] {a.getIntsCount()}, null,
          a.getIntsList().stream().mapToLong(Long::longValue).toArray());
      default -> throw error(n, "attribute `" + show(a.getName()) + "` is not supported by cnnc");
    };
  }

  // ---- shape arithmetic (what torch writes to compute a flatten's shape) ------------------------

  /** A node input as integers: shape arithmetic or an integer constant. */
  private Ints ints(NodeProto n, int i) throws ImportException {
    Object v = values.get(in(n, i));
    if (v instanceof Ints s) {
      return s;
    }
    Const c = constIn(n, i);
    if (c == null || c.ints() == null || c.dims().length > 1) {
      throw error(n, "input " + i + " must be a vector of integers for cnnc (shape arithmetic)");
    }
    List<Long> out = new ArrayList<>();
    for (long x : c.ints()) {
      out.add(x);
    }
    return new Ints(out, c.dims().length == 0);
  }

  private void shape(NodeProto n) throws ImportException {
    onlyAttributes(n, "start", "end");
    Layer l = layerIn(n, 0);
    List<Long> s = new ArrayList<>();
    s.add(null);
    for (int d : l.shape) {
      s.add((long) d);
    }
    int r = s.size();
    long start = attrInt(n, "start", 0);
    long end = attrInt(n, "end", r);
    start = Math.max(0, Math.min(r, start < 0 ? start + r : start));
    end = Math.max(0, Math.min(r, end < 0 ? end + r : end));
    alias(n, new Ints(new ArrayList<>(s.subList((int) start, (int) Math.max(start, end))), false));
  }

  private void gather(NodeProto n) throws ImportException {
    onlyAttributes(n, "axis");
    if (attrInt(n, "axis", 0) != 0) {
      throw error(n, "only axis 0 of shape vectors is supported");
    }
    Ints data = ints(n, 0);
    Ints idx = ints(n, 1);
    List<Long> out = new ArrayList<>();
    for (Long k : idx.v()) {
      if (k == null || k < -data.v().size() || k >= data.v().size()) {
        throw error(n, "index " + k + " out of range");
      }
      out.add(data.v().get((int) (k < 0 ? k + data.v().size() : k)));
    }
    alias(n, new Ints(out, idx.scalar()));
  }

  private void squeeze(NodeProto n) throws ImportException {
    Ints x = ints(n, 0);
    alias(n, new Ints(x.v(), n.getOpType().equals("Squeeze") && x.v().size() == 1));
  }

  private void concat(NodeProto n) throws ImportException {
    onlyAttributes(n, "axis");
    boolean anyLayer = false;
    for (int i = 0; i < n.getInputCount(); i++) {
      anyLayer |= isLayer(n, i);
    }
    if (!anyLayer) {
      List<Long> out = new ArrayList<>();
      for (int i = 0; i < n.getInputCount(); i++) {
        out.addAll(ints(n, i).v());
      }
      alias(n, new Ints(out, false));
      return;
    }
    Layer first = layerIn(n, 0);
    long axis = attrInt(n, "axis", Long.MIN_VALUE);
    int rank = first.shape.length + 1;
    if (axis != 1 && axis != 1 - rank) {
      throw error(n, "concatenates along axis " + axis + "; cnnc's concat joins channels (axis 1)");
    }
    if (n.getInputCount() == 1) {
      alias(n, first.id);
      return;
    }
    Layer l = layer(n, "concat");
    int c = 0;
    for (int i = 0; i < n.getInputCount(); i++) {
      Layer x = layerIn(n, i);
      if (x.shape.length != first.shape.length
          || !Arrays.equals(Arrays.copyOfRange(x.shape, 1, x.shape.length), Arrays.copyOfRange(first.shape, 1, first.shape.length))) {
        throw error(n, "joins inputs of shapes " + Arrays.toString(first.shape) + " and " + Arrays.toString(x.shape));
      }
      l.inputs.add(x.id);
      c = Math.addExact(c, x.shape[0]);
    }
    l.shape = first.shape.clone();
    l.shape[0] = c;
  }

  /**
   * Dense connections as a chain of two-way concats. torch's DenseNet concatenates, in each dense
   * layer, the block's input and every earlier layer's output ({@code cat(x, d1, ..., dk)}), a
   * different number of inputs each time, so no two layers read the same; each such concat is
   * the previous one and one more input. (1) A concat whose inputs but the last are exactly
   * another concat's inputs reads that concat instead ({@code cat(c_k, dk)}: the same tensor, channels in
   * the same order). (2) A two-way concat {@code cat(x, y)} that joins a module's output {@code y}
   * to that module's own input {@code x} belongs to that module ({@code y = f(x)}, the output
   * {@code cat(x, f(x))}): then every dense layer is the same text, and a block.
   */
  private void denseConcats() {
    Map<List<Integer>, Integer> byInputs = new HashMap<>();
    for (Layer l : net.layers) {
      if (!l.op.equals("concat")) {
        continue;
      }
      // one look-up of the inputs but the last (linear in the graph's size, whatever it holds)
      List<Integer> written = List.copyOf(l.inputs);
      Integer prefix = written.size() > 2 ? byInputs.get(written.subList(0, written.size() - 1)) : null;
      if (prefix != null) {
        l.inputs.clear();
        l.inputs.addAll(List.of(prefix, written.get(written.size() - 1)));
      }
      byInputs.putIfAbsent(written, l.id);
    }
    Map<Integer, List<Layer>> readers = new HashMap<>();
    for (Layer l : net.layers) {
      for (int i : l.inputs) {
        readers.computeIfAbsent(i, k -> new ArrayList<>()).add(l);
      }
    }
    for (Layer l : net.layers) {
      if (!l.op.equals("concat") || l.inputs.size() != 2 || l.path == null || l.fromInitializers) {
        continue;
      }
      Layer x = net.layers.get(l.inputs.get(0));
      Layer y = net.layers.get(l.inputs.get(1));
      List<Layer> xReaders = readers.getOrDefault(x.id, List.of());
      // a dense layer's input has a few readers (its first layer, the concat); a value read by
      // many is no module's input, and looking through them all would be quadratic
      if (y.path == null || xReaders.size() > MAX_DENSE_READERS) {
        continue;
      }
      int common = 0;
      while (common < l.path.size() && common < y.path.size() && l.path.get(common).equals(y.path.get(common))) {
        common++;
      }
      if (common >= y.path.size() - 1) {
        continue; // y is the concat's module's own layer or a direct child: nothing to move
      }
      List<String> owner = y.path.subList(0, common + 1);
      if (within(x.path, owner)) {
        continue; // x is computed inside the module: not its input
      }
      boolean readByOwner = false;
      for (Layer r : xReaders) {
        readByOwner |= r != l && within(r.path, owner);
      }
      if (readByOwner) {
        l.path = new ArrayList<>(owner);
      }
    }
  }

  /** Readers of a dense layer's input that {@link #denseConcats} looks through, at most. */
  static final int MAX_DENSE_READERS = 16;

  private static boolean within(List<String> path, List<String> module) {
    return path != null && path.size() >= module.size() && path.subList(0, module.size()).equals(module);
  }

  private void reshape(NodeProto n) throws ImportException {
    onlyAttributes(n, "allowzero");
    Ints target = ints(n, 1);
    if (patternReshape(n, target.v())) {
      return;
    }
    Layer x = layerIn(n, 0);
    long per = 1;
    for (int d : x.shape) {
      per *= d;
    }
    List<Long> t = target.v();
    boolean batchFirst = t.size() == 2 && (t.get(0) == null || t.get(0) == -1 || t.get(0) == 0 && attrInt(n, "allowzero", 0) == 0);
    boolean flat = batchFirst && (t.get(1) != null && (t.get(1) == per || t.get(1) == -1 && (t.get(0) == null || t.get(0) != -1)));
    if (!flat) {
      throw error(n, "reshapes " + Arrays.toString(x.shape) + " to " + t.toString().replace("null", "batch")
          + "; cnnc imports only a reshape that flattens each example ([N, C, H, W] to [N, C*H*W])");
    }
    if (x.shape.length == 1) {
      alias(n, x.id);
      return;
    }
    flattenLayer(n, x);
  }

  private void flatten(NodeProto n) throws ImportException {
    onlyAttributes(n, "axis");
    Layer x = layerIn(n, 0);
    long axis = attrInt(n, "axis", 1);
    if (axis != 1 && axis != -x.shape.length) {
      throw error(n, "flattens from axis " + axis + "; cnnc's flatten keeps the batch axis (axis 1)");
    }
    if (x.shape.length == 1) {
      alias(n, x.id);
      return;
    }
    // cnnc's export writes dense on a [C, H, W] input as Flatten (named after the dense) then Gemm
    List<NodeProto> readers = consumers.getOrDefault(n.getOutput(0), List.of());
    if (readers.size() == 1 && readers.get(0).getOpType().equals("Gemm") && !readers.get(0).getName().isEmpty()
        && n.getName().equals(readers.get(0).getName() + "/Flatten") && !graphOutputs.contains(n.getOutput(0))) {
      alias(n, x.id);
      return;
    }
    flattenLayer(n, x);
  }

  private void flattenLayer(NodeProto n, Layer x) throws ImportException {
    Layer l = layer(n, "flatten");
    l.inputs.add(x.id);
    long per = 1;
    for (int d : x.shape) {
      per *= d;
    }
    if (per > Integer.MAX_VALUE) {
      throw error(n, "flattens more than 2^31 - 1 values per example");
    }
    l.shape = new int[] {(int) per};
  }

  // ---- layers -----------------------------------------------------------------------------------

  /** A new layer for node {@code n}, writing its first output; named from the node. */
  private Layer layer(NodeProto n, String op) {
    Layer l = new Layer(op, n.getName(), n.getOpType());
    pathFromNode(l, n.getName());
    net.add(l);
    values.put(n.getOutput(0), l.id);
    return l;
  }

  /**
   * The module path a node's name gives: torch's scopes ({@code /layer1/layer1.0/conv1/Conv}: each
   * scope names a module, a child of a Sequential as {@code parent.index}) or cnnc's module paths
   * ({@code layer1.0.conv1}, and {@code fc/Flatten} for a step of {@code fc}).
   */
  static void pathFromNode(Layer l, String name) {
    if (name.startsWith("/")) {
      String[] seg = name.split("/", -1);
      List<String> path = new ArrayList<>();
      String parent = null;
      for (int i = 1; i < seg.length - 1; i++) {
        String s = seg[i];
        if (s.isEmpty()) {
          l.path = null;
          return;
        }
        String child = parent != null && s.startsWith(parent + ".") ? s.substring(parent.length() + 1) : s;
        path.addAll(Arrays.asList(child.split("\\.", -1)));
        parent = s;
      }
      l.path = path;
      String last = seg[seg.length - 1];
      l.hint = last.replaceAll("_\\d+$", "").toLowerCase(java.util.Locale.ROOT);
      return;
    }
    if (name.isEmpty() || name.contains("/")) {
      l.path = null;
      l.hint = name.contains("/") ? name.substring(name.lastIndexOf('/') + 1).toLowerCase(java.util.Locale.ROOT) : null;
      return;
    }
    l.path = new ArrayList<>(Arrays.asList(name.split("\\.", -1)));
  }

  /** Takes the path of a layer's tensors from their initializer names ({@code features.0.weight}), when they agree. */
  private void pathFromInitializers(Layer l, NodeProto n, Map<String, String> keyToValue) {
    String prefix = null;
    for (Map.Entry<String, String> e : keyToValue.entrySet()) {
      String v = e.getValue();
      String suffix = "." + e.getKey();
      if (!v.endsWith(suffix) || v.length() == suffix.length()) {
        return;
      }
      String p = v.substring(0, v.length() - suffix.length());
      if (prefix != null && !prefix.equals(p)) {
        return;
      }
      prefix = p;
    }
    if (prefix != null) {
      l.path = new ArrayList<>(Arrays.asList(prefix.split("\\.", -1)));
      l.fromInitializers = true;
    }
  }

  private Layer simple(NodeProto n, String op, int rank) throws ImportException {
    onlyAttributes(n);
    Layer x = layerIn(n, 0);
    if (rank != 0 && x.shape.length + 1 != rank) {
      throw error(n, "needs a [N, C, H, W] input, not " + (x.shape.length + 1) + "-D");
    }
    Layer l = layer(n, op);
    l.inputs.add(x.id);
    l.shape = op.startsWith("global_") ? new int[] {x.shape[0], 1, 1} : x.shape.clone();
    return l;
  }

  private void identity(NodeProto n) throws ImportException {
    Layer x = layerIn(n, 0);
    // cnnc's export names an output by an Identity when its node's value has another name
    if (graphOutputs.contains(n.getOutput(0)) && n.getName().equals(n.getOutput(0)) && !x.op.equals("input")) {
      alias(n, x.id);
      return;
    }
    simple(n, "identity", 0);
  }

  private static int[] pair(int[] a, int dflt) {
    return a == null ? new int[] {dflt, dflt} : a;
  }

  static String size(int[] v) {
    return v[0] == v[1] ? Integer.toString(v[0]) : "[" + v[0] + ", " + v[1] + "]";
  }

  static int outSize(long in, int k, int s, int p, int d, boolean ceil) {
    long span = (long) d * (k - 1) + 1;
    long num = in + 2L * p - span;
    if (num < 0) {
      return -1;
    }
    long out = (ceil ? Math.floorDiv(num + s - 1, s) : Math.floorDiv(num, s)) + 1;
    if (ceil && (out - 1) * s >= in + p) {
      out--;
    }
    return (int) Math.min(out, Integer.MAX_VALUE);
  }

  /** Explicit pads [top, left, bottom, right] from pads and auto_pad. */
  private int[] pads(NodeProto n, Layer x, int[] k, int[] s, int[] d) throws ImportException {
    String auto = attrString(n, "auto_pad", "NOTSET");
    int[] p = attrInts(n, "pads", 4, 0);
    switch (auto) {
      case "NOTSET" -> {
        return p == null ? new int[4] : p;
      }
      case "VALID" -> {
        return new int[4];
      }
      case "SAME_UPPER", "SAME_LOWER" -> {
        int[] out = new int[4];
        for (int i = 0; i < 2; i++) {
          long in = x.shape[1 + i];
          long o = (in + s[i] - 1) / s[i];
          long total = Math.max(0, (o - 1) * s[i] + (long) d[i] * (k[i] - 1) + 1 - in);
          long small = total / 2;
          long big = total - small;
          out[i] = (int) (auto.equals("SAME_UPPER") ? small : big);
          out[i + 2] = (int) (auto.equals("SAME_UPPER") ? big : small);
        }
        return out;
      }
      default -> throw error(n, "auto_pad `" + show(auto) + "` is not supported");
    }
  }

  /** Shape arithmetic: a slice of a known vector of sizes (torch's Shape, Slice [0, 2) before a Resize to sizes). */
  private void sliceInts(NodeProto n) throws ImportException {
    List<Long> v = ints(n, 0).v();
    Ints starts = ints(n, 1);
    Ints ends = ints(n, 2);
    Ints axes = n.getInputCount() > 3 && !in(n, 3).isEmpty() ? ints(n, 3) : null;
    Ints steps = n.getInputCount() > 4 && !in(n, 4).isEmpty() ? ints(n, 4) : null;
    if (starts.v().size() != 1 || ends.v().size() != 1 || starts.v().get(0) == null || ends.v().get(0) == null
        || axes != null && (axes.v().size() != 1 || !Long.valueOf(0).equals(axes.v().get(0)))
        || steps != null && (steps.v().size() != 1 || !Long.valueOf(1).equals(steps.v().get(0)))) {
      throw error(n, "cnnc reads a Slice of sizes only along axis 0 with step 1");
    }
    long r = v.size();
    long a = starts.v().get(0);
    long b = ends.v().get(0);
    a = Math.max(0, Math.min(r, a < 0 ? a + r : a));
    b = Math.max(0, Math.min(r, b < 0 ? b + r : b));
    alias(n, new Ints(new ArrayList<>(v.subList((int) a, (int) Math.max(a, b))), false));
  }

  /**
   * Resize as torch.onnx writes F.interpolate: by scales [1, 1, sh, sw] or to sizes [N, C, h, w];
   * nearest with asymmetric coordinates and floor (PyTorch's `nearest`), linear with half_pixel
   * (pytorch_half_pixel where no side becomes 1) or align_corners. Other modes are refused by name.
   */
  private void resize(NodeProto n) throws ImportException {
    onlyAttributes(n, "mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
        "extrapolation_value", "antialias", "keep_aspect_ratio_policy", "axes");
    Layer x = layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "cnnc's upsample resizes [N, C, H, W]");
    }
    String mode = attrString(n, "mode", "nearest");
    String coordinates = attrString(n, "coordinate_transformation_mode", "half_pixel");
    if (attrInt(n, "exclude_outside", 0) != 0 || attrInt(n, "antialias", 0) != 0
        || !attrString(n, "keep_aspect_ratio_policy", "stretch").equals("stretch")) {
      throw error(n, "exclude_outside, antialias and keep_aspect_ratio_policy are not cnnc's upsample");
    }
    boolean bilinear;
    boolean corners = false;
    if (mode.equals("nearest")) {
      String nearest = attrString(n, "nearest_mode", "round_prefer_floor");
      if (!coordinates.equals("asymmetric") || !nearest.equals("floor")) {
        throw error(n, "nearest with coordinate_transformation_mode `" + show(coordinates) + "` and nearest_mode `"
            + show(nearest) + "`: cnnc's (PyTorch's) nearest is asymmetric and floor");
      }
      bilinear = false;
    } else if (mode.equals("linear")) {
      bilinear = true;
      corners = coordinates.equals("align_corners");
      if (!corners && !coordinates.equals("half_pixel") && !coordinates.equals("pytorch_half_pixel")) {
        throw error(n, "linear with coordinate_transformation_mode `" + show(coordinates)
            + "`: cnnc's bilinear is half_pixel or align_corners");
      }
    } else {
      throw error(n, "mode `" + show(mode) + "`: cnnc's upsample is nearest or bilinear (linear)");
    }
    Const scales = n.getInputCount() > 2 && !in(n, 2).isEmpty() ? constIn(n, 2) : null;
    boolean bySize = n.getInputCount() > 3 && !in(n, 3).isEmpty();
    if (scales != null && scales.floats() != null && scales.floats().length == 0) {
      scales = null;
    }
    // opset 18's axes: scales or sizes of H and W only ([2, 3], or [-2, -1])
    AttributeProto axesAttr = attribute(n, "axes");
    boolean hw = false;
    if (axesAttr != null) {
      List<Long> axes = axesAttr.getIntsList();
      if (axesAttr.getType() != AttributeProto.AttributeType.INTS || axes.size() != 2
          || Math.floorMod(axes.get(0), 4) != 2 || Math.floorMod(axes.get(1), 4) != 3 || Math.abs(axes.get(0)) > 4
          || Math.abs(axes.get(1)) > 4) {
        throw error(n, "resizes axes " + axes + "; cnnc's upsample resizes H and W (axes [2, 3])");
      }
      hw = true;
      if (scales != null && scales.floats() != null) {
        if (scales.floats().length != 2) {
          throw error(n, "has " + scales.floats().length + " scales for the 2 axes [2, 3]");
        }
        scales = new Const(new long[] {4}, new float[] {1f, 1f, scales.floats()[0], scales.floats()[1]}, null);
      }
    }
    Layer l = layer(n, "upsample");
    l.inputs.add(x.id);
    int h;
    int w;
    if (bySize) {
      List<Long> sizes = ints(n, 3).v();
      if (hw) {
        if (sizes.size() != 2) {
          throw error(n, "has " + sizes.size() + " sizes for the 2 axes [2, 3]");
        }
        sizes = java.util.Arrays.asList(null, (long) x.shape[0], sizes.get(0), sizes.get(1));
      }
      if (sizes.size() != 4 || sizes.get(2) == null || sizes.get(3) == null
          || sizes.get(1) != null && sizes.get(1) != x.shape[0] || sizes.get(2) < 1 || sizes.get(3) < 1) {
        throw error(n, "sizes " + sizes + " are not [N, " + x.shape[0] + ", h, w], which cnnc's upsample resizes to");
      }
      h = Math.toIntExact(sizes.get(2));
      w = Math.toIntExact(sizes.get(3));
      l.arg("size", size(new int[] {h, w}));
    } else {
      if (scales == null || scales.floats() == null || scales.floats().length != 4 || scales.floats()[0] != 1f
          || scales.floats()[1] != 1f || !(scales.floats()[2] > 0) || !(scales.floats()[3] > 0)) {
        throw error(n, "cnnc's upsample needs constant scales [1, 1, sh, sw] or sizes");
      }
      float sh = scales.floats()[2];
      float sw = scales.floats()[3];
      h = (int) org.cnnc.compiler.shape.Ops.scaledSize(x.shape[1], sh);
      w = (int) org.cnnc.compiler.shape.Ops.scaledSize(x.shape[2], sw);
      if (corners && ((double) x.shape[1] * sh != h || (double) x.shape[2] * sw != w)) {
        throw error(n, "align_corners with scales that give no whole size: ONNX divides by in * scale, "
            + "cnnc's (PyTorch's) bilinear by the output size less one");
      }
      l.arg("scale", sh == sw ? real(sh) : "[" + real(sh) + ", " + real(sw) + "]").positional = 1;
    }
    if (h < 1 || w < 1) {
      throw error(n, "resizes " + x.shape[1] + "x" + x.shape[2] + " to nothing");
    }
    if (bilinear && coordinates.equals("pytorch_half_pixel") && (h == 1 && x.shape[1] > 1 || w == 1 && x.shape[2] > 1)) {
      throw error(n, "pytorch_half_pixel to a side of 1 samples the first pixel; cnnc's bilinear (PyTorch's, "
          + "half_pixel) samples the middle");
    }
    if (bilinear) {
      l.arg("mode", "\"bilinear\"");
    }
    if (corners) {
      l.arg("align_corners", "true");
    }
    l.shape = new int[] {x.shape[0], h, w};
  }

  /** ConvTranspose: PyTorch's nn.ConvTranspose2d, weights [in, out/group, kh, kw]; symmetric pads, no output_shape. */
  private void convTranspose(NodeProto n) throws ImportException {
    onlyAttributes(n, "kernel_shape", "strides", "pads", "dilations", "group", "output_padding", "auto_pad");
    Layer x = layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "cnnc's conv_transpose is 2-D: it needs a [N, C, H, W] input");
    }
    if (!attrString(n, "auto_pad", "NOTSET").equals("NOTSET")) {
      throw error(n, "auto_pad is not supported; write pads");
    }
    Const w = requireConst(n, 1, "the weight");
    floatsOf(n, w, "the weight");
    if (w.dims().length != 4) {
      throw error(n, "the weight has rank " + w.dims().length + "; a 2-D transposed conv's is 4");
    }
    long groups = attrInt(n, "group", 1);
    if (groups < 1 || w.dims()[0] != x.shape[0] || x.shape[0] % groups != 0) {
      throw error(n, "weight " + Arrays.toString(w.dims()) + " with group " + groups + " does not fit " + x.shape[0]
          + " input channels");
    }
    int out = Math.toIntExact(w.dims()[1] * groups);
    int[] k = {(int) w.dims()[2], (int) w.dims()[3]};
    int[] ks = attrInts(n, "kernel_shape", 2, 1);
    if (ks != null && !Arrays.equals(ks, k) || k[0] < 1 || k[1] < 1) {
      throw error(n, "kernel_shape " + Arrays.toString(ks) + " differs from the weight's " + Arrays.toString(k));
    }
    int[] s = pair(attrInts(n, "strides", 2, 1), 1);
    int[] d = pair(attrInts(n, "dilations", 2, 1), 1);
    int[] op = pair(attrInts(n, "output_padding", 2, 0), 0);
    int[] p = attrInts(n, "pads", 4, 0);
    p = p == null ? new int[4] : p;
    if (p[0] != p[2] || p[1] != p[3]) {
      throw error(n, "asymmetric pads " + Arrays.toString(p) + "; cnnc's conv_transpose (PyTorch's) crops both sides alike");
    }
    for (int i = 0; i < 2; i++) {
      if (op[i] >= s[i] && op[i] >= d[i]) {
        throw error(n, "output_padding " + Arrays.toString(op) + " is not below the stride or the dilation, as cnnc "
            + "(and PyTorch) need");
      }
    }
    Const b = convBias(n, out);
    long oh = org.cnnc.compiler.shape.Ops.transposedSize(x.shape[1], k[0], s[0], p[0], op[0], d[0]);
    long ow = org.cnnc.compiler.shape.Ops.transposedSize(x.shape[2], k[1], s[1], p[1], op[1], d[1]);
    if (oh < 1 || ow < 1) {
      throw error(n, "the pads leave an empty output");
    }
    Layer l = layer(n, "conv_transpose");
    l.inputs.add(x.id);
    l.arg("out", Integer.toString(out)).arg("kernel", size(k));
    l.positional = 2;
    if (s[0] != 1 || s[1] != 1) {
      l.arg("stride", size(s));
    }
    if (p[0] != 0 || p[1] != 0) {
      l.arg("padding", size(new int[] {p[0], p[1]}));
    }
    if (op[0] != 0 || op[1] != 0) {
      l.arg("output_padding", size(op));
    }
    if (groups != 1) {
      l.arg("groups", Long.toString(groups));
    }
    if (d[0] != 1 || d[1] != 1) {
      l.arg("dilation", size(d));
    }
    if (b == null) {
      l.arg("bias", "false");
    }
    l.shape = new int[] {out, (int) oh, (int) ow};
    convTensors(l, n, w, b);
  }

  /** A (transposed) conv's optional bias, input 2: {@code [out]}, or null. */
  private Const convBias(NodeProto n, int out) throws ImportException {
    Const b = constIn(n, 2);
    if (b != null && (b.dims().length != 1 || b.dims()[0] != out)) {
      throw error(n, "the bias has shape " + Arrays.toString(b.dims()) + ", not [" + out + "]");
    }
    return b;
  }

  /** A (transposed) conv's weight (input 1, kept as ONNX lays it out, which is PyTorch's) and bias as its tensors. */
  private void convTensors(Layer l, NodeProto n, Const w, Const b) throws ImportException {
    Map<String, String> names = new LinkedHashMap<>();
    names.put("weight", in(n, 1));
    l.tensors.put("weight", Npz.Array.of(w.dims(), w.floats()));
    if (b != null) {
      names.put("bias", in(n, 2));
      l.tensors.put("bias", Npz.Array.of(b.dims(), floatsOf(n, b, "the bias")));
    }
    pathFromInitializers(l, n, names);
  }

  private void conv(NodeProto n) throws ImportException {
    onlyAttributes(n, "kernel_shape", "strides", "pads", "dilations", "group", "auto_pad");
    Layer x = layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "cnnc's conv is 2-D: it needs a [N, C, H, W] input");
    }
    Const w = requireConst(n, 1, "the weight");
    floatsOf(n, w, "the weight");
    if (w.dims().length != 4) {
      throw error(n, "the weight has rank " + w.dims().length + "; a 2-D conv's is 4");
    }
    int out = (int) w.dims()[0];
    long groups = attrInt(n, "group", 1);
    if (groups < 1 || out == 0 || groups > x.shape[0] || x.shape[0] % groups != 0 || out % groups != 0
        || w.dims()[1] * groups != x.shape[0]) {
      throw error(n, "weight " + Arrays.toString(w.dims()) + " with group " + groups + " does not fit " + x.shape[0]
          + " input channels");
    }
    int[] k = {(int) w.dims()[2], (int) w.dims()[3]};
    int[] ks = attrInts(n, "kernel_shape", 2, 1);
    if (ks != null && !Arrays.equals(ks, k) || k[0] < 1 || k[1] < 1) {
      throw error(n, "kernel_shape " + Arrays.toString(ks) + " differs from the weight's " + Arrays.toString(k));
    }
    int[] s = pair(attrInts(n, "strides", 2, 1), 1);
    int[] d = pair(attrInts(n, "dilations", 2, 1), 1);
    int[] p = pads(n, x, k, s, d);
    Const b = convBias(n, out);
    if (p[0] != p[2] || p[1] != p[3]) {
      // asymmetric padding: zero padding first (left, right, top, bottom), then the conv without it
      Layer z = new Layer("zeropad", n.getName(), "Pad");
      z.path = null;
      z.hint = "pad";
      z.arg("padding", "[" + p[1] + ", " + p[3] + ", " + p[0] + ", " + p[2] + "]").positional = 1;
      z.inputs.add(x.id);
      z.shape = new int[] {x.shape[0], x.shape[1] + p[0] + p[2], x.shape[2] + p[1] + p[3]};
      net.add(z);
      x = z;
      p = new int[4];
    }
    Layer l = layer(n, "conv");
    l.inputs.add(x.id);
    l.arg("out", Integer.toString(out)).arg("kernel", size(k));
    l.positional = 2;
    if (s[0] != 1 || s[1] != 1) {
      l.arg("stride", size(s));
    }
    if (p[0] != 0 || p[1] != 0) {
      l.arg("padding", size(new int[] {p[0], p[1]}));
    }
    if (d[0] != 1 || d[1] != 1) {
      l.arg("dilation", size(d));
    }
    if (groups != 1) {
      l.arg("groups", Long.toString(groups));
    }
    if (b == null) {
      l.arg("bias", "false");
    }
    int oh = outSize(x.shape[1], k[0], s[0], p[0], d[0], false);
    int ow = outSize(x.shape[2], k[1], s[1], p[1], d[1], false);
    if (oh < 1 || ow < 1) {
      throw error(n, "the kernel is larger than the padded input " + x.shape[1] + "x" + x.shape[2]);
    }
    l.shape = new int[] {out, oh, ow};
    convTensors(l, n, w, b);
  }

  private void pool(NodeProto n, boolean max) throws ImportException {
    if (max) {
      onlyAttributes(n, "kernel_shape", "strides", "pads", "dilations", "ceil_mode", "auto_pad", "storage_order");
      if (attrInt(n, "storage_order", 0) != 0) {
        throw error(n, "storage_order 1 is not supported");
      }
      if (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty() && consumers.containsKey(n.getOutput(1))) {
        throw error(n, "its indices output is used; cnnc's maxpool has none");
      }
    } else {
      onlyAttributes(n, "kernel_shape", "strides", "pads", "dilations", "ceil_mode", "auto_pad", "count_include_pad");
    }
    PendingPad pending = values.get(in(n, 0)) instanceof PendingPad pp ? pp : null;
    Layer x = pending != null ? net.layers.get(pending.input()) : layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "cnnc's pooling is 2-D: it needs a [N, C, H, W] input");
    }
    int[] k = attrInts(n, "kernel_shape", 2, 1);
    if (k == null) {
      throw error(n, "has no kernel_shape");
    }
    int[] s = pair(attrInts(n, "strides", 2, 1), 1);
    // cnnc's export of adaptive_avgpool whose windows are one kernel: kernel_shape and strides only, equal
    if (!max && pending == null && n.getAttributeCount() == 2 && attribute(n, "strides") != null && Arrays.equals(k, s)
        && x.shape[1] % k[0] == 0 && x.shape[2] % k[1] == 0) {
      int[] to = {x.shape[1] / k[0], x.shape[2] / k[1]};
      Layer l = layer(n, "adaptive_avgpool");
      l.inputs.add(x.id);
      l.arg("size", size(to)).positional = 1;
      l.shape = new int[] {x.shape[0], to[0], to[1]};
      return;
    }
    int[] d = pair(attrInts(n, "dilations", 2, 1), 1);
    if (!max && (d[0] != 1 || d[1] != 1)) {
      throw error(n, "dilated average pooling is not supported by cnnc");
    }
    int[] p = pads(n, x, k, s, d);
    boolean ceil = attrInt(n, "ceil_mode", 0) != 0;
    boolean include = attrInt(n, "count_include_pad", 0) != 0;
    // torch writes AvgPool2d(padding = p, count_include_pad = True) as a zero Pad, then the pooling
    if (pending != null) {
      if (max || p[0] != 0 || p[1] != 0 || p[2] != 0 || p[3] != 0) {
        throw error(n, "pads a padded input again; not supported");
      }
      p = pending.pads();
      include = true;
    }
    if (p[0] != p[2] || p[1] != p[3]) {
      throw error(n, "asymmetric pads " + Arrays.toString(p) + " are not supported for pooling");
    }
    if (2L * p[0] > k[0] || 2L * p[1] > k[1]) {
      throw error(n, "pads " + Arrays.toString(p) + " are above half the kernel, which PyTorch and cnnc refuse");
    }
    Layer l = layer(n, max ? "maxpool" : "avgpool");
    l.inputs.add(x.id);
    l.arg("kernel", size(k)).positional = 1;
    if (s[0] != k[0] || s[1] != k[1]) {
      l.arg("stride", size(s));
    }
    if (p[0] != 0 || p[1] != 0) {
      l.arg("padding", size(new int[] {p[0], p[1]}));
    }
    if (max && (d[0] != 1 || d[1] != 1)) {
      l.arg("dilation", size(d));
    }
    if (ceil) {
      l.arg("ceil", "true");
    }
    // with no padding the divisor never counts padding: cnnc's default is then the same
    if (!max && !include && (p[0] != 0 || p[1] != 0)) {
      l.arg("count_include_pad", "false");
    }
    int oh = outSize(x.shape[1], k[0], s[0], p[0], d[0], ceil);
    int ow = outSize(x.shape[2], k[1], s[1], p[1], d[1], ceil);
    if (oh < 1 || ow < 1) {
      throw error(n, "the kernel is larger than the padded input " + x.shape[1] + "x" + x.shape[2]);
    }
    l.shape = new int[] {x.shape[0], oh, ow};
  }

  /** A Pad's spatial pads [top, left, bottom, right] when it pads only H and W with zeros, else null. */
  private int[] spatialPads(NodeProto n) throws ImportException {
    String mode = attrString(n, "mode", "constant");
    if (!mode.equals("constant") || n.getInputCount() > 3 && !n.getInput(3).isEmpty()) {
      return null;
    }
    Const c = constIn(n, 2);
    if (c != null && (c.numel() != 1 || (c.floats() != null ? c.floats()[0] : c.ints()[0]) != 0)) {
      return null;
    }
    Const pads = requireConst(n, 1, "the pads");
    if (pads.ints() == null || pads.ints().length != 8) {
      return null;
    }
    long[] q = pads.ints();
    if (q[0] != 0 || q[1] != 0 || q[4] != 0 || q[5] != 0) {
      return null;
    }
    int[] out = new int[4];
    int[] at = {2, 3, 6, 7};
    for (int i = 0; i < 4; i++) {
      if (q[at[i]] < 0 || q[at[i]] > Integer.MAX_VALUE / 4) {
        return null;
      }
      out[i] = (int) q[at[i]];
    }
    return out;
  }

  /** A zero Pad read only by an AveragePool: torch's writing of AvgPool2d(padding, count_include_pad = True). */
  record PendingPad(int input, int[] pads) {}

  private void pad(NodeProto n) throws ImportException {
    onlyAttributes(n, "mode");
    Layer x = layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "pads a " + (x.shape.length + 1) + "-D tensor; cnnc's zeropad pads [N, C, H, W]");
    }
    int[] q = spatialPads(n);
    if (q == null) {
      throw error(n, "cnnc's zeropad pads H and W with zeros only (mode constant, value 0, no negative pads)");
    }
    if (q[0] == 0 && q[1] == 0 && q[2] == 0 && q[3] == 0) {
      alias(n, x.id);
      return;
    }
    List<NodeProto> readers = consumers.getOrDefault(n.getOutput(0), List.of());
    if (readers.size() == 1 && readers.get(0).getOpType().equals("AveragePool") && !graphOutputs.contains(n.getOutput(0))
        && q[0] == q[2] && q[1] == q[3] && readers.get(0).getInput(0).equals(n.getOutput(0))) {
      alias(n, new PendingPad(x.id, q));
      return;
    }
    Layer l = layer(n, "zeropad");
    l.inputs.add(x.id);
    l.arg("padding", "[" + q[1] + ", " + q[3] + ", " + q[0] + ", " + q[2] + "]").positional = 1;
    l.shape = new int[] {x.shape[0], x.shape[1] + q[0] + q[2], x.shape[2] + q[1] + q[3]};
  }

  private void batchnorm(NodeProto n) throws ImportException {
    onlyAttributes(n, "epsilon", "momentum", "training_mode", "spatial");
    if (attrInt(n, "training_mode", 0) != 0) {
      throw error(n, "training_mode 1 is not supported: export the model in eval mode");
    }
    for (int o = 1; o < n.getOutputCount(); o++) {
      if (!n.getOutput(o).isEmpty() && consumers.containsKey(n.getOutput(o))) {
        throw error(n, "its running statistics outputs are used");
      }
    }
    Layer x = layerIn(n, 0);
    int c = x.shape[0];
    String[] keys = {"weight", "bias", "running_mean", "running_var"};
    Map<String, String> names = new LinkedHashMap<>();
    Layer l = layer(n, "batchnorm");
    l.inputs.add(x.id);
    for (int i = 0; i < 4; i++) {
      Const t = requireConst(n, i + 1, keys[i]);
      if (t.dims().length != 1 || t.dims()[0] != c) {
        throw error(n, keys[i] + " has shape " + Arrays.toString(t.dims()) + ", not [" + c + "]");
      }
      l.tensors.put(keys[i], Npz.Array.of(t.dims(), floatsOf(n, t, keys[i])));
      names.put(keys[i], in(n, i + 1));
    }
    float eps = attrFloat(n, "epsilon", 1e-5f);
    float momentum = attrFloat(n, "momentum", 0.9f);
    if (eps < 0 || !(momentum >= 0 && momentum <= 1)) {
      throw error(n, "epsilon " + eps + " or momentum " + momentum + " out of range");
    }
    if (eps != 1e-5f) {
      l.arg("eps", real(eps));
    }
    String m = oneMinus(momentum);
    if (!m.equals("0.1")) {
      l.arg("momentum", m);
    }
    l.shape = x.shape.clone();
    pathFromInitializers(l, n, names);
  }

  /** A float32 as the shortest spec literal that reads back as the same float. */
  static String real(float f) {
    if (!Float.isFinite(f)) {
      throw new IllegalArgumentException("not finite: " + f);
    }
    String s = Float.toString(f).replace('E', 'e');
    if (s.startsWith("-")) {
      return "-" + s.substring(1); // spec arithmetic: unary minus
    }
    return s;
  }

  /** PyTorch's momentum for ONNX's: the shortest decimal d with float(1 - d) equal to {@code m}. */
  static String oneMinus(float m) {
    double exact = 1 - (double) m;
    for (int digits = 1; digits <= 17; digits++) {
      BigDecimal d = new BigDecimal(exact).round(new MathContext(digits));
      if ((float) (1 - d.doubleValue()) == m) {
        String t = d.stripTrailingZeros().toPlainString();
        return t.contains(".") ? t : t + ".0";
      }
    }
    return Double.toString(exact);
  }

  private void lrn(NodeProto n) throws ImportException {
    onlyAttributes(n, "size", "alpha", "beta", "bias");
    Layer x = layerIn(n, 0);
    long size = attrInt(n, "size", -1);
    if (size < 1 || size % 2 == 0 || size > Integer.MAX_VALUE) {
      throw error(n, "size " + size + ": cnnc imports LRN of an odd size (PyTorch's and ONNX's even windows differ)");
    }
    Layer l = layer(n, "lrn");
    l.inputs.add(x.id);
    l.arg("size", Long.toString(size)).positional = 1;
    float alpha = attrFloat(n, "alpha", 1e-4f);
    float beta = attrFloat(n, "beta", 0.75f);
    float bias = attrFloat(n, "bias", 1f);
    if (alpha != 1e-4f) {
      l.arg("alpha", real(alpha));
    }
    if (beta != 0.75f) {
      l.arg("beta", real(beta));
    }
    if (bias != 1f) {
      l.arg("k", real(bias));
    }
    l.shape = x.shape.clone();
  }

  private void gemm(NodeProto n) throws ImportException {
    onlyAttributes(n, "alpha", "beta", "transA", "transB");
    Layer x = layerIn(n, 0);
    if (x.shape.length != 1) {
      throw error(n, "reads a " + (x.shape.length + 1) + "-D value; Gemm multiplies matrices [N, F]");
    }
    if (attrInt(n, "transA", 0) != 0) {
      throw error(n, "transA 1 is not supported: cnnc's dense multiplies the examples [N, F] by the weight");
    }
    float alpha = attrFloat(n, "alpha", 1f);
    float beta = attrFloat(n, "beta", 1f);
    boolean transB = attrInt(n, "transB", 0) != 0;
    Const w = requireConst(n, 1, "the weight");
    float[] wv = floatsOf(n, w, "the weight");
    if (w.dims().length != 2 || w.dims()[transB ? 1 : 0] != x.shape[0]) {
      throw error(n, "weight " + Arrays.toString(w.dims()) + " does not fit " + x.shape[0] + " input features");
    }
    Const b = constIn(n, 2);
    if (b != null) {
      int out = (int) w.dims()[transB ? 0 : 1];
      float[] bv = floatsOf(n, b, "the bias");
      long[] bd = b.dims();
      // C broadcasts to [N, out]: one value, [out] or [1, out] is a bias per feature; anything else varies by example
      boolean perFeature = bd.length == 0 || bd.length == 1 && (bd[0] == out || bd[0] == 1)
          || bd.length == 2 && bd[0] == 1 && (bd[1] == out || bd[1] == 1);
      if (!perFeature) {
        throw error(n, "the bias has shape " + Arrays.toString(bd) + "; cnnc's dense adds one bias per output feature ([" + out
            + "] or broadcast to it), not one per example");
      }
      float[] full = new float[out];
      for (int i = 0; i < out; i++) {
        full[i] = beta * bv[bv.length == 1 ? 0 : i];
      }
      b = new Const(new long[] {out}, full, null);
    }
    if (alpha != 1f) {
      float[] scaled = new float[wv.length];
      for (int i = 0; i < wv.length; i++) {
        scaled[i] = alpha * wv[i];
      }
      wv = scaled;
    }
    denseLayer(n, x, w, wv, transB, b, in(n, 1), in(n, 2));
  }

  private void denseLayer(NodeProto n, Layer x, Const w, float[] wv, boolean outIn, Const b, String wName, String bName)
      throws ImportException {
    int out = (int) w.dims()[outIn ? 0 : 1];
    int in = x.shape[0];
    if (out < 1) {
      throw error(n, "has no output features");
    }
    float[] weight = outIn ? wv : transpose(wv, in, out);
    float[] bias = null;
    if (b != null) {
      bias = floatsOf(n, b, "the bias");
      if (bias.length != out || b.dims().length > 2) {
        throw error(n, "the bias has shape " + Arrays.toString(b.dims()) + ", not [" + out + "]");
      }
    }
    Layer l = layer(n, "dense");
    l.inputs.add(x.id);
    l.arg("out", Integer.toString(out)).positional = 1;
    if (bias == null) {
      l.arg("bias", "false");
    }
    l.shape = new int[] {out};
    Map<String, String> names = new LinkedHashMap<>();
    l.tensors.put("weight", Npz.Array.of(new long[] {out, in}, weight));
    names.put("weight", wName);
    if (bias != null) {
      l.tensors.put("bias", Npz.Array.of(new long[] {out}, bias));
      names.put("bias", bName);
    }
    if (outIn) {
      pathFromInitializers(l, n, names);
    }
  }

  static float[] transpose(float[] v, int rows, int cols) {
    float[] t = new float[v.length];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        t[c * rows + r] = v[r * cols + c];
      }
    }
    return t;
  }

  private void matmul(NodeProto n) throws ImportException {
    onlyAttributes(n);
    if (values.get(in(n, 0)) instanceof PendingAdaptive p && p.matrix() == null) {
      Layer x = net.layers.get(p.input());
      Const m = requireConst(n, 1, "the matrix");
      floatsOf(n, m, "the matrix");
      if (m.dims().length != 2 || m.dims()[0] != (long) x.shape[1] * x.shape[2] || m.dims()[1] < 1) {
        throw error(n, "matrix " + Arrays.toString(m.dims()) + " does not fit " + x.shape[1] + "x" + x.shape[2]
            + " values per channel; cnnc imports MatMul of a [N, C, H*W] value only as adaptive average pooling");
      }
      alias(n, new PendingAdaptive(p.input(), n, m));
      return;
    }
    if (layerNorm(n)) {
      return;
    }
    Layer x = layerIn(n, 0);
    Const w = requireConst(n, 1, "the weight");
    float[] wv = floatsOf(n, w, "the weight");
    int features = x.shape[x.shape.length - 1];
    if (w.dims().length != 2) {
      throw error(n, "multiplies by a " + w.dims().length + "-D constant " + Arrays.toString(w.dims())
          + "; cnnc imports MatMul by a 2-D weight [in, out] (dense, or linear on the last dim), not a batched product");
    }
    if (w.dims()[0] != features || w.dims()[1] < 1 || w.dims()[1] > Integer.MAX_VALUE) {
      throw error(n, "weight " + Arrays.toString(w.dims()) + " does not fit " + features + " input features");
    }
    // MatMul then Add of a constant [out]: a dense with bias
    List<NodeProto> readers = consumers.getOrDefault(n.getOutput(0), List.of());
    Const b = null;
    String bName = "";
    NodeProto addNode = null;
    if (readers.size() == 1 && readers.get(0).getOpType().equals("Add") && !graphOutputs.contains(n.getOutput(0))) {
      NodeProto a = readers.get(0);
      int other = a.getInput(0).equals(n.getOutput(0)) ? 1 : 0;
      Object v = values.get(a.getInput(other));
      if (a.getInputCount() == 2 && (v instanceof TensorProto || v instanceof Const)) {
        b = constIn(a, other);
        bName = a.getInput(other);
        addNode = a;
      }
    }
    if (x.shape.length == 1) {
      denseLayer(n, x, w, wv, false, b, in(n, 1), bName);
    } else {
      linear(n, x, w, wv, b, bName);
    }
    if (addNode != null) {
      absorbed.add(addNode);
      values.put(addNode.getOutput(0), values.get(n.getOutput(0)));
    }
  }

  private void clip(NodeProto n) throws ImportException {
    onlyAttributes(n, "min", "max");
    Layer x = layerIn(n, 0);
    float lo = n.getInputCount() > 1 && !in(n, 1).isEmpty() ? scalarIn(n, 1, "min") : attrFloat(n, "min", Float.NEGATIVE_INFINITY);
    float hi = n.getInputCount() > 2 && !in(n, 2).isEmpty() ? scalarIn(n, 2, "max") : attrFloat(n, "max", Float.POSITIVE_INFINITY);
    String op = lo == 0 && hi == 6 ? "relu6" : lo == 0 && hi == Float.POSITIVE_INFINITY ? "relu" : null;
    if (op == null) {
      throw error(n, "clips to [" + lo + ", " + hi + "]; cnnc has Clip(0, 6) as relu6 and Clip(0, inf) as relu");
    }
    Layer l = layer(n, op);
    l.inputs.add(x.id);
    l.shape = x.shape.clone();
  }

  private void hardsigmoid(NodeProto n) throws ImportException {
    onlyAttributes(n, "alpha", "beta");
    if (attrFloat(n, "alpha", 0.2f) != (float) (1.0 / 6) || attrFloat(n, "beta", 0.5f) != 0.5f) {
      throw error(n, "alpha " + attrFloat(n, "alpha", 0.2f) + " and beta " + attrFloat(n, "beta", 0.5f)
          + ": cnnc's hardsigmoid is PyTorch's (alpha 1/6, beta 0.5)");
    }
    simpleNoCheck(n, "hardsigmoid");
  }

  private void leaky(NodeProto n) throws ImportException {
    onlyAttributes(n, "alpha");
    float a = attrFloat(n, "alpha", 0.01f);
    Layer l = simpleNoCheck(n, "leaky_relu");
    if (a != 0.01f) {
      l.arg("slope", real(a)).positional = 1;
    }
  }

  private Layer simpleNoCheck(NodeProto n, String op) throws ImportException {
    Layer x = layerIn(n, 0);
    Layer l = layer(n, op);
    l.inputs.add(x.id);
    l.shape = x.shape.clone();
    return l;
  }

  private void gelu(NodeProto n) throws ImportException {
    onlyAttributes(n, "approximate");
    if (!attrString(n, "approximate", "none").equals("none")) {
      throw error(n, "approximate `" + show(attrString(n, "approximate", "none")) + "`: cnnc's gelu is the exact one");
    }
    simpleNoCheck(n, "gelu");
  }

  private void softmax(NodeProto n) throws ImportException {
    onlyAttributes(n, "axis");
    Layer x = layerIn(n, 0);
    int rank = x.shape.length + 1;
    long axis = attrInt(n, "axis", -1);
    if (axis < 0) {
      axis += rank;
    }
    if (axis != 1) {
      throw error(n, "softmax over axis " + attrInt(n, "axis", -1) + " of a " + rank
          + "-D value; cnnc's softmax is over channels (axis 1)");
    }
    simpleNoCheck(n, "softmax");
  }

  private void dropout(NodeProto n) throws ImportException {
    onlyAttributes(n, "seed");
    if (n.getOutputCount() > 1 && !n.getOutput(1).isEmpty() && consumers.containsKey(n.getOutput(1))) {
      throw error(n, "its mask output is used");
    }
    if (n.getInputCount() > 2 && !in(n, 2).isEmpty()) {
      Const t = requireConst(n, 2, "training_mode");
      if (t.numel() != 1 || (t.ints() != null ? t.ints()[0] : (long) t.floats()[0]) != 0) {
        throw error(n, "training_mode must be false");
      }
    }
    float p = n.getInputCount() > 1 && !in(n, 1).isEmpty() ? scalarIn(n, 1, "ratio") : 0.5f;
    if (!(p >= 0 && p <= 1)) {
      throw error(n, "ratio " + p + " is not a probability");
    }
    Layer l = simpleNoCheck(n, "dropout");
    if (p != 0.5f) {
      l.arg("p", real(p)).positional = 1;
    }
  }

  private void add(NodeProto n) throws ImportException {
    if (n.getOpType().equals("Add") && arithmetic(n, Math::addExact)) {
      return;
    }
    onlyAttributes(n);
    if (n.getInputCount() < 1) {
      throw error(n, "has no input");
    }
    for (int i = 0; i < n.getInputCount(); i++) {
      if (!isLayer(n, i)) {
        throw error(n, "adds a constant (`" + show(in(n, i)) + "`); cnnc's add sums branches of the network");
      }
    }
    Layer first = layerIn(n, 0);
    if (n.getInputCount() == 1) {
      alias(n, first.id);
      return;
    }
    Layer l = layer(n, "add");
    for (int i = 0; i < n.getInputCount(); i++) {
      Layer x = layerIn(n, i);
      if (!Arrays.equals(x.shape, first.shape)) {
        throw error(n, "adds shapes " + Arrays.toString(first.shape) + " and " + Arrays.toString(x.shape)
            + "; cnnc's add needs equal shapes (no broadcasting)");
      }
      l.inputs.add(x.id);
    }
    l.shape = first.shape.clone();
  }

  private final Map<String, NodeProto> producers = new HashMap<>();

  private NodeProto producerOf(String value) {
    if (producers.isEmpty()) {
      for (NodeProto n : graph.getNodeList()) {
        for (String o : n.getOutputList()) {
          producers.put(o, n);
        }
      }
    }
    return producers.get(value);
  }

  private boolean onlyReader(String value, NodeProto reader) {
    List<NodeProto> r = consumers.getOrDefault(value, List.of());
    return r.size() == 1 && r.get(0) == reader && !graphOutputs.contains(value);
  }

  /**
   * Mul: x * Sigmoid(x) is silu; x * (Erf(x / sqrt 2) + 1) * 0.5 is gelu (torch's and cnnc's
   * writing before opset 20). The Sigmoid, Div, Erf, Add and inner Mul are read as part of it.
   */
  private void mul(NodeProto n) throws ImportException {
    onlyAttributes(n);
    if (arithmetic(n, Math::multiplyExact)) {
      return;
    }
    if (n.getInputCount() != 2) {
      throw error(n, "needs two inputs");
    }
    for (int side = 0; side < 2; side++) {
      NodeProto sig = producerOf(in(n, 1 - side));
      if (sig != null && sig.getOpType().equals("Sigmoid") && deferred.contains(in(n, 1 - side))
          && sig.getInput(0).equals(in(n, side))) {
        simpleNoCheck(n, "silu");
        return;
      }
    }
    // gelu: Mul(Mul(x, Add(Erf(Div(x, c)), 1)), 0.5) with c = sqrt 2
    for (int side = 0; side < 2; side++) {
      NodeProto inner = producerOf(in(n, side));
      Object half = values.get(in(n, 1 - side));
      if (inner == null || !inner.getOpType().equals("Mul") || !(half instanceof TensorProto || half instanceof Const)
          || !onlyReader(in(n, side), n)) {
        continue;
      }
      if (scalarIn(n, 1 - side, "the factor") != 0.5f) {
        continue;
      }
      Layer g = geluOf(inner);
      if (g != null) {
        values.put(n.getOutput(0), g.id);
        g.hint = null;
        OnnxReader.pathFromNode(g, n.getName());
        return;
      }
    }
    if (scale(n)) {
      return;
    }
    product(n);
  }

  /** The inner Muls of cnnc's export of a mul of three or more branches: their branches, read with the last Mul. */
  record PendingMul(List<Integer> branches) {}

  /**
   * Mul of branches of the network: cnnc's mul, broadcasting ([C, H, W] by [C, 1, 1] in a
   * squeeze-and-excitation). cnnc's export writes a mul of k branches as k - 1 Muls, each inner one
   * named after the last ({@code se/Mul}) and read only by the next: they make one mul again.
   */
  private void product(NodeProto n) throws ImportException {
    List<Integer> ids = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      Object v = values.get(in(n, i));
      if (i == 0 && v instanceof PendingMul pm) {
        ids.addAll(pm.branches());
      } else if (v instanceof Integer id) {
        ids.add(id);
      } else {
        throw error(n, "multiplies by a constant (`" + show(in(n, i)) + "`); cnnc imports Mul as x * sigmoid(x) (silu), "
            + "within x * (erf(x / sqrt 2) + 1) * 0.5 (gelu), or as mul of branches of the network");
      }
    }
    List<NodeProto> r = consumers.getOrDefault(n.getOutput(0), List.of());
    if (r.size() == 1 && onlyReader(n.getOutput(0), r.get(0)) && r.get(0).getOpType().equals("Mul")
        && r.get(0).getInputCount() == 2 && !r.get(0).getName().isEmpty() && r.get(0).getInput(0).equals(n.getOutput(0))
        && !r.get(0).getInput(1).equals(n.getOutput(0)) && n.getName().startsWith(r.get(0).getName() + "/Mul")) {
      alias(n, new PendingMul(ids));
      return;
    }
    int[] dims = net.layers.get(ids.get(0)).shape.clone();
    for (int j = 1; j < ids.size(); j++) {
      int[] s = net.layers.get(ids.get(j)).shape;
      if (s.length != dims.length) {
        throw error(n, "multiplies shapes " + Arrays.toString(dims) + " and " + Arrays.toString(s)
            + " of different ranks; cnnc's mul broadcasts branches of one rank");
      }
      for (int d = 0; d < dims.length; d++) {
        if (s[d] != dims[d] && s[d] != 1 && dims[d] != 1) {
          throw error(n, "multiplies shapes " + Arrays.toString(dims) + " and " + Arrays.toString(s)
              + "; cnnc's mul needs each size equal, or 1 in a branch");
        }
        dims[d] = Math.max(dims[d], s[d]);
      }
    }
    Layer l = layer(n, "mul");
    l.inputs.addAll(ids);
    l.shape = dims;
  }

  /** Slice of one equal part of the channels (cnnc's export of chunk, torch's of {@code x[:, a:b]}): chunk. */
  private void slice(NodeProto n) throws ImportException {
    onlyAttributes(n);
    if (!isLayer(n, 0)) {
      sliceInts(n);
      return;
    }
    Layer x = layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "slices a " + (x.shape.length + 1) + "-D value; cnnc's chunk slices the channels of [N, C, H, W]");
    }
    Ints starts = ints(n, 1);
    Ints ends = ints(n, 2);
    Ints axes = n.getInputCount() > 3 && !in(n, 3).isEmpty() ? ints(n, 3) : null;
    Ints steps = n.getInputCount() > 4 && !in(n, 4).isEmpty() ? ints(n, 4) : null;
    if (starts.v().size() != 1 || ends.v().size() != 1 || starts.v().get(0) == null || ends.v().get(0) == null
        || axes == null || axes.v().size() != 1 || !(Long.valueOf(1).equals(axes.v().get(0)) || Long.valueOf(-3).equals(axes.v().get(0)))
        || steps != null && (steps.v().size() != 1 || !Long.valueOf(1).equals(steps.v().get(0)))) {
      throw error(n, "cnnc imports Slice only as one slice of the channels (axis 1, step 1), its chunk");
    }
    long c = x.shape[0];
    long s = starts.v().get(0);
    long e = ends.v().get(0);
    s = Math.max(0, Math.min(c, s < 0 ? s + c : s));
    e = Math.max(0, Math.min(c, e < 0 ? e + c : e));
    long size = e - s;
    if (size < 1 || c % size != 0 || s % size != 0) {
      throw error(n, "slices channels " + s + " to " + e + " of " + c + "; cnnc's chunk is one of equal slices "
          + "(a size dividing the channels, starting at a multiple of it)");
    }
    Layer l = layer(n, "chunk");
    l.inputs.add(x.id);
    l.arg("chunks", Long.toString(c / size)).arg("index", Long.toString(s / size));
    l.positional = 2;
    l.shape = new int[] {(int) size, x.shape[1], x.shape[2]};
  }

  /**
   * Split of the channels into equal parts, each output a chunk: opset 18's {@code num_outputs}, or
   * the {@code split} input (an attribute before opset 13) of equal sizes, or neither (equal parts).
   */
  private void split(NodeProto n) throws ImportException {
    onlyAttributes(n, "axis", "num_outputs", "split");
    Layer x = layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "splits a " + (x.shape.length + 1) + "-D value; cnnc's chunk splits the channels of [N, C, H, W]");
    }
    long axis = attrInt(n, "axis", 0);
    if (axis != 1 && axis != -3) {
      throw error(n, "splits axis " + axis + "; cnnc imports Split only of the channels (axis 1), as chunks");
    }
    long c = x.shape[0];
    int parts = n.getOutputCount();
    AttributeProto num = attribute(n, "num_outputs");
    boolean bySizes = n.getInputCount() > 1 && !in(n, 1).isEmpty() || attribute(n, "split") != null;
    if (parts < 1 || parts > c || num != null && (bySizes || num.getType() != AttributeProto.AttributeType.INT
        || num.getI() != parts)) {
      throw error(n, "has " + parts + " outputs" + (num == null ? "" : " and num_outputs " + num.getI())
          + "; cnnc imports a Split into 1 to " + c + " parts, num_outputs being their number (and no `split` with it)");
    }
    List<Long> sizes;
    AttributeProto a = attribute(n, "split");
    if (a != null) {
      if (a.getType() != AttributeProto.AttributeType.INTS || n.getInputCount() > 1 && !in(n, 1).isEmpty()) {
        throw error(n, "attribute `split` must be integers, and not given as an input too");
      }
      sizes = a.getIntsList();
    } else {
      sizes = bySizes ? ints(n, 1).v() : null;
    }
    long size = c / parts;
    if (c % parts != 0 || sizes != null && (sizes.size() != parts || sizes.stream().anyMatch(v -> v == null || v != size))) {
      throw error(n, "splits " + c + " channels into " + (sizes == null ? parts + " parts" : "parts " + sizes.toString()
          .replace("null", "?")) + "; cnnc's chunk makes equal parts");
    }
    for (int k = 0; k < parts; k++) {
      if (n.getOutput(k).isEmpty()) {
        continue; // an output left out
      }
      Layer l = new Layer("chunk", n.getName(), n.getOpType());
      pathFromNode(l, n.getName());
      net.add(l);
      values.put(n.getOutput(k), l.id);
      l.inputs.add(x.id);
      l.arg("chunks", Integer.toString(parts)).arg("index", Integer.toString(k));
      l.positional = 2;
      l.shape = new int[] {(int) size, x.shape[1], x.shape[2]};
    }
  }

  /** The first Reshape (then the Transpose) of a channel shuffle, read with the last Reshape. */
  record PendingShuffle(int input, int groups, boolean transposed) {}

  /** The first Reshape (then the MatMul) of an adaptive average pool written as a matrix, read with the last Reshape. */
  record PendingAdaptive(int input, NodeProto matmul, Const matrix) {}

  private void transpose(NodeProto n) throws ImportException {
    onlyAttributes(n, "perm");
    AttributeProto perm = attribute(n, "perm");
    if (values.get(in(n, 0)) instanceof PendingShuffle p && !p.transposed() && perm != null
        && perm.getIntsList().equals(List.of(0L, 2L, 1L, 3L, 4L))) {
      alias(n, new PendingShuffle(p.input(), p.groups(), true));
      return;
    }
    Object v = values.get(in(n, 0));
    if (v instanceof TensorProto || v instanceof Const) {
      alias(n, transposed(n, requireConst(n, 0, "the tensor"), perm));
      return;
    }
    Layer x = layerIn(n, 0);
    int rank = x.shape.length + 1;
    long[] p = perm == null ? null : perm.getIntsList().stream().mapToLong(Long::longValue).toArray();
    if (rank != 4 || p == null || p.length != 4 || p[0] != 0 || !isPermutation(p)) {
      throw error(n, "perm " + (p == null ? "(reversed)" : Arrays.toString(p)) + " of a " + rank + "-D value: cnnc imports "
          + "Transpose as permute of a map ([N, C, H, W] or channels-last [N, H, W, C], the batch kept first), and "
          + "within a channel shuffle (Reshape to [N, g, C/g, H, W], Transpose perm [0, 2, 1, 3, 4], Reshape back)");
    }
    if (Arrays.equals(p, new long[] {0, 2, 3, 1}) && layerNorm2d(n, x)) {
      return;
    }
    Layer l = layer(n, "permute");
    l.inputs.add(x.id);
    l.arg("dims", Arrays.toString(p)).positional = 1;
    l.shape = new int[] {x.shape[(int) p[1] - 1], x.shape[(int) p[2] - 1], x.shape[(int) p[3] - 1]};
  }

  private static boolean isPermutation(long[] p) {
    boolean[] seen = new boolean[p.length];
    for (long v : p) {
      if (v < 0 || v >= p.length || seen[(int) v]) {
        return false;
      }
      seen[(int) v] = true;
    }
    return true;
  }

  /** A constant transposed (cnnc's export transposes a linear's weight [out, in] to [in, out] for MatMul). */
  private Const transposed(NodeProto n, Const c, AttributeProto perm) throws ImportException {
    int rank = c.dims().length;
    long[] p = new long[rank];
    for (int i = 0; i < rank; i++) {
      p[i] = perm == null ? rank - 1 - i : i < perm.getIntsCount() ? perm.getInts(i) : -1;
    }
    if (perm != null && perm.getIntsCount() != rank || !isPermutation(p)) {
      throw error(n, "perm " + (perm == null ? "" : perm.getIntsList()) + " is no permutation of the "
          + rank + " axes of its constant input");
    }
    long[] dims = new long[rank];
    for (int i = 0; i < rank; i++) {
      dims[i] = c.dims()[(int) p[i]];
    }
    // strides of the input; walk the output in order
    long[] stride = new long[rank];
    long s = 1;
    for (int i = rank - 1; i >= 0; i--) {
      stride[i] = s;
      s *= c.dims()[i];
    }
    int total = (int) c.numel();
    float[] f = c.floats() == null ? null : new float[total];
    long[] k = c.ints() == null ? null : new long[total];
    int[] index = new int[rank];
    for (int o = 0; o < total; o++) {
      long src = 0;
      for (int i = 0; i < rank; i++) {
        src += index[i] * stride[(int) p[i]];
      }
      if (f != null) {
        f[o] = c.floats()[(int) src];
      } else {
        k[o] = c.ints()[(int) src];
      }
      for (int i = rank - 1; i >= 0 && ++index[i] == dims[i]; i--) {
        index[i] = 0;
      }
    }
    return new Const(dims, f, k);
  }

  // ---- ConvNeXt's ops: layer norms, linear on the last axis, a free scale --------------------------

  /** A layer norm over the last axis found in the graph: its nodes (the first reads x), output, epsilon and affine tensors. */
  private record LayerNormMatch(List<NodeProto> nodes, String out, float eps, float[] weight, float[] bias,
      String weightName, String biasName) {}

  /** The only reader of {@code value}, when it is of {@code opType} and the value is no graph output; else null. */
  private NodeProto soleReader(String value, String opType) {
    List<NodeProto> r = consumers.getOrDefault(value, List.of());
    return r.size() == 1 && !graphOutputs.contains(value) && r.get(0).getOpType().equals(opType) ? r.get(0) : null;
  }

  private boolean isConstant(NodeProto n, int i) {
    Object v = values.get(in(n, i));
    return v instanceof TensorProto || v instanceof Const;
  }

  /** A float vector of {@code d} values (any leading ones in its dims), else null. */
  private float[] vectorIn(NodeProto n, int i, int d) throws ImportException {
    if (!isConstant(n, i)) {
      return null;
    }
    Const c = constIn(n, i);
    long[] dims = c.dims();
    if (c.floats() == null || dims.length == 0 || dims[dims.length - 1] != d || c.numel() != d) {
      return null;
    }
    return c.floats();
  }

  /** Whether {@code n} is the mean of {@code v} over its last axis (of size d, rank r): ReduceMean, or MatMul by a column of 1/d. */
  private boolean meanOverLast(NodeProto n, String v, int d, int r) throws ImportException {
    if (n.getInputCount() < 1 || !in(n, 0).equals(v)) {
      return false;
    }
    if (n.getOpType().equals("ReduceMean")) {
      AttributeProto a = attribute(n, "axes");
      List<Long> axes = a != null ? a.getIntsList() : n.getInputCount() > 1 && isConstant(n, 1) ? ints(n, 1).v() : List.of();
      return axes.size() == 1 && axes.get(0) != null && (axes.get(0) == -1 || axes.get(0) == r - 1)
          && attrInt(n, "keepdims", 1) == 1;
    }
    if (n.getOpType().equals("MatMul") && n.getInputCount() == 2 && isConstant(n, 1)) {
      Const c = constIn(n, 1);
      if (c.floats() == null || c.dims().length != 2 || c.dims()[0] != d || c.dims()[1] != 1) {
        return false;
      }
      for (float f : c.floats()) {
        if (f != 1f / d) {
          return false;
        }
      }
      return true;
    }
    return false;
  }

  /**
   * The layer norm over the last axis that starts at {@code first}: ONNX's LayerNormalization
   * (opset 17), or written out as torch.onnx (ReduceMean, Pow) and cnnc (MatMul by a column of
   * 1/d, Mul) write it before 17: {@code c = x - mean(x)}; {@code c / sqrt(mean(c^2) + eps)},
   * times the weight, plus the bias. Null when the nodes are not exactly that.
   */
  private LayerNormMatch layerNormAt(NodeProto first, int[] shape) throws ImportException {
    int d = shape[shape.length - 1];
    int r = shape.length + 1;
    String x = in(first, 0);
    if (first.getOpType().equals("LayerNormalization")) {
      long axis = attrInt(first, "axis", -1);
      float[] w = vectorIn(first, 1, d);
      float[] b = first.getInputCount() > 2 && !in(first, 2).isEmpty() ? vectorIn(first, 2, d) : new float[d];
      boolean more = false;
      for (int o = 1; o < first.getOutputCount(); o++) {
        more |= !first.getOutput(o).isEmpty() && (consumers.containsKey(first.getOutput(o)) || graphOutputs.contains(first.getOutput(o)));
      }
      if (axis != -1 && axis != r - 1 || w == null || b == null || more) {
        return null;
      }
      return new LayerNormMatch(List.of(first), first.getOutput(0), attrFloat(first, "epsilon", 1e-5f), w, b, in(first, 1),
          first.getInputCount() > 2 ? in(first, 2) : "");
    }
    if (!meanOverLast(first, x, d, r)) {
      return null;
    }
    NodeProto sub = soleReader(first.getOutput(0), "Sub");
    if (sub == null || sub.getInputCount() != 2 || !in(sub, 0).equals(x) || !in(sub, 1).equals(first.getOutput(0))) {
      return null;
    }
    String c = sub.getOutput(0);
    List<NodeProto> rc = consumers.getOrDefault(c, List.of());
    if (rc.size() != 2 || graphOutputs.contains(c)) {
      return null;
    }
    NodeProto square = null;
    NodeProto div = null;
    for (NodeProto n : rc) {
      boolean two = n.getInputCount() == 2 && in(n, 0).equals(c);
      if (two && n.getOpType().equals("Div") && !in(n, 1).equals(c)) {
        div = n;
      } else if (two && n.getOpType().equals("Mul") && in(n, 1).equals(c)
          || two && n.getOpType().equals("Pow") && isConstant(n, 1) && constIn(n, 1).numel() == 1 && scalarIn(n, 1, "the exponent") == 2f) {
        square = n;
      }
    }
    if (square == null || div == null) {
      return null;
    }
    List<NodeProto> rs = consumers.getOrDefault(square.getOutput(0), List.of());
    NodeProto var = rs.size() == 1 && !graphOutputs.contains(square.getOutput(0)) ? rs.get(0) : null;
    if (var == null || !meanOverLast(var, square.getOutput(0), d, r)) {
      return null;
    }
    NodeProto add = soleReader(var.getOutput(0), "Add");
    int side = add == null ? 0 : in(add, 0).equals(var.getOutput(0)) ? 1 : 0;
    if (add == null || add.getInputCount() != 2 || !isConstant(add, side) || constIn(add, side).numel() != 1) {
      return null;
    }
    float eps = scalarIn(add, side, "epsilon");
    NodeProto sqrt = soleReader(add.getOutput(0), "Sqrt");
    if (sqrt == null || !in(div, 1).equals(sqrt.getOutput(0)) || !onlyReader(sqrt.getOutput(0), div)) {
      return null;
    }
    NodeProto mul = soleReader(div.getOutput(0), "Mul");
    int ws = mul == null ? 0 : in(mul, 0).equals(div.getOutput(0)) ? 1 : 0;
    float[] w = mul == null || mul.getInputCount() != 2 ? null : vectorIn(mul, ws, d);
    NodeProto plus = w == null ? null : soleReader(mul.getOutput(0), "Add");
    int bs = plus == null ? 0 : in(plus, 0).equals(mul.getOutput(0)) ? 1 : 0;
    float[] b = plus == null || plus.getInputCount() != 2 ? null : vectorIn(plus, bs, d);
    if (b == null || !(eps >= 0)) {
      return null;
    }
    return new LayerNormMatch(List.of(first, sub, square, var, add, sqrt, div, mul, plus), plus.getOutput(0), eps, w, b,
        in(mul, ws), in(plus, bs));
  }

  /** Reads the layer norm starting at {@code n} (LayerNormalization, or its mean) as layernorm; false when it is none. */
  private boolean layerNorm(NodeProto n) throws ImportException {
    if (!isLayer(n, 0)) {
      return false;
    }
    Layer x = layerIn(n, 0);
    LayerNormMatch m = layerNormAt(n, x.shape);
    if (m == null) {
      return false;
    }
    NodeProto last = m.nodes().get(m.nodes().size() - 1);
    normLayer("layernorm", last, x, m, m.out(), x.shape[x.shape.length - 1]);
    return true;
  }

  /**
   * torchvision's LayerNorm2d as torch.onnx and cnnc write it: Transpose to channels-last, a layer
   * norm over the last axis, Transpose back; nothing else reads the values between.
   */
  private boolean layerNorm2d(NodeProto n, Layer x) throws ImportException {
    String t = n.getOutput(0);
    List<NodeProto> readers = consumers.getOrDefault(t, List.of());
    if (graphOutputs.contains(t) || readers.isEmpty() || readers.size() > 2) {
      return false;
    }
    int[] last = {x.shape[1], x.shape[2], x.shape[0]};
    LayerNormMatch m = null;
    for (NodeProto r : readers) {
      m = m != null ? m : layerNormAt(r, last);
    }
    if (m == null || !m.nodes().containsAll(readers)) {
      return false;
    }
    NodeProto back = soleReader(m.out(), "Transpose");
    AttributeProto perm = back == null ? null : attribute(back, "perm");
    if (perm == null || !perm.getIntsList().equals(List.of(0L, 3L, 1L, 2L))) {
      return false;
    }
    absorbed.add(back);
    normLayer("layernorm2d", back, x, m, back.getOutput(0), x.shape[0]);
    return true;
  }

  private void normLayer(String op, NodeProto named, Layer x, LayerNormMatch m, String out, int d) {
    Layer l = new Layer(op, named.getName(), named.getOpType());
    pathFromNode(l, named.getName());
    net.add(l);
    values.put(out, l.id);
    l.inputs.add(x.id);
    l.shape = x.shape.clone();
    if (m.eps() != 1e-5f) {
      l.arg("eps", real(m.eps()));
    }
    l.tensors.put("weight", Npz.Array.of(new long[] {d}, m.weight()));
    l.tensors.put("bias", Npz.Array.of(new long[] {d}, m.bias()));
    if (!m.biasName().isEmpty()) {
      pathFromInitializers(l, named, Map.of("weight", m.weightName(), "bias", m.biasName()));
    }
    absorbed.addAll(m.nodes());
  }

  /**
   * {@code nn.Linear} on the last axis of a value of rank 3 or more: MatMul by a constant [in,
   * out] (torch.onnx's transposed weight, or cnnc's Transpose of [out, in]), then Add of [out].
   */
  private void linear(NodeProto n, Layer x, Const w, float[] wv, Const b, String bName) throws ImportException {
    int in = x.shape[x.shape.length - 1];
    int out = (int) w.dims()[1];
    float[] bias = b == null ? null : floatsOf(n, b, "the bias");
    if (bias != null && bias.length != out) {
      throw error(n, "the bias has shape " + Arrays.toString(b.dims()) + ", not [" + out + "]");
    }
    Layer l = layer(n, "linear");
    l.inputs.add(x.id);
    l.arg("out", Integer.toString(out)).positional = 1;
    if (bias == null) {
      l.arg("bias", "false");
    }
    l.shape = x.shape.clone();
    l.shape[l.shape.length - 1] = out;
    l.tensors.put("weight", Npz.Array.of(new long[] {out, in}, transpose(wv, in, out)));
    if (bias != null) {
      l.tensors.put("bias", Npz.Array.of(new long[] {out}, bias));
      pathFromInitializers(l, n, Map.of("bias", bName));
    }
  }

  /**
   * Mul of a value by a trainable tensor (an initializer: ConvNeXt's {@code layer_scale}): scale,
   * its state_dict key the initializer's name, its shape the tensor's without a leading batch 1.
   */
  private boolean scale(NodeProto n) throws ImportException {
    for (int side = 0; side < 2; side++) {
      String p = in(n, 1 - side);
      if (!isLayer(n, side) || !initializers.containsKey(p)) {
        continue;
      }
      Layer x = layerIn(n, side);
      Const c = constIn(n, 1 - side);
      long[] dims = c.dims();
      int lead = dims.length == x.shape.length + 1 && dims[0] == 1 ? 1 : 0;
      boolean fits = c.floats() != null && dims.length - lead >= 1 && dims.length - lead <= x.shape.length;
      for (int i = lead; fits && i < dims.length; i++) {
        int against = x.shape[x.shape.length - (dims.length - i)];
        fits = dims[i] == against || dims[i] == 1;
      }
      if (!fits) {
        throw error(n, "multiplies " + Arrays.toString(x.shape) + " by the tensor `" + show(p) + "` of shape "
            + Arrays.toString(dims) + "; cnnc's scale broadcasts a float tensor whose sizes are the value's or 1, "
            + "from the last dim");
      }
      long[] own = Arrays.copyOfRange(dims, lead, dims.length);
      Layer l = layer(n, "scale");
      l.inputs.add(x.id);
      l.arg("shape", Arrays.toString(own)).positional = 1;
      l.shape = x.shape.clone();
      l.tensors.put("", Npz.Array.of(own, c.floats()));
      if (!p.isEmpty() && !p.startsWith(".") && !p.endsWith(".") && !p.contains("..") && !p.contains("/") && !p.contains(":")) {
        l.path = new ArrayList<>(Arrays.asList(p.split("\\.", -1)));
        l.fromInitializers = true;
      }
      return true;
    }
    return false;
  }

  /** A reshape target's batch entry: the batch (shape arithmetic), 0 (copied) or -1 (inferred). */
  private boolean batchEntry(NodeProto n, Long v) throws ImportException {
    return v == null || v == -1 || v == 0 && attrInt(n, "allowzero", 0) == 0;
  }

  private static boolean sizes(List<Long> t, long... want) {
    for (int i = 0; i < want.length; i++) {
      if (t.get(i + 1) == null || t.get(i + 1) != want[i]) {
        return false;
      }
    }
    return true;
  }

  private NodeProto onlyConsumer(String value, String opType) {
    List<NodeProto> r = consumers.getOrDefault(value, List.of());
    if (r.size() == 1 && onlyReader(value, r.get(0)) && r.get(0).getOpType().equals(opType)
        && r.get(0).getInputCount() > 0 && r.get(0).getInput(0).equals(value)) {
      return r.get(0);
    }
    return null;
  }

  /** Reshapes of a channel shuffle or an adaptive pool: true when {@code n} is one (and was read). */
  private boolean patternReshape(NodeProto n, List<Long> t) throws ImportException {
    Object v = values.get(in(n, 0));
    if (v instanceof PendingShuffle p) {
      Layer x = net.layers.get(p.input());
      // the channels may be inferred (-1), as torch's view(b, -1, h, w) writes them
      boolean back = t.size() == 4 && (sizes(t, x.shape[0], x.shape[1], x.shape[2])
          || t.get(1) != null && t.get(1) == -1 && t.get(2) != null && t.get(2) == x.shape[1] && t.get(3) != null
          && t.get(3) == x.shape[2]);
      if (!p.transposed() || !back || !batchEntry(n, t.get(0))) {
        throw error(n, "does not end a channel shuffle: it should reshape back to [N, " + x.shape[0] + ", " + x.shape[1]
            + ", " + x.shape[2] + "]");
      }
      Layer l = layer(n, "channel_shuffle");
      l.inputs.add(x.id);
      l.arg("groups", Integer.toString(p.groups())).positional = 1;
      l.shape = x.shape.clone();
      return true;
    }
    if (v instanceof PendingAdaptive p) {
      Layer x = net.layers.get(p.input());
      long cells = p.matrix().dims()[1];
      if (t.size() != 4 || !batchEntry(n, t.get(0)) || t.get(1) == null || t.get(1) != x.shape[0] || t.get(2) == null
          || t.get(3) == null || t.get(2) < 1 || t.get(3) < 1 || t.get(2) * t.get(3) != cells) {
        throw error(n, "does not end an adaptive average pool: it should reshape to [N, " + x.shape[0] + ", h, w] with "
            + "h * w = " + cells);
      }
      int[] to = {(int) (long) t.get(2), (int) (long) t.get(3)};
      float[] want = OnnxLowerings.adaptiveWeights(new int[] {x.shape[1], x.shape[2]}, to);
      float[] got = p.matrix().floats();
      for (int i = 0; i < want.length; i++) {
        if (!(Math.abs(got[i] - want[i]) <= 1e-6f * Math.max(1f, Math.abs(want[i])))) {
          throw error(p.matmul(), "its matrix is not adaptive average pooling's window weights from " + x.shape[1] + "x"
              + x.shape[2] + " to " + to[0] + "x" + to[1] + "; cnnc imports MatMul of a [N, C, H*W] value only as that");
        }
      }
      Layer l = layer(n, "adaptive_avgpool");
      l.inputs.add(x.id);
      l.arg("size", size(to)).positional = 1;
      l.shape = new int[] {x.shape[0], to[0], to[1]};
      return true;
    }
    if (!(v instanceof Integer id) || net.layers.get(id).shape.length != 3) {
      return false;
    }
    Layer x = net.layers.get(id);
    int[] xs = x.shape;
    if (t.size() == 5 && batchEntry(n, t.get(0)) && t.get(1) != null && t.get(1) >= 1 && t.get(1) <= xs[0]
        && xs[0] % t.get(1) == 0 && sizes(t, t.get(1), xs[0] / t.get(1), xs[1], xs[2])) {
      NodeProto tr = onlyConsumer(n.getOutput(0), "Transpose");
      if (tr != null && onlyConsumer(tr.getOutput(0), "Reshape") != null) {
        alias(n, new PendingShuffle(x.id, (int) (long) t.get(1), false));
        return true;
      }
    }
    if (t.size() == 3 && batchEntry(n, t.get(0)) && sizes(t, xs[0], (long) xs[1] * xs[2])) {
      NodeProto mm = onlyConsumer(n.getOutput(0), "MatMul");
      if (mm != null && onlyConsumer(mm.getOutput(0), "Reshape") != null) {
        alias(n, new PendingAdaptive(x.id, null, null));
        return true;
      }
    }
    return false;
  }

  /** A Sigmoid read only by Mul(x, Sigmoid(x)) is part of that silu: read when the Mul is. */
  private void sigmoid(NodeProto n) throws ImportException {
    String v = n.getOutput(0);
    List<NodeProto> r = consumers.getOrDefault(v, List.of());
    if (n.getInputCount() == 1 && isLayer(n, 0) && r.size() == 1 && onlyReader(v, r.get(0)) && r.get(0).getOpType().equals("Mul")
        && r.get(0).getInputCount() == 2 && r.get(0).getInputList().contains(n.getInput(0)) && !n.getInput(0).equals(v)) {
      deferred.add(v);
      return;
    }
    simple(n, "sigmoid", 0);
  }

  /** The layer of x * (Erf(x / c) + 1) computed by {@code inner}, as a gelu, or null when it is not that. */
  private Layer geluOf(NodeProto inner) throws ImportException {
    // the Div, Erf and Add nodes were deferred (see div): find them
    for (int side = 0; side < 2; side++) {
      NodeProto add = producerOf(in(inner, 1 - side));
      if (!(values.get(in(inner, side)) instanceof Integer xid) || add == null || !add.getOpType().equals("Add")) {
        continue;
      }
      for (int a = 0; a < 2; a++) {
        NodeProto erf = producerOf(in(add, a));
        Object one = values.get(in(add, 1 - a));
        if (erf == null || !erf.getOpType().equals("Erf") || !(one instanceof TensorProto || one instanceof Const)
            || scalarIn(add, 1 - a, "one") != 1f) {
          continue;
        }
        NodeProto div = producerOf(erf.getInput(0));
        if (div == null || !div.getOpType().equals("Div") || !div.getInput(0).equals(in(inner, side))
            || Math.abs(scalarIn(div, 1, "the divisor") - (float) Math.sqrt(2)) > 1e-6f) {
          continue;
        }
        if (!deferred.containsAll(List.of(div.getOutput(0), erf.getOutput(0), add.getOutput(0), inner.getOutput(0)))) {
          continue;
        }
        Layer x = net.layers.get(xid);
        Layer l = new Layer("gelu", inner.getName(), "Erf");
        l.inputs.add(x.id);
        l.shape = x.shape.clone();
        net.add(l);
        return l;
      }
    }
    return null;
  }

  /** Values of the Div, Erf, Add and Mul of a gelu pattern, read when its last Mul is. */
  private final Set<String> deferred = new HashSet<>();

  /** Div(x, sqrt 2) starts torch's gelu: the nodes up to the final Mul are read when it is. */
  /**
   * Shape arithmetic on known sizes (torch.onnx computes a chunk's size as Shape, Gather, Div, Mul):
   * {@code op} applied element-wise, a one-element side broadcast. Returns false when an input is
   * a tensor of the network (then the node is a layer, not arithmetic).
   */
  private boolean arithmetic(NodeProto n, java.util.function.LongBinaryOperator op) throws ImportException {
    if (n.getInputCount() != 2 || !isInts(n, 0) || !isInts(n, 1)) {
      return false;
    }
    Ints a = ints(n, 0);
    Ints b = ints(n, 1);
    int size = Math.max(a.v().size(), b.v().size());
    if ((a.v().size() != 1 && a.v().size() != size) || (b.v().size() != 1 && b.v().size() != size)) {
      throw error(n, "shape arithmetic on vectors of " + a.v().size() + " and " + b.v().size() + " sizes");
    }
    List<Long> out = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      Long xv = a.v().get(a.v().size() == 1 ? 0 : i);
      Long yv = b.v().get(b.v().size() == 1 ? 0 : i);
      if (xv == null || yv == null) {
        // the batch is the only unknown size: a reshape target holds it only as itself
        throw error(n, "shape arithmetic on the batch size is not supported by cnnc");
      }
      long x = xv;
      long y = yv;
      try {
        out.add(op.applyAsLong(x, y));
      } catch (ArithmeticException e) {
        throw error(n, "shape arithmetic: " + e.getMessage());
      }
    }
    alias(n, new Ints(out, a.scalar() && b.scalar()));
    return true;
  }

  private void div(NodeProto n) throws ImportException {
    if (arithmetic(n, Math::floorDiv)) {
      return;
    }
    String v = n.getOutput(0);
    List<NodeProto> r = consumers.getOrDefault(v, List.of());
    if (isLayer(n, 0) && r.size() == 1 && r.get(0).getOpType().equals("Erf") && onlyReader(v, r.get(0))) {
      NodeProto erf = r.get(0);
      List<NodeProto> r2 = consumers.getOrDefault(erf.getOutput(0), List.of());
      if (r2.size() == 1 && r2.get(0).getOpType().equals("Add") && onlyReader(erf.getOutput(0), r2.get(0))) {
        NodeProto add = r2.get(0);
        List<NodeProto> r3 = consumers.getOrDefault(add.getOutput(0), List.of());
        if (r3.size() == 1 && r3.get(0).getOpType().equals("Mul") && onlyReader(add.getOutput(0), r3.get(0))) {
          NodeProto inner = r3.get(0);
          List<NodeProto> r4 = consumers.getOrDefault(inner.getOutput(0), List.of());
          if (r4.size() == 1 && r4.get(0).getOpType().equals("Mul") && onlyReader(inner.getOutput(0), r4.get(0))) {
            absorbed.addAll(List.of(erf, add, inner));
            deferred.addAll(List.of(v, erf.getOutput(0), add.getOutput(0), inner.getOutput(0)));
            return;
          }
        }
      }
    }
    throw error(n, "cnnc imports Div only within x * (erf(x / sqrt 2) + 1) * 0.5 (gelu)");
  }

  // ---- reductions -------------------------------------------------------------------------------

  /**
   * ReduceMean over H and W: global average pooling ({@code keepdims} 1, torch's {@code
   * x.mean([2, 3], keepdim=True)}), then a flatten when {@code keepdims} is 0 (torch's {@code
   * x.mean([2, 3])}, as torchvision's ShuffleNet writes it). The axes are an attribute before
   * opset 18 and an input from it.
   */
  private void reduceMean(NodeProto n) throws ImportException {
    onlyAttributes(n, "axes", "keepdims", "noop_with_empty_axes");
    if (layerNorm(n)) {
      return;
    }
    Layer x = layerIn(n, 0);
    if (x.shape.length != 3) {
      throw error(n, "reduces a " + (x.shape.length + 1) + "-D value; cnnc imports ReduceMean over H and W of [N, C, H, W]"
          + " (global average pooling)");
    }
    List<Long> axes;
    AttributeProto a = attribute(n, "axes");
    if (a != null) {
      if (a.getType() != AttributeProto.AttributeType.INTS || n.getInputCount() > 1 && !in(n, 1).isEmpty()) {
        throw error(n, "attribute `axes` must be integers, and not given as an input too");
      }
      axes = a.getIntsList();
    } else if (n.getInputCount() > 1 && !in(n, 1).isEmpty()) {
      axes = ints(n, 1).v();
    } else {
      axes = List.of();
    }
    Set<Long> got = new HashSet<>();
    for (Long v : axes) {
      got.add(v == null ? null : v < 0 ? v + 4 : v);
    }
    if (axes.size() != 2 || !got.equals(Set.of(2L, 3L))) {
      throw error(n, "reduces axes " + axes.toString().replace("null", "?") + "; cnnc imports ReduceMean only over H and W"
          + " (axes [2, 3]), as global average pooling");
    }
    long keep = attrInt(n, "keepdims", 1);
    if (keep != 0 && keep != 1) {
      throw error(n, "attribute `keepdims` is " + keep + "; ONNX allows 0 or 1");
    }
    Layer pool = layer(n, "global_avgpool");
    pool.inputs.add(x.id);
    pool.shape = new int[] {x.shape[0], 1, 1};
    if (keep == 0) {
      Layer flat = layer(n, "flatten");
      flat.inputs.add(pool.id);
      flat.shape = new int[] {x.shape[0]};
    }
  }
}
