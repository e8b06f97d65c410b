// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.cnnc.runtime.CnnModel;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.NetBuilder;
import org.cnnc.runtime.Trainer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.TrainingMaster;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.spark.parameterserver.training.SharedTrainingMaster;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.parameterserver.distributed.conf.VoidConfiguration;

/**
 * Trains a generated network on a Spark cluster with Deeplearning4j's Spark module: the Java API
 * behind {@code cnnc train --spark}, for programs that embed cnnc.
 *
 * <pre>{@code
 * try (JavaSparkContext sc = new JavaSparkContext(SparkTrainer.configure(new SparkConf().setAppName("nin")))) {
 *   CnnNetwork net = SparkTrainer.network(new NiN(), 42, 0.001);
 *   HadoopExamples data = HadoopExamples.list("hdfs://nn/cifar10", sc.hadoopConfiguration(), new NiN().inputShape(), 0);
 *   new SparkTrainer(sc).fit(net, data, 1, 10, 32, 42, log, e -> net.saveWeights(Path.of("nin-" + e + ".npz")));
 * }
 * }</pre>
 *
 * <p>The executors rebuild the network from its configuration (DL4J's JSON), so it is built with
 * DL4J's layers ({@link NetBuilder.Kernels#DL4J}): cnnc's CPU kernels are no part of a
 * configuration that serializes. Each epoch the examples are shuffled (seeded by the epoch), read
 * on the executors, trained on with gradient sharing ({@link SharedTrainingMaster}) or parameter
 * averaging ({@link ParameterAveragingTrainingMaster}), and then measured in one more pass (loss
 * and accuracy of the first output, in inference mode), which {@code cnnc train} logs the same way.
 */
public final class SparkTrainer {
  /**
   * Aeron's system property that DL4J M2's gradient sharing needs: Aeron 1.32 refuses to start an
   * embedded media driver whose publication-unblock timeout (15 s by default) is not above the
   * client liveness timeout DL4J sets (30 s). Set on the driver here and on the executors through
   * {@link #configure}.
   */
  public static final String AERON_UNBLOCK = "aeron.publication.unblock.timeout";
  private static final String AERON_UNBLOCK_NANOS = "60000000000";

  /**
   * Aeron's system property that makes a media driver delete its directory when it closes. DL4J's
   * gradient sharing starts an embedded driver in every JVM it trains in (the driver's and each
   * executor's), each in a directory of its own under {@code /dev/shm} that Aeron keeps by
   * default: about 600 MB of shared memory left behind per JVM and run (70 such directories, 13 GB
   * of RAM, filled this machine's {@code /dev/shm} over a day of test runs). DL4J closes the driver
   * when the JVM shuts down, so with this set a JVM that exits (or is stopped by Spark) leaves
   * nothing; only one killed outright (SIGKILL) still does.
   */
  public static final String AERON_DELETE_ON_SHUTDOWN = "aeron.dir.delete.on.shutdown";

  /** The Aeron properties gradient sharing needs in every JVM, in the order set. */
  private static final String[][] AERON = {{AERON_UNBLOCK, AERON_UNBLOCK_NANOS}, {AERON_DELETE_ON_SHUTDOWN, "true"}};

  private final JavaSparkContext sc;
  private boolean averaging;
  private int partitions;
  private long progressNanos = 5_000_000_000L;

  public SparkTrainer(JavaSparkContext sc) {
    this.sc = sc;
    this.partitions = sc.defaultParallelism();
  }

  /**
   * Adds to a configuration (before its context starts) what the executors need for gradient
   * sharing, in {@code spark.executor.extraJavaOptions}: Aeron's timeout ({@link #AERON_UNBLOCK})
   * and the deletion of its directory when the executor exits ({@link #AERON_DELETE_ON_SHUTDOWN}),
   * each unless the options already set it.
   */
  public static SparkConf configure(SparkConf conf) {
    String opts = conf.get("spark.executor.extraJavaOptions", "");
    for (String[] p : AERON) {
      if (!opts.contains(p[0])) {
        opts = (opts + " -D" + p[0] + "=" + p[1]).trim();
      }
    }
    conf.set("spark.executor.extraJavaOptions", opts);
    return conf;
  }

  /** Parameter averaging instead of gradient sharing. */
  public SparkTrainer averaging(boolean on) {
    this.averaging = on;
    return this;
  }

  /** The partitions each epoch's examples are cut into (default: Spark's default parallelism). */
  public SparkTrainer partitions(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("partitions must be at least 1 (got " + n + ")");
    }
    this.partitions = n;
    return this;
  }

  /**
   * How often at most a progress line is logged within an epoch (default 5 s; zero: after every
   * executor's report). See {@link SparkProgress} for what it counts.
   */
  public SparkTrainer progressEvery(java.time.Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("the progress interval must not be negative (got " + d + ")");
    }
    this.progressNanos = d.toNanos();
    return this;
  }

  /** A model's network as the cluster trains it: DL4J's layers, Adam at {@code lr}, weights seeded. */
  public static CnnNetwork network(CnnModel model, long seed, double lr) {
    return CnnNetwork.create(model, new NetBuilder(seed, new Adam(lr)).kernels(NetBuilder.Kernels.DL4J));
  }

  /**
   * Trains epochs {@code first} to {@code last}; after each, {@code net} holds the trained weights
   * (and the updater's state when the training master returns it) and {@code after} is called.
   *
   * @throws SparkException when the cluster cannot finish an epoch (Spark's retries exhausted)
   */
  public List<Trainer.Epoch> fit(CnnNetwork net, HadoopExamples data, int first, int last, int batch, long seed,
      PrintWriter log, Trainer.AfterEpoch after) throws IOException, SparkException {
    return fit(net, data, null, first, last, batch, seed, log, after);
  }

  /**
   * As above; after each epoch the loss and accuracy on {@code validation} (null: none; e.g. the
   * held-out part of {@link HadoopExamples#split}) are measured on the executors in inference mode
   * and logged as {@code cnnc train --val-split} logs them, their time counted with the accuracy
   * pass's. The validation examples are never trained on.
   */
  public List<Trainer.Epoch> fit(CnnNetwork net, HadoopExamples data, HadoopExamples validation, int first, int last,
      int batch, long seed, PrintWriter log, Trainer.AfterEpoch after) throws IOException, SparkException {
    ComputationGraph graph = net.graph();
    int trained = (int) net.outputs().stream().filter(o -> o.lossVertex() != null).count();
    if (trained == 0) {
      throw new IllegalArgumentException(net.model().name() + " has no output with a loss to train");
    }
    String firstOutput = net.outputs().get(0).node();
    TrainingMaster<?, ?> master = master(batch, seed);
    SparkComputationGraph spark = new SparkComputationGraph(sc, graph, master);
    SparkProgress.Run run = new SparkProgress.Run(first, last, data.size());
    List<Trainer.Epoch> epochs = new ArrayList<>();
    // read once, measured after every epoch
    JavaRDD<DataSet> held = validation == null ? null
        : validation.batches(sc, batch, seed, partitions).persist(StorageLevel.MEMORY_ONLY());
    try {
      for (int e = first; e <= last; e++) {
        epochs.add(epoch(spark, master, run, graph, data, held, e, last, batch, seed, trained, firstOutput, log));
        net.weightsChanged();
        if (after != null) {
          after.done(e);
        }
      }
    } finally {
      if (held != null) {
        held.unpersist(false);
      }
    }
    return epochs;
  }

  /** Trains epoch {@code e} and measures it (and the held-out examples, if any). */
  private Trainer.Epoch epoch(SparkComputationGraph spark, TrainingMaster<?, ?> master, SparkProgress.Run run,
      ComputationGraph graph, HadoopExamples data, JavaRDD<DataSet> held, int e, int last, int batch, long seed,
      int trained, String firstOutput, PrintWriter log) throws SparkException {
    long t0 = System.nanoTime();
    JavaRDD<DataSet> rdd = data.batches(sc, batch, Trainer.epochSeed(seed, e), partitions)
        .persist(StorageLevel.MEMORY_ONLY());
    try {
      SparkProgress progress = log == null ? null
          : SparkProgress.start(sc.sc(), "cnnc-epoch-" + e + "-" + System.nanoTime(), e, run, progressNanos, log);
      // the executors' networks report their minibatches to this epoch's progress server
      ProgressListener listener = progress == null ? null : progress.listener();
      master.setListeners(listener == null ? null : new ArrayList<TrainingListener>(List.of(listener)));
      try {
        spark.fitMultiDataSet(rdd.map(d -> Trainer.multi(d.getFeatures(), d.getLabels(), trained)));
      } catch (RuntimeException ex) {
        throw sparkFailure(ex);
      } finally {
        if (progress != null) {
          progress.stop(sc.sc());
        }
      }
      ComputationGraph trainedGraph = spark.getNetwork();
      if (trainedGraph != graph) {
        graph.setParams(trainedGraph.params());
        if (trainedGraph.getUpdater() != null && trainedGraph.getUpdater().getStateViewArray() != null
            && graph.getUpdater(true).getStateViewArray() != null) {
          graph.getUpdater(true).getStateViewArray().assign(trainedGraph.getUpdater().getStateViewArray());
        }
      }
      long t1 = System.nanoTime();
      double[] m;
      try {
        m = measure(rdd, graph, trained, firstOutput);
      } catch (RuntimeException ex) {
        throw sparkFailure(ex);
      }
      double[] v = null;
      if (held != null) {
        try {
          v = measure(held, graph, trained, firstOutput);
        } catch (RuntimeException ex) {
          throw sparkFailure(ex);
        }
      }
      long t2 = System.nanoTime();
      Trainer.Epoch ep = new Trainer.Epoch(e, m[0] / m[2], m[1] / m[2], (t1 - t0) / 1_000_000, (t2 - t1) / 1_000_000,
          v == null ? Double.NaN : v[0] / v[2], v == null ? Double.NaN : v[1] / v[2]);
      if (log != null) {
        log.println(Trainer.epochLine(ep, last, data.size(), Trainer.Progress.LINES));
        log.flush();
      }
      return ep;
    } finally {
      rdd.unpersist(false);
    }
  }

  private TrainingMaster<?, ?> master(int batch, long seed) {
    if (averaging) {
      return new ParameterAveragingTrainingMaster.Builder(batch).batchSizePerWorker(batch).averagingFrequency(5)
          .workerPrefetchNumBatches(0).rddTrainingApproach(RDDTrainingApproach.Direct).rngSeed(seed).build();
    }
    // the executors reach the driver's parameter server at the driver's address; the port and the
    // network their own address is chosen from can be set (spark.cnnc.port, spark.cnnc.networkMask);
    // each executor takes a free port of its own (Ports)
    for (String[] p : AERON) {
      if (System.getProperty(p[0]) == null) {
        System.setProperty(p[0], p[1]);
      }
    }
    String host = sc.getConf().get("spark.driver.host", "127.0.0.1");
    int port = sc.getConf().getInt("spark.cnnc.port", 40123);
    String mask = sc.getConf().get("spark.cnnc.networkMask",
        host.startsWith("127.") ? "127.0.0.0/8" : host.substring(0, host.lastIndexOf('.')) + ".0/24");
    Ports.inDriver = true;
    VoidConfiguration voidConf = VoidConfiguration.builder().unicastPort(port).networkMask(mask).controllerAddress(host)
        .portSupplier(new Ports(port)).build();
    return new SharedTrainingMaster.Builder(voidConf, batch).batchSizePerWorker(batch).workersPerNode(1)
        .workerPrefetchNumBatches(0).rddTrainingApproach(RDDTrainingApproach.Direct).rngSeed(seed).build();
  }

  /**
   * The loss and accuracy of the trained network on an epoch's examples, on the executors: sums of
   * the loss times the examples, of the right answers, and the examples.
   */
  private double[] measure(JavaRDD<DataSet> rdd, ComputationGraph graph, int trained, String firstOutput) {
    Broadcast<String> conf = sc.broadcast(graph.getConfiguration().toJson());
    Broadcast<INDArray> params = sc.broadcast(graph.params().dup());
    try {
      return rdd.mapPartitions(it -> {
        ComputationGraph g = new ComputationGraph(ComputationGraphConfiguration.fromJson(conf.value()));
        g.init(params.value(), true);
        double[] sums = new double[3];
        while (it.hasNext()) {
          DataSet d = it.next();
          int n = d.numExamples();
          MultiDataSet mds = Trainer.multi(d.getFeatures(), d.getLabels(), trained);
          sums[0] += g.score(mds, false) * n;
          INDArray out = g.feedForward(new INDArray[] {d.getFeatures()}, false, false).get(firstOutput);
          sums[1] += Trainer.correct(out, d.getLabels());
          sums[2] += n;
        }
        return List.of(sums).iterator();
      }).reduce((a, b) -> new double[] {a[0] + b[0], a[1] + b[1], a[2] + b[2]});
    } finally {
      conf.destroy();
      params.destroy();
    }
  }

  /** A job that Spark aborted, as the exception that says so; anything else is rethrown. */
  private static SparkException sparkFailure(RuntimeException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SparkException s) {
        return s;
      }
    }
    throw e;
  }
}
