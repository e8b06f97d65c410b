// SPDX-License-Identifier: Apache-2.0
package org.cnnc.compiler.summary;

import java.util.Locale;
import org.cnnc.compiler.ir.Node;
import org.cnnc.compiler.ir.Tensor;
import org.cnnc.compiler.io.Escape;

/** The summary as a table for people, in torchinfo's manner. */
public final class SummaryRenderer {
  private static final int NAME = 46;
  private static final int SHAPE = 17;
  private static final int NUM = 15;

  private SummaryRenderer() {}

  /**
   * @param maxDepth deepest module level shown (0 = only the model's direct children); totals always count all
   * @param withParams also list every parameter and buffer tensor with its PyTorch path
   */
  public static String render(Summary s, int maxDepth, boolean withParams) {
    StringBuilder out = new StringBuilder();
    var n = s.network();
    String rule = "=".repeat(NAME + SHAPE + NUM * 2 + 3);
    out.append(n.name());
    if (!n.modelArgs().isEmpty()) {
      out.append('(');
      out.append(String.join(", ", n.modelArgs().entrySet().stream().map(e -> e.getKey() + " = " + e.getValue().show()).toList()));
      out.append(')');
    }
    out.append("  ").append(Escape.terminal(n.span().location())).append('\n');
    out.append(rule).append('\n');
    out.append(pad("Layer (type)", NAME)).append(' ').append(pad("Output Shape", SHAPE)).append(' ')
        .append(left("Param #", NUM)).append(' ').append(left("MACs", NUM)).append('\n');
    out.append(rule).append('\n');
    for (Summary.Row r : s.rows()) {
      if (r.depth() > maxDepth) {
        continue;
      }
      StringBuilder prefix = new StringBuilder();
      for (int i = 1; i < r.ancestorsLast().size() + 1 && r.depth() > 0; i++) {
        if (i < r.ancestorsLast().size()) {
          prefix.append(r.ancestorsLast().get(i) ? "   " : "│  ");
        }
      }
      if (r.depth() > 0) {
        prefix.append(r.last() ? "└─" : "├─");
      }
      String label = prefix + r.name() + " (" + r.type() + ")";
      out.append(pad(label, NAME)).append(' ').append(pad(r.shape().toString(), SHAPE)).append(' ')
          .append(left(r.params() == 0 ? "--" : num(r.params()), NUM)).append(' ')
          .append(left(r.macs() == 0 ? "--" : num(r.macs()), NUM)).append('\n');
    }
    out.append(rule).append('\n');
    out.append("Total params: ").append(num(s.params())).append('\n');
    out.append("Trainable params: ").append(num(s.params())).append('\n');
    out.append("Buffers (BatchNorm running mean and var, not trained): ").append(num(s.buffers())).append('\n');
    out.append("DL4J numParams(): ").append(num(s.params() + s.buffers())).append(" (params + buffers)\n");
    out.append("Total MACs: ").append(num(s.macs())).append(" (").append(human(s.macs())).append(")\n");
    out.append(rule).append('\n');
    out.append(pad("Output", 12)).append(pad("Shape", SHAPE)).append(pad("Loss", 16)).append(left("Weight", 7))
        .append(left("Path MACs", 18)).append(left("Own MACs", 18)).append('\n');
    for (Summary.OutputFigures o : s.outputs()) {
      out.append(pad(o.output().name(), 12)).append(pad(o.shape().toString(), SHAPE)).append(pad(o.output().loss(), 16))
          .append(left(String.format(Locale.ROOT, "%.2f", o.output().weight()), 7))
          .append(left(num(o.pathMacs()), 18)).append(left(num(o.ownMacs()), 18)).append('\n');
    }
    out.append(rule).append('\n');
    out.append(String.format(Locale.ROOT, "Input size (MB): %.2f%n", mb(s.inputBytes())));
    out.append(String.format(Locale.ROOT, "Activations, batch 1 (MB): %.2f%n", mb(s.activationBytes())));
    out.append(String.format(Locale.ROOT, "Params and buffers size (MB): %.2f%n", mb(s.paramBytes())));
    out.append(String.format(Locale.ROOT, "Estimated total size (MB): %.2f%n",
        mb(s.inputBytes() + s.activationBytes() + s.paramBytes())));
    out.append(rule).append('\n');
    if (withParams) {
      out.append(pad("Tensor (PyTorch state_dict key)", 52)).append(pad("Shape", 22)).append(left("Elements", 14))
          .append("  Kind\n");
      for (Node node : n.nodes()) {
        for (Tensor t : node.params()) {
          out.append(tensor(t, "param"));
        }
        for (Tensor t : node.buffers()) {
          out.append(tensor(t, "buffer"));
        }
      }
      out.append(rule).append('\n');
    }
    return out.toString();
  }

  private static String tensor(Tensor t, String kind) {
    return pad(t.path(), 52) + pad(java.util.Arrays.toString(t.dims()), 22) + left(num(t.numel()), 14) + "  " + kind + "\n";
  }

  public static String num(long v) {
    return String.format(Locale.ROOT, "%,d", v);
  }

  static String human(long v) {
    if (v >= 1_000_000_000L) {
      return String.format(Locale.ROOT, "%.2f G", v / 1e9);
    }
    if (v >= 1_000_000L) {
      return String.format(Locale.ROOT, "%.2f M", v / 1e6);
    }
    return String.format(Locale.ROOT, "%.2f K", v / 1e3);
  }

  private static double mb(long bytes) {
    return bytes / 1e6;
  }

  private static String pad(String s, int w) {
    return s.length() >= w ? s + " " : s + " ".repeat(w - s.length());
  }

  private static String left(String s, int w) {
    return s.length() >= w ? " " + s : " ".repeat(w - s.length()) + s;
  }

}
