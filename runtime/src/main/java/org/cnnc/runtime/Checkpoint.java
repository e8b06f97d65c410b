// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import org.cnnc.compiler.io.Npz;
import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.SafeFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Properties;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A training checkpoint: everything needed to go on training as if never stopped. A zip of
 * {@code checkpoint.properties} (the model's name, the epochs done, DL4J's iteration and epoch
 * counts, the sizes below), {@code params.npy} (every parameter and BatchNorm buffer, DL4J's flat
 * parameter vector) and {@code updater.npy} (the optimizer's state: Adam's moments, DL4J's flat
 * updater state). cnnc's own format rather than DL4J's {@code ModelSerializer}: the network is
 * always rebuilt from its spec, so the configuration need not be stored (cnnc's custom layers
 * would need JSON serializers), and the file is read with the same limits as weights: each size
 * checked against the network's before any data is read. Written atomically ({@link SafeFiles}).
 */
public final class Checkpoint {
  private static final int MAX_PROPERTIES = 1 << 16;

  /** The epochs a checkpoint had finished. */
  public record State(int epochsDone) {}

  private Checkpoint() {}

  public static void write(Path file, CnnNetwork net, int epochsDone) throws IOException {
    ComputationGraph g = net.graph();
    INDArray params = g.params();
    INDArray updater = g.getUpdater(true).getStateViewArray();
    Properties p = new Properties();
    p.setProperty("format", "cnnc-checkpoint-1");
    p.setProperty("model", net.model().name());
    p.setProperty("epochs", Integer.toString(epochsDone));
    p.setProperty("iterations", Integer.toString(g.getConfiguration().getIterationCount()));
    p.setProperty("dl4j.epochs", Integer.toString(g.getConfiguration().getEpochCount()));
    p.setProperty("params", Long.toString(params.length()));
    p.setProperty("updater", Long.toString(updater == null ? 0 : updater.length()));
    StringWriter text = new StringWriter();
    p.store(text, "cnnc training checkpoint");
    byte[] props = text.toString().getBytes(StandardCharsets.ISO_8859_1);
    byte[] paramBytes = NdNpz.npyBytes(params.reshape(params.length()));
    byte[] updaterBytes = NdNpz.npyBytes(updater == null ? Nd4j.zeros(DataType.FLOAT, 0) : updater.reshape(updater.length()));
    SafeFiles.write(file, os -> {
      ZipOutputStream zip = new ZipOutputStream(os);
      Npz.stored(zip, "checkpoint.properties", props);
      Npz.stored(zip, "params.npy", paramBytes);
      Npz.stored(zip, "updater.npy", updaterBytes);
      zip.finish();
    });
  }

  /**
   * Restores parameters, buffers, optimizer state and DL4J's counters into {@code net}, which must
   * be built from the same model; all or nothing. Every problem is an {@link IOException} naming the
   * file (and the entry).
   */
  public static State restore(Path file, CnnNetwork net) throws IOException {
    String where = Escape.terminal(file.toString());
    if (!Files.isRegularFile(file)) {
      throw new IOException(where + ": " + (Files.exists(file) ? "not a regular file" : "no such file"));
    }
    ComputationGraph g = net.graph();
    INDArray updaterView = g.getUpdater(true).getStateViewArray();
    long nParams = g.params().length();
    long nUpdater = updaterView == null ? 0 : updaterView.length();
    Properties p = new Properties();
    Npz.Array params;
    Npz.Array updater;
    try (ZipFile zip = new ZipFile(file.toFile())) {
      for (ZipEntry e : Collections.list(zip.entries())) {
        if (!e.getName().equals("checkpoint.properties") && !e.getName().equals("params.npy")
            && !e.getName().equals("updater.npy")) {
          throw new IOException(where + ": unexpected entry '" + Escape.terminal(e.getName()) + "': not a cnnc checkpoint");
        }
      }
      ZipEntry pe = zip.getEntry("checkpoint.properties");
      if (pe == null) {
        throw new IOException(where + ": no checkpoint.properties: not a cnnc checkpoint");
      }
      try (InputStream in = zip.getInputStream(pe)) {
        byte[] bytes = in.readNBytes(MAX_PROPERTIES + 1);
        if (bytes.length > MAX_PROPERTIES) {
          throw new IOException(where + ": entry 'checkpoint.properties' is longer than " + MAX_PROPERTIES + " bytes");
        }
        p.load(new StringReader(new String(bytes, StandardCharsets.ISO_8859_1)));
      }
      if (!"cnnc-checkpoint-1".equals(p.getProperty("format"))) {
        throw new IOException(where + ": entry 'checkpoint.properties': not a cnnc checkpoint of a known format");
      }
      String model = p.getProperty("model", "");
      if (!model.equals(net.model().name())) {
        throw new IOException(where + ": a checkpoint of model '" + Escape.terminal(model) + "', not of "
            + net.model().name());
      }
      params = array(zip, "params.npy", nParams, where);
      updater = array(zip, "updater.npy", nUpdater, where);
    } catch (ZipException e) {
      throw new IOException(where + ": not a valid checkpoint (truncated or corrupt zip): " + Escape.terminal(String.valueOf(e.getMessage())));
    }
    int epochs = count(p, "epochs", where);
    int iterations = count(p, "iterations", where);
    int dl4jEpochs = count(p, "dl4j.epochs", where);
    g.setParams(Nd4j.create(params.data(), new long[] {1, nParams}, 'c'));
    net.weightsChanged();
    if (updaterView != null) {
      updaterView.assign(Nd4j.create(updater.data(), new long[] {1, nUpdater}, 'c').reshape(updaterView.shape()));
    }
    g.getConfiguration().setIterationCount(iterations);
    g.getConfiguration().setEpochCount(dl4jEpochs);
    return new State(epochs);
  }

  private static Npz.Array array(ZipFile zip, String name, long length, String where) throws IOException {
    ZipEntry e = zip.getEntry(name);
    if (e == null) {
      throw new IOException(where + ": no entry '" + name + "': not a cnnc checkpoint");
    }
    try (InputStream in = zip.getInputStream(e)) {
      Npz.Array a = Npz.readNpy(in, e.getSize(), where, "entry '" + name + "'", new long[] {length}, true,
          new long[] {length * 4 + Npz.MAX_HEADER + 12});
      if (a.data() == null) {
        throw new IOException(where + ": entry '" + name + "' has dtype '" + Escape.terminal(a.dtype()) + "' and shape "
            + java.util.Arrays.toString(a.shape()) + "; this network needs float32 [" + length + "]: a checkpoint of another network?");
      }
      return a;
    }
  }

  private static int count(Properties p, String key, String where) throws IOException {
    try {
      int v = Integer.parseInt(p.getProperty(key, "").trim());
      if (v < 0) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw new IOException(where + ": entry 'checkpoint.properties': " + key + " is not a count");
    }
  }
}
