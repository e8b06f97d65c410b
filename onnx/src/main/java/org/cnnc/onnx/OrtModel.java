// SPDX-License-Identifier: Apache-2.0
package org.cnnc.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.ir.Network;
import org.cnnc.compiler.ir.Node;

/**
 * A checked network run on ONNX Runtime through its export ({@link OnnxExport}): a cnnc network
 * deployed without Deeplearning4j. Needs {@code com.microsoft.onnxruntime:onnxruntime} on the class
 * path (an optional dependency of this module).
 *
 * <pre>{@code
 * Network net = Compiler.compile(Compiler.Request.of(Path.of("models.cnn"))).network("NiN").orElseThrow();
 * try (OrtModel m = OrtModel.of(net, weights, OnnxExport.Options.defaults("1.0"))) {
 *   Map<String, Npz.Array> out = m.predict(Map.of("input", Npz.Array.of(new long[] {1, 3, 224, 224}, pixels)));
 * }
 * }</pre>
 */
public final class OrtModel implements AutoCloseable {
  private final Network net;
  private final OrtEnvironment env = OrtEnvironment.getEnvironment();
  private final OrtSession session;

  private OrtModel(Network net, OrtSession session) {
    this.net = net;
    this.session = session;
  }

  /**
   * The network's export, loaded into an ONNX Runtime session.
   *
   * @param weights by {@code state_dict} path ({@link Npz#readStateDict}), or null for seeded ones
   * @param threads intra-op threads, or 0 for ONNX Runtime's default (one per core)
   */
  public static OrtModel of(Network net, Map<String, Npz.Array> weights, OnnxExport.Options options, int threads)
      throws OrtException {
    return of(net, weights, options, threads, null);
  }

  /**
   * As {@link #of(Network, Map, OnnxExport.Options, int)}, with ONNX Runtime's profiler on: every
   * run's nodes are timed, and {@link #endProfiling} writes them as a Chrome trace (JSON).
   *
   * @param profilePrefix the profile file's path without its suffix (ONNX Runtime appends the date
   *     and {@code .json}), or null for no profiling
   */
  public static OrtModel of(Network net, Map<String, Npz.Array> weights, OnnxExport.Options options, int threads,
      java.nio.file.Path profilePrefix) throws OrtException {
    byte[] model = OnnxExport.export(net, weights, options).toByteArray();
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
      o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      if (threads > 0) {
        o.setIntraOpNumThreads(threads);
      }
      if (profilePrefix != null) {
        o.enableProfiling(profilePrefix.toString());
      }
      return new OrtModel(net, env.createSession(model, o));
    }
  }

  /** Ends profiling (see {@link #of(Network, Map, OnnxExport.Options, int, java.nio.file.Path)}); returns the file written. */
  public java.nio.file.Path endProfiling() throws OrtException {
    return java.nio.file.Path.of(session.endProfiling());
  }

  /** The names of the model's inputs, in the spec's order. */
  public List<String> inputs() {
    List<String> out = new ArrayList<>();
    for (int id : net.inputs()) {
      out.add(net.node(id).name());
    }
    return out;
  }

  /**
   * One forward pass in inference mode.
   *
   * @param inputs by input name, each float32 {@code [N, ...]} with the input's shape after N
   * @return every output of the spec, by name, in the spec's order
   */
  public Map<String, Npz.Array> predict(Map<String, Npz.Array> inputs) throws OrtException {
    Map<String, OnnxTensor> feed = new LinkedHashMap<>();
    try {
      for (int id : net.inputs()) {
        Node n = net.node(id);
        Npz.Array a = inputs.get(n.name());
        if (a == null) {
          throw new IllegalArgumentException("no value for the input " + n.name());
        }
        feed.put(n.name(), OnnxTensor.createTensor(env, FloatBuffer.wrap(a.data()), a.shape()));
      }
      try (OrtSession.Result r = session.run(feed)) {
        Map<String, Npz.Array> out = new LinkedHashMap<>();
        for (var o : net.outputs()) {
          OnnxTensor t = (OnnxTensor) r.get(o.name()).orElseThrow();
          float[] v = new float[Math.toIntExact(t.getInfo().getNumElements())];
          t.getFloatBuffer().get(v);
          out.put(o.name(), Npz.Array.of(t.getInfo().getShape(), v));
        }
        return out;
      }
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  @Override
  public void close() throws OrtException {
    session.close();
  }
}
