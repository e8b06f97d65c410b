// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import org.cnnc.compiler.io.Escape;
import org.cnnc.compiler.io.SafeFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import org.cnnc.compiler.sema.Capabilities;
import org.cnnc.compiler.shape.Shape;
import java.util.concurrent.Callable;
import org.cnnc.cli.Main;
import org.cnnc.runtime.Checkpoint;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.NetBuilder;
import org.cnnc.compiler.io.Npz;
import org.cnnc.runtime.NdNpz;
import org.cnnc.runtime.Trainer;
import org.cnnc.runtime.WeightsException;
import org.cnnc.runtime.data.Cifar10;
import org.cnnc.runtime.data.ImageFolder;
import org.cnnc.runtime.data.LabeledData;
import org.cnnc.runtime.data.SegmentationFolder;
import org.nd4j.linalg.learning.config.Adam;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import org.nd4j.linalg.dataset.DataSet;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

@Command(name = "train", mixinStandardHelpOptions = true,
    description = "Train a model on an image folder (one subfolder per class), CIFAR-10 binary files, or (--masks) "
        + "a segmentation dataset of images/ and masks/.")
final class TrainCommand implements Callable<Integer> {
  @Mixin ModelOptions model;

  @Option(names = "--data", required = true, paramLabel = "DIR",
      description = "An image folder, or a CIFAR-10 .bin file or directory of .bin files; with --spark, a URI Hadoop reads "
          + "(file:///..., hdfs://..., s3a://...).")
  String data;

  @Option(names = "--spark", paramLabel = "MASTER",
      description = "Train on this Spark cluster (spark://HOST:PORT, yarn, k8s://..., local[N]); needs the cnnc-spark module.")
  String spark;

  @Option(names = "--averaging",
      description = "With --spark: parameter averaging instead of gradient sharing.")
  boolean averaging;

  @Option(names = "--masks",
      description = "--data is a segmentation dataset: images/ and masks/, paired by name, each mask a single-channel "
          + "PNG of class indices; trains [C, H, W] outputs per pixel.")
  boolean masks;

  @Option(names = "--ignore-index", paramLabel = "V",
      description = "With --masks: the mask value of pixels without a class, left out of the loss (PyTorch's "
          + "ignore_index); default 255.")
  Integer ignoreIndex;

  @Option(names = "--epochs", defaultValue = "1", paramLabel = "N",
      description = "Epochs in all (with --resume, counting those the checkpoint has done).")
  int epochs;

  @Option(names = "--batch", defaultValue = "32", paramLabel = "N", description = "Examples per mini-batch.")
  int batch;

  @Option(names = "--lr", defaultValue = "0.001", paramLabel = "RATE", description = "Adam's learning rate.")
  double lr;

  @Option(names = "--limit", defaultValue = "0", paramLabel = "N", description = "Use at most N examples (CIFAR-10).")
  int limit;

  @Option(names = "--val-split", defaultValue = "0", paramLabel = "F",
      description = "Hold out this fraction of the examples (chosen by --seed) and report their loss and accuracy "
          + "after each epoch; 0: none.")
  double valSplit;

  @Option(names = "--seed", defaultValue = "0", paramLabel = "S",
      description = "Seeds the initial weights, each epoch's shuffle and its dropout.")
  long seed;

  @Option(names = "--weights", paramLabel = "W.npz", description = "Start from these weights.")
  Path weights;

  @Option(names = "--save", paramLabel = "W.npz", description = "Save the trained weights (PyTorch state_dict keys); "
      + "with --spark, also a URI Hadoop writes (hdfs://..., s3a://..., file:///...).")
  String saveArg;

  Path save;
  String saveUri;

  @Option(names = "--checkpoint", paramLabel = "FILE",
      description = "Write a checkpoint (weights and optimizer state) here after every epoch; default: W.npz.ckpt with --save. "
          + "With --spark, also a URI Hadoop writes (hdfs://..., s3a://..., file:///...).")
  String checkpointArg;

  @Option(names = "--resume", paramLabel = "CHECKPOINT",
      description = "Go on training from this checkpoint; with --spark, also a URI Hadoop reads.")
  String resumeArg;

  /** --checkpoint and --resume as local paths, or (with --spark) as Hadoop URIs; null when not given so. */
  Path checkpoint;
  Path resume;
  String checkpointUri;
  String resumeUri;

  @Spec CommandSpec spec;

  /** {@code file:line:col: } of an output or node of the loaded network, or nothing. */
  private String where(String outputOrNode) {
    org.cnnc.compiler.ir.Network n = model.network;
    if (n == null) {
      return "";
    }
    for (org.cnnc.compiler.ir.Output o : n.outputs()) {
      if (o.name().equals(outputOrNode)) {
        return o.span().location() + ": ";
      }
    }
    return n.nodes().stream().filter(x -> x.name().equals(outputOrNode)).findFirst()
        .map(x -> x.span().location() + ": ").orElse("");
  }

  /** The most values of an example times the batch: what one batch's input may hold. */
  static final long MAX_BATCH_VALUES = Integer.MAX_VALUE - 8;

  @Override
  public Integer call() throws IOException {
    PrintWriter log = spec.commandLine().getOut();
    if (epochs < 1) {
      throw new Main.UsageError("--epochs must be at least 1 (got " + epochs + ")");
    }
    if (batch < 1) {
      throw new Main.UsageError("--batch must be at least 1 (got " + batch + ")");
    }
    if (!(lr > 0) || Double.isInfinite(lr)) {
      throw new Main.UsageError("--lr must be a positive number (got " + lr + ")");
    }
    if (!(valSplit >= 0 && valSplit < 1)) {
      throw new Main.UsageError("--val-split must be at least 0 and below 1 (got " + valSplit + ")");
    }
    if (limit < 0) {
      throw new Main.UsageError("--limit must be 0 (all) or more (got " + limit + ")");
    }
    if (ignoreIndex != null && !masks) {
      throw new Main.UsageError("--ignore-index is for segmentation masks: give it with --masks");
    }
    if (ignoreIndex != null && (ignoreIndex < 0 || ignoreIndex > 65535)) {
      throw new Main.UsageError("--ignore-index must be a mask value, 0 to 65535 (got " + ignoreIndex + ")");
    }
    save = local(saveArg, "--save");
    saveUri = SparkTraining.isUri(saveArg) ? saveArg : null;
    resume = local(resumeArg, "--resume");
    checkpoint = local(checkpointArg, "--checkpoint");
    resumeUri = SparkTraining.isUri(resumeArg) ? resumeArg : null;
    checkpointUri = SparkTraining.isUri(checkpointArg) ? checkpointArg : null;
    if (weights != null && resumeArg != null) {
      throw new Main.UsageError("give --weights or --resume, not both (a checkpoint holds the weights)");
    }
    if (checkpointArg == null && save != null) {
      checkpoint = save.resolveSibling(save.getFileName() + ".ckpt");
    } else if (checkpointArg == null && saveUri != null) {
      checkpointUri = saveUri + ".ckpt";
    }
    // where the results go is checked before any work, so that hours of training are not lost
    writable(save, "--save");
    writable(checkpoint, "--checkpoint");
    SparkTraining cluster = null;
    if (spark != null) {
      cluster = java.util.ServiceLoader.load(SparkTraining.class).findFirst().orElseThrow(() -> new Main.UsageError(
          "--spark: this cnnc cannot train on Spark: the cnnc-spark module and its dependencies are not on the classpath"
          + " (README, \"Training on Spark\")"));
    } else if (averaging) {
      throw new Main.UsageError("--averaging is an option of training on Spark: give --spark MASTER too");
    }
    Path dataPath = null;
    if (cluster == null) {
      try {
        dataPath = Path.of(data);
      } catch (java.nio.file.InvalidPathException e) {
        throw new Main.UsageError("--data: not a path: " + Escape.terminal(data));
      }
      if (!Files.exists(dataPath)) {
        throw new Main.UsageError("--data: no such file or folder: " + Escape.terminal(data));
      }
    }
    CnnModel m = model.load(spec.commandLine().getErr());
    if (m == null) {
      return Main.SPEC_ERRORS;
    }
    long[] in = m.inputShape();
    if (in.length != 3 || (in[0] != 1 && in[0] != 3)) {
      throw new Main.UsageError("training reads images (1 or 3 channels); the model's input is " + Arrays.toString(in));
    }
    if (batch * in[0] * in[1] * in[2] > MAX_BATCH_VALUES) {
      throw new Main.UsageError("--batch " + batch + " of " + Arrays.toString(in) + " is more than "
          + MAX_BATCH_VALUES + " values");
    }
    if (cluster != null) {
      if (masks) {
        throw new Main.UsageError("--masks is not supported with --spark yet");
      }
      // the cluster's executors rebuild the network from its configuration (JSON): DL4J's layers,
      // whose configuration serializes (README, "Training on Spark")
      SparkTraining.Session session;
      try {
        session = cluster.open(spark, "cnnc train " + m.name(), data, in, limit);
      } catch (IOException e) {
        throw new Main.UsageError("--data: " + Escape.terminal(String.valueOf(e.getMessage())));
      }
      try (session) {
        return train(m, new NetBuilder(seed, new Adam(lr)).kernels(NetBuilder.Kernels.DL4J), null, session, log);
      }
    }
    LabeledData d = null;
    if (!masks) {
      try {
        d = isCifar(dataPath) ? Cifar10.load(dataPath, limit) : ImageFolder.load(dataPath, in[0], in[1], in[2]);
      } catch (IOException e) {
        throw new Main.UsageError("--data: " + Escape.terminal(String.valueOf(e.getMessage())));
      }
      if (d.features().size(2) != in[1] || d.features().size(3) != in[2] || d.features().size(1) != in[0]) {
        throw new Main.UsageError("the data is " + Arrays.toString(Arrays.copyOfRange(d.features().shape(), 1, 4))
            + " per example, the model takes " + Arrays.toString(in));
      }
    }
    return train(m, new NetBuilder(seed, new Adam(lr)), d, null, log);
  }

  /** Trains on {@code d} here, or on the cluster of {@code session} (one of them is null). */
  private int train(CnnModel m, NetBuilder builder, LabeledData d, SparkTraining.Session session, PrintWriter log)
      throws IOException {
    CnnNetwork net = CnnNetwork.create(m, builder);
    if (net.inputs().size() != 1) {
      throw new Main.UsageError("training feeds images to one input; " + m.name() + " has the inputs "
          + String.join(", ", net.inputs()));
    }
    for (var u : net.untrainable().entrySet()) {
      // the compiler's words (one rule: Capabilities.untrainable; lint's OUTPUT_NOT_CLASSES warns
      // of it), at the place of the output or node in the spec
      throw new Main.UsageError(where(u.getKey()) + m.name() + ": `" + u.getKey() + "` cannot be trained: "
          + u.getValue());
    }
    for (NetBuilder.OutputSpec o : net.outputs()) {
      // this command reads a class per image, or per pixel with --masks: the compiler's rule says
      // which outputs it cannot train from them
      long[] shape = net.shapes().get(o.node());
      Optional<String> why = o.lossVertex() == null ? Optional.empty() : Capabilities.untrainableFrom(
          masks ? Capabilities.Labels.PER_PIXEL : Capabilities.Labels.PER_IMAGE,
          o.loss().name().toLowerCase(java.util.Locale.ROOT), Shape.of(Arrays.stream(shape).mapToInt(Math::toIntExact).toArray()));
      if (why.isPresent()) {
        throw new Main.UsageError(where(o.name()) + m.name() + ": `" + o.name() + "` cannot be trained: " + why.get());
      }
    }
    if (masks) {
      d = segmentation(m, net, m.inputShape());
    }
    java.util.List<String> classNames = d != null ? d.classes() : session.classes();
    int classes = classNames.size();
    for (NetBuilder.OutputSpec o : net.outputs()) {
      if (o.lossVertex() == null || masks) {
        continue;
      }
      long size = Arrays.stream(net.shapes().get(o.node())).reduce(1, (a, b) -> a * b);
      if (size != classes) {
        throw new Main.UsageError("--data has " + classes + " classes " + Escape.terminal(classNames.toString())
            + ", but the model's output " + o.name() + " has " + size + " values (one per class)");
      }
    }
    if (net.outputs().stream().noneMatch(o -> o.lossVertex() != null)) {
      throw new Main.UsageError(m.name() + " has no output with a loss to train (every output has loss = none)");
    }
    int done = 0;
    try {
      if (weights != null) {
        net.loadWeights(weights);
      }
      if (resume != null) {
        done = Checkpoint.restore(resume, net).epochsDone();
      } else if (resumeUri != null) {
        done = session.restore(resumeUri, net);
      }
    } catch (WeightsException e) {
      Main.printError(spec.commandLine().getErr(), e.lines());
      return Main.USAGE;
    } catch (IOException e) {
      throw new Main.UsageError("--resume: " + e.getMessage());
    }
    Path ckpt = checkpoint;
    if (session != null) {
      String ckptUri = checkpointUri;
      if (ckptUri != null) {
        try {
          session.checkWritable(ckptUri);
        } catch (IOException e) {
          throw new Main.UsageError("--checkpoint: " + Escape.terminal(String.valueOf(e.getMessage())));
        }
      }
      if (saveUri != null) {
        try {
          session.checkWritable(saveUri);
        } catch (IOException e) {
          throw new Main.UsageError("--save: " + Escape.terminal(String.valueOf(e.getMessage())));
        }
      }
      // the checkpoint to go on from if the cluster fails: one this run wrote, or the one it resumed
      boolean[] written = {ckptUri != null && ckptUri.equals(resumeUri)};
      long examples = session.size();
      if (valSplit > 0) {
        int held;
        try {
          held = session.holdOut(valSplit, seed);
        } catch (IllegalArgumentException e) {
          throw new Main.UsageError("--val-split: " + e.getMessage());
        }
        log.println(heldOut(held, examples));
        examples -= held;
      }
      log.printf("%s: %d examples, %d classes, %d epoch%s, batch %d, on Spark (%s)%s%n", m.name(), examples, classes,
          epochs, epochs == 1 ? "" : "s", batch, averaging ? "parameter averaging" : "gradient sharing",
          done > 0 ? " (resuming after epoch " + done + ")" : "");
      try {
        session.fit(net, done + 1, epochs, batch, seed, averaging, log, e -> {
          if (ckpt != null) {
            Checkpoint.write(ckpt, net, e);
          } else if (ckptUri != null) {
            session.writeCheckpoint(ckptUri, net, e);
            written[0] = true;
          }
        });
      } catch (IOException e) {
        throw new Main.UsageError("--checkpoint: " + (ckptUri != null ? Escape.terminal(String.valueOf(e.getMessage()))
            : "cannot write " + Escape.terminal(String.valueOf(ckpt)) + ": " + Escape.terminal(Reasons.of(e))));
      } catch (SparkTraining.Failed e) {
        log.flush();
        String last = ckpt != null && Files.isRegularFile(ckpt) ? ckpt.toString() : ckptUri != null && written[0] ? ckptUri : null;
        Main.printError(spec.commandLine().getErr(), "training on Spark failed: " + e.getMessage()
            + (last != null ? "; the last epoch's checkpoint is " + Escape.terminal(last)
                + " (go on with --resume " + Escape.terminal(last) + ")" : ""));
        return Main.SPEC_ERRORS;
      }
      if (saveUri != null) {
        log.flush();
        try {
          session.writeWeights(saveUri, net);
        } catch (IOException e) {
          String last = ckpt != null ? ckpt.toString() : ckptUri;
          throw new Main.UsageError("--save: " + Escape.terminal(String.valueOf(e.getMessage()))
              + (last != null ? "; the last epoch's checkpoint is " + Escape.terminal(last) : ""));
        }
        log.println("saved " + Escape.terminal(saveUri));
        return Main.OK;
      }
      return save(net, ckpt, log);
    }
    if (!d.skipped().isEmpty()) {
      log.printf("skipped %d file%s that %s no image (PNG, JPEG, BMP, GIF)%s, e.g. %s%n", d.skipped().size(),
          d.skipped().size() == 1 ? "" : "s", d.skipped().size() == 1 ? "is" : "are", masks ? " nor PNG mask" : "",
          Escape.terminal(d.skipped().get(0).toString()));
    }
    DataSet trainSet = d.toDataSet();
    DataSet valSet = null;
    if (valSplit > 0) {
      try {
        DataSet[] parts = Trainer.split(trainSet, valSplit, seed);
        trainSet = parts[0];
        valSet = parts[1];
      } catch (IllegalArgumentException e) {
        throw new Main.UsageError("--val-split: " + e.getMessage());
      }
      log.println(heldOut(valSet.numExamples(), d.size()));
    }
    log.printf("%s: %d examples, %d classes%s, %d epoch%s, batch %d%s%n", m.name(), trainSet.numExamples(), classes,
        masks ? " per pixel (mask value " + (ignoreIndex == null ? 255 : ignoreIndex) + ": ignored)" : "", epochs,
        epochs == 1 ? "" : "s", batch,
        done > 0 ? " (resuming after epoch " + done + ")" : "");
    try {
      // a redrawn progress bar on a terminal; plain lines in a pipe or a CI log
      Trainer.fit(net, trainSet, valSet, done + 1, epochs, batch, seed, log, e -> {
        if (ckpt != null) {
          Checkpoint.write(ckpt, net, e);
        }
      }, System.console() != null ? Trainer.Progress.BAR : Trainer.Progress.LINES);
    } catch (IOException e) {
      throw new Main.UsageError("--checkpoint: cannot write " + Escape.terminal(String.valueOf(ckpt)) + ": " + Escape.terminal(Reasons.of(e)));
    }
    return save(net, ckpt, log);
  }

  /** The line that says how many examples --val-split holds out (here and on Spark). */
  private String heldOut(long held, long of) {
    return String.format("validation: %d of the %d examples held out (--val-split %s, seed %d)", held, of, valSplit, seed);
  }

  /** Saves the trained weights if --save asks for it. */
  private int save(CnnNetwork net, Path ckpt, PrintWriter log) {
    log.flush();
    if (save != null) {
      try {
        net.saveWeights(save);
      } catch (IOException e) {
        throw new Main.UsageError("--save: cannot write " + Escape.terminal(save.toString()) + ": " + Escape.terminal(Reasons.of(e))
            + (ckpt != null ? "; the last epoch's checkpoint is " + Escape.terminal(ckpt.toString()) : ""));
      }
      log.println("saved " + save);
    }
    return Main.OK;
  }

  /**
   * The segmentation dataset of {@code --data}, its masks resized to the trained outputs' H x W,
   * which must be one shape (every trained output learns from the same masks).
   */
  private LabeledData segmentation(CnnModel m, CnnNetwork net, long[] in) {
    NetBuilder.OutputSpec first = null;
    for (NetBuilder.OutputSpec o : net.outputs()) {
      if (o.lossVertex() == null) {
        continue;
      }
      if (first == null) {
        first = o;
      } else if (!Arrays.equals(net.shapes().get(o.node()), net.shapes().get(first.node()))) {
        throw new Main.UsageError(where(o.name()) + m.name() + ": --masks trains every output on the same masks, but `"
            + first.name() + "` is " + Arrays.toString(net.shapes().get(first.node())) + " and `" + o.name() + "` is "
            + Arrays.toString(net.shapes().get(o.node())));
      }
    }
    if (first == null) {
      throw new Main.UsageError(m.name() + " has no output with a loss to train (every output has loss = none)");
    }
    long[] out = net.shapes().get(first.node());
    try {
      return SegmentationFolder.load(Path.of(data), in[0], in[1], in[2], Math.toIntExact(out[0]), out[1], out[2],
          ignoreIndex == null ? 255 : ignoreIndex);
    } catch (IOException e) {
      throw new Main.UsageError("--data: " + Escape.terminal(String.valueOf(e.getMessage())));
    }
  }

  /**
   * An option's file as a local path; null for none, and for a Hadoop URI, which only --spark
   * takes (the cluster's file systems write it).
   */
  private Path local(String value, String option) {
    if (value == null) {
      return null;
    }
    if (SparkTraining.isUri(value)) {
      if (spark == null) {
        throw new Main.UsageError(option + ": " + Escape.terminal(value) + " is a URI, which only training on Spark "
            + "(--spark) reads and writes; give a local path");
      }
      return null;
    }
    try {
      return Path.of(value);
    } catch (java.nio.file.InvalidPathException e) {
      throw new Main.UsageError(option + ": not a path: " + Escape.terminal(value));
    }
  }

  private static void writable(Path target, String option) {
    if (target == null) {
      return;
    }
    try {
      SafeFiles.checkWritable(target);
    } catch (IOException e) {
      throw new Main.UsageError(option + ": " + Escape.terminal(Reasons.of(e)));
    }
  }

  private static boolean isCifar(Path p) throws IOException {
    if (!Files.isDirectory(p)) {
      return p.toString().endsWith(".bin");
    }
    try (var s = Files.list(p)) {
      return s.anyMatch(f -> f.toString().endsWith(".bin") && Files.isRegularFile(f));
    }
  }
}
