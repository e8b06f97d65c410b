// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration;
import org.nd4j.linalg.api.memory.enums.AllocationPolicy;
import org.nd4j.linalg.api.memory.enums.LearningPolicy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * cnnc's depthwise conv layer ({@link GroupedConvolution}, no bias, batch 8) beside PyTorch 1.13's on
 * MobileNetV2/V3- and EfficientNet-like shapes, in one run: forward (training mode, as a network
 * runs it) and backward (input and weight gradients), each the median of {@code iters} runs after
 * {@code 3} warm-up runs; cnnc and PyTorch take turns shape by shape (PyTorch in a
 * {@code tools/pytorch/depthwise_bench.py --serve} process on every core, idle while cnnc runs),
 * for {@code rounds} rounds, and the table gives the median over the rounds. Run with the test
 * classpath, {@code --add-modules jdk.incubator.vector} and {@code OMP_WAIT_POLICY=PASSIVE}, from
 * the project root or {@code runtime/}:
 *
 * <pre>DepthwiseBench [rounds 5] [iters 9] [--no-pytorch] [--pytorch-keep-memory] [--loop SECONDS SHAPE-INDEX fwd|bwd]</pre>
 *
 * {@code --pytorch-keep-memory} runs PyTorch with glibc told to keep freed memory (each call
 * otherwise faults in fresh pages for its outputs and oneDNN's reorders, which dominates some
 * shapes on this VM).
 *
 * {@code --loop} only runs one shape's pass for that long (to profile it). The layer's arrays come
 * from an ND4J workspace, as in a network (DL4J's graph runs with workspaces): allocated afresh
 * each call, the 3.6 MB output of 576x14x14 costs about 20 ms in page faults on this VM, ten
 * times the kernel.
 */
public final class DepthwiseBench {
  private DepthwiseBench() {}

  /** c, h, w, stride, kernel. */
  static final int[][] SHAPES = {
      {32, 112, 112, 1, 3}, // MobileNetV2's first
      {96, 112, 112, 2, 3},
      {144, 56, 56, 1, 3},
      {576, 14, 14, 1, 3},
      {960, 7, 7, 1, 3}, // MobileNetV2's last
      {144, 56, 56, 2, 5}, // EfficientNet-B0's 5x5s
      {240, 28, 28, 1, 5},
      {672, 14, 14, 1, 5},
      {72, 56, 56, 2, 3}}; // MobileNetV3's (odd channel blocks)

  static final int BATCH = 8;

  public static void main(String[] args) throws Exception {
    List<String> a = new ArrayList<>(Arrays.asList(args));
    boolean pytorch = !a.remove("--no-pytorch");
    boolean keepMalloc = a.remove("--pytorch-keep-memory");
    int loop = a.indexOf("--loop");
    if (loop >= 0) {
      Pass p = new Pass(SHAPES[Integer.parseInt(a.get(loop + 2))]);
      boolean fwd = a.get(loop + 3).equals("fwd");
      long end = System.nanoTime() + (long) (Double.parseDouble(a.get(loop + 1)) * 1e9);
      int n = 0;
      while (System.nanoTime() < end) {
        if (fwd) {
          p.forward();
        } else {
          p.backward();
        }
        n++;
      }
      System.out.printf("%d runs, %.3f ms each%n", n, Double.parseDouble(a.get(loop + 1)) * 1e3 / n);
      return;
    }
    int rounds = a.size() > 0 ? Integer.parseInt(a.get(0)) : 5;
    int iters = a.size() > 1 ? Integer.parseInt(a.get(1)) : 9;
    Process py = null;
    PrintWriter toPy = null;
    BufferedReader fromPy = null;
    if (pytorch) {
      File script = new File("tools/pytorch/depthwise_bench.py");
      if (!script.exists()) {
        script = new File("../tools/pytorch/depthwise_bench.py");
      }
      ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", script.getPath(), "--serve")
          .redirectError(ProcessBuilder.Redirect.INHERIT);
      if (keepMalloc) {
        // glibc keeps freed memory instead of returning it: PyTorch's kernels without the VM's page faults
        pb.environment().put("MALLOC_MMAP_THRESHOLD_", "4294967296");
        pb.environment().put("MALLOC_TRIM_THRESHOLD_", "68719476736");
        pb.environment().put("MALLOC_TOP_PAD_", "268435456");
      }
      py = pb.start();
      toPy = new PrintWriter(py.getOutputStream(), true, StandardCharsets.UTF_8);
      fromPy = new BufferedReader(new InputStreamReader(py.getInputStream(), StandardCharsets.UTF_8));
      System.out.println("pytorch " + fromPy.readLine());
    }
    System.out.println("vector API " + Vectors.on() + (Vectors.on() ? ", " + VectorDepthwise.L + " lanes" : "")
        + ", threads " + Runtime.getRuntime().availableProcessors());
    double[][][] t = new double[SHAPES.length][4][rounds];
    Pass[] passes = new Pass[SHAPES.length];
    for (int i = 0; i < SHAPES.length; i++) {
      passes[i] = new Pass(SHAPES[i]);
    }
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < SHAPES.length; i++) {
        int[] s = SHAPES[i];
        t[i][0][r] = median(passes[i]::forward, iters);
        t[i][1][r] = median(passes[i]::backward, iters);
        if (pytorch) {
          toPy.println(s[0] + " " + s[1] + " " + s[2] + " " + s[3] + " " + s[4] + " " + BATCH + " " + iters);
          String[] f = fromPy.readLine().trim().split(" ");
          t[i][2][r] = Double.parseDouble(f[0]);
          t[i][3][r] = Double.parseDouble(f[1]);
        }
        System.out.printf("round %d %-18s fwd %8.2f %8.2f  bwd %8.2f %8.2f%n", r, name(s), t[i][0][r], t[i][2][r],
            t[i][1][r], t[i][3][r]);
      }
    }
    if (py != null) {
      toPy.close();
      py.waitFor();
    }
    System.out.printf("%nmedians of %d rounds (each the median of %d runs), ms, batch %d%n", rounds, iters, BATCH);
    System.out.println("| shape | fwd cnnc | fwd PyTorch | fwd ratio | bwd cnnc | bwd PyTorch | bwd ratio |");
    System.out.println("|---|---:|---:|---:|---:|---:|---:|");
    for (int i = 0; i < SHAPES.length; i++) {
      double[] m = new double[4];
      for (int k = 0; k < 4; k++) {
        double[] v = t[i][k].clone();
        Arrays.sort(v);
        m[k] = v[rounds / 2];
      }
      System.out.printf("| %s | %.2f | %.2f | %.2fx | %.2f | %.2f | %.2fx |%n", name(SHAPES[i]), m[0], m[2], m[2] / m[0],
          m[1], m[3], m[3] / m[1]);
    }
  }

  static String name(int[] s) {
    return s[0] + "x" + s[1] + "x" + s[2] + " k" + s[4] + " s" + s[3];
  }

  /** Median of {@code iters} timed runs after 3 warm-up runs, ms. */
  private static double median(Runnable f, int iters) {
    for (int i = 0; i < 3; i++) {
      f.run();
    }
    double[] t = new double[iters];
    for (int i = 0; i < iters; i++) {
      long t0 = System.nanoTime();
      f.run();
      t[i] = (System.nanoTime() - t0) / 1e6;
    }
    Arrays.sort(t);
    return t[iters / 2];
  }

  /** One depthwise layer with its input and output gradient. */
  static final class Pass {
    final Layer layer;
    final INDArray x;
    final INDArray dy;
    static final String WS = "DEPTHWISE_BENCH";
    static final WorkspaceConfiguration WS_CONF = WorkspaceConfiguration.builder().initialSize(256L << 20)
        .policyAllocation(AllocationPolicy.STRICT).policyLearning(LearningPolicy.NONE).build();
    final LayerWorkspaceMgr mgr;

    Pass(int[] s) {
      LayerWorkspaceMgr.Builder b = LayerWorkspaceMgr.builder();
      for (ArrayType t : ArrayType.values()) {
        b = b.with(t, WS, WS_CONF);
      }
      mgr = b.build();
      int c = s[0];
      int k = s[4];
      NeuralNetConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).seed(1)
          .weightInit(WeightInit.XAVIER)
          .layer(GroupedConvolutionTest.conf(c, c, c, k, k, s[3], k / 2, k / 2, 1, false, false, true)).build();
      long n = conf.getLayer().initializer().numParams(conf);
      layer = conf.getLayer().instantiate(conf, null, 0, Nd4j.create(DataType.FLOAT, 1, n), true, DataType.FLOAT);
      layer.setBackpropGradientsViewArray(Nd4j.create(DataType.FLOAT, 1, n));
      x = KernelHarness.randn(1, BATCH, c, s[1], s[2]);
      layer.setInputMiniBatchSize(BATCH);
      long[] shape;
      try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WS_CONF, WS)) {
        layer.setInput(x, mgr);
        shape = layer.activate(true, mgr).shape();
      }
      dy = KernelHarness.randn(2, shape);
    }

    void forward() {
      try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WS_CONF, WS)) {
        layer.setInput(x, mgr);
        layer.activate(true, mgr);
      }
    }

    void backward() {
      try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().getAndActivateWorkspace(WS_CONF, WS)) {
        layer.setInput(x, mgr);
        layer.backpropGradient(dy, mgr);
      }
    }
  }
}
