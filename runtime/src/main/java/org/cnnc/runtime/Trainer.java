// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Fits a generated network on labeled examples: shuffled mini-batches, a progress bar, and per
 * epoch the mean training loss and the accuracy of the first output. Every output with a loss is
 * trained on the same labels (GoogLeNet's main and auxiliary heads), each weighted as the spec says.
 */
public final class Trainer {
  /**
   * One epoch: the mean loss over its batches, the time its batches took, and the first output's
   * accuracy on the training data after it (an extra forward pass over the data in eval mode,
   * timed apart: {@code accuracyMillis}, not counted in {@code millis}).
   */
  public record Epoch(int epoch, double loss, double accuracy, long millis, long accuracyMillis,
      double validationLoss, double validationAccuracy) {
    public Epoch(int epoch, double loss, double accuracy, long millis, long accuracyMillis) {
      this(epoch, loss, accuracy, millis, accuracyMillis, Double.NaN, Double.NaN);
    }

    public boolean validated() {
      return !Double.isNaN(validationLoss);
    }
  }

  /**
   * How progress is logged: {@code BAR} redraws one line with {@code \r} (a terminal);
   * {@code LINES} writes a plain line about every tenth of an epoch (logs, CI, pipes).
   */
  public enum Progress { BAR, LINES }

  private Trainer() {}

  public static List<Epoch> fit(CnnNetwork net, DataSet data, int epochs, int batch, long seed, PrintWriter log) {
    try {
      return fit(net, data, 1, epochs, batch, seed, log, null, Progress.LINES);
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** What is done after each epoch (a checkpoint written). */
  @FunctionalInterface
  public interface AfterEpoch {
    void done(int epoch) throws java.io.IOException;
  }

  /**
   * Trains epochs {@code first} to {@code last} (1-based), calling {@code after} at the end of
   * each. An epoch depends only on the network's state and the seed: its shuffle and the random
   * numbers of its dropout are seeded from {@code (seed, epoch)}, so training from a checkpoint
   * goes on exactly as an uninterrupted run would.
   */
  public static List<Epoch> fit(CnnNetwork net, DataSet data, int first, int last, int batch, long seed,
      PrintWriter log, AfterEpoch after) throws java.io.IOException {
    return fit(net, data, first, last, batch, seed, log, after, Progress.LINES);
  }

  /** As above, logging progress as {@code progress} says. */
  public static List<Epoch> fit(CnnNetwork net, DataSet data, int first, int last, int batch, long seed,
      PrintWriter log, AfterEpoch after, Progress progress) throws java.io.IOException {
    return fit(net, data, null, first, last, batch, seed, log, after, progress);
  }

  /**
   * As above; after each epoch the loss and accuracy on {@code validation} (null: none) are
   * measured in inference mode and logged, their time counted with the accuracy pass's.
   */
  public static List<Epoch> fit(CnnNetwork net, DataSet data, DataSet validation, int first, int last, int batch,
      long seed, PrintWriter log, AfterEpoch after, Progress progress) throws java.io.IOException {
    int epochs = last;
    int trained = (int) net.outputs().stream().filter(o -> o.lossVertex() != null).count();
    if (trained == 0) {
      throw new IllegalArgumentException(net.model().name() + " has no output with a loss to train");
    }
    int n = data.numExamples();
    List<Epoch> epochs_ = new ArrayList<>();
    int batchesPerEpoch = (n + batch - 1) / batch;
    long totalBatches = (long) batchesPerEpoch * (last - first + 1);
    long trainedBatches = 0;
    long trainingNanos = 0;
    for (int e = first; e <= last; e++) {
      Nd4j.getRandom().setSeed(epochSeed(seed, e));
      long t0 = System.nanoTime();
      DataSet shuffled = data.copy();
      shuffled.shuffle(epochSeed(seed, e));
      double lossSum = 0;
      int batches = (n + batch - 1) / batch;
      for (int b = 0; b < batches; b++) {
        long from = (long) b * batch;
        long to = Math.min(n, from + batch);
        MultiDataSet mds = multi(shuffled.getFeatures().get(NDArrayIndex.interval(from, to)),
            shuffled.getLabels().get(NDArrayIndex.interval(from, to)), trained);
        net.graph().fit(mds);
        net.weightsChanged();
        lossSum += net.graph().score();
        trainedBatches++;
        if (log != null) {
          long elapsed = trainingNanos + System.nanoTime() - t0;
          double imagesPerSecond = ((double) b * batch + (to - from)) / ((System.nanoTime() - t0) / 1e9);
          long etaNanos = etaNanos(elapsed, trainedBatches, totalBatches);
          if (progress == Progress.BAR) {
            bar(log, e, epochs, b + 1, batches, lossSum / (b + 1), imagesPerSecond, etaNanos);
          } else if (b + 1 < batches && (b + 1) % Math.max(1, batches / 10) == 0) {
            log.println(progressLine(e, epochs, "step", b + 1, batches, lossSum / (b + 1), imagesPerSecond, etaNanos));
          }
        }
      }
      long t1 = System.nanoTime();
      trainingNanos += t1 - t0;
      double acc = accuracy(net, data, batch);
      double valLoss = validation == null ? Double.NaN : loss(net, validation, batch, trained);
      double valAcc = validation == null ? Double.NaN : accuracy(net, validation, batch);
      long accuracyMillis = (System.nanoTime() - t1) / 1_000_000;
      Epoch ep = new Epoch(e, lossSum / batches, acc, (t1 - t0) / 1_000_000, accuracyMillis, valLoss, valAcc);
      epochs_.add(ep);
      if (log != null) {
        log.println(epochLine(ep, epochs, n, progress));
      }
      if (after != null) {
        after.done(e);
      }
    }
    return epochs_;
  }

  /**
   * The line logged after an epoch of {@code examples} examples (the Spark trainer logs it too):
   * its loss and accuracy, its time and throughput.
   */
  public static String epochLine(Epoch ep, int epochs, long examples, Progress progress) {
    return String.format("%sepoch %d/%d  loss %.4f  accuracy %.3f%s  (%d ms, %.1f images/s; accuracy pass %d ms)%s",
        progress == Progress.BAR ? "\r" : "", ep.epoch(), epochs, ep.loss(), ep.accuracy(),
        ep.validated() ? String.format("  val_loss %.4f  val_accuracy %.3f", ep.validationLoss(), ep.validationAccuracy()) : "",
        ep.millis(), examples / Math.max(1e-9, ep.millis() / 1e3), ep.accuracyMillis(),
        progress == Progress.BAR ? " ".repeat(20) : "");
  }

  /**
   * The plain progress line within an epoch ({@link Progress#LINES}; the Spark trainer logs it too,
   * counting examples where this counts steps): {@code done} of {@code total} {@code unit}s of the
   * epoch, the mean loss of its batches so far, images/s since the epoch began, and the time left.
   */
  public static String progressLine(int epoch, int epochs, String unit, long done, long total, double loss,
      double imagesPerSecond, long etaNanos) {
    return String.format("epoch %d/%d  %s %d/%d  loss %.4f  %.1f images/s  ETA %s", epoch, epochs, unit, done, total,
        loss, imagesPerSecond, duration(etaNanos));
  }

  /** The time left: the time so far per unit of work done, times the units left (none done: 0). */
  public static long etaNanos(long elapsedNanos, long done, long total) {
    return done <= 0 ? 0 : (long) ((double) elapsedNanos / done * Math.max(0, total - done));
  }

  /** A seed for one epoch: the user's seed and the epoch mixed (SplitMix64's finalizer), never 0. */
  public static long epochSeed(long seed, int epoch) {
    long z = seed * 0x9E3779B97F4A7C15L + epoch;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z ^= z >>> 31;
    return z == 0 ? 1 : z;
  }

  /** The same labels for every trained output. */
  public static MultiDataSet multi(INDArray features, INDArray labels, int outputs) {
    INDArray[] ls = new INDArray[outputs];
    for (int i = 0; i < outputs; i++) {
      ls[i] = labels;
    }
    return new MultiDataSet(new INDArray[] {features}, ls);
  }

  /** The mean loss over {@code data} in inference mode (no dropout, BatchNorm's running statistics), by batches. */
  public static double loss(CnnNetwork net, DataSet data, int batch, int trainedOutputs) {
    long n = data.numExamples();
    double sum = 0;
    for (long start = 0; start < n; start += batch) {
      long end = Math.min(n, start + batch);
      MultiDataSet mds = multi(data.getFeatures().get(NDArrayIndex.interval(start, end)),
          data.getLabels().get(NDArrayIndex.interval(start, end)), trainedOutputs);
      sum += net.graph().score(mds, false) * (end - start);
    }
    return sum / n;
  }

  /**
   * Splits examples into training and validation sets: a {@code fraction} of them, chosen by a
   * shuffle seeded with {@code seed}, is held out. Each part keeps the examples' order.
   */
  public static DataSet[] split(DataSet data, double fraction, long seed) {
    long[][] rows = splitRows(data.numExamples(), fraction, seed);
    return new DataSet[] {pick(data, rows[0]), pick(data, rows[1])};
  }

  /**
   * The rule of {@link #split}, for examples that are not in memory (the Spark trainer's listed
   * files): the positions of the training examples and of the held-out ones among {@code n}, each
   * in increasing order.
   *
   * @throws IllegalArgumentException when one side would be empty
   */
  public static long[][] splitRows(int n, double fraction, long seed) {
    int held = (int) Math.round(n * fraction);
    if (!(fraction > 0 && fraction < 1) || held < 1 || held >= n) {
      throw new IllegalArgumentException("a validation split of " + fraction + " of " + n
          + " examples leaves no examples on one side");
    }
    java.util.List<Integer> order = new java.util.ArrayList<>();
    for (int i = 0; i < n; i++) {
      order.add(i);
    }
    java.util.Collections.shuffle(order, new java.util.Random(seed));
    long[] val = order.subList(0, held).stream().sorted().mapToLong(Integer::longValue).toArray();
    long[] train = order.subList(held, n).stream().sorted().mapToLong(Integer::longValue).toArray();
    return new long[][] {train, val};
  }

  private static DataSet pick(DataSet data, long[] rows) {
    return new DataSet(data.getFeatures().get(NDArrayIndex.indices(rows)).dup(),
        data.getLabels().get(NDArrayIndex.indices(rows)).dup());
  }

  /**
   * Per-pixel labels for a segmentation output: a class map {@code [N, H, W]} of class indices as
   * the one-hot {@code [N, classes, H, W]} the per-pixel cross-entropy reads (PyTorch's
   * {@code nn.CrossEntropyLoss} takes the indices themselves). The size is checked before any work.
   *
   * @throws IllegalArgumentException for a map that is not [N, H, W], a class outside
   *     {@code [0, classes)} (named with its position), or labels of more than 2^31 - 9 values
   */
  public static INDArray pixelLabels(INDArray classMap, int classes) {
    return pixelLabels(classMap, classes, NO_IGNORE);
  }

  /** For {@link #pixelLabels(INDArray, int, long)}: every pixel is labeled. */
  public static final long NO_IGNORE = Long.MIN_VALUE;

  /**
   * As {@link #pixelLabels(INDArray, int)}, with PyTorch's {@code ignore_index}: a pixel of class
   * {@code ignore} is unlabeled, its labels all zero, and the per-pixel cross-entropy leaves it out
   * of the loss, its mean and the gradient; {@link #accuracy} leaves it out too.
   */
  public static INDArray pixelLabels(INDArray classMap, int classes, long ignore) {
    if (classMap.rank() != 3) {
      throw new IllegalArgumentException("a class map is [N, H, W], not " + java.util.Arrays.toString(classMap.shape()));
    }
    long n = classMap.size(0);
    long h = classMap.size(1);
    long w = classMap.size(2);
    if (classes < 1 || (double) n * classes * h * w > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("labels of " + n + " x " + classes + " x " + h + " x " + w
          + " values: at most 2^31 - 9, and at least one class");
    }
    long[] idx = classMap.dup('c').data().asLong();
    float[] out = new float[(int) (n * classes * h * w)];
    int plane = (int) (h * w);
    for (int i = 0; i < idx.length; i++) {
      long c = idx[i];
      if (c == ignore && ignore != NO_IGNORE) {
        continue;
      }
      if (c < 0 || c >= classes) {
        throw new IllegalArgumentException("class " + c + " at example " + i / plane + ", row " + (i % plane) / w + ", column "
            + (i % plane) % w + " is not in [0, " + classes + ")");
      }
      out[(int) (((long) (i / plane) * classes + c) * plane + i % plane)] = 1f;
    }
    return Nd4j.create(out, new long[] {n, classes, h, w}, 'c');
  }

  /** Accuracy of the first output (argmax against the label's argmax); of its pixels for a map. */
  public static double accuracy(CnnNetwork net, DataSet data, int batch) {
    long n = data.numExamples();
    long right = 0;
    boolean perPixel = false;
    long pixelsLabeled = 0;
    String first = net.outputs().get(0).name();
    for (long start = 0; start < n; start += batch) {
      long end = Math.min(n, start + batch);
      INDArray x = data.getFeatures().get(NDArrayIndex.interval(start, end));
      INDArray y = data.getLabels().get(NDArrayIndex.interval(start, end));
      INDArray out = net.predict(x).get(first);
      if (out.rank() == 4 && y.rank() == 4) {
        // per pixel: the fraction of labeled pixels (a one-hot label; an ignored one's are all 0) whose class is right
        INDArray labeled = y.sum(1).gt(0.5);
        right += Nd4j.argMax(out, 1).eq(Nd4j.argMax(y, 1)).castTo(org.nd4j.linalg.api.buffer.DataType.INT)
            .muli(labeled.castTo(org.nd4j.linalg.api.buffer.DataType.INT)).sumNumber().longValue();
        pixelsLabeled += labeled.castTo(org.nd4j.linalg.api.buffer.DataType.INT).sumNumber().longValue();
        perPixel = true;
        continue;
      }
      right += correct(out, y);
    }
    if (perPixel) {
      return pixelsLabeled == 0 ? Double.NaN : (double) right / pixelsLabeled;
    }
    return (double) right / n;
  }

  /** How many examples of a batch a classifier's output gets right (argmax against the label's argmax). */
  public static long correct(INDArray out, INDArray labels) {
    INDArray predicted = Nd4j.argMax(out.reshape(out.size(0), -1), 1);
    INDArray truth = Nd4j.argMax(labels, 1);
    return predicted.eq(truth).castTo(org.nd4j.linalg.api.buffer.DataType.INT).sumNumber().longValue();
  }

  private static void bar(PrintWriter log, int e, int epochs, int b, int batches, double loss, double imagesPerSecond,
      long etaNanos) {
    int width = 30;
    int done = b * width / batches;
    log.printf("\repoch %d/%d [%s%s] %d/%d loss %.4f  %.1f images/s  ETA %s ", e, epochs, "=".repeat(done),
        " ".repeat(width - done), b, batches, loss, imagesPerSecond, duration(etaNanos));
    log.flush();
  }

  /** A duration for people: {@code 42s}, {@code 3m05s}, {@code 2h07m}. */
  static String duration(long nanos) {
    long s = Math.max(0, Math.round(nanos / 1e9));
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format("%dm%02ds", s / 60, s % 60);
    }
    return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
  }
}
