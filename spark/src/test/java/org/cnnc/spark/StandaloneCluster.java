// SPDX-License-Identifier: Apache-2.0
package org.cnnc.spark;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Spark standalone cluster on 127.0.0.1: a master and workers, each its own JVM started
 * with this test's classpath, on free ports, with small memory. The workers launch executors with
 * the same classpath ({@code spark.executor.extraClassPath}, given to the driver by {@link #driverConf}).
 * {@link #close} (and a shutdown hook, should the test JVM die) stops every process it started.
 */
final class StandaloneCluster implements AutoCloseable {
  /** The JVM options Spark 3.1 needs on Java 17: the module's surefire passes them. */
  static final String JAVA_OPTIONS = System.getProperty("cnnc.spark.javaOptions", "");

  private final Path dir;
  private final List<Process> processes = new ArrayList<>();
  private final List<Process> workers = new ArrayList<>();
  private final Thread hook = new Thread(this::stopAll);
  final int port;
  final int webPort;

  /** The Aeron directories (in {@link #AERON_BASE}) before the cluster started (see {@link #removeDeadAeronDirs}). */
  private final java.util.Set<String> aeronBefore;

  private StandaloneCluster(Path dir, int port, int webPort) throws IOException {
    this.aeronBefore = aeronDirs();
    this.dir = dir;
    this.port = port;
    this.webPort = webPort;
    Runtime.getRuntime().addShutdownHook(hook);
  }

  String master() {
    return "spark://127.0.0.1:" + port;
  }

  /** Starts a master and {@code workers} workers of one core each and waits until all have registered. */
  static StandaloneCluster start(Path dir, int workers, String workerMemory) throws Exception {
    StandaloneCluster c = new StandaloneCluster(dir, freePort(), freePort());
    try {
      // the workers build executor commands from SPARK_HOME: a release layout with no jars (the
      // classpath comes from spark.executor.extraClassPath)
      Path home = Files.createDirectories(dir.resolve("spark-home"));
      Files.createDirectories(home.resolve("jars"));
      Files.writeString(home.resolve("RELEASE"), "cnnc test\n");
      c.processes.add(c.java(home, "master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
          "--port", Integer.toString(c.port), "--webui-port", Integer.toString(c.webPort)));
      waitForPort(c.port, Duration.ofSeconds(60));
      for (int i = 0; i < workers; i++) {
        c.startWorker(home, i, workerMemory);
      }
      c.waitForWorkers(workers, Duration.ofSeconds(90));
      return c;
    } catch (Exception | Error e) {
      c.close();
      throw e;
    }
  }

  private void startWorker(Path home, int i, String memory) throws IOException {
    Path work = Files.createDirectories(dir.resolve("work-" + i));
    Process p = java(home, "worker-" + i, "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
        "--port", Integer.toString(freePort()), "--webui-port", Integer.toString(freePort()), "--cores", "1",
        "--memory", memory, "--work-dir", work.toString(), master());
    processes.add(p);
    workers.add(p);
  }

  /**
   * Starts one more worker (after one was killed, say) and waits until {@code alive} workers are
   * registered with the master.
   */
  void addWorker(String memory, int alive) throws Exception {
    startWorker(dir.resolve("spark-home"), workers.size(), memory);
    waitForWorkers(alive, Duration.ofSeconds(90));
  }

  /** The worker processes, in start order (their executors are children of them). */
  List<Process> workers() {
    return List.copyOf(workers);
  }

  private Process java(Path home, String name, String main, String... args) throws IOException {
    List<String> cmd = javaCommand("-Xmx512m", main);
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(dir.resolve(name + ".log").toFile());
    Map<String, String> env = pb.environment();
    env.put("SPARK_HOME", home.toString());
    env.put("SPARK_SCALA_VERSION", "2.12");
    env.put("SPARK_LOCAL_IP", "127.0.0.1");
    env.remove("SPARK_CONF_DIR");
    return pb.start();
  }

  /**
   * The command of a JVM like this one: its java, {@code jvmOption}, the Java 17 options Spark needs
   * ({@link #JAVA_OPTIONS}), this test's classpath and {@code main}.
   */
  static List<String> javaCommand(String jvmOption, String main) {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        jvmOption));
    for (String o : JAVA_OPTIONS.trim().split("\\s+")) {
      if (!o.isEmpty()) {
        cmd.add(o);
      }
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main));
    return cmd;
  }

  /** What the driver must set for executors to run here (system properties SparkConf reads). */
  static Map<String, String> driverConf(int cores) {
    return Map.of(
        "spark.executor.extraClassPath", System.getProperty("java.class.path"),
        "spark.executor.extraJavaOptions", JAVA_OPTIONS,
        "spark.executor.memory", "1200m",
        "spark.executor.cores", "1",
        "spark.cores.max", Integer.toString(cores),
        "spark.driver.host", "127.0.0.1",
        "spark.driver.bindAddress", "127.0.0.1",
        "spark.ui.enabled", "false");
  }

  /** The log of a process of the cluster (master, worker-N). */
  String log(String name) {
    try {
      return Files.readString(dir.resolve(name + ".log"));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  private void waitForWorkers(int n, Duration timeout) throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    long end = System.nanoTime() + timeout.toNanos();
    Pattern alive = Pattern.compile("\"aliveworkers\"\\s*:\\s*(\\d+)");
    while (System.nanoTime() < end) {
      try {
        String json = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + webPort + "/json/")).build(),
            HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = alive.matcher(json);
        if (m.find() && Integer.parseInt(m.group(1)) >= n) {
          return;
        }
      } catch (IOException e) {
        // not up yet
      }
      Thread.sleep(500);
    }
    throw new IllegalStateException("the workers did not register within " + timeout + ":\n" + log("master"));
  }

  static void waitForPort(int port, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < end) {
      try (Socket s = new Socket("127.0.0.1", port)) {
        return;
      } catch (IOException e) {
        Thread.sleep(300);
      }
    }
    throw new IllegalStateException("nothing listens on port " + port + " after " + timeout);
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Kills a process and every process it started (a worker and its executor), at once. */
  static void kill(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  /**
   * Stops every process: first asked to (SIGTERM, so that executors run their shutdown hooks and
   * DL4J closes its Aeron media driver, which then deletes its directory), up to 20 s, then killed.
   * The Aeron directories of executors the tests killed outright are then removed.
   */
  private void stopAll() {
    List<ProcessHandle> all = new ArrayList<>();
    for (Process p : processes) {
      p.descendants().forEach(all::add);
      all.add(p.toHandle());
    }
    all.forEach(ProcessHandle::destroy);
    long end = System.nanoTime() + 20_000_000_000L;
    for (ProcessHandle h : all) {
      try {
        h.onExit().get(Math.max(0, end - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
      } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
        // killed below
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    all.forEach(ProcessHandle::destroyForcibly);
    for (Process p : processes) {
      try {
        p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    removeDeadAeronDirs();
  }

  /**
   * The directory Aeron's embedded media drivers make theirs in ({@code /dev/shm} on Linux, the
   * temporary directory elsewhere): the parent of its default directory, whose name, a dash and a
   * random UUID name each embedded driver's.
   */
  static final Path AERON_BASE = Path.of(io.aeron.CommonContext.AERON_DIR_PROP_DEFAULT).getParent();
  private static final String AERON_PREFIX =
      Path.of(io.aeron.CommonContext.AERON_DIR_PROP_DEFAULT).getFileName() + "-";

  /** The names of the embedded Aeron drivers' directories in {@link #AERON_BASE}, now. */
  static java.util.Set<String> aeronDirs() throws IOException {
    if (!Files.isDirectory(AERON_BASE)) {
      return java.util.Set.of();
    }
    try (java.util.stream.Stream<Path> s = Files.list(AERON_BASE)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(AERON_PREFIX))
          .collect(java.util.stream.Collectors.toSet());
    }
  }

  /**
   * Removes the Aeron directories made since the cluster started whose media driver is dead (no
   * heartbeat for 10 s): those of executors killed outright (SIGKILL runs no shutdown hook), ~600 MB
   * of RAM each. A live driver's (another run's on this machine) is left alone.
   */
  private void removeDeadAeronDirs() {
    java.util.Set<String> now;
    try {
      now = aeronDirs();
    } catch (IOException e) {
      return; // nothing to clean that can be listed
    }
    for (String name : now) {
      java.io.File d = AERON_BASE.resolve(name).toFile();
      if (!aeronBefore.contains(name) && !io.aeron.CommonContext.isDriverActive(d, 10_000, msg -> { })) {
        org.agrona.IoUtil.delete(d, true);
      }
    }
  }

  @Override
  public void close() {
    stopAll();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // shutting down already
    }
  }
}
