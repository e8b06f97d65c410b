// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.cnnc.compiler.Compiler;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Output;
import org.cnnc.compiler.ir.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The differential test: random specs (a seeded generator of chains, labeled groups, concat and
 * add merges, branches {@code from} earlier nodes, {@code repeat} with and without {@code from},
 * pools in both rounding modes, a second output) are checked by the compiler; every spec it
 * accepts is generated, compiled by javac and built on DL4J, and the DL4J graph must be the
 * compiler's network: a vertex per node with the node's shape, the same edges, the same parameter
 * count and state_dict; then the network runs (inference, a batch of 2: each output has the
 * compiler's shape) and takes a training step (unless DL4J cannot train it, a node nothing reads,
 * which {@code cnnc train} refuses by name). A second seed is taken with {@code -Dcnnc.test.seed}.
 */
class RandomSpecsTest {
  static final int SPECS = 40;

  @TempDir Path dir;

  @Test
  void everyAcceptedSpecBuildsTheCompilersGraphAndRuns() throws Exception {
    long seed = Long.getLong("cnnc.test.seed", 1L);
    Random r = new Random(seed);
    StringBuilder all = new StringBuilder("package org.cnnc.random\n\n");
    List<String> accepted = new ArrayList<>();
    List<String> rejected = new ArrayList<>();
    for (int i = 0; i < SPECS; i++) {
      String name = "R" + i;
      String spec = new Gen(r).model(name);
      Path one = dir.resolve(name + ".cnn");
      Files.writeString(one, spec);
      Compiler.Compilation c = Compiler.compile(Compiler.Request.of(one));
      if (c.ok()) {
        accepted.add(name);
        all.append(spec).append('\n');
      } else {
        rejected.add(name + ": " + c.diagnostics().sorted().get(0).message());
      }
    }
    assertTrue(accepted.size() >= SPECS * 3 / 4, "too few valid specs (seed " + seed + "): " + rejected);
    System.out.println("random specs (seed " + seed + "): " + accepted.size() + " of " + SPECS + " accepted");
    Path file = dir.resolve("random.cnn");
    Files.writeString(file, all.toString());
    Compiler.Compilation c = Compiler.compile(Compiler.Request.of(file));
    assertTrue(c.ok(), () -> c.diagnostics().sorted().toString());
    ClassLoader loader = Generated.compile(c, dir.resolve("generated"));
    for (String name : accepted) {
      Network ir = c.network(name).orElseThrow();
      CnnModel model = (CnnModel) loader.loadClass("org.cnnc.random." + name).getConstructor().newInstance();
      String where = name + " (seed " + seed + "):\n" + Files.readString(dir.resolve(name + ".cnn"));
      try {
        NetBuilder recorder = new NetBuilder(1);
        sameGraph(ir, CnnNetwork.createUnplanned(model, recorder), where);
        Recorded.assertSame(ir, recorder, where);
        runs(ir, CnnNetwork.create(model, 1), where);
      } catch (AssertionError | RuntimeException e) {
        throw new AssertionError(e.getMessage() + "\n" + where, e);
      }
    }
  }

  /** Vertices with the nodes' shapes, the nodes' edges, the parameter count and state_dict. */
  private static void sameGraph(Network ir, CnnNetwork net, String where) {
    Map<String, List<String>> vertexInputs = net.graph().getConfiguration().getVertexInputs();
    Set<String> nodes = new HashSet<>();
    ir.nodes().forEach(n -> nodes.add(n.name()));
    for (Node n : ir.nodes()) {
      long[] dl4j = net.shapes().get(n.name());
      assertNotNull(dl4j, "no DL4J vertex " + n.name());
      assertArrayEquals(Arrays.stream(n.shape().dims()).asLongStream().toArray(), dl4j, "shape of " + n.name());
      if (n.inputs().isEmpty()) {
        continue;
      }
      List<String> expected = n.inputs().stream().map(i -> ir.node(i).name()).toList();
      List<String> actual = new ArrayList<>();
      for (String in : vertexInputs.getOrDefault(n.name(), List.of())) {
        actual.add(resolve(in, nodes, vertexInputs));
      }
      assertEquals(expected, actual, "inputs of " + n.name());
    }
    assertEquals(ir.paramCount() + ir.bufferCount(), net.graph().numParams(), "parameters and buffers");
    Map<String, String> expected = new TreeMap<>();
    for (Tensor t : ir.stateDict()) {
      expected.put(t.path(), Arrays.toString(t.dims()));
    }
    Map<String, String> actual = new TreeMap<>();
    net.manifest().forEach(m -> actual.put(m.path(), Arrays.toString(m.shape())));
    assertEquals(expected, actual, "state_dict");
  }

  /** A DL4J vertex that is not a node (a padding or reshaping helper) stands for what it reads. */
  private static String resolve(String vertex, Set<String> nodes, Map<String, List<String>> vertexInputs) {
    String v = vertex;
    for (int guard = 0; !nodes.contains(v) && guard < 10; guard++) {
      List<String> in = vertexInputs.get(v);
      if (in == null || in.size() != 1) {
        break;
      }
      v = in.get(0);
    }
    return v;
  }

  /** Inference on a batch of 2 (every output of the compiler's shape) and one training step. */
  private static void runs(Network ir, CnnNetwork net, String where) {
    int[] in = ir.node(ir.inputs().get(0)).shape().dims();
    Nd4j.getRandom().setSeed(3);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, in[0], in[1], in[2]);
    Map<String, INDArray> out = net.predict(x);
    for (Output o : ir.outputs()) {
      INDArray y = out.get(o.name());
      assertNotNull(y, "output " + o.name());
      long[] want = new long[ir.node(o.node()).shape().dims().length + 1];
      want[0] = 2;
      for (int i = 1; i < want.length; i++) {
        want[i] = ir.node(o.node()).shape().dims()[i - 1];
      }
      assertArrayEquals(want, y.shape(), "shape of output " + o.name());
    }
    if (!net.untrainable().isEmpty()) {
      // what DL4J cannot train (a node nothing reads): `cnnc train` refuses it by name; nothing to step
      assertTrue(ir.nodes().stream().anyMatch(n -> net.untrainable().containsKey(n.name())), "untrainable " + net.untrainable());
      return;
    }
    INDArray[] labels = new INDArray[net.outputs().size()];
    for (int i = 0; i < labels.length; i++) {
      long classes = net.shapes().get(net.outputs().get(i).node())[0];
      labels[i] = Nd4j.zeros(DataType.FLOAT, 2, classes);
      labels[i].putScalar(0, 0, 1f);
      labels[i].putScalar(1, classes - 1, 1f);
    }
    net.graph().fit(new org.nd4j.linalg.dataset.MultiDataSet(new INDArray[] {x}, labels));
    assertTrue(Double.isFinite(net.graph().score()), "training score " + net.graph().score());
  }

  /** A random model: its text, built while tracking the shape so that most specs are valid. */
  static final class Gen {
    final Random r;
    final StringBuilder s = new StringBuilder();
    final List<String[]> labels = new ArrayList<>(); // label, c, h, w
    int c;
    int h;
    int w;
    int next;

    Gen(Random r) {
      this.r = r;
    }

    String model(String name) {
      c = 1 + r.nextInt(4);
      h = 8 + r.nextInt(13);
      w = 8 + r.nextInt(13);
      s.append("model ").append(name).append("(classes: int = ").append(2 + r.nextInt(9)).append(") {\n");
      s.append("    input [").append(c).append(", ").append(h).append(", ").append(w).append("]\n");
      int items = 3 + r.nextInt(7);
      for (int i = 0; i < items; i++) {
        s.append("    ").append(item(true)).append('\n');
      }
      if (!labels.isEmpty() && r.nextInt(3) == 0) {
        String[] l = labels.get(r.nextInt(labels.size()));
        s.append("    output aux = { global_avgpool flatten dense(3) } from ").append(l[0])
            .append(" with weight = 0.3\n");
      }
      if (r.nextBoolean()) {
        s.append("    global_avgpool\n    flatten\n");
      } else {
        s.append("    flatten\n");
      }
      s.append("    output main = fc: dense(classes)\n}\n");
      return s.toString();
    }

    /** One item; the shape (c, h, w) follows it. */
    String item(boolean top) {
      int k = r.nextInt(top ? 11 : 6);
      String text;
      switch (k) {
        case 0, 1 -> {
          int out = 2 + r.nextInt(7);
          int kernel = r.nextBoolean() ? 1 : 3;
          int pad = kernel == 3 && r.nextBoolean() ? 1 : 0;
          int stride = h > 10 && w > 10 && r.nextInt(4) == 0 ? 2 : 1;
          if (h + 2 * pad < kernel || w + 2 * pad < kernel) {
            kernel = 1;
            pad = 0;
          }
          text = "conv(" + out + ", " + kernel + (stride > 1 ? ", stride = " + stride : "")
              + (pad > 0 ? ", padding = " + pad : "") + (r.nextInt(4) == 0 ? ", bias = false" : "") + ")";
          c = out;
          h = (h + 2 * pad - kernel) / stride + 1;
          w = (w + 2 * pad - kernel) / stride + 1;
        }
        case 2 -> text = "batchnorm";
        case 3 -> text = "relu";
        case 4 -> {
          if (h < 4 || w < 4) {
            return "relu";
          }
          boolean ceil = r.nextBoolean();
          int kernel = 2 + r.nextInt(2);
          int stride = 1 + r.nextInt(2);
          int pad = kernel == 3 && r.nextBoolean() ? 1 : 0;
          text = "maxpool(" + kernel + ", stride = " + stride + (pad > 0 ? ", padding = " + pad : "")
              + (ceil ? ", ceil = true" : "") + ")";
          h = pool(h, kernel, stride, pad, ceil);
          w = pool(w, kernel, stride, pad, ceil);
        }
        case 5 -> text = "dropout(0.25)";
        case 6 -> {
          if (h < 2 || w < 2) {
            return "relu";
          }
          text = "avgpool(2, stride = 2)";
          h = h / 2;
          w = w / 2;
        }
        case 7 -> text = labeledGroup();
        case 8 -> text = concat();
        case 9 -> text = add();
        default -> text = repeat();
      }
      return text;
    }

    static int pool(int in, int k, int s, int p, boolean ceil) {
      int num = in + 2 * p - k;
      int out = (ceil ? Math.floorDiv(num + s - 1, s) : Math.floorDiv(num, s)) + 1;
      if (ceil && (out - 1) * s >= in + p) {
        out--;
      }
      return out;
    }

    String label() {
      String l = "n" + next++;
      return l;
    }

    String labeledGroup() {
      String l = label();
      StringBuilder g = new StringBuilder(l + ": { ");
      int n = 1 + r.nextInt(3);
      for (int i = 0; i < n; i++) {
        g.append(item(false)).append(' ');
      }
      labels.add(new String[] {l, "" + c, "" + h, "" + w});
      return g.append('}').toString();
    }

    /** Branches that keep the map's size: 1x1 convs or 3x3 padded, from the merge's input or a label of the same size. */
    String sizeKeeping(int out) {
      return r.nextBoolean() ? "conv(" + out + ", 1)" : "conv(" + out + ", 3, padding = 1) -> relu";
    }

    String concat() {
      String l = label();
      int n = 2 + r.nextInt(2);
      List<String> branches = new ArrayList<>();
      int total = 0;
      for (int i = 0; i < n; i++) {
        int out = 1 + r.nextInt(5);
        total += out;
        String from = sameSizeLabel();
        branches.add("b" + i + ": " + sizeKeeping(out) + (from != null && r.nextBoolean() ? " from " + from : ""));
      }
      c = total;
      labels.add(new String[] {l, "" + c, "" + h, "" + w});
      return l + ": concat(" + String.join(", ", branches) + ")";
    }

    String add() {
      String l = label();
      int out = c;
      String from = sameSizeLabel();
      String second = from != null && r.nextBoolean() ? "from " + from + " -> conv(" + out + ", 1)" : sizeKeeping(out);
      labels.add(new String[] {l, "" + c, "" + h, "" + w});
      return l + ": add(conv(" + out + ", 1), " + second + ")";
    }

    /** A repeat whose body keeps the shape; sometimes a branch in it reads a label from outside. */
    String repeat() {
      int n = 1 + r.nextInt(3);
      String from = sameSizeLabel();
      String body;
      int kind = r.nextInt(3);
      if (from != null && kind == 0) {
        body = "add(relu, from " + from + " -> conv(" + c + ", 1))";
      } else if (from != null && kind == 1) {
        // a chain from a label: every repetition reads it, not the one before
        body = "conv(" + c + ", 1) from " + from;
      } else {
        body = "conv(" + c + ", 3, padding = 1) relu";
      }
      return "repeat " + n + " { " + body + " }";
    }

    /** A label whose node has the current height and width (or null). */
    String sameSizeLabel() {
      List<String> ok = new ArrayList<>();
      for (String[] l : labels) {
        if (Integer.parseInt(l[2]) == h && Integer.parseInt(l[3]) == w) {
          ok.add(l[0]);
        }
      }
      return ok.isEmpty() ? null : ok.get(r.nextInt(ok.size()));
    }
  }
}
