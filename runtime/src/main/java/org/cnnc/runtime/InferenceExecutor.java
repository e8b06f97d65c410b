// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.cnnc.runtime.layers.ConvLayout;
import org.cnnc.runtime.layers.CnncAdd;
import org.cnnc.runtime.layers.CnncMaxPool;
import org.cnnc.runtime.layers.GemmConvolutionLayer;
import org.cnnc.runtime.layers.LaidSqueeze;
import org.cnnc.runtime.layers.BroadcastMul;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.memory.enums.SpillPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A network's forward pass for inference, run over the vertices of its DL4J graph in topological
 * order with one planned block of memory for the activations, instead of DL4J's
 * {@code feedForward}, which copies every activation out of its workspaces, or {@code output}.
 * The graph is the checked network as built; this class decides only where each activation
 * lives, as ONNX Runtime's memory planner does:
 *
 * <ul>
 *   <li><b>One arena, reused.</b> Each activation gets a range of one array, planned from the
 *       activations' lifetimes (from the step that writes one to the last step that reads it);
 *       ranges of activations alive at the same time never overlap, and the others share memory.
 *       The arena stays for the next call with the same input shapes; new shapes plan anew.
 *   <li><b>Written in place.</b> A layer asks its workspace manager for its output array; the
 *       manager hands it the activation's planned range, so the layer computes straight into it.
 *       A layer that returns some other array has it copied in, so every vertex keeps working.
 *   <li><b>Concatenations without a copy.</b> The inputs of a channel concatenation that only it
 *       reads are planned as slices of its output: at batch 1 each is a dense range that its
 *       layer writes; at larger batches a slice is strided, and the input is copied into it as
 *       soon as it is made (while it is in the cache). The concatenation itself does nothing.
 *       A concatenation kept in oneDNN's layout ({@link #layouts}) copies its inputs instead.
 *   <li><b>Residual adds in the conv</b> ({@link InferencePlan.Pass#FUSE_ADD}). An {@code add}
 *       whose input computed last is a conv that only it reads, with no activation of its own
 *       (ResNet's {@code bn3(conv3(x)) + x}, the BatchNorm folded), costs no pass of its own:
 *       the conv adds the other input, then the add's ReLU, in the pass that finishes its output,
 *       and writes the add's memory. The sum is rounded as the two layers round it apart, so the
 *       outputs keep their bits.
 *   <li><b>Channel subsets as views.</b> A subset of channels that only such concatenations read
 *       (the slices of {@link InferencePlan.Pass#MERGE_POINTWISE}'s merged convs) is a view of
 *       its input, copied once, into the concatenation.
 * </ul>
 *
 * Working memory (im2col columns, Winograd's tiles) lives in one workspace reset after each
 * vertex. Outputs are copied out of the arena. Calls from several threads are serialized: the
 * arena, and the graph's layers, hold one call's state at a time.
 */
final class InferenceExecutor {
  /** What a step does. */
  enum Kind {
    /** A network input: the caller's array. */
    INPUT,
    /** The vertex computes its output (into its planned range, else copied there). */
    COMPUTE,
    /** A channel concatenation whose inputs are (or are copied into) slices of its output. */
    CONCAT,
    /** A channel subset read only by {@link #CONCAT} steps: a view of its input. */
    VIEW,
    /**
     * A residual {@code add} of a conv that only it reads and of an activation computed before
     * that conv: the conv adds it (and the add's ReLU) in its own last pass, into the add's
     * memory; the add does nothing.
     */
    ADDED
  }

  private static final WorkspaceConfiguration WORK = WorkspaceConfiguration.builder()
      .policyLearning(LearningPolicy.FIRST_LOOP)
      .policyAllocation(AllocationPolicy.OVERALLOCATE)
      .overallocationLimit(0.2)
      .policySpill(SpillPolicy.REALLOCATE)
      .build();
  private static final String WORK_NAME = "CNNC_INFERENCE_WORK";
  /** Ranges start at multiples of 16 floats (64 bytes: a cache line, an AVX-512 vector). */
  private static final long ALIGN = 16;

  private final ComputationGraph graph;
  private final GraphVertex[] vertices;
  /** The vertices the outputs need, in topological order. */
  private final int[] steps;
  private final Kind[] kind;
  /** For each step's vertex (by vertex index): the vertex indices it reads. */
  private final int[][] reads;
  /** For each vertex index: the steps (positions in {@link #steps}) that read it. */
  private final Map<Integer, List<Integer>> readers = new HashMap<>();
  /** For a vertex whose output is a slice of a concatenation's: that concatenation's vertex index. */
  private final Map<Integer, Integer> sliceOf = new HashMap<>();
  /** For a {@link Kind#VIEW} step's vertex: its first channel in its input. */
  private final Map<Integer, Integer> subsetFrom = new HashMap<>();
  /** For an {@link Kind#ADDED} step's vertex: the conv that computes it. */
  private final Map<Integer, Integer> addedBy = new HashMap<>();
  /** For a conv that computes an {@link Kind#ADDED} step: that add's vertex. */
  private final Map<Integer, Integer> addsInto = new HashMap<>();
  /** The {@link Kind#ADDED} steps whose add computes a ReLU (which their conv then applies). */
  private final Set<Integer> addsRelu = new HashSet<>();
  private final int[] outputs;
  private final Set<Integer> isOutput = new HashSet<>();
  /** Whether activations between convs may stay in oneDNN's layout ({@link InferencePlan.Pass#CONV_LAYOUT}). */
  private final boolean layOut;
  private final int[] inputIndex;
  private final LayerWorkspaceMgr probeMgr;
  private final PlannedMgr mgr = new PlannedMgr();
  private Plan plan;
  private long[][] planInputs;
  /** The kernel settings {@link #plan} was made under (its layouts depend on them). */
  private org.cnnc.runtime.layers.KernelSettings planSettings;
  /** While steps are timed ({@link #timeSteps}): each vertex's nanoseconds over the planned calls so far. */
  private long[] stepNanos;

  /**
   * Runs {@code graph} for the vertices named {@code outputNodes}, residual adds fused into convs
   * with {@code fuseAdds}, activations between convs in oneDNN's layout with {@code layOut}.
   */
  InferenceExecutor(ComputationGraph graph, List<String> outputNodes, boolean fuseAdds, boolean layOut) {
    this.graph = graph;
    this.layOut = layOut;
    this.vertices = graph.getVertices();
    int n = vertices.length;
    this.outputs = outputNodes.stream().mapToInt(o -> graph.getVertex(o).getVertexIndex()).toArray();
    List<String> networkInputs = graph.getConfiguration().getNetworkInputs();
    this.inputIndex = new int[n];
    this.reads = new int[n][];
    for (GraphVertex v : vertices) {
      int i = v.getVertexIndex();
      inputIndex[i] = v.isInputVertex() ? networkInputs.indexOf(v.getVertexName()) : -1;
      VertexIndices[] in = v.getInputVertices();
      reads[i] = in == null ? new int[0] : Arrays.stream(in).mapToInt(VertexIndices::getVertexIndex).toArray();
    }
    // the vertices upstream of the outputs, in the graph's topological order
    boolean[] needed = new boolean[n];
    List<Integer> todo = new ArrayList<>();
    for (int o : outputs) {
      todo.add(o);
    }
    while (!todo.isEmpty()) {
      int v = todo.remove(todo.size() - 1);
      if (!needed[v]) {
        needed[v] = true;
        for (int r : reads[v]) {
          todo.add(r);
        }
      }
    }
    this.steps = Arrays.stream(graph.topologicalSortOrder()).filter(v -> needed[v]).toArray();
    for (int s = 0; s < steps.length; s++) {
      for (int r : reads[steps[s]]) {
        readers.computeIfAbsent(r, k -> new ArrayList<>()).add(s);
      }
    }
    for (int o : outputs) {
      isOutput.add(o);
    }
    var conf = graph.getConfiguration().getVertices();
    this.kind = new Kind[n];
    for (int v : steps) {
      kind[v] = vertices[v].isInputVertex() ? Kind.INPUT : Kind.COMPUTE;
      var c = conf.get(vertices[v].getVertexName());
      if (c instanceof MergeVertex m && m.getMergeAxis() == 1 && !isOutput.contains(v) && reads[v].length > 1
          && Arrays.stream(reads[v]).distinct().count() == reads[v].length) {
        kind[v] = Kind.CONCAT;
      }
    }
    for (int v : steps) {
      // a channel subset that only concatenations read (which copy it into their slices): a view
      var c = conf.get(vertices[v].getVertexName());
      if (c instanceof SubsetVertex sub && !isOutput.contains(v) && kind[reads[v][0]] != Kind.INPUT
          && readers.get(v).stream().allMatch(s -> kind[steps[s]] == Kind.CONCAT)) {
        kind[v] = Kind.VIEW;
        subsetFrom.put(v, sub.getFrom());
      }
    }
    int[] position = new int[n];
    for (int s = 0; s < steps.length; s++) {
      position[steps[s]] = s;
    }
    for (int v : steps) {
      // a residual add: its input computed last is a conv only it reads, with no activation of
      // its own; the other input is ready by the time that conv runs
      if (fuseAdds && kind[v] == Kind.COMPUTE && conf.get(vertices[v].getVertexName()) instanceof CnncAdd add
          && reads[v].length == 2 && reads[v][0] != reads[v][1]) {
        int conv = position[reads[v][0]] > position[reads[v][1]] ? reads[v][0] : reads[v][1];
        if (kind[conv] == Kind.COMPUTE && !isOutput.contains(conv) && readers.get(conv).size() == 1
            && vertices[conv].hasLayer() && vertices[conv].getLayer() instanceof GemmConvolutionLayer
            && vertices[conv].getLayer().conf().getLayer() instanceof BaseLayer l
            && l.getActivationFn() instanceof ActivationIdentity) {
          kind[v] = Kind.ADDED;
          addedBy.put(v, conv);
          addsInto.put(conv, v);
          if (add.isRelu()) {
            addsRelu.add(v);
          }
        }
      }
    }
    for (int v : steps) {
      if (kind[v] == Kind.CONCAT) {
        for (int in : reads[v]) {
          // written into the slice: computed, read by nothing else, no output, no concatenation
          if ((kind[in] == Kind.COMPUTE || kind[in] == Kind.ADDED) && !isOutput.contains(in)
              && readers.get(in).size() == 1) {
            sliceOf.put(in, v);
          }
        }
      }
    }
    this.probeMgr = LayerWorkspaceMgr.builder()
        .noWorkspaceFor(ArrayType.ACTIVATIONS).noWorkspaceFor(ArrayType.INPUT)
        .with(ArrayType.FF_WORKING_MEM, WORK_NAME, WORK).with(ArrayType.FF_CACHE, WORK_NAME, WORK)
        .build();
  }

  /** The outputs for {@code inputs} (in the graph's input order), as arrays of their own. */
  synchronized INDArray[] run(INDArray... inputs) {
    // some vertices take the batch size from the graph's inputs
    graph.setInputs(inputs);
    try {
      return runSteps(inputs);
    } finally {
      graph.setInputs((INDArray[]) null);
    }
  }

  /** Whether calls with {@code inputs} run over a plan: float inputs only (others take each vertex's own path). */
  private static boolean planned(INDArray[] inputs) {
    return Arrays.stream(inputs).allMatch(x -> x.dataType() == DataType.FLOAT);
  }

  private INDArray[] runSteps(INDArray... inputs) {
    long[][] shapes = Arrays.stream(inputs).map(INDArray::shape).toArray(long[][]::new);
    boolean floats = planned(inputs);
    var settings = org.cnnc.runtime.layers.KernelSettings.current();
    if (plan == null || !Arrays.deepEquals(shapes, planInputs) || !floats || !settings.equals(planSettings)) {
      // the first call with these shapes: every vertex as it computes itself, its shape recorded
      INDArray[] values = new INDArray[vertices.length];
      for (int v : steps) {
        if (kind[v] == Kind.INPUT) {
          values[v] = inputs[inputIndex[v]];
          continue;
        }
        if (kind[v] == Kind.ADDED) {
          values[v] = values[addedBy.get(v)];
          continue;
        }
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORK, WORK_NAME)) {
          values[v] = forward(v, values, probeMgr);
        }
      }
      plan = floats ? Plan.of(this, values) : null;
      planInputs = shapes;
      planSettings = settings;
      if (plan == null || !plan.laidOut()) {
        return copies(values);
      }
      // convs in oneDNN's layouts compute on other kernels than the vertices did: this call's
      // outputs come from the plan too, so that every call with these shapes gives the same bits
    }
    INDArray[] values = new INDArray[vertices.length];
    plan.copied.clear();
    long[] nanos = stepNanos;
    for (int v : steps) {
      if (nanos == null) {
        runStep(v, values, inputs);
      } else {
        long t0 = System.nanoTime();
        runStep(v, values, inputs);
        nanos[v] += System.nanoTime() - t0;
      }
    }
    return copies(values);
  }

  /** Runs step {@code v} of the plan: its output into {@code values[v]}. */
  private void runStep(int v, INDArray[] values, INDArray[] inputs) {
    switch (kind[v]) {
      case INPUT -> values[v] = inputs[inputIndex[v]];
      case VIEW, ADDED -> values[v] = plan.view[v];
      case CONCAT -> {
        if (plan.layout[v] != ConvLayout.NCHW) {
          // in oneDNN's layout: each input (kept in it, or NCHW) copied into its channels
          int k = reads[v].length;
          INDArray[] xs = new INDArray[k];
          long[][] shapes = new long[k][];
          int[] layouts = new int[k];
          for (int j = 0; j < k; j++) {
            xs[j] = values[reads[v][j]];
            shapes[j] = plan.shape[reads[v][j]];
            layouts[j] = plan.layout[reads[v][j]];
            plan.copied(vertices[reads[v][j]]);
          }
          ConvLayout.concatenate(xs, shapes, layouts, plan.view[v], plan.shape[v], plan.layout[v]);
          values[v] = plan.view[v];
          return;
        }
        for (int k = 0; k < reads[v].length; k++) {
          int in = reads[v][k];
          if (!sliceOf.containsKey(in)) {
            plan.slice(v, k).assign(values[in]);
            plan.copied(vertices[in]);
          }
        }
        values[v] = plan.view[v];
      }
      case COMPUTE -> {
        if (plan.laid[v]) {
          laidForward(v, values);
          values[v] = plan.view[v];
          return;
        }
        INDArray target = plan.view[v];
        mgr.offer(plan.dense[v] ? target : null);
        try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORK, WORK_NAME)) {
          INDArray out = forward(v, values, mgr);
          if (out != target) {
            // an array of the layer's own, or a strided slice: copied into its range (never
            // broadcast: a shape other than the first call's is a bug)
            if (!Arrays.equals(out.shape(), target.shape())) {
              throw new IllegalStateException(vertices[v].getVertexName() + " gave " + Arrays.toString(out.shape())
                  + ", planned " + Arrays.toString(target.shape()) + " from the first call with these inputs");
            }
            target.assign(out);
            plan.copied(vertices[v]);
          }
        }
        values[v] = target;
      }
    }
  }

  /**
   * A conv that reads or writes an activation in oneDNN's layout (or adds one): on its primitive,
   * straight from and into the planned memory. A max pooling that reads one: into its output's
   * planned layout (the same, or NCHW).
   */
  private void laidForward(int v, INDArray[] values) {
    int in = reads[v][0];
    if (vertices[v] instanceof BroadcastMul.Impl) {
      int map = BroadcastMul.Impl.scaledMap(plan.shape[reads[v][0]], plan.shape[reads[v][1]], plan.shape[v]);
      int x = reads[v][map];
      INDArray s = values[reads[v][1 - map]];
      try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORK, WORK_NAME)) {
        LaidSqueeze.scale(values[x], plan.shape[x], plan.layout[x], s, plan.view[v], plan.layout[v], mgr);
      }
      return;
    }
    if (globalMean(v)) {
      try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORK, WORK_NAME)) {
        LaidSqueeze.means(values[in], plan.shape[in], plan.layout[in], plan.view[v], mgr);
      }
      return;
    }
    if (vertices[v].getLayer() instanceof CnncMaxPool.Impl pool) {
      try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORK, WORK_NAME)) {
        // the ReLU (or relu6) of the conv it alone reads, if that conv left it to the pooling
        float cap = plan.poolsActivation[in] ? ((GemmConvolutionLayer) vertices[in].getLayer()).poolableCap() : 0f;
        pool.forwardLaid(values[in], plan.shape[in], plan.layout[in], plan.view[v], plan.layout[v], cap, mgr);
      }
      return;
    }
    GemmConvolutionLayer conv = (GemmConvolutionLayer) vertices[v].getLayer();
    Integer add = addsInto.get(v);
    int other = residualOf(v);
    try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WORK, WORK_NAME)) {
      conv.forwardLaid(values[in], plan.shape[in], plan.layout[in], plan.view[v], plan.layout[v],
          other < 0 ? null : values[other], other < 0 ? 0 : plan.layout[other], add != null && addsRelu.contains(add),
          !plan.poolsActivation[v], mgr);
    }
  }

  /**
   * Each activation's layout for a planned call ({@link InferencePlan.Pass#CONV_LAYOUT}): the one
   * oneDNN's convs prefer ({@link ConvLayout#preferred()}), or NCHW. An activation is kept in
   * oneDNN's layout when a conv able to run on oneDNN's primitive writes it (itself, or the
   * residual add it computes), it is no output and no slice of a concatenation, and every step
   * reading it takes that layout: such a conv, or a residual add computed by one (which reorders
   * a residual whose layout is not its output's). A conv whose own pass converts nothing (a 1x1
   * conv, a product over NCHW; a wide 3x3 conv on Winograd's kernel) gains only with both its
   * input and its output in oneDNN's layout; with one side NCHW it converts that side, and loses:
   * on MobileNetV2, whose 1x1 convs sit between depthwise convs (NCHW), a 1x1 conv with one
   * conversion took up to 3x its product's time, and VGG16 at batch 8 lost 4% with its Winograd
   * convs moved. A residual counts too: an NCHW residual of a kept sum is reordered (ResNet-50's
   * first block: its 1x1 downsampling conv's output, 6.4M floats at batch 8). So each kept
   * activation is weighed by the floats it spares converting ({@link #converted}) at each conv
   * beside it: the conv that writes it, those that read it, and those that add it as their
   * residual; one that spares none stays NCHW, and so on until none changes.
   * Nor does a 1x1 conv of fewer than {@link #POINTWISE_MIN_PIXELS} output pixels (over the
   * batch) join, unless it keeps its weights in the primitive's layout
   * ({@link GemmConvolutionLayer#keepsWeights}, a network {@code forInference} made): else the
   * primitive reorders its weights at every call, which the product reads as they are, and that
   * costs the more the fewer pixels share the weights (ResNet-50 at batch 1: the 1x1 convs at
   * 14^2 and 7^2 lost up to 0.8 ms each, those at 28^2 some 0.05 ms each). With the weights kept,
   * they join (one process alternating two plans, batch 8: MobileNetV2 64.0 ms against 75.3,
   * its 7^2 stage kept; ResNet-50 359 against 385; NiN 18.3 against 19.7, at batch 1 5.37 against
   * 5.66; GoogLeNet at batch 1 31.1 against 33.3).
   * A grouped conv (depthwise: MobileNetV2's, EfficientNet's) runs on the primitive too, with
   * groups; over NCHW it runs on cnnc's depthwise kernel (or group by group), which converts
   * nothing, so it joins only with both its sides kept (MobileNetV2 at batch 8: 58.3 ms against
   * 75.2, its blocks kept whole).
   * Nor does a wide 3x3 conv that Winograd's kernel runs faster than the primitive even in
   * oneDNN's layout ({@link GemmConvolutionLayer#winogradOverLaid}: VGG16's 28^2 stage).
   *
   * <p>A max pooling ({@link CnncMaxPool.Impl#forwardLaid}) reads a kept activation as it is and
   * writes its output in the same layout or in NCHW, for free either way: an activation that
   * poolings read is kept as one that convs read, and a pooling's output is kept only with its
   * input, the two weighed as one group (by the convs beside either). A pooling between two
   * convs then costs neither a conversion (VGG16's, NiN's, the ResNet stem's).
   *
   * <p>A channel concatenation is kept too when convs (or poolings) read it, in NHWC always and
   * in a blocked layout when each input fills whole blocks ({@link ConvLayout#concatenates}): it
   * copies each input into its channels, from the input's kept layout or from NCHW
   * ({@link ConvLayout#concatenate}). An input that only the concatenation
   * reads (an NCHW concatenation's slice, written in place) is then kept with it, the two weighed
   * as one group, the copy of the whole output counted against what the group spares. oneDNN 2.5's
   * convs cannot write a strided NHWC slice of the output (they run their reference kernel then),
   * so the copy stays. GoogLeNet's Inception blocks stay in the layout from one to the next, with
   * {@link InferencePlan.Pass#MERGE_POINTWISE} not merging their 1x1 convs (its slices are NCHW):
   * at batch 8 157.2 ms against 180.5, at batch 1 27.3 against 33.6 (one process alternating the
   * two plans); SqueezeNet at batch 8 120.9 against 147.4, DenseNet-121 427.1 against 450.7.
   */
  static final long POINTWISE_MIN_PIXELS = 1024;

  private int[] layouts(INDArray[] probed) {
    int n = vertices.length;
    int[] layout = new int[n];
    int preferred = layOut ? ConvLayout.preferred() : ConvLayout.NCHW;
    if (preferred == ConvLayout.NCHW) {
      return layout;
    }
    boolean[] conv = new boolean[n];
    boolean[] convertsNothing = new boolean[n];
    // a global average pooling (reads oneDNN's layout, writes [n, c, 1, 1])
    boolean[] mean = new boolean[n];
    // the input whose layout a step reads and writes as it is, or -1: a max pooling's input, a
    // squeeze-and-excitation scaling's map (a pooling may write NCHW instead, a scaling too)
    int[] follows = new int[n];
    Arrays.fill(follows, -1);
    // a channel concatenation that can be kept: it copies each input (kept or NCHW) into its
    // channels of the output
    boolean[] concat = new boolean[n];
    for (int v : steps) {
      concat[v] = kind[v] == Kind.CONCAT && probed[v].rank() == 4 && probed[v].dataType() == DataType.FLOAT
          && ConvLayout.concatenates(Arrays.stream(reads[v]).mapToLong(r -> probed[r].size(1)).toArray(), preferred);
      if (kind[v] == Kind.COMPUTE && probed[v].rank() == 4 && reads[v].length == 1 && vertices[v].hasLayer()
          && vertices[v].getLayer() instanceof GemmConvolutionLayer c && c.laidOut()) {
        conv[v] = (!c.pointwise() || c.keepsWeights() || probed[v].size(0) * probed[v].size(2) * probed[v].size(3) >= POINTWISE_MIN_PIXELS)
            && !c.winogradOverLaid(probed[reads[v][0]], probed[v]);
        convertsNothing[v] = c.convertsNothing(probed[reads[v][0]], probed[v]);
      }
      if (kind[v] == Kind.COMPUTE && probed[v].rank() == 4 && reads[v].length == 1 && vertices[v].hasLayer()
          && vertices[v].getLayer() instanceof CnncMaxPool.Impl && probed[v].dataType() == DataType.FLOAT) {
        follows[v] = reads[v][0];
      }
      mean[v] = kind[v] == Kind.COMPUTE && reads[v].length == 1 && globalMean(v)
          && probed[reads[v][0]].rank() == 4 && probed[reads[v][0]].dataType() == DataType.FLOAT;
      int map = kind[v] == Kind.COMPUTE && reads[v].length == 2 && vertices[v] instanceof BroadcastMul.Impl
          && probed[v].dataType() == DataType.FLOAT
          ? BroadcastMul.Impl.scaledMap(probed[reads[v][0]].shape(), probed[reads[v][1]].shape(), probed[v].shape())
          : -1;
      if (map >= 0) {
        follows[v] = reads[v][map];
      }
    }
    // the candidates: written by such a conv, a step that follows its input's layout or such a
    // concatenation (not into an NCHW concatenation's slice), read only by such convs (or their
    // residual adds), global average poolings, steps that follow them and such concatenations
    boolean[] kept = new boolean[n];
    for (int v : steps) {
      if (!(conv[v] || follows[v] >= 0 || concat[v]) || sliceOf.containsKey(v) && !concat[sliceOf.get(v)]) {
        continue;
      }
      int act = addsInto.getOrDefault(v, v);
      List<Integer> rs = readers.getOrDefault(act, List.of());
      kept[act] = !isOutput.contains(act) && (!sliceOf.containsKey(act) || concat[sliceOf.get(act)]) && !rs.isEmpty()
          && rs.stream().map(s -> steps[s]).allMatch(r -> conv[r] || mean[r] || follows[r] == act || concat[r]
              || kind[r] == Kind.ADDED && conv[addedBy.get(r)]);
    }
    // a pooling (or a scaling) keeps its output's layout only with its input's (its map's): it
    // reads oneDNN's layout and writes it (a pooling: or NCHW); an input written into a
    // concatenation's slice keeps its layout only with the concatenation's. Each such pair is kept,
    // or not, together, weighed as one group
    settle(kept, follows);
    int[] group = new int[n];
    for (int v = 0; v < n; v++) {
      group[v] = v;
    }
    for (int v : steps) {
      if (follows[v] >= 0 && kept[v]) {
        group[root(group, v)] = root(group, follows[v]);
      }
      if (kept[v] && sliceOf.containsKey(v)) {
        group[root(group, v)] = root(group, sliceOf.get(v));
      }
    }
    // what keeping each activation saves, in floats converted at the convs beside it: the conv
    // that writes it (or the add it computes), those that read it, and those whose add reads it
    // as its residual; one that saves nothing is dropped, until none is
    List<List<Integer>> beside = new ArrayList<>();
    for (int v = 0; v < n; v++) {
      beside.add(new ArrayList<>());
    }
    for (int v : steps) {
      if (conv[v]) {
        int out = addsInto.getOrDefault(v, v);
        beside.get(out).add(v);
        beside.get(reads[v][0]).add(v);
        int res = residualOf(v);
        if (res >= 0) {
          beside.get(res).add(v);
        }
      }
    }
    Map<Integer, List<Integer>> members = new java.util.LinkedHashMap<>();
    for (int act : steps) {
      if (kept[act]) {
        members.computeIfAbsent(root(group, act), k -> new ArrayList<>()).add(act);
      }
    }
    boolean changed = true;
    while (changed) {
      changed = false;
      for (List<Integer> acts : members.values()) {
        if (!kept[acts.get(0)]) {
          continue;
        }
        long saved = 0;
        for (int c : acts.stream().flatMap(a -> beside.get(a).stream()).distinct().toList()) {
          acts.forEach(a -> kept[a] = false);
          saved += converted(c, kept, convertsNothing, probed);
          acts.forEach(a -> kept[a] = true);
          saved -= converted(c, kept, convertsNothing, probed);
        }
        // a kept concatenation copies its whole output, where an NCHW one has its inputs write
        // their slices in place
        for (int a : acts) {
          if (concat[a]) {
            saved -= probed[a].length();
          }
        }
        if (saved <= 0) {
          acts.forEach(a -> kept[a] = false);
          changed = true;
        }
      }
    }
    // a concatenation the weighing dropped takes its inputs NCHW
    settle(kept, follows);
    for (int v : steps) {
      if (conv[v] && kept[addsInto.getOrDefault(v, v)]) {
        layout[v] = preferred;
        layout[addsInto.getOrDefault(v, v)] = preferred;
      }
      if ((follows[v] >= 0 || concat[v]) && kept[v]) {
        layout[v] = preferred;
      }
    }
    return layout;
  }

  /**
   * Drops from {@code kept} what cannot stay without another activation kept, until nothing
   * changes: a step that follows its input's layout, without that input; an input written into a
   * concatenation's slice, without the concatenation; and an activation that a concatenation
   * left NCHW reads (its NCHW path copies NCHW inputs only). Run before the weighing and after it,
   * which may drop a concatenation that other kept activations feed.
   */
  private void settle(boolean[] kept, int[] follows) {
    for (boolean changed = true; changed;) {
      changed = false;
      for (int v : steps) {
        if (!kept[v]) {
          continue;
        }
        boolean drop = follows[v] >= 0 && !kept[follows[v]] || sliceOf.containsKey(v) && !kept[sliceOf.get(v)]
            || readers.getOrDefault(v, List.of()).stream().map(r -> steps[r])
                .anyMatch(r -> kind[r] == Kind.CONCAT && !kept[r]);
        if (drop) {
          kept[v] = false;
          changed = true;
        }
      }
    }
  }

  /**
   * Whether vertex {@code v} is a global average pooling that keeps its dimensions (DL4J's
   * {@code GlobalPoolingLayer}, average, {@code [n, c, 1, 1]} out): {@link LaidSqueeze#means}
   * computes it from oneDNN's layout.
   */
  private boolean globalMean(int v) {
    return vertices[v].hasLayer()
        && vertices[v].getLayer() instanceof org.deeplearning4j.nn.layers.pooling.GlobalPoolingLayer layer
        && layer.conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer conf
        && conf.getPoolingType() == org.deeplearning4j.nn.conf.layers.PoolingType.AVG && !conf.isCollapseDimensions();
  }

  /** The root of {@code v}'s group, for {@link #layouts}' groups of activations kept together. */
  private static int root(int[] group, int v) {
    while (group[v] != v) {
      v = group[v];
    }
    return v;
  }

  /** The residual a conv adds (the other input of the add it computes), or -1. */
  private int residualOf(int conv) {
    Integer add = addsInto.get(conv);
    return add == null ? -1 : reads[add][0] == conv ? reads[add][1] : reads[add][0];
  }

  /**
   * The floats conv {@code c} converts between layouts with the activations {@code kept} in
   * oneDNN's layout. On oneDNN's primitive (some side kept): each NCHW side, input and output,
   * and an NCHW residual when the output is kept (reordered into it; a kept residual of an NCHW
   * output is added before the output's own conversion, {@link GemmConvolutionLayer#forwardLaid}).
   * All NCHW: nothing when its own pass converts nothing, else its input and output (oneDNN's
   * primitive reorders both).
   */
  private long converted(int c, boolean[] kept, boolean[] convertsNothing, INDArray[] probed) {
    int in = reads[c][0];
    int out = addsInto.getOrDefault(c, c);
    int res = residualOf(c);
    boolean laid = kept[in] || kept[out] || res >= 0 && kept[res];
    if (!laid) {
      return convertsNothing[c] ? 0 : probed[in].length() + probed[out].length();
    }
    return (kept[in] ? 0 : probed[in].length()) + (kept[out] ? 0 : probed[out].length())
        + (res >= 0 && kept[out] && !kept[res] ? probed[res].length() : 0);
  }

  private INDArray forward(int v, INDArray[] values, LayerWorkspaceMgr m) {
    GraphVertex vertex = vertices[v];
    for (int k = 0; k < reads[v].length; k++) {
      vertex.setInput(k, values[reads[v][k]], m);
    }
    Integer add = addsInto.get(v);
    GemmConvolutionLayer conv = add == null ? null : (GemmConvolutionLayer) vertex.getLayer();
    if (conv != null) {
      int[] in = reads[add];
      conv.residual(values[in[0] == v ? in[1] : in[0]], addsRelu.contains(add));
    }
    try {
      return vertex.doForward(false, m);
    } finally {
      if (conv != null) {
        conv.residual(null, false);
      }
      vertex.clear();
    }
  }

  private INDArray[] copies(INDArray[] values) {
    INDArray[] out = new INDArray[outputs.length];
    try (MemoryWorkspace none = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
      for (int i = 0; i < outputs.length; i++) {
        out[i] = values[outputs[i]].dup('c');
      }
    }
    return out;
  }

  /**
   * Times each step of the planned calls: runs {@code inputs} once to plan (and warm up), then
   * {@code calls} times, and returns for each vertex that computes, concatenates or reads a
   * layout, in the order of the steps, its time in each of those calls, in milliseconds, as the
   * plan runs it (fused passes, oneDNN's layouts and copies into concatenations included). A
   * step that does nothing (an input, a view, an add its conv computes) is left out.
   */
  synchronized List<CnnNetwork.StepTime> timeSteps(int calls, INDArray... inputs) {
    if (!planned(inputs)) {
      // only float inputs run over a plan (others take each vertex's own path, untimed)
      throw new IllegalArgumentException("steps are timed over the plan for float inputs; got "
          + Arrays.stream(inputs).map(x -> x.dataType().toString()).toList());
    }
    run(inputs);
    double[][] ms = new double[vertices.length][calls];
    try {
      for (int c = 0; c < calls; c++) {
        stepNanos = new long[vertices.length];
        run(inputs);
        for (int v : steps) {
          ms[v][c] = stepNanos[v] / 1e6;
        }
      }
    } finally {
      stepNanos = null;
    }
    List<CnnNetwork.StepTime> out = new ArrayList<>();
    for (int v : steps) {
      if (kind[v] == Kind.COMPUTE || kind[v] == Kind.CONCAT) {
        out.add(new CnnNetwork.StepTime(vertices[v].getVertexName(), plan == null ? ConvLayout.NCHW : plan.layout[v],
            plan != null && plan.laid[v], ms[v]));
      }
    }
    return out;
  }

  /** The plan in use: the arena's size (for tests). */
  synchronized long arenaFloats() {
    return plan == null ? 0 : plan.arena.length();
  }

  /** The vertices whose output the last planned call copied (for tests). */
  synchronized List<String> copied() {
    return plan == null ? List.of() : List.copyOf(plan.copied);
  }

  /**
   * The layout of each activation that the last planned call kept in another layout than NCHW,
   * by vertex name ({@link ConvLayout}'s codes; for tests).
   */
  synchronized Map<String, Integer> layouts() {
    Map<String, Integer> out = new java.util.TreeMap<>();
    if (plan != null) {
      for (int v : steps) {
        if (plan.layout[v] != ConvLayout.NCHW) {
          out.put(vertices[v].getVertexName(), plan.layout[v]);
        }
      }
    }
    return out;
  }

  /** The convs whose ReLU or relu6 the max pooling after them applies, in the last plan (for tests). */
  synchronized Set<String> pooledActivations() {
    Set<String> out = new java.util.TreeSet<>();
    if (plan != null) {
      for (int v : steps) {
        if (plan.poolsActivation[v]) {
          out.add(vertices[v].getVertexName());
        }
      }
    }
    return out;
  }

  /** How step {@code v}'s vertex is run (for tests). */
  Kind kind(String vertex) {
    return Arrays.stream(vertices).filter(x -> x.getVertexName().equals(vertex)).map(x -> kind[x.getVertexIndex()])
        .findFirst().orElse(null);
  }

  /**
   * Where each activation lives for one set of input shapes: a range of the arena for each
   * vertex that owns memory, slices of it for a concatenation's inputs, views for subsets.
   */
  static final class Plan {
    final INDArray arena;
    final INDArray[] view;
    final boolean[] dense;
    /** Each activation's layout ({@link #layouts}; {@link ConvLayout}'s codes). */
    final int[] layout;
    /** Each activation's shape (NCHW, whatever its layout). */
    final long[][] shape;
    /** The convs run on oneDNN's primitive in the planned layouts ({@link #laidForward}). */
    final boolean[] laid;
    /**
     * The laid convs whose ReLU or relu6 the max pooling that alone reads their kept output applies
     * to its own output instead ({@link GemmConvolutionLayer#poolableCap}): one pass over a quarter
     * of the values or fewer, not over all of them.
     */
    final boolean[] poolsActivation;
    private final INDArray[][] slices;
    final List<String> copied = new ArrayList<>();

    void copied(GraphVertex v) {
      copied.add(v.getVertexName());
    }

    private Plan(INDArray arena, INDArray[] view, boolean[] dense, INDArray[][] slices, int[] layout, long[][] shape,
        boolean[] laid, boolean[] poolsActivation) {
      this.poolsActivation = poolsActivation;
      this.layout = layout;
      this.shape = shape;
      this.laid = laid;
      this.arena = arena;
      this.view = view;
      this.dense = dense;
      this.slices = slices;
    }

    INDArray slice(int concat, int k) {
      return slices[concat][k];
    }

    /** Whether some conv runs in oneDNN's layouts ({@link #laid}). */
    boolean laidOut() {
      for (boolean l : laid) {
        if (l) {
          return true;
        }
      }
      return false;
    }

    static Plan of(InferenceExecutor e, INDArray[] probed) {
      int n = e.vertices.length;
      int[] layout = e.layouts(probed);
      long[][] shape = new long[n][];
      long[] size = new long[n];
      for (int v : e.steps) {
        shape[v] = probed[v].shape();
        size[v] = layout[v] == ConvLayout.NCHW ? probed[v].length() : ConvLayout.floats(shape[v], layout[v]);
      }
      // a conv runs in the planned layouts when it reads, writes or adds an activation in oneDNN's
      boolean[] laid = new boolean[n];
      for (int v : e.steps) {
        Integer add = e.addsInto.get(v);
        laid[v] = e.kind[v] == Kind.COMPUTE && e.reads[v].length > 0
            && (layout[v] != ConvLayout.NCHW || Arrays.stream(e.reads[v]).anyMatch(r -> layout[r] != ConvLayout.NCHW)
                || add != null && Arrays.stream(e.reads[add]).anyMatch(r -> layout[r] != ConvLayout.NCHW));
      }
      // the vertex whose memory each step's output is part of
      int[] owner = new int[n];
      Arrays.fill(owner, -1);
      for (int v : e.steps) {
        if (probed[v].dataType() != DataType.FLOAT) {
          return null;
        }
        owner[v] = switch (e.kind[v]) {
          case INPUT -> -1;
          case VIEW -> e.reads[v][0];
          // an input of a concatenation kept in oneDNN's layout has memory of its own
          default -> e.addsInto.getOrDefault(v, e.sliceOf.containsKey(v) && layout[e.sliceOf.get(v)] == ConvLayout.NCHW
              ? e.sliceOf.get(v) : v);
        };
      }
      // lifetimes: from the first step that writes into a block to the last that reads it
      int[] first = new int[n];
      int[] last = new int[n];
      Arrays.fill(first, Integer.MAX_VALUE);
      Arrays.fill(last, -1);
      for (int s = 0; s < e.steps.length; s++) {
        int v = e.steps[s];
        int o = root(owner, v);
        if (o >= 0) {
          first[o] = Math.min(first[o], s);
          last[o] = Math.max(last[o], s);
          for (int r : e.readers.getOrDefault(v, List.of())) {
            last[o] = Math.max(last[o], r);
          }
        }
      }
      for (int o : e.outputs) {
        int r = root(owner, o);
        if (r >= 0) {
          last[r] = e.steps.length;
        }
      }
      List<Integer> blocks = new ArrayList<>();
      for (int v : e.steps) {
        if (owner[v] == v) {
          blocks.add(v);
        }
      }
      long[] offset = place(blocks, v -> size[v], v -> first[v], v -> last[v]);
      long total = 0;
      for (int v : blocks) {
        total = Math.max(total, offset[blocks.indexOf(v)] + size[v]);
      }
      INDArray arena;
      try (MemoryWorkspace none = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
        arena = Nd4j.createUninitialized(DataType.FLOAT, Math.max(1, total));
      }
      INDArray[] view = new INDArray[n];
      boolean[] dense = new boolean[n];
      for (int i = 0; i < blocks.size(); i++) {
        int v = blocks.get(i);
        INDArray range = arena.get(NDArrayIndex.interval(offset[i], offset[i] + size[v]));
        // oneDNN's layout in rows, for the pass that finishes a conv
        view[v] = layout[v] == ConvLayout.NCHW ? range.reshape('c', probed[v].shape())
            : range.reshape('c', ConvLayout.rows(shape[v], layout[v]));
        dense[v] = true;
      }
      INDArray[][] slices = new INDArray[n][];
      for (int v : e.steps) {
        if (e.kind[v] == Kind.CONCAT && layout[v] == ConvLayout.NCHW) {
          slices[v] = new INDArray[e.reads[v].length];
          long from = 0;
          for (int k = 0; k < e.reads[v].length; k++) {
            long c = probed[e.reads[v][k]].size(1);
            slices[v][k] = view[v].get(channels(view[v].rank(), from, from + c));
            from += c;
            int in = e.reads[v][k];
            if (e.sliceOf.containsKey(in)) {
              view[in] = slices[v][k];
              dense[in] = denseC(view[in]);
            }
          }
        }
      }
      // a conv that computes an add writes the add's memory
      e.addsInto.forEach((conv, add) -> {
        view[conv] = view[add];
        dense[conv] = dense[add];
      });
      for (int v : e.steps) {
        if (e.kind[v] == Kind.VIEW) {
          long from = e.subsetFrom.get(v);
          view[v] = view[e.reads[v][0]].get(channels(probed[v].rank(), from, from + probed[v].size(1)));
        }
      }
      // a laid conv's ReLU (or relu6) moved to the laid max pooling that alone reads its kept output
      boolean[] poolsActivation = new boolean[n];
      for (int v : e.steps) {
        List<Integer> rs = e.readers.getOrDefault(v, List.of());
        int r = rs.size() == 1 ? e.steps[rs.get(0)] : -1;
        poolsActivation[v] = r >= 0 && laid[v] && laid[r] && layout[v] != ConvLayout.NCHW
            && !e.addsInto.containsKey(v) && !e.isOutput.contains(v)
            && e.vertices[v].getLayer() instanceof GemmConvolutionLayer conv && conv.poolableCap() > 0
            && e.kind[r] == Kind.COMPUTE && e.vertices[r].hasLayer() && e.vertices[r].getLayer() instanceof CnncMaxPool.Impl;
      }
      return new Plan(arena, view, dense, slices, layout, shape, laid, poolsActivation);
    }

    private static int root(int[] owner, int v) {
      int o = owner[v];
      while (o >= 0 && owner[o] != o) {
        o = owner[o];
      }
      return o;
    }
  }

  private static INDArrayIndex[] channels(int rank, long from, long to) {
    INDArrayIndex[] index = new INDArrayIndex[rank];
    Arrays.fill(index, NDArrayIndex.all());
    index[1] = NDArrayIndex.interval(from, to);
    return index;
  }

  /** Whether {@code a} is C-ordered with default strides (dimensions of size 1 may have any). */
  static boolean denseC(INDArray a) {
    long expect = 1;
    for (int d = a.rank() - 1; d >= 0; d--) {
      if (a.size(d) != 1 && a.stride(d) != expect) {
        return false;
      }
      expect *= a.size(d);
    }
    return true;
  }

  /**
   * Offsets for blocks of the given sizes and lifetimes (inclusive step ranges) such that blocks
   * alive at the same step never overlap: largest first, each at the lowest aligned offset clear
   * of the blocks placed so far that it meets in time.
   */
  static long[] place(List<Integer> blocks, java.util.function.IntToLongFunction size,
      java.util.function.IntUnaryOperator first, java.util.function.IntUnaryOperator last) {
    Integer[] order = new Integer[blocks.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingLong((Integer i) -> -size.applyAsLong(blocks.get(i))).thenComparingInt(i -> i));
    long[] offset = new long[blocks.size()];
    List<Integer> placed = new ArrayList<>();
    for (int i : order) {
      int b = blocks.get(i);
      List<long[]> taken = new ArrayList<>();
      for (int j : placed) {
        int o = blocks.get(j);
        if (first.applyAsInt(o) <= last.applyAsInt(b) && first.applyAsInt(b) <= last.applyAsInt(o)) {
          taken.add(new long[] {offset[j], offset[j] + size.applyAsLong(o)});
        }
      }
      taken.sort(Comparator.comparingLong(r -> r[0]));
      long at = 0;
      for (long[] r : taken) {
        if (at + size.applyAsLong(b) <= r[0]) {
          break;
        }
        at = Math.max(at, (r[1] + ALIGN - 1) / ALIGN * ALIGN);
      }
      offset[i] = at;
      placed.add(i);
    }
    return offset;
  }

  /**
   * The workspace manager of a planned run: a layer's request for its output array gets the
   * activation's planned range once (same shape, C order, float); every other array, and the
   * working memory, goes to the working workspace.
   */
  private static final class PlannedMgr extends LayerWorkspaceMgr {
    private INDArray offered;

    PlannedMgr() {
      super(Set.of(ArrayType.INPUT), new HashMap<>(Map.of(ArrayType.ACTIVATIONS, WORK, ArrayType.FF_WORKING_MEM, WORK,
          ArrayType.FF_CACHE, WORK)), new HashMap<>(Map.of(ArrayType.ACTIVATIONS, WORK_NAME, ArrayType.FF_WORKING_MEM,
              WORK_NAME, ArrayType.FF_CACHE, WORK_NAME)));
      setHelperWorkspacePointers(new HashMap<>());
    }

    void offer(INDArray target) {
      offered = target;
    }

    private INDArray take(ArrayType type, DataType dt, long[] shape, char order) {
      INDArray t = offered;
      if (type == ArrayType.ACTIVATIONS && t != null && dt == DataType.FLOAT && order == 'c'
          && Arrays.equals(shape, t.shape())) {
        offered = null;
        return t;
      }
      return null;
    }

    @Override
    public INDArray createUninitialized(ArrayType type, DataType dt, long[] shape, char order) {
      INDArray t = take(type, dt, shape, order);
      return t != null ? t : super.createUninitialized(type, dt, shape, order);
    }

    @Override
    public INDArray createUninitialized(ArrayType type, DataType dt, long... shape) {
      return createUninitialized(type, dt, shape, 'c');
    }

    @Override
    public INDArray create(ArrayType type, DataType dt, long[] shape, char order) {
      INDArray t = take(type, dt, shape, order);
      return t != null ? t.assign(0) : super.create(type, dt, shape, order);
    }

    @Override
    public INDArray create(ArrayType type, DataType dt, long... shape) {
      return create(type, dt, shape, 'c');
    }

    @Override
    public INDArray dup(ArrayType type, INDArray a, char order) {
      INDArray t = take(type, a.dataType(), a.shape(), order);
      return t != null ? t.assign(a) : super.dup(type, a, order);
    }

    @Override
    public INDArray dup(ArrayType type, INDArray a) {
      return a.ordering() == 'c' ? dup(type, a, 'c') : super.dup(type, a);
    }
  }
}
