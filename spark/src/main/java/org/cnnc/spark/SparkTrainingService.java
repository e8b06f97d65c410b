// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.cnnc.run.SparkTraining;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.Trainer;

/** {@code cnnc train --spark}: found by the command with {@link java.util.ServiceLoader}. */
public final class SparkTrainingService implements SparkTraining {
  @Override
  public Session open(String master, String appName, String uri, long[] inputShape, int limit) throws IOException {
    if (inputShape.length != 3) {
      throw new IOException("training on Spark reads images; the model's input is " + java.util.Arrays.toString(inputShape));
    }
    // spark-submit's settings (and any -Dspark.* property) are read by SparkConf; --spark sets the master
    JavaSparkContext sc = new JavaSparkContext(SparkTrainer.configure(new SparkConf().setMaster(master).setAppName(appName)));
    HadoopExamples data;
    try {
      data = HadoopExamples.list(uri, sc.hadoopConfiguration(), inputShape, limit);
    } catch (IOException | RuntimeException e) {
      sc.stop();
      throw e;
    }
    return new Session() {
      @Override
      public List<String> classes() {
        return data.classes();
      }

      private HadoopExamples train = data;
      private HadoopExamples validation;

      @Override
      public long size() {
        return data.size();
      }

      @Override
      public int holdOut(double fraction, long seed) {
        HadoopExamples[] parts = data.split(fraction, seed);
        train = parts[0];
        validation = parts[1];
        return validation.size();
      }

      @Override
      public List<Trainer.Epoch> fit(CnnNetwork net, int first, int last, int batch, long seed, boolean averaging,
          PrintWriter log, Trainer.AfterEpoch after) throws IOException, Failed {
        try {
          return new SparkTrainer(sc).averaging(averaging).fit(net, train, validation, first, last, batch, seed, log, after);
        } catch (SparkException e) {
          throw new Failed(firstLine(e.getMessage()), e);
        }
      }

      private final HadoopCheckpoints checkpoints = new HadoopCheckpoints(sc.hadoopConfiguration());

      @Override
      public void checkWritable(String uri) throws IOException {
        checkpoints.checkWritable(uri);
      }

      @Override
      public void writeCheckpoint(String uri, CnnNetwork net, int epochsDone) throws IOException {
        checkpoints.write(uri, net, epochsDone);
      }

      @Override
      public void writeWeights(String uri, CnnNetwork net) throws IOException {
        checkpoints.writeWeights(uri, net);
      }

      @Override
      public int restore(String uri, CnnNetwork net) throws IOException {
        return checkpoints.restore(uri, net);
      }

      @Override
      public void close() {
        sc.stop();
      }
    };
  }

  /** Spark's message without the stack trace it quotes. */
  static String firstLine(String message) {
    if (message == null) {
      return "a Spark job was aborted";
    }
    int nl = message.indexOf('\n');
    return nl < 0 ? message : message.substring(0, nl);
  }
}
