// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;

/**
 * ONNX Runtime's profile of a session (the Chrome trace its profiler writes): the kernel time of
 * each node, and which layer of the network it belongs to. The file is read as untrusted: a
 * streaming parse, bounded in size, events and name length; anything but the expected shape is a
 * {@link ProfileException}.
 */
final class OrtProfile {
  /** The largest profile read. */
  static final long MAX_BYTES = 512L << 20;
  /** The most node events read. */
  static final int MAX_EVENTS = 5_000_000;
  /** The longest node name kept. */
  static final int MAX_NAME = 4096;
  /** What ONNX Runtime appends to a node's name for the event of its kernel's run. */
  static final String KERNEL = "_kernel_time";

  /** A profile that is not what ONNX Runtime writes. */
  static final class ProfileException extends Exception {
    ProfileException(String message) {
      super(message);
    }
  }

  /** One ONNX Runtime node: its op type and the microseconds of each of its runs, in order. */
  record NodeTimes(String name, String op, List<Double> micros) {
    /** The median of the last {@code runs} runs (all, if fewer), in milliseconds. */
    double medianMs(int runs) {
      List<Double> last = micros.subList(Math.max(0, micros.size() - runs), micros.size());
      double[] t = last.stream().mapToDouble(Double::doubleValue).sorted().toArray();
      return t.length == 0 ? 0 : t[t.length / 2] / 1e3;
    }
  }

  private final Map<String, NodeTimes> nodes;

  private OrtProfile(Map<String, NodeTimes> nodes) {
    this.nodes = nodes;
  }

  /** The nodes, in the order of their first run. */
  Collection<NodeTimes> nodes() {
    return nodes.values();
  }

  static OrtProfile read(Path file) throws IOException, ProfileException {
    long size = Files.size(file);
    if (size > MAX_BYTES) {
      throw new ProfileException("the profile has " + size + " bytes, more than " + MAX_BYTES);
    }
    try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      return parse(r);
    }
  }

  /** Parses a trace: a JSON array of events; keeps the node events of kernel runs ({@code "cat": "Node"}). */
  static OrtProfile parse(Reader text) throws IOException, ProfileException {
    Map<String, NodeTimes> nodes = new LinkedHashMap<>();
    int events = 0;
    try (JsonReader in = new JsonReader(text)) {
      in.setStrictness(com.google.gson.Strictness.STRICT);
      in.beginArray();
      while (in.hasNext()) {
        if (++events > MAX_EVENTS) {
          throw new ProfileException("the profile has more than " + MAX_EVENTS + " events");
        }
        if (in.peek() != JsonToken.BEGIN_OBJECT) {
          throw new ProfileException("event " + events + " is not an object");
        }
        String cat = null;
        String name = null;
        String op = null;
        Double dur = null;
        in.beginObject();
        while (in.hasNext()) {
          String key = in.nextName();
          switch (key) {
            case "cat" -> cat = string(in, events, key);
            case "name" -> name = string(in, events, key);
            case "dur" -> {
              if (in.peek() != JsonToken.NUMBER) {
                throw new ProfileException("event " + events + ": dur is not a number");
              }
              dur = in.nextDouble();
            }
            case "args" -> {
              if (in.peek() != JsonToken.BEGIN_OBJECT) {
                in.skipValue();
                break;
              }
              in.beginObject();
              while (in.hasNext()) {
                if (in.nextName().equals("op_name") && in.peek() == JsonToken.STRING) {
                  op = in.nextString();
                } else {
                  in.skipValue();
                }
              }
              in.endObject();
            }
            default -> in.skipValue();
          }
        }
        in.endObject();
        if (!"Node".equals(cat) || name == null || !name.endsWith(KERNEL)) {
          continue;
        }
        if (dur == null || !(dur >= 0) || Double.isInfinite(dur)) {
          throw new ProfileException("event " + events + " (a node's kernel) has no duration >= 0");
        }
        String node = name.substring(0, name.length() - KERNEL.length());
        if (node.length() > MAX_NAME) {
          throw new ProfileException("event " + events + ": a node name of " + node.length() + " characters");
        }
        String opName = op == null ? "?" : op.length() > MAX_NAME ? op.substring(0, MAX_NAME) : op;
        nodes.computeIfAbsent(node, k -> new NodeTimes(k, opName, new ArrayList<>())).micros().add(dur);
      }
      in.endArray();
      if (in.peek() != JsonToken.END_DOCUMENT) {
        throw new ProfileException("text after the events");
      }
    } catch (IllegalStateException | NumberFormatException | com.google.gson.stream.MalformedJsonException e) {
      throw new ProfileException("not an ONNX Runtime profile: " + e.getMessage());
    } catch (java.io.EOFException e) {
      throw new ProfileException("the profile ends early");
    }
    return new OrtProfile(nodes);
  }

  private static String string(JsonReader in, int event, String key) throws IOException, ProfileException {
    if (in.peek() != JsonToken.STRING) {
      throw new ProfileException("event " + event + ": " + key + " is not a string");
    }
    return in.nextString();
  }

  /**
   * Which layer each node belongs to: the layer whose module path the node's name is, or begins
   * with before a {@code /} (a step of the layer's export, e.g. {@code features.0/Pad}) or a
   * {@code _} (a name made unique, or one ONNX Runtime gives a node it fused from the layer's), the
   * longest such path; null for a node of no layer.
   *
   * @return by node name, the layer's name or null
   */
  static Map<String, String> layers(Collection<String> nodeNames, Collection<String> layerNames) {
    String[] sorted = layerNames.stream().filter(s -> !s.isEmpty()).sorted(Comparator.comparingInt(String::length)
        .reversed()).toArray(String[]::new);
    Map<String, String> out = new LinkedHashMap<>();
    for (String node : nodeNames) {
      String layer = Arrays.stream(sorted).filter(l -> node.equals(l) || node.startsWith(l)
          && (node.charAt(l.length()) == '/' || node.charAt(l.length()) == '_')).findFirst().orElse(null);
      out.put(node, layer);
    }
    return out;
  }

  /**
   * The milliseconds of each layer of {@code net} (a median run of each of its nodes, summed): the
   * layers that have a node; a layer missing from the map has none (ONNX Runtime fused it into
   * another, or it is a view). ONNX Runtime names a conv or product fused with the activation after
   * it (its {@code FusedConv}, {@code FusedGemm}) after the activation: such a node, whose name
   * carries a layer that computes no products, is the time of the layer of products that feeds it
   * (through the batch norms and activations between). The nodes of no layer are under {@code ""}.
   */
  Map<String, Double> msByLayer(Network net, int runs) {
    Map<String, Node> byName = new LinkedHashMap<>();
    for (Node n : net.nodes()) {
      byName.putIfAbsent(n.name(), n);
    }
    Map<String, String> layer = layers(nodes.keySet(), byName.keySet());
    Map<String, Double> out = new LinkedHashMap<>();
    for (NodeTimes t : nodes.values()) {
      String l = layer.get(t.name());
      if (l != null && products(t.op()) && byName.get(l).macs() == 0) {
        Node cur = byName.get(l);
        for (int steps = 0; cur.macs() == 0 && !cur.inputs().isEmpty() && steps < 8; steps++) {
          cur = net.node(cur.inputs().get(0));
        }
        if (cur.macs() > 0) {
          l = cur.name();
        }
      }
      out.merge(l == null ? "" : l, t.medianMs(runs), Double::sum);
    }
    return out;
  }

  /** Whether an ONNX Runtime kernel multiplies (a conv or a matrix product, fused or not). */
  static boolean products(String op) {
    return op.contains("Conv") || op.contains("Gemm") || op.contains("MatMul");
  }
}
