// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import java.util.Locale;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/**
 * The parallel loop of cnnc's Java kernels: {@link #forEach} runs tasks {@code 0 .. n-1} on the
 * calling thread and on this class's workers, which wait for the next loop spinning for a while
 * ({@link #SPIN_NANOS}) before they sleep, as ONNX Runtime's thread pool does.
 *
 * <p>Why not a parallel stream on the common fork-join pool, as the kernels did: its idle workers
 * sleep at once, and waking one costs about 25-30 us on a 2-core virtual machine (the wake-up goes
 * through the hypervisor), on every loop. A network at batch 1 runs hundreds of short loops
 * (docs/performance-history.md, session 23).
 *
 * <p>What runs where: a loop started on a fork-join worker thread (a parallel stream's task, a
 * Spark task in a fork-join pool, a test that runs in a pool of one) runs as a parallel stream in
 * that thread's pool, as before. A loop started inside a task (on one of this class's workers, or
 * on the thread whose loop holds them) runs on that thread alone: the other threads are busy with
 * the outer loop's tasks. A loop
 * started while another thread's loop holds the workers runs on the common pool. Which thread runs
 * a task never changes a result: every kernel's task computes its own part in a fixed order.
 *
 * <p>The workers are {@code java.util.concurrent.ForkJoinPool.common.parallelism} daemon threads
 * (one less than the cores, by default), so the caller and they use every core once.
 */
public final class Parallel {
  private Parallel() {}

  /**
   * How long an idle worker spins (with {@link Thread#onSpinWait}, then giving its core to other
   * threads with {@link Thread#yield}) before it sleeps: {@code -Dcnnc.threads.spin=} microseconds,
   * or {@code off}. Native libraries' OpenMP threads (MKL, oneDNN) take the core a yielding worker
   * gives up.
   */
  static final long SPIN_NANOS;

  /** Why {@code cnnc.threads.spin} is not a setting, or null: every loop then fails with it. */
  private static final String SETTING_ERROR;

  static {
    long nanos = 200_000L;
    String error = null;
    try {
      nanos = spinNanos(System.getProperty("cnnc.threads.spin", "200"));
    } catch (IllegalArgumentException e) {
      error = e.getMessage();
    }
    SPIN_NANOS = nanos;
    SETTING_ERROR = error;
  }

  /**
   * Fails, with a message for the user, when {@code -Dcnnc.threads.spin} is not a setting (a
   * command checks it before any work; a program's first parallel loop fails with it).
   */
  public static void checkSettings() {
    if (SETTING_ERROR != null) {
      throw new IllegalArgumentException(SETTING_ERROR);
    }
  }

  /** Of {@link #SPIN_NANOS}, how long a worker spins before it starts to yield its core. */
  private static final long HOT_NANOS = 20_000L;

  static long spinNanos(String setting) {
    String s = setting.trim().toLowerCase(Locale.ROOT);
    if (s.equals("off")) {
      return 0;
    }
    try {
      long micros = Long.parseLong(s);
      if (micros < 0 || micros > 1_000_000) {
        throw new NumberFormatException();
      }
      return micros * 1000;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "cnnc.threads.spin is '" + setting + "'; it takes off or microseconds from 0 to 1000000");
    }
  }

  /** A worker thread, with its {@link Scratch} arrays. */
  static final class Worker extends Thread {
    final float[][] scratch = new float[Scratch.SLOTS][0];

    /** Whether the worker sleeps or is about to: a new loop must wake it. */
    volatile boolean sleeping;

    Worker(int i) {
      super("cnnc-kernel-" + i);
      setDaemon(true);
    }

    @Override
    public void run() {
      Loop seen = null;
      while (true) {
        Loop loop = awaitNext(seen);
        seen = loop;
        loop.work();
      }
    }

    private Loop awaitNext(Loop seen) {
      long start = System.nanoTime();
      while (true) {
        Loop loop = current;
        if (loop != seen) {
          return loop;
        }
        long waited = System.nanoTime() - start;
        if (waited < HOT_NANOS && waited < SPIN_NANOS) {
          Thread.onSpinWait();
        } else if (waited < SPIN_NANOS) {
          Thread.yield();
        } else {
          sleeping = true;
          if (current == seen) {
            LockSupport.park(this);
          }
          sleeping = false;
          start = System.nanoTime();
        }
      }
    }
  }

  /** One loop: its body, its next task, how many have finished, the first failure. */
  private static final class Loop {
    final IntConsumer body;
    final int n;
    final AtomicInteger next = new AtomicInteger();
    final AtomicInteger finished = new AtomicInteger();
    final AtomicReference<Throwable> failure = new AtomicReference<>();

    Loop(IntConsumer body, int n) {
      this.body = body;
      this.n = n;
    }

    void work() {
      for (int i; (i = next.getAndIncrement()) < n;) {
        try {
          if (failure.get() == null) {
            body.accept(i);
          }
        } catch (Throwable t) {
          failure.compareAndSet(null, t);
        } finally {
          finished.incrementAndGet();
        }
      }
    }
  }

  private static final Worker[] WORKERS = start(ForkJoinPool.getCommonPoolParallelism());

  private static Worker[] start(int count) {
    Worker[] w = new Worker[Math.max(0, count)];
    for (int i = 0; i < w.length; i++) {
      w[i] = new Worker(i);
      w[i].start();
    }
    return w;
  }

  /** The loop the workers work on (a finished one between loops). */
  private static volatile Loop current = new Loop(i -> {}, 0);

  /** Whether a thread's loop holds the workers. */
  private static final AtomicBoolean HELD = new AtomicBoolean();

  /** The thread whose loop holds the workers, or null. */
  private static volatile Thread holder;

  /** The threads a loop runs on: the workers and the caller. */
  static int threads() {
    return WORKERS.length + 1;
  }

  /**
   * Runs {@code body.accept(i)} for every {@code i} in {@code 0 .. n-1}, each once, in parallel,
   * and returns when all have finished. The first exception a task throws is thrown here once
   * every task has finished or been skipped.
   */
  public static void forEach(int n, IntConsumer body) {
    checkSettings();
    if (n <= 0) {
      return;
    }
    Thread t = Thread.currentThread();
    if (n == 1 || t instanceof Worker || t == holder || WORKERS.length == 0) {
      for (int i = 0; i < n; i++) {
        body.accept(i);
      }
      return;
    }
    if (t instanceof ForkJoinWorkerThread || !HELD.compareAndSet(false, true)) {
      IntStream.range(0, n).parallel().forEach(body);
      return;
    }
    Loop loop = new Loop(body, n);
    holder = t;
    try {
      current = loop;
      for (Worker w : WORKERS) {
        if (w.sleeping) {
          LockSupport.unpark(w);
        }
      }
      loop.work();
      for (long spins = 0; loop.finished.get() < n; spins++) {
        if (spins < 4096) {
          Thread.onSpinWait();
        } else {
          Thread.yield();
        }
      }
    } finally {
      holder = null;
      HELD.set(false);
    }
    Throwable failure = loop.failure.get();
    if (failure instanceof RuntimeException e) {
      throw e;
    }
    if (failure instanceof Error e) {
      throw e;
    }
    if (failure != null) {
      throw new IllegalStateException(failure);
    }
  }
}
