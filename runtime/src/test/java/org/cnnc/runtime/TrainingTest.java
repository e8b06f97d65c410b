// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.imageio.ImageIO;
import org.cnnc.runtime.data.Cifar10;
import org.cnnc.runtime.data.ImageFolder;
import org.cnnc.runtime.data.LabeledData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.ops.transforms.Transforms;

class TrainingTest {
  @TempDir Path dir;

  /** A small CIFAR-10 binary file whose classes differ in colour and texture, with noise. */
  static Path cifar(Path dir, int n, long seed) throws Exception {
    Random r = new Random(seed);
    byte[] bytes = new byte[n * 3073];
    for (int i = 0; i < n; i++) {
      int label = i % 10;
      int off = i * 3073;
      bytes[off] = (byte) label;
      for (int c = 0; c < 3; c++) {
        for (int p = 0; p < 1024; p++) {
          int base = ((label >> c) & 1) * 150 + ((p / 32 + p % 32) % (label + 2) == 0 ? 60 : 0);
          bytes[off + 1 + c * 1024 + p] = (byte) Math.min(255, Math.max(0, base + r.nextInt(60)));
        }
      }
    }
    Path f = dir.resolve("data_batch_1.bin");
    Files.write(f, bytes);
    return f;
  }

  @Test
  void ninLearnsASmallGeneratedDataset() throws Exception {
    LabeledData d = Cifar10.load(cifar(dir, 200, 1), 0);
    assertEquals(200, d.size());
    assertEquals(List.of(1L * 200, 3L, 32L, 32L), List.of(d.features().size(0), d.features().size(1),
        d.features().size(2), d.features().size(3)));
    CnnNetwork net = CnnNetwork.create(Generated.model("NiN"), new NetBuilder(3, new Adam(1e-3)));
    StringWriter log = new StringWriter();
    List<Trainer.Epoch> epochs = Trainer.fit(net, d.toDataSet(), 4, 25, 7, new PrintWriter(log));
    double first = epochs.get(0).loss();
    double last = epochs.get(epochs.size() - 1).loss();
    System.out.printf("NiN on 200 generated CIFAR-10 records: loss %.4f -> %.4f, accuracy %.3f -> %.3f%n",
        first, last, epochs.get(0).accuracy(), epochs.get(epochs.size() - 1).accuracy());
    assertTrue(last < first, "the loss goes down: " + epochs);
    assertTrue(log.toString().contains("epoch 4/4"), log.toString());
    // A log that is no terminal: plain lines, no carriage returns; 8 batches an epoch, a step line
    // every tenth of it (steps 1..7), throughput and ETA; the accuracy pass timed apart.
    String text = log.toString();
    assertFalse(text.contains("\r"), "no \\r progress in a log");
    assertTrue(text.matches("(?s).*\nepoch 2/4  step 7/8  loss \\d+\\.\\d+  \\d+\\.\\d images/s  ETA \\d+(s|m\\d\\ds)\n.*"), text);
    assertTrue(text.matches("(?s).*\nepoch 4/4  loss \\d+\\.\\d+  accuracy \\d\\.\\d{3}  \\(\\d+ ms, \\d+\\.\\d images/s; accuracy pass \\d+ ms\\)\n.*"), text);
    assertEquals(4 * 7 + 4, text.lines().count(), text);
    assertTrue(epochs.stream().allMatch(e -> e.accuracyMillis() > 0 && e.millis() > 0), epochs.toString());
  }

  @Test
  void aValidationSplitIsSeededDisjointAndWhole() {
    INDArray x = Nd4j.arange(10).castTo(DataType.FLOAT).reshape(10, 1);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 10, 2);
    org.nd4j.linalg.dataset.DataSet all = new org.nd4j.linalg.dataset.DataSet(x, y);
    var a = Trainer.split(all, 0.3, 5);
    var b = Trainer.split(all, 0.3, 5);
    assertEquals(7, a[0].numExamples());
    assertEquals(3, a[1].numExamples());
    assertEquals(a[1].getFeatures(), b[1].getFeatures(), "the same seed holds out the same examples");
    java.util.List<Float> seen = new java.util.ArrayList<>();
    for (float v : a[0].getFeatures().toFloatVector()) {
      seen.add(v);
    }
    for (float v : a[1].getFeatures().toFloatVector()) {
      seen.add(v);
    }
    java.util.Collections.sort(seen);
    assertEquals(java.util.List.of(0f, 1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f), seen, "every example on exactly one side");
    org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> Trainer.split(all, 0.01, 5));
  }

  @Test
  void durationsArePrintedForPeople() {
    assertEquals("0s", Trainer.duration(0));
    assertEquals("59s", Trainer.duration(59_000_000_000L));
    assertEquals("3m05s", Trainer.duration(185_000_000_000L));
    assertEquals("2h07m", Trainer.duration((2 * 3600 + 7 * 60 + 30) * 1_000_000_000L));
  }

  /** GoogLeNet trains its three outputs together: loss = main + 0.3 * aux1 + 0.3 * aux2, as the article's training does. */
  @Test
  void googlenetWeighsItsThreeOutputs() throws Exception {
    CnnNetwork net = CnnNetwork.create(Generated.model("GoogLeNet", 10), new NetBuilder(5, new Adam(1e-4)));
    assertEquals(List.of(1.0, 0.3, 0.3), net.outputs().stream().map(NetBuilder.OutputSpec::weight).toList());
    Nd4j.getRandom().setSeed(3);
    INDArray x = Nd4j.randn(DataType.FLOAT, 2, 3, 224, 224);
    INDArray y = Nd4j.zeros(DataType.FLOAT, 2, 10);
    y.putScalar(0, 3, 1f);
    y.putScalar(1, 7, 1f);
    MultiDataSet data = Trainer.multi(x, y, 3);

    // The graph's score equals the weighted sum of PyTorch's CrossEntropyLoss on each output.
    Map<String, INDArray> out = net.predict(x);
    double expected = 0;
    double[] weights = {1.0, 0.3, 0.3};
    String[] names = {"main", "aux1", "aux2"};
    for (int i = 0; i < 3; i++) {
      INDArray logp = Transforms.log(Transforms.softmax(out.get(names[i]), true));
      expected += weights[i] * -logp.mul(y).sumNumber().doubleValue() / 2;
    }
    double score = net.graph().score(data, false);
    assertEquals(expected, score, 1e-3 * Math.abs(expected), "weighted loss");

    INDArray before = net.graph().params().dup();
    net.graph().fit(data);
    assertTrue(Double.isFinite(net.graph().score()));
    assertTrue(Transforms.abs(net.graph().params().sub(before)).maxNumber().doubleValue() > 0, "a step changes the weights");
  }

  @Test
  void imageFolderReadsOneClassPerSubfolder() throws Exception {
    String[] classes = {"cat", "dog", "fish"};
    for (int c = 0; c < 3; c++) {
      Path sub = Files.createDirectories(dir.resolve("images").resolve(classes[c]));
      for (int i = 0; i < 4; i++) {
        BufferedImage img = new BufferedImage(20 + i, 10, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 10; y++) {
          for (int x = 0; x < 20 + i; x++) {
            img.setRGB(x, y, c == 0 ? 0xff0000 : c == 1 ? 0x00ff00 : 0x0000ff);
          }
        }
        ImageIO.write(img, "png", sub.resolve(i + ".png").toFile());
      }
    }
    Files.writeString(dir.resolve("images/cat/notes.txt"), "not an image");
    LabeledData d = ImageFolder.load(dir.resolve("images"), 3, 8, 8);
    assertEquals(List.of("cat", "dog", "fish"), d.classes());
    assertEquals(12, d.size());
    assertEquals(List.of(12L, 3L, 8L, 8L), List.of(d.features().size(0), d.features().size(1), d.features().size(2),
        d.features().size(3)));
    // a dog: green channel full, red and blue empty
    assertEquals(1.0, d.features().getDouble(4, 1, 3, 3), 1e-6);
    assertEquals(0.0, d.features().getDouble(4, 0, 3, 3), 1e-6);
    assertEquals(1.0, d.labels().getDouble(4, 1), 0);
  }
}
