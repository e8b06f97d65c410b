// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.cnnc.run.Cnnc;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cnnc train --spark local[2]}: the command, the data on executors, the weights saved. */
class SparkLocalTest {
  static final Path MODELS = Path.of(System.getProperty("cnnc.root", "..")).resolve("models.cnn");

  @Test
  void trainsNinFromAnImageFolderOnLocalSpark(@TempDir Path tmp) throws Exception {
    Path data = Datasets.folder(tmp.resolve("images"), 6, 1);
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int rc = Cnnc.run(new String[] {"train", MODELS.toString(), "--model", "NiN", "--spark", "local[2]",
        "--data", data.toUri().toString(), "--epochs", "2", "--batch", "8", "--save", tmp.resolve("w.npz").toString()},
        new PrintWriter(out, true), new PrintWriter(err, true));
    System.out.println(out);
    System.out.println(err);
    assertEquals(0, rc, err.toString());
    assertTrue(out.toString().contains("NiN: 60 examples, 10 classes, 2 epochs, batch 8, on Spark (gradient sharing)"), out.toString());
    assertTrue(out.toString().contains("epoch 2/2  loss "), out.toString());
  }
}
