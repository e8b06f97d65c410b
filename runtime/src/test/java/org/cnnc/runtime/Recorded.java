// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.shape.Layer;

/**
 * What a generated {@code build} did, op by op ({@link NetBuilder#applied}), against the compiler's
 * network node by node: the same ops, module paths, arguments (defaults included), edges, shapes,
 * parameter and buffer tensors, in the same order.
 */
final class Recorded {
  private Recorded() {}

  static void assertSame(Network ir, NetBuilder b, String where) {
    List<String> expected = new ArrayList<>();
    for (Node n : ir.nodes()) {
      if (!n.op().equals("input")) {
        expected.add(line(n.name(), n.op(), n.args().toString(), n.inputs().stream().map(i -> ir.node(i).name()).toList(),
            n.shape().toString(), tensors(n.params()), tensors(n.buffers())));
      }
    }
    List<String> actual = new ArrayList<>();
    for (NetBuilder.Applied a : b.applied()) {
      actual.add(line(a.path(), a.op(), a.args().toString(), a.inputs(), a.shape().toString(), specs(a.params(), a.path()),
          specs(a.buffers(), a.path())));
    }
    assertEquals(String.join("\n", expected), String.join("\n", actual), "what build() made differs from the compiler's network: "
        + where);
  }

  private static String line(String path, String op, String args, List<String> inputs, String shape, String params,
      String buffers) {
    return path + " = " + op + args + " <- " + inputs + " : " + shape + " params " + params + " buffers " + buffers;
  }

  private static String tensors(List<Tensor> ts) {
    return ts.stream().map(t -> t.path() + java.util.Arrays.toString(t.dims())).toList().toString();
  }

  private static String specs(List<Layer.TensorSpec> ts, String path) {
    return ts.stream().map(t -> t.keyUnder(path) + java.util.Arrays.toString(t.dims())).toList().toString();
  }
}
