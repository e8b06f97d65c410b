// SPDX-License-Identifier: Apache-2.0
package org.cnnc.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class TimingTest {
  /** Without warm-up time there is still one warm-up run before the timed ones. */
  @Test
  void oneWarmUpRunAtLeast() {
    AtomicInteger runs = new AtomicInteger();
    Timing.median(runs::incrementAndGet, 3, 0);
    assertEquals(4, runs.get());
  }

  /** Warm-up goes on until its time has passed: 10 ms runs over 0.1 s make between 2 and 11 runs. */
  @Test
  void warmsUpForTheGivenTime() {
    AtomicInteger runs = new AtomicInteger();
    Timing.median(() -> {
      runs.incrementAndGet();
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, 1, 0.1);
    int warmUps = runs.get() - 1;
    assertTrue(warmUps >= 2 && warmUps <= 11, warmUps + " warm-up runs");
  }

  /** However short a run, warm-up stops after MAX_WARMUP_RUNS runs. */
  @Test
  void warmUpIsCapped() {
    AtomicInteger runs = new AtomicInteger();
    Timing.median(runs::incrementAndGet, 5, 1e9);
    assertEquals(Timing.MAX_WARMUP_RUNS + 5, runs.get());
  }
}
