package org.cnnc.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.cnnc.cli.Main;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.NetBuilder;
import org.cnnc.runtime.Trainer;
import org.cnnc.runtime.data.Cifar10;
import org.cnnc.runtime.data.ImageFolder;
import org.cnnc.runtime.data.LabeledData;
import org.nd4j.linalg.learning.config.Adam;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a model on an image folder (one subfolder per class) or CIFAR-10 binary files.")
final class TrainCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(names = "--data", required = true, paramLabel = "DIR",
      description = "An image folder, or a CIFAR-10 .bin file or directory of .bin files.")
  Path data;

  @Option(names = "--epochs", defaultValue = "1", paramLabel = "N")
  int epochs;

  @Option(names = "--batch", defaultValue = "32", paramLabel = "N")
  int batch;

  @Option(names = "--lr", defaultValue = "0.001", paramLabel = "RATE", description = "Adam's learning rate.")
  double lr;

  @Option(names = "--limit", defaultValue = "0", paramLabel = "N", description = "Use at most N examples (CIFAR-10).")
  int limit;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "S")
  long seed;

  @Option(names = "--weights", paramLabel = "W.npz", description = "Start from these weights.")
  Path weights;

  @Option(names = "--save", paramLabel = "W.npz", description = "Save the trained weights (PyTorch state_dict keys).")
  Path save;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    CnnModel m = model.load(spec.commandLine().getErr());
    if (m == null) {
      return Main.SPEC_ERRORS;
    }
    long[] in = m.inputShape();
    if (in.length != 3) {
      throw new Main.UsageError("training reads images; the model's input is " + java.util.Arrays.toString(in));
    }
    LabeledData d = isCifar(data) ? Cifar10.load(data, limit) : ImageFolder.load(data, in[0], in[1], in[2]);
    if (d.features().size(2) != in[1] || d.features().size(3) != in[2] || d.features().size(1) != in[0]) {
      throw new Main.UsageError("the data is " + java.util.Arrays.toString(d.features().shape())
          + " per batch, the model takes " + java.util.Arrays.toString(in));
    }
    CnnNetwork net = CnnNetwork.create(m, new NetBuilder(seed, new Adam(lr)));
    if (weights != null) {
      net.loadWeights(weights);
    }
    java.io.PrintWriter log = spec.commandLine().getOut();
    spec.commandLine().getOut().printf("%s: %d examples, %d classes, %d epochs, batch %d%n", m.name(), d.size(),
        d.classes().size(), epochs, batch);
    Trainer.fit(net, d.toDataSet(), epochs, batch, seed, log);
    log.flush();
    if (save != null) {
      net.saveWeights(save);
      spec.commandLine().getOut().println("saved " + save);
    }
    return Main.OK;
  }

  private static boolean isCifar(Path p) throws IOException {
    if (Files.isRegularFile(p)) {
      return p.toString().endsWith(".bin");
    }
    try (var s = Files.list(p)) {
      return s.anyMatch(f -> f.toString().endsWith(".bin"));
    }
  }
}
