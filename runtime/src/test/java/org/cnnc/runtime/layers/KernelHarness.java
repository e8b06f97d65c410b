// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Runs one of cnnc's kernels (or DL4J's layer for the same op) on its own: a layer instantiated
 * from its configuration, its training forward pass on an input and its backward pass for a given
 * output gradient, returning the output, the input gradients and the parameter gradients. The
 * gradient checks and the race tests drive every kernel through it, and {@link Paths} forces each
 * path of the convolution.
 */
final class KernelHarness {
  private KernelHarness() {}

  /**
   * Each value's bits, every NaN as one (compiled and interpreted code may give a NaN another
   * sign), for comparing two kernels bit for bit; the array is read in C order.
   */
  static int[] bits(INDArray a) {
    float[] f = a.dup('c').data().asFloat();
    int[] out = new int[f.length];
    for (int i = 0; i < f.length; i++) {
      out[i] = Float.floatToIntBits(f[i]);
    }
    return out;
  }

  /**
   * Runs {@code body} while another thread asks for collections all the time and (when
   * {@code floats > 0}) writes fresh native arrays of that size: a kernel that let an array it
   * reads be collected mid-pass reads garbage, most surely when the freed memory is reused.
   */
  static void underCollections(int floats, Runnable body) {
    java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
    Thread gc = new Thread(() -> {
      while (!done.get()) {
        System.gc();
        if (floats > 0) {
          org.nd4j.linalg.factory.Nd4j.create(org.nd4j.linalg.api.buffer.DataType.FLOAT, floats).assign(12345f);
        }
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    gc.setDaemon(true);
    gc.start();
    try {
      body.run();
    } finally {
      done.set(true);
    }
  }

  /** What one forward and backward pass gave. */
  record Result(INDArray output, List<INDArray> inputGradients, Map<String, INDArray> paramGradients) {
    /** The same, with only the parameter gradients of {@code keys}. */
    Result only(String... keys) {
      Map<String, INDArray> kept = new LinkedHashMap<>();
      for (String k : keys) {
        kept.put(k, paramGradients.get(k));
      }
      return new Result(output, inputGradients, kept);
    }

    /** Every array, in a fixed order, for bitwise comparisons. */
    List<INDArray> all() {
      List<INDArray> a = new ArrayList<>();
      a.add(output);
      a.addAll(inputGradients);
      a.addAll(paramGradients.values());
      return a;
    }
  }

  /** An op under test: its kernel (a layer, or the concat vertex) and the parameters it holds. */
  interface Op {
    /** Forward (training) and backward for output gradient {@code dy}. */
    Result run(List<INDArray> inputs, INDArray dy);

    /** The forward pass alone (training mode). */
    INDArray forward(List<INDArray> inputs);

    /** The forward pass in inference mode (a layer's; the concat vertex has no other). */
    default INDArray infer(List<INDArray> inputs) {
      return forward(inputs);
    }

    /** The parameters by key (views: writes change the op). */
    Map<String, INDArray> params();
  }

  /** A layer from {@code conf}, parameters initialized from {@code seed}. */
  static Op layer(org.deeplearning4j.nn.conf.layers.Layer conf, long seed) {
    NeuralNetConfiguration c = new NeuralNetConfiguration.Builder()
        .dataType(DataType.FLOAT)
        .seed(seed)
        .weightInit(WeightInit.XAVIER)
        .layer(conf)
        .build();
    long n = c.getLayer().initializer().numParams(c);
    INDArray params = n > 0 ? Nd4j.create(DataType.FLOAT, 1, n) : null;
    Layer l = c.getLayer().instantiate(c, null, 0, params, true, DataType.FLOAT);
    if (n > 0) {
      l.setBackpropGradientsViewArray(Nd4j.create(DataType.FLOAT, 1, n));
    }
    return new Op() {
      @Override
      public Result run(List<INDArray> inputs, INDArray dy) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        l.setInput(inputs.get(0), mgr);
        l.setInputMiniBatchSize((int) inputs.get(0).size(0));
        INDArray y = l.activate(true, mgr).dup();
        Pair<Gradient, INDArray> p = l.backpropGradient(dy, mgr);
        Map<String, INDArray> grads = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : p.getFirst().gradientForVariable().entrySet()) {
          grads.put(e.getKey(), e.getValue().dup());
        }
        List<INDArray> dx = new ArrayList<>();
        if (p.getSecond() != null) {
          dx.add(p.getSecond().dup());
        }
        return new Result(y, dx, grads);
      }

      @Override
      public INDArray forward(List<INDArray> inputs) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        l.setInput(inputs.get(0), mgr);
        l.setInputMiniBatchSize((int) inputs.get(0).size(0));
        return l.activate(true, mgr).dup();
      }

      @Override
      public INDArray infer(List<INDArray> inputs) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        l.setInput(inputs.get(0), mgr);
        l.setInputMiniBatchSize((int) inputs.get(0).size(0));
        return l.activate(false, mgr).dup();
      }

      @Override
      public Map<String, INDArray> params() {
        return l.paramTable();
      }
    };
  }

  /** cnnc's concatenation along the channels. */
  static Op concat() {
    return vertex(new CnncConcat());
  }

  /** A parameterless vertex of cnnc's (concat, add) as an op. */
  static Op vertex(org.deeplearning4j.nn.conf.graph.GraphVertex conf) {
    GraphVertex v = conf.instantiate(null, "vertex", 0, null, false, DataType.FLOAT);
    return new Op() {
      @Override
      public Result run(List<INDArray> inputs, INDArray dy) {
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        v.setInputs(inputs.toArray(INDArray[]::new));
        INDArray y = v.doForward(true, mgr).dup();
        v.setEpsilon(dy);
        Pair<Gradient, INDArray[]> p = v.doBackward(false, mgr);
        List<INDArray> dx = new ArrayList<>();
        for (INDArray a : p.getSecond()) {
          dx.add(a.dup());
        }
        return new Result(y, dx, Map.of());
      }

      @Override
      public INDArray forward(List<INDArray> inputs) {
        v.setInputs(inputs.toArray(INDArray[]::new));
        return v.doForward(true, LayerWorkspaceMgr.noWorkspaces()).dup();
      }

      @Override
      public Map<String, INDArray> params() {
        return Map.of();
      }
    };
  }

  static ConvolutionLayer.Builder convBuilder(int c, int o, int kh, int kw, int s, int ph, int pw, int d, boolean bias,
      boolean relu) {
    return new ConvolutionLayer.Builder(new int[] {kh, kw}, new int[] {s, s}, new int[] {ph, pw})
        .dilation(d, d)
        .nIn(c)
        .nOut(o)
        .hasBias(bias)
        .activation(relu ? Activation.RELU : Activation.IDENTITY)
        .convolutionMode(ConvolutionMode.Truncate);
  }

  /** cnnc's conv (which computes its input gradient). */
  static GemmConvolution cnncConv(int c, int o, int kh, int kw, int s, int ph, int pw, int d, boolean bias,
      boolean relu) {
    return new GemmConvolution(convBuilder(c, o, kh, kw, s, ph, pw, d, bias, relu));
  }

  static CnncBatchNorm cnncBatchNorm(int c, boolean relu) {
    return cnncBatchNorm(c, relu ? org.nd4j.linalg.activations.Activation.RELU : org.nd4j.linalg.activations.Activation.IDENTITY);
  }

  static CnncBatchNorm cnncBatchNorm(int c, org.nd4j.linalg.activations.Activation fused) {
    CnncBatchNorm bn = new CnncBatchNorm(1e-5, 0.1, fused);
    bn.setNIn(c);
    bn.setNOut(c);
    return bn;
  }

  /** DL4J's batch norm as cnnc's is configured (no log std, gamma and beta trained). */
  static BatchNormalization dl4jBatchNorm(int c) {
    return new BatchNormalization.Builder().nIn(c).nOut(c).eps(1e-5).decay(0.9).useLogStd(false)
        .activation(Activation.IDENTITY).build();
  }

  static SubsamplingLayer dl4jMaxPool(int k, int s, int p) {
    return new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(k, k).stride(s, s).padding(p, p)
        .convolutionMode(ConvolutionMode.Truncate).build();
  }

  static ActivationLayer dl4jRelu() {
    return new ActivationLayer.Builder().activation(Activation.RELU).build();
  }

  static DenseLayer.Builder denseBuilder(int in, int out, boolean relu) {
    return new DenseLayer.Builder().nIn(in).nOut(out).activation(relu ? Activation.RELU : Activation.IDENTITY);
  }

  /** A standard normal array of the given shape, from its own seed. */
  static INDArray randn(long seed, long... shape) {
    Nd4j.getRandom().setSeed(seed);
    return Nd4j.randn(DataType.FLOAT, shape);
  }

  /**
   * The switches that choose a convolution's path, set for one path and put back after: every
   * path the conv kernel has (oneDNN forward and backward; GEMM forward with oneDNN's backward;
   * MKL's per-sample batched call; one GEMM over the batch on MKL and on OpenBLAS; tiled, the
   * whole map or bands of one output row, on MKL and on OpenBLAS; the batched call, one GEMM and
   * bands on cnnc's vector product).
   */
  enum Paths {
    ONEDNN,
    ONEDNN_BACKWARD_ONLY,
    MKL_STRIDED,
    MKL_ONE_GEMM,
    OPENBLAS_ONE_GEMM,
    MKL_TILED,
    MKL_BANDS,
    OPENBLAS_BANDS,
    /** MKL_STRIDED's path, MKL_ONE_GEMM's and MKL_BANDS' on cnnc's Vector API product. */
    VECTOR_STRIDED,
    VECTOR_ONE_GEMM,
    VECTOR_BANDS,
    /** 3x3 convs of stride 1 forward by Winograd's F(4x4, 3x3) from one channel up; others on MKL's whole-batch GEMM. */
    WINOGRAD;

    /** Runs {@code body} on this path, with the switches as they were afterwards. */
    <T> T on(java.util.function.Supplier<T> body) {
      KernelSettings before = KernelSettings.current();
      try {
        boolean tiled = this == MKL_TILED || this == MKL_BANDS || this == OPENBLAS_BANDS || this == VECTOR_BANDS;
        KernelSettings.use(before
            .withOneDnn(this == ONEDNN || this == ONEDNN_BACKWARD_ONLY, 1, this == ONEDNN ? Long.MAX_VALUE : 0)
            // one output row a band
            .withLayout(!tiled, this == MKL_STRIDED || this == VECTOR_STRIDED ? 0 : Long.MAX_VALUE,
                this == MKL_BANDS || this == OPENBLAS_BANDS || this == VECTOR_BANDS ? 1 : before.tileColumns())
            .withBlas(name().startsWith("OPENBLAS") ? "openblas" : name().startsWith("VECTOR") ? "vector" : "mkl")
            .withWinograd(this == WINOGRAD, this == WINOGRAD ? 1 : before.winogradMinChannels(),
                this == WINOGRAD ? 1 : before.winogradMinTiles(), this == WINOGRAD ? 1 : before.winogradMinRowTiles(),
                this == WINOGRAD ? 0 : before.winogradOverOneDnn()));
        Gemm.library(); // the library loads, or this path fails here
        return body.get();
      } finally {
        KernelSettings.use(before);
      }
    }
  }
}
