package dev.jemma.core.tensor;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ThreadPoolTest {
    /** Every index in [0, n) runs exactly once, whatever the chunking; ranges never exceed the chunk count. */
    @ParameterizedTest(name = "{0} threads, n = {1}, at most {2} chunks")
    @CsvSource({"2, 18, 18", "2, 18, 16", "2, 108, 108", "3, 7, 100", "2, 5, 1", "2, 1, 1", "4, 1000, 0", "1, 9, 9"})
    void eachIndexRunsOnce(int threads, int n, int maxChunks) {
        try (ThreadPool pool = new ThreadPool(threads)) {
            for (int round = 0; round < 50; round++) {
                AtomicIntegerArray seen = new AtomicIntegerArray(n);
                AtomicInteger ranges = new AtomicInteger();
                pool.parallelFor(n, (s, e, worker) -> {
                    assertThat(worker).isBetween(0, threads - 1);
                    ranges.incrementAndGet();
                    for (int i = s; i < e; i++) seen.incrementAndGet(i);
                }, maxChunks);
                for (int i = 0; i < n; i++) assertThat(seen.get(i)).as("index %d, round %d", i, round).isEqualTo(1);
                assertThat(ranges.get()).isLessThanOrEqualTo(Math.max(1, Math.min(n, maxChunks)));
            }
        }
    }

    @ParameterizedTest(name = "{0} threads")
    @CsvSource({"1", "2"})
    void aTaskFailureReachesTheCaller(int threads) {
        try (ThreadPool pool = new ThreadPool(threads)) {
            assertThatThrownBy(() -> pool.parallelFor(64, (s, e, w) -> {
                if (s <= 40 && 40 < e) throw new IllegalStateException("item 40");
            }, 64)).isInstanceOf(IllegalStateException.class).hasMessage("item 40");
            // and the pool still works afterwards
            AtomicInteger sum = new AtomicInteger();
            pool.parallelFor(10, (s, e, w) -> sum.addAndGet(e - s));
            assertThat(sum.get()).isEqualTo(10);
        }
    }

    /**
     * After {@link ThreadPool#rest} (an engine's step has ended) the workers park at once instead of spinning on a core
     * the sessions need, and the next loop still wakes them: every item runs, on every thread, whether it comes at once
     * or after they have parked.
     */
    @org.junit.jupiter.api.Test
    @org.junit.jupiter.api.Timeout(120)
    void aRestingPoolParksItsWorkersAndWakesThemForTheNextLoop() throws Exception {
        try (ThreadPool pool = new ThreadPool(2)) {
            Thread[] worker = new Thread[1];
            for (int round = 0; round < 200; round++) {
                AtomicIntegerArray seen = new AtomicIntegerArray(64);
                java.util.concurrent.CountDownLatch both = new java.util.concurrent.CountDownLatch(2);
                pool.parallelFor(64, (s, e, w) -> {
                    if (w == 1) worker[0] = Thread.currentThread();
                    for (int i = s; i < e; i++) seen.incrementAndGet(i);
                    // hold each thread's first range until the other has one: both threads take part in every loop
                    both.countDown();
                    try {
                        both.await(10, java.util.concurrent.TimeUnit.SECONDS);
                    } catch (InterruptedException x) {
                        Thread.currentThread().interrupt();
                    }
                }, 64);
                for (int i = 0; i < 64; i++) assertThat(seen.get(i)).as("index %d, round %d", i, round).isEqualTo(1);
                pool.rest();
                if (round % 50 == 0) {
                    // a resting worker is parked (WAITING); a worker the next loop failed to wake would hang that loop
                    long deadline = System.nanoTime() + 5_000_000_000L;
                    while (worker[0].getState() != Thread.State.WAITING && System.nanoTime() < deadline) Thread.sleep(1);
                    assertThat(worker[0].getState()).as("round %d", round).isEqualTo(Thread.State.WAITING);
                }
            }
        }
    }

    /**
     * A loop waits for its chunks, not for workers: with the worker not running (as a worker the OS keeps descheduled
     * while session, HTTP or client threads hold its core) every loop still completes, on the caller alone; once the
     * worker runs, it joins the loops after — never running a chunk of a loop that is over, or with a later loop's state
     * read half way (every index of every loop runs exactly once, each loop's with its own task).
     */
    @org.junit.jupiter.api.Test
    @org.junit.jupiter.api.Timeout(120)
    void aLoopDoesNotWaitForAWorkerThatHasNotComeYet() throws Exception {
        try (ThreadPool pool = new ThreadPool(2, false)) {
            for (int round = 0; round < 20; round++) {
                AtomicIntegerArray seen = new AtomicIntegerArray(64);
                AtomicInteger byWorker = new AtomicInteger();
                pool.parallelFor(64, (s, e, w) -> {
                    if (w != 0) byWorker.incrementAndGet();
                    for (int i = s; i < e; i++) seen.incrementAndGet(i);
                }, 64);
                for (int i = 0; i < 64; i++) assertThat(seen.get(i)).as("index %d, round %d", i, round).isEqualTo(1);
                assertThat(byWorker.get()).isZero();
            }
            pool.startWorkers();
            boolean workerTookPart = false;
            AtomicInteger active = new AtomicInteger(-1), wrongLoop = new AtomicInteger();
            // until the worker has joined a loop (and 2,000 loops ran), for up to 60 s rather than a number of loops: 20,000
            // loops take well under a second, which a loaded 2-core machine can spend with the worker never scheduled
            long deadline = System.nanoTime() + 60_000_000_000L;
            for (int round = 0; !(workerTookPart && round >= 2_000) && (round < 2_000 || System.nanoTime() - deadline < 0); round++) {
                final int n = 1 + round % 97, loop = round;
                AtomicIntegerArray seen = new AtomicIntegerArray(n);
                AtomicInteger byWorker = new AtomicInteger();
                active.set(loop);
                pool.parallelFor(n, (s, e, w) -> {
                    if (active.get() != loop) wrongLoop.incrementAndGet();
                    if (w != 0) byWorker.incrementAndGet();
                    for (int i = s; i < e; i++) seen.incrementAndGet(i);
                    if ((s & 7) == 3) Thread.yield();
                }, n);
                active.set(-1);
                for (int i = 0; i < n; i++) assertThat(seen.get(i)).as("index %d, round %d", i, round).isEqualTo(1);
                workerTookPart |= byWorker.get() > 0;
            }
            assertThat(wrongLoop.get()).as("chunks run outside their loop").isZero();
            assertThat(workerTookPart).as("the started worker joined later loops").isTrue();
        }
    }
}
