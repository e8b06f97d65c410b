// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import example.TrainOnSpark;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.cnnc.run.Models;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.Trainer;
import org.cnnc.runtime.data.Cifar10;
import org.nd4j.linalg.dataset.DataSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Java example of README's "Training on Spark" is this module's {@link TrainOnSpark}, and it runs. */
class EmbeddingExampleTest {
  static final Path ROOT = Path.of(System.getProperty("cnnc.root", ".."));
  static final Path EXAMPLE = Path.of("src/test/java/example/TrainOnSpark.java");

  @Test
  void readmesExampleIsTheOneTested() throws Exception {
    String source = Files.readString(EXAMPLE);
    String shown = source.substring(source.indexOf('\n') + 1); // without the licence line
    assertTrue(Files.readString(ROOT.resolve("README.md")).contains("```java\n" + shown + "```\n"),
        "README's example differs from " + EXAMPLE);
  }

  @Test
  void theExampleTrainsOnLocalSparkAndSavesWeights(@TempDir Path tmp) throws Exception {
    Path data = Datasets.cifar(tmp.resolve("cifar").resolve("data_batch_1.bin"), 30, 4).getParent();
    Path weights = tmp.resolve("nin.npz");
    List<Trainer.Epoch> epochs = TrainOnSpark.train(Models.load(ROOT.resolve("models.cnn"), "NiN"), "local[2]",
        data.toUri().toString(), weights);
    assertEquals(2, epochs.size());
    for (Trainer.Epoch e : epochs) {
      assertTrue(e.validated(), "held-out examples measured: " + e);
      assertTrue(e.loss() > 0 && e.validationLoss() > 0, e.toString());
    }
    // the saved weights are the last epoch's: on the held-out examples they score what it logged
    CnnNetwork net = SparkTrainer.network(Models.load(ROOT.resolve("models.cnn"), "NiN"), 1, 0.001);
    net.loadWeights(weights);
    DataSet held = Trainer.split(Cifar10.load(data, 0).toDataSet(), 0.2, 42)[1];
    assertEquals(epochs.get(1).validationLoss(), Trainer.loss(net, held, 8, 1), 1e-4);
    assertEquals(epochs.get(1).validationAccuracy(), Trainer.accuracy(net, held, 8), 1e-9);
  }
}
