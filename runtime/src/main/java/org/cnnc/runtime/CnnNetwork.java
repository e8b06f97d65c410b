// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.broadcast.BroadcastMulOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * A generated model built as a DL4J {@link ComputationGraph}, with what DL4J does not keep: the
 * map from PyTorch tensor paths to DL4J parameters, and which vertex computes each output.
 */
public final class CnnNetwork {
  private final CnnModel model;
  private final ComputationGraph graph;
  private final List<NetBuilder.TensorMapping> manifest;
  private final List<NetBuilder.OutputSpec> outputs;
  private final Map<String, long[]> shapes;
  private final List<String> inputs;
  private final Map<String, String> untrainable;
  /** The unplanned build: the topology every plan (training or inference) is made from. */
  private final NetBuilder topology;
  /** Whether predict fuses residual adds into convs ({@link InferencePlan.Pass#FUSE_ADD}). */
  private final boolean fuseAdds;
  /** Whether predict keeps activations between convs in oneDNN's layout ({@link InferencePlan.Pass#CONV_LAYOUT}). */
  private final boolean layOut;

  private CnnNetwork(CnnModel model, ComputationGraph graph, NetBuilder b, NetBuilder topology) {
    this.fuseAdds = b.plan() != null && b.plan().fusesAdds();
    this.layOut = b.plan() != null && b.plan().laysOut();
    this.model = model;
    this.graph = graph;
    this.topology = topology;
    this.manifest = b.manifest();
    this.outputs = b.outputs();
    this.shapes = b.shapes();
    this.inputs = b.inputs();
    this.untrainable = new LinkedHashMap<>(b.untrainable());
    for (String v : b.unused()) {
      this.untrainable.put(v, "nothing reads it and it is no output (lint: UNUSED_NODE); DL4J's backward pass cannot"
          + " go through an unused layer: remove it, or make it an output with loss = none");
    }
  }

  /** The network's inputs, in the order {@link #predict} takes them. */
  public List<String> inputs() {
    return inputs;
  }

  /**
   * What this backend cannot train, with the reason: outputs with a loss on a feature map, and
   * layers that nothing reads.
   */
  public Map<String, String> untrainable() {
    return untrainable;
  }

  /** Builds and initializes the network; the seed fixes the initial weights. */
  public static CnnNetwork create(CnnModel model, long seed) {
    return create(model, new NetBuilder(seed));
  }

  /** Builds and initializes the network with the given convolution kernels. */
  public static CnnNetwork create(CnnModel model, long seed, NetBuilder.Kernels kernels) {
    return create(model, new NetBuilder(seed).kernels(kernels));
  }

  /**
   * Builds on a given builder (to choose the updater, say). With cnnc's kernels the network is
   * built with the training plan: each ReLU that only follows a conv or BatchNorm is computed by
   * that layer ({@link InferencePlan.Pass#FUSE_RELU}); the topology it is planned from comes
   * from a first, unplanned build, which inference passes plan from too.
   */
  public static CnnNetwork create(CnnModel model, NetBuilder b) {
    NetBuilder topology = b;
    if (b.kernels() == NetBuilder.Kernels.CNNC && !b.hasPlan()) {
      topology = new NetBuilder(0).kernels(b.kernels());
      model.build(topology);
      b.withPlan(InferencePlan.training(topology));
    }
    return build(model, b, topology);
  }

  /** Builds without any plan: every op its own layer (to compare with the planned network). */
  public static CnnNetwork createUnplanned(CnnModel model, NetBuilder b) {
    return build(model, b, b);
  }

  private static CnnNetwork build(CnnModel model, NetBuilder b, NetBuilder topology) {
    model.build(b);
    ComputationGraph graph = new ComputationGraph(b.build());
    graph.init();
    return new CnnNetwork(model, graph, b, topology);
  }

  public CnnModel model() {
    return model;
  }

  public ComputationGraph graph() {
    return graph;
  }

  public List<NetBuilder.TensorMapping> manifest() {
    return manifest;
  }

  public List<NetBuilder.OutputSpec> outputs() {
    return outputs;
  }

  /** Trainable parameters, as PyTorch counts them. */
  public long paramCount() {
    return manifest.stream().filter(m -> !m.buffer()).mapToLong(NetBuilder.TensorMapping::numel).sum();
  }

  /** BatchNorm running mean and variance elements; DL4J's {@code numParams()} is both counts together. */
  public long bufferCount() {
    return manifest.stream().filter(NetBuilder.TensorMapping::buffer).mapToLong(NetBuilder.TensorMapping::numel).sum();
  }

  /** DL4J's inferred shape of every vertex, by name (the PyTorch module path). */
  public Map<String, long[]> shapes() {
    return shapes;
  }

  /**
   * The same network for inference only, rebuilt with the given passes and the current weights
   * (BatchNorm folded into the conv before it: {@code W' = W * g / sqrt(v + eps)},
   * {@code b' = (b - m) * g / sqrt(v + eps) + beta}). Only {@code outputs} are computed when
   * PRUNE_OUTPUTS is on. Its predictions equal this network's.
   */
  public CnnNetwork forInference(java.util.Set<InferencePlan.Pass> passes, java.util.Set<String> outputs) {
    java.util.EnumSet<InferencePlan.Pass> chosen = java.util.EnumSet.noneOf(InferencePlan.Pass.class);
    chosen.addAll(passes);
    InferencePlan plan = new InferencePlan(topology, chosen, outputs);
    NetBuilder b = new NetBuilder(0).kernels(topology.kernels()).withPlan(plan);
    CnnNetwork net = build(model, b, b);
    ComputationGraph g = net.graph;
    for (var e : g.paramTable().entrySet()) {
      String key = e.getKey();
      int cut = key.lastIndexOf('_');
      String vertex = key.substring(0, cut);
      String param = key.substring(cut + 1);
      InferencePlan.Merge merge = plan.merged(vertex);
      if (merge == null) {
        e.getValue().assign(folded(plan, vertex, param));
        continue;
      }
      // a merged conv: its members' (folded) weights and biases, stacked along the output channels
      // (the bias [1, out] as a vector, so both stack along their first axis)
      INDArray target = param.equals("W") ? e.getValue() : e.getValue().reshape(-1);
      for (String member : merge.members()) {
        INDArray part = param.equals("W") ? folded(plan, member, param) : folded(plan, member, param).reshape(-1);
        long from = merge.offset(member);
        target.get(NDArrayIndex.interval(from, from + part.size(0))).assign(part);
      }
    }
    // an inference network's weights are fixed: its convs keep them in oneDNN's layouts
    for (org.deeplearning4j.nn.api.Layer l : g.getLayers()) {
      if (l instanceof org.cnnc.runtime.layers.GemmConvolutionLayer conv) {
        conv.keepWeights();
      }
    }
    return net;
  }

  /**
   * Says that this network's weights changed other than through its own methods (which say it
   * themselves: {@link #loadWeights}, {@link Checkpoint#restore}, {@link Trainer}): a network
   * {@link #forInference} made keeps its convs' weights in oneDNN's layouts from its first call,
   * and reorders them again after this. Each call checks the weights against a sample of their
   * values too, which catches most changes made around these methods, not every one.
   */
  public void weightsChanged() {
    for (org.deeplearning4j.nn.api.Layer l : graph.getLayers()) {
      if (l instanceof org.cnnc.runtime.layers.GemmConvolutionLayer conv) {
        conv.weightsChanged();
      }
    }
  }

  /**
   * A parameter of this network's {@code vertex} as the inference network takes it: with its
   * BatchNorm folded in when the plan folds one ({@code W * s}, {@code (b - mean) * s + beta},
   * {@code s = gamma / sqrt(var + eps)}), a zero bias when the conv had none.
   */
  private INDArray folded(InferencePlan plan, String vertex, String param) {
    String key = vertex + "_" + param;
    String bn = plan.batchnormOf(vertex);
    if (bn == null) {
      return graph.paramTable().containsKey(key) ? graph.getParam(key)
          : Nd4j.zeros(graph.getParam(vertex + "_W").dataType(), 1, graph.getParam(vertex + "_W").size(0));
    }
    INDArray gamma = graph.getParam(bn + "_gamma").reshape(-1);
    INDArray beta = graph.getParam(bn + "_beta").reshape(-1);
    INDArray mean = graph.getParam(bn + "_mean").reshape(-1);
    INDArray var = graph.getParam(bn + "_var").reshape(-1);
    INDArray scale = gamma.div(Transforms.sqrt(var.add(topology.eps(bn)), true));
    if (param.equals("W")) {
      INDArray w = graph.getParam(key).dup();
      Nd4j.getExecutioner().exec(new BroadcastMulOp(w, scale, w, 0));
      return w;
    }
    INDArray bias = graph.paramTable().containsKey(key) ? graph.getParam(key).reshape(-1)
        : Nd4j.zeros(scale.dataType(), scale.length());
    return bias.sub(mean).muli(scale).addi(beta).reshape(1, scale.length());
  }

  /**
   * Runs the network in inference mode; returns each output by name, before any loss layer, as
   * arrays of their own. The vertices run over one planned block of memory ({@link InferenceExecutor}).
   */
  public Map<String, INDArray> predict(INDArray... inputs) {
    INDArray[] values = executor().run(inputs);
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (int i = 0; i < outputs.size(); i++) {
      out.put(outputs.get(i).name(), values[i]);
    }
    return out;
  }

  /**
   * Where {@link #predict}'s time goes: runs {@code inputs} once (planning the memory, warming
   * up), then {@code calls} times, timing each step as the plan runs it (its fused passes,
   * layouts and copies included), unlike a layer timed alone. Steps that compute nothing (a
   * view, an add its conv computes) are left out: their vertices' work is their neighbours'.
   * Float inputs only (others run without a plan).
   */
  public List<StepTime> timeSteps(int calls, INDArray... inputs) {
    if (calls < 1) {
      throw new IllegalArgumentException("calls must be at least 1, not " + calls);
    }
    return executor().timeSteps(calls, inputs);
  }

  /**
   * One step of {@link #predict}'s plan ({@link #timeSteps}): its vertex, the layout its output
   * is kept in ({@link org.cnnc.runtime.layers.ConvLayout}'s codes: NCHW, or oneDNN's), whether
   * it ran in those layouts (a conv on oneDNN's primitive, a max pooling reading a kept
   * activation), and its time in each call, in ms.
   */
  public record StepTime(String vertex, int layout, boolean laid, double[] ms) {
    /** The median of {@link #ms}. */
    public double medianMs() {
      double[] s = ms.clone();
      java.util.Arrays.sort(s);
      return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
  }

  private InferenceExecutor executor;

  /** The executor of {@link #predict}, made on first use. */
  synchronized InferenceExecutor executor() {
    if (executor == null) {
      executor = new InferenceExecutor(graph, outputs.stream().map(NetBuilder.OutputSpec::node).toList(), fuseAdds,
          layOut);
    }
    return executor;
  }

  /** Every tensor as PyTorch's {@code state_dict} has it (copies, PyTorch layout). */
  public Map<String, INDArray> stateDict() {
    Map<String, INDArray> out = new LinkedHashMap<>();
    for (NetBuilder.TensorMapping m : manifest) {
      INDArray p = graph.getParam(m.vertex() + "_" + m.key());
      INDArray v = m.transpose() ? p.transpose() : p;
      out.put(m.path(), v.reshape('c', m.shape()).dup('c'));
    }
    return out;
  }

  public void saveWeights(Path npz) throws IOException {
    NdNpz.write(npz, stateDict());
  }

  /** Loads a PyTorch {@code state_dict} saved as {@code .npz}; all or nothing. */
  public void loadWeights(Path npz) {
    loadWeights(npz, Map.of());
  }

  /**
   * Loads a {@code .npz} state dict, renaming keys first ({@code file key -> spec path}) for specs
   * that do not mirror their PyTorch module tree. Every problem (a missing, extra or mis-shaped
   * tensor, a dtype other than float32, an unreadable file) is reported together, and the network
   * is left unchanged.
   */
  public void loadWeights(Path npz, Map<String, String> rename) {
    Map<String, long[]> expected = new LinkedHashMap<>();
    for (NetBuilder.TensorMapping m : manifest) {
      expected.put(m.path(), m.shape());
    }
    Map<String, Npz.Array> values;
    try {
      values = Npz.readStateDict(npz, expected, rename);
    } catch (Npz.StateDictException e) {
      throw new WeightsException(e.file(), e.problems());
    }
    for (NetBuilder.TensorMapping m : manifest) {
      INDArray v = NdNpz.toNd4j(values.get(m.path()));
      INDArray target = graph.getParam(m.vertex() + "_" + m.key());
      target.assign(m.transpose() ? v.transpose().reshape(target.shape()) : v.reshape(target.shape()));
    }
    weightsChanged();
  }

}
