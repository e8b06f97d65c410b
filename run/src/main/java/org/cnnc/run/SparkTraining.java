// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import org.cnnc.runtime.CnnNetwork;
import org.cnnc.runtime.Trainer;

/**
 * Training on an Apache Spark cluster, for {@code cnnc train --spark}. The cnnc-spark module
 * implements it (found with {@link java.util.ServiceLoader}), so that Spark and Hadoop stay out of
 * this module and of everything that depends on it: without cnnc-spark on the classpath,
 * {@code --spark} says what is missing.
 */
public interface SparkTraining {
  /**
   * Connects to the cluster at {@code master} and lists the data at {@code uri} (any path Hadoop
   * reads: an image folder, or CIFAR-10 .bin files) without reading the examples. An IOException
   * says what is wrong with the data, in plain words.
   */
  Session open(String master, String appName, String uri, long[] inputShape, int limit) throws IOException;

  /**
   * Whether an option's value names a file by a URI with a scheme ({@code hdfs://...},
   * {@code s3a://...}, {@code file:///...}), which the cluster's Hadoop file systems read and
   * write, rather than a local path.
   */
  static boolean isUri(String s) {
    return s != null && s.matches("[A-Za-z][A-Za-z0-9+.-]*://.*");
  }

  /** A connection to the cluster and the listed data; closing it stops the Spark context. */
  interface Session extends AutoCloseable {
    /** The class names, in label order. */
    List<String> classes();

    /** The number of examples listed (before any {@link #holdOut}). */
    long size();

    /**
     * Holds out a {@code fraction} of the examples, chosen as {@code cnnc train --val-split} chooses
     * them ({@link Trainer#splitRows}, seeded with {@code seed}): {@link #fit} never trains on them
     * and logs their loss and accuracy after each epoch. Returns how many are held out.
     *
     * @throws IllegalArgumentException when one side would be empty
     */
    int holdOut(double fraction, long seed);

    /**
     * Trains epochs {@code first} to {@code last} on the cluster, starting from {@code net}'s
     * weights and leaving the trained ones in it before each {@code after} call; logs the same
     * lines as {@link Trainer#fit}. {@code averaging}: parameter averaging instead of gradient
     * sharing.
     */
    List<Trainer.Epoch> fit(CnnNetwork net, int first, int last, int batch, long seed, boolean averaging,
        PrintWriter log, Trainer.AfterEpoch after) throws IOException, Failed;

    /**
     * Checks, before training, that a checkpoint or weights can be written at {@code uri} (a Hadoop URI:
     * hdfs://, s3a://, file://): its directory exists, it is no link and no directory. The
     * IOException says what is wrong, naming the URI.
     */
    void checkWritable(String uri) throws IOException;

    /** Writes a checkpoint of {@code net} after {@code epochsDone} epochs at the Hadoop URI {@code uri}, atomically. */
    void writeCheckpoint(String uri, CnnNetwork net, int epochsDone) throws IOException;

    /** Writes {@code net}'s weights ({@code --save}'s {@code .npz}) at the Hadoop URI {@code uri}, atomically. */
    void writeWeights(String uri, CnnNetwork net) throws IOException;

    /** Restores {@code net} from the checkpoint at the Hadoop URI {@code uri}; returns the epochs it has done. */
    int restore(String uri, CnnNetwork net) throws IOException;

    @Override
    void close();
  }

  /**
   * The cluster could not finish an epoch (a job aborted: workers lost past Spark's retries, the
   * master gone); the message says why in plain words, for the user, not a stack trace.
   */
  final class Failed extends Exception {
    public Failed(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
