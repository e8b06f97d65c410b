// SPDX-License-Identifier: Apache-2.0
package example;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.Trainer;
import org.cnnc.spark.HadoopExamples;
import org.cnnc.spark.SparkTrainer;

public final class TrainOnSpark {
  /**
   * Trains {@code model} (a class cnnc generated, e.g. {@code new NiN()}) for 2 epochs on the
   * examples at {@code data} (a URI Hadoop reads), a fifth of them held out, on the cluster at
   * {@code master}; saves the weights (PyTorch's keys) after each epoch.
   */
  public static List<Trainer.Epoch> train(CnnModel model, String master, String data, Path weights) throws Exception {
    SparkConf conf = SparkTrainer.configure(new SparkConf().setMaster(master).setAppName("train " + model.name()));
    try (JavaSparkContext sc = new JavaSparkContext(conf)) {
      CnnNetwork net = SparkTrainer.network(model, 42, 0.0003); // DL4J's layers, Adam, weights seeded
      HadoopExamples all = HadoopExamples.list(data, sc.hadoopConfiguration(), model.inputShape(), 0);
      HadoopExamples[] parts = all.split(0.2, 42); // as cnnc train --val-split 0.2 --seed 42
      PrintWriter log = new PrintWriter(System.out, true);
      return new SparkTrainer(sc).averaging(true)
          .fit(net, parts[0], parts[1], 1, 2, 8, 42, log, epoch -> net.saveWeights(weights));
    }
  }
}
