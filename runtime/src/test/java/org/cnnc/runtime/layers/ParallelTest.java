// SPDX-License-Identifier: Apache-2.0
package org.cnnc.runtime.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** {@link Parallel}: every task once, results seen by the caller, failures, nesting, callers at once. */
class ParallelTest {
  /** Counts how often each task ran, over loops of many sizes one after another (the workers' hand-over). */
  @Test
  void everyTaskRunsOnceAndItsWritesAreSeen() {
    Random r = new Random(5);
    for (int loop = 0; loop < 3000; loop++) {
      int n = loop < 64 ? loop : 1 + r.nextInt(300);
      AtomicIntegerArray runs = new AtomicIntegerArray(Math.max(1, n));
      int[] plain = new int[Math.max(1, n)];
      int salt = loop;
      Parallel.forEach(n, i -> {
        runs.incrementAndGet(i);
        plain[i] = i * 31 + salt; // a plain write: forEach's return must publish it
      });
      for (int i = 0; i < n; i++) {
        assertEquals(1, runs.get(i), "loop " + loop + " of " + n + ": task " + i);
        assertEquals(i * 31 + salt, plain[i], "loop " + loop + ": task " + i + "'s write");
      }
    }
  }

  /**
   * Two tasks of one loop run at the same time: each waits until the other has started. With one
   * core there are no workers, and every task runs on the caller, one after another.
   */
  @Test
  void tasksRunOnSeveralThreadsAtOnce() {
    for (int loop = 0; loop < 20; loop++) {
      Set<Thread> threads = ConcurrentHashMap.newKeySet();
      twoTasks(() -> threads.add(Thread.currentThread()));
      assertEquals(Math.min(2, Parallel.threads()), threads.size(), "loop " + loop);
    }
  }

  /** A worker's tasks use the worker's own scratch arrays; the caller's tasks do not run on a worker. */
  @Test
  void workersUseTheirOwnScratchArrays() {
    Set<Boolean> onWorker = ConcurrentHashMap.newKeySet();
    twoTasks(() -> {
      float[] a = Scratch.floats(0, 16);
      if (Thread.currentThread() instanceof Parallel.Worker w) {
        assertSame(w.scratch[0], a);
        onWorker.add(true);
      } else {
        onWorker.add(false);
      }
    });
    assertEquals(Parallel.threads() > 1 ? Set.of(true, false) : Set.of(false), onWorker,
        "tasks on the caller and, with workers, on a worker");
  }

  /**
   * A loop of two tasks that each run {@code body}, then, when there are workers, wait until the
   * other has started: so one of them runs on a worker.
   */
  private static void twoTasks(Runnable body) {
    CountDownLatch started = new CountDownLatch(2);
    Parallel.forEach(2, i -> {
      body.run();
      started.countDown();
      if (Parallel.threads() > 1) {
        try {
          assertTrue(started.await(30, TimeUnit.SECONDS), "the other task never started");
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
      }
    });
  }

  /** The first failure reaches the caller as it was thrown; the next loop runs as usual. */
  @Test
  void aFailingTaskFailsTheLoopAndOnlyIt() {
    IllegalArgumentException boom = new IllegalArgumentException("task 37");
    for (int loop = 0; loop < 50; loop++) {
      IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> Parallel.forEach(100, i -> {
        if (i == 37) {
          throw boom;
        }
      }));
      assertSame(boom, thrown);
      AtomicIntegerArray runs = new AtomicIntegerArray(100);
      Parallel.forEach(100, runs::incrementAndGet);
      for (int i = 0; i < 100; i++) {
        assertEquals(1, runs.get(i), "after a failure, task " + i);
      }
    }
    AssertionError error = new AssertionError("an error");
    assertSame(error, assertThrows(AssertionError.class, () -> Parallel.forEach(10, i -> {
      if (i == 9) {
        throw error;
      }
    })));
  }

  /** A task that starts a loop runs it on its own thread, to the end. */
  @Test
  void loopsInsideTasksRunWholeOnTheTasksThread() {
    AtomicIntegerArray runs = new AtomicIntegerArray(16 * 16);
    AtomicIntegerArray elsewhere = new AtomicIntegerArray(1);
    Parallel.forEach(16, i -> {
      Thread outer = Thread.currentThread();
      Parallel.forEach(16, j -> {
        runs.incrementAndGet(i * 16 + j);
        if (Thread.currentThread() != outer) {
          elsewhere.incrementAndGet(0);
        }
      });
    });
    for (int i = 0; i < 256; i++) {
      assertEquals(1, runs.get(i), "inner task " + i);
    }
    assertEquals(0, elsewhere.get(0), "inner tasks run on another thread than their outer task's");
  }

  /** Threads that start loops at once each get all their tasks run once (one has the workers, the others the common pool). */
  @Test
  void callersAtOnceEachGetTheirTasks() throws Exception {
    ExecutorService callers = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int c = 0; c < 4; c++) {
        int caller = c;
        done.add(callers.submit(() -> {
          for (int loop = 0; loop < 300; loop++) {
            int n = 1 + (loop * 7 + caller) % 97;
            AtomicIntegerArray runs = new AtomicIntegerArray(n);
            Parallel.forEach(n, runs::incrementAndGet);
            for (int i = 0; i < n; i++) {
              assertEquals(1, runs.get(i), "caller " + caller + ", loop " + loop + ", task " + i);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : done) {
        f.get(120, TimeUnit.SECONDS);
      }
    } finally {
      callers.shutdownNow();
    }
  }

  /** A loop started in a fork-join pool runs in that pool, as a parallel stream would. */
  @Test
  void aLoopStartedInAForkJoinPoolStaysInIt() throws Exception {
    ForkJoinPool one = new ForkJoinPool(1);
    try {
      Set<Thread> threads = ConcurrentHashMap.newKeySet();
      one.submit(() -> Parallel.forEach(64, i -> threads.add(Thread.currentThread()))).get();
      assertEquals(1, threads.size(), threads.toString());
      Thread t = threads.iterator().next();
      assertFalse(t instanceof Parallel.Worker, t.getName());
    } finally {
      one.shutdown();
    }
  }

  @Test
  void spinSettings() {
    assertEquals(0, Parallel.spinNanos("off"));
    assertEquals(0, Parallel.spinNanos(" OFF "));
    assertEquals(200_000, Parallel.spinNanos("200"));
    assertEquals(1_000_000_000L, Parallel.spinNanos("1000000"));
    for (String bad : new String[] {"fast", "-1", "1000001", "", "1e3", "99999999999999999999"}) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Parallel.spinNanos(bad));
      assertEquals("cnnc.threads.spin is '" + bad + "'; it takes off or microseconds from 0 to 1000000", e.getMessage());
    }
  }
}
