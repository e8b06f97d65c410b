// SPDX-License-Identifier: Apache-2.0
package demo;

import demo.models.NiN;
import java.io.PrintWriter;
import java.util.List;
import java.util.Random;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.NetBuilder;
import org.cnnc.runtime.Trainer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/** Trains the generated NiN on a tiny dataset made here: each class is a colour with a stripe pattern. */
public final class TrainNiN {
  public static List<Trainer.Epoch> train(int examples, int epochs, PrintWriter log) {
    DataSet data = dataset(examples, 42);
    CnnNetwork net = CnnNetwork.create(new NiN(), new NetBuilder(7, new Adam(1e-3)));
    log.printf("NiN: %,d parameters; %d examples%n", net.paramCount(), examples);
    List<Trainer.Epoch> result = Trainer.fit(net, data, epochs, 20, 1, log);
    log.printf("accuracy: %.3f after %d epochs%n", result.get(result.size() - 1).accuracy(), epochs);
    return result;
  }

  static DataSet dataset(int n, long seed) {
    Random r = new Random(seed);
    INDArray x = Nd4j.zeros(DataType.FLOAT, n, 3, 32, 32);
    INDArray y = Nd4j.zeros(DataType.FLOAT, n, 10);
    for (int i = 0; i < n; i++) {
      int label = i % 10;
      y.putScalar(i, label, 1f);
      for (int c = 0; c < 3; c++) {
        for (int h = 0; h < 32; h++) {
          for (int w = 0; w < 32; w++) {
            double base = ((label >> c) & 1) * 0.6 + ((h + w) % (label / 3 + 2) == 0 ? 0.3 : 0.0);
            x.putScalar(new int[] {i, c, h, w}, base + 0.2 * r.nextDouble());
          }
        }
      }
    }
    return new DataSet(x, y);
  }

  public static void main(String[] args) {
    train(200, 5, new PrintWriter(System.out, true));
  }
}
