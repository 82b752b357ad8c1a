package dev.jemma.core.tensor;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads that run one data-parallel loop at a time. The caller's thread does the first
 * share of the work; workers spin briefly before parking so back-to-back kernels (one per matmul, many per token)
 * avoid wake-up latency. No allocation per call.
 */
public final class ThreadPool implements AutoCloseable {
    /** Work over the index range [start, end); {@code worker} is 0..threads-1 (for per-thread scratch). */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end, int worker);
    }

    private static final int SPIN = 20_000;
    /** Spins before yielding: on an oversubscribed machine a pure spin burns the slice a descheduled peer needs. */
    private static final int PURE_SPIN = 2_000;
    private static final int CHUNKS_PER_THREAD = 8;
    /**
     * Chunks are claimed from both ends: a claim first counts itself in {@link #claims} (none past {@code chunks}), then
     * takes the next index from the front (even thread ids) or the back (odd ones), so the two ends never overlap. With
     * two threads each keeps to its own end of the range loop after loop: the rows a thread normed are the rows it then
     * quantizes (still in its own cache), and the threads meet at one boundary instead of writing neighbouring output
     * rows (shared cache lines) all along the range, as one counter handing out alternate chunks did.
     */
    private final AtomicInteger front = new AtomicInteger(), back = new AtomicInteger();
    /**
     * The current loop's claims: its generation's low 32 bits in the high half, the chunks claimed so far in the low half
     * ({@link #CLOSED} while the loop is being set up). A claim is a compare-and-set that keeps the generation, so a
     * worker that read the loop's state late — descheduled, then woken when the caller has moved on — can never claim
     * a chunk of a loop whose state it did not read: the caller closes the counter under the new generation before it
     * writes the new state, and opens it after.
     */
    private final AtomicLong claims = new AtomicLong(CLOSED);
    private static final long CLOSED = Integer.MAX_VALUE;
    /**
     * Chunks of the current loop finished (or failed). The caller waits for these, not for the workers: a worker the OS
     * has descheduled and that claimed nothing is not waited for (its share is the caller's), where waiting for every
     * worker to check in cost each of a step's ~130 loops a scheduling delay whenever a session, HTTP or client thread
     * held the worker's core (docs/PERFORMANCE.md, "Batched steps at 4 and 8 rows").
     */
    private final AtomicInteger done = new AtomicInteger();
    private volatile int chunks;
    /** Workers that claimed a chunk of the current loop, and those of them that have written its CPU clocks (profiling). */
    private final AtomicInteger joined = new AtomicInteger(), published = new AtomicInteger();

    private final int threads;
    private final Thread[] workers;
    private volatile RangeTask task;
    private volatile int n;
    private volatile long generation;
    private volatile Thread waiter;
    /** Set by a worker just before it parks: the caller unparks only those (unpark costs a futex call). */
    private final java.util.concurrent.atomic.AtomicIntegerArray parked;
    private volatile boolean waiterParked;
    private volatile boolean closed;
    /** Set by {@link #rest}: idle workers park at once instead of spinning, until the next loop. */
    private volatile boolean resting;
    private volatile Throwable failure;
    /** Per-loop CPU accounting while profiling (null: off, nothing measured); see {@link #profile}. */
    private volatile PoolProfile profile;
    /** Each thread's CPU clock when its share of a loop started and ended, and that loop's generation (only while profiling). */
    private final long[] workStart, workEnd, workGeneration;

    public ThreadPool(int threads) {
        this(threads, true);
    }

    /**
     * With {@code start} false the workers are created but not started until {@link #startWorkers}: a test's stand-in
     * for workers the OS keeps descheduled, which a loop must not wait for.
     */
    ThreadPool(int threads, boolean start) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        this.parked = new java.util.concurrent.atomic.AtomicIntegerArray(threads);
        this.workStart = new long[threads];
        this.workEnd = new long[threads];
        this.workGeneration = new long[threads];
        for (int i = 1; i < threads; i++) {
            final int id = i;
            Thread t = new Thread(() -> workerLoop(id), "jemma-worker-" + i);
            t.setDaemon(true);
            workers[i - 1] = t;
            if (start) t.start();
        }
    }

    /** Starts the workers of a pool made with {@code start} false. */
    void startWorkers() {
        for (Thread t : workers) t.start();
    }

    public static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /**
     * The threads to run with when {@code requested} are asked for (0: all cores): at most one per core. More only
     * time-slice the same cores — each spinning worker then steals the slice a peer needs — and {@code -t 100000}
     * used to start a hundred thousand threads.
     */
    public static int capped(int requested) {
        int cores = defaultThreads();
        return requested <= 0 ? cores : Math.min(requested, cores);
    }

    /** The one-line warning for a request {@link #capped} lowers ({@code flag} as the user wrote it), or null. */
    public static String capWarning(String flag, int requested) {
        int cores = defaultThreads();
        return requested > cores ? flag + " " + requested + " is more than the " + cores + " cores this machine has; using " + cores : null;
    }

    public int threads() {
        return threads;
    }

    /**
     * Rows per call from which row-wise work (norms, q/k norm and rope, GELU, a matmul's row preparation) is split across
     * a pool's threads: a prompt batch's, whose serial share at 1 thread (~8 % of an EmbeddingGemma forward) otherwise
     * idles the other threads; a decode step's few rows stay on the caller's thread, where a hand-off would cost more
     * than the work.
     */
    public static final int PARALLEL_ROWS = 16;

    /** Runs {@code task} over rows [0, count): across {@code pool} (may be null) from {@link #PARALLEL_ROWS} rows on, else inline. */
    public static void rows(ThreadPool pool, int count, RangeTask task) {
        if (inline(pool, count)) task.run(0, count, 0);
        else pool.parallelFor(count, task);
    }

    /**
     * Whether {@link #rows} runs {@code count} rows on the caller's thread: a caller that would capture its arguments in
     * a task for it can run its loop directly instead (a decode step's rows, with no task object made per call).
     */
    public static boolean inline(ThreadPool pool, int count) {
        return pool == null || pool.threads() == 1 || count < PARALLEL_ROWS;
    }

    /**
     * Starts (or with null stops) accounting every loop's CPU time per thread into {@code p}: a profiling aid
     * ({@code EmbedThreadProfile}), off by default, when a loop costs one volatile read more. Set it between loops, from
     * the thread that calls {@link #parallelFor}.
     */
    public void profile(PoolProfile p) {
        this.profile = p;
    }

    /** The pool's worker threads (threads − 1 of them; the caller's thread is the first), e.g. to read their CPU time. */
    public java.util.List<Thread> workers() {
        return java.util.List.of(workers);
    }

    /**
     * Runs {@code task} over [0, n) split into contiguous chunks that threads claim as they go (several per thread, so
     * a thread the OS has descheduled — common on a shared machine — does not hold the others up: the running threads
     * take its share), even thread ids from the front of the range and odd ones from the back; returns when all are
     * done. A worker may get several ranges per call.
     */
    public void parallelFor(int n, RangeTask task) {
        parallelFor(n, task, threads * CHUNKS_PER_THREAD);
    }

    /**
     * As {@link #parallelFor(int, RangeTask)} with at most {@code maxChunks} chunks: a loop whose items are each
     * long enough (a 64-row tile of a prompt-batch GEMM: ~0.5 ms) passes {@code n}, so that the threads finish within
     * one item of each other instead of within one eighth of their share.
     *
     * <p>Synchronized because the pool holds one loop's state (task, range, counters): callers on other threads take
     * turns loop by loop, correct but no faster than one after the other. An engine's forwards never meet here (its
     * scheduler runs one step at a time); a session's image or audio encode runs on the engine's pool too and takes
     * turns with the step running then. A task must not call {@code parallelFor} itself: a worker would wait for the
     * lock its caller holds until that caller's loop ends, which waits for the worker.
     */
    public synchronized void parallelFor(int n, RangeTask task, int maxChunks) {
        if (n <= 0) return;
        final PoolProfile prof = profile;
        if (prof != null) {
            profiledFor(prof, n, task, maxChunks);
            return;
        }
        if (threads == 1 || n == 1) {
            task.run(0, n, 0);
            return;
        }
        runLoop(n, task, maxChunks);
    }

    /** {@link #parallelFor(int, RangeTask, int)} with every thread's CPU clock read around its share, for {@link #profile}. */
    private void profiledFor(PoolProfile prof, int n, RangeTask task, int maxChunks) {
        long enter = PoolProfile.cpu();
        String label = prof.label(n);
        long start = PoolProfile.cpu();
        if (threads == 1 || n == 1) {
            task.run(0, n, 0);
            long end = PoolProfile.cpu();
            prof.loop(label, n, enter, start, start, end, end, null, null);
            return;
        }
        long g = runLoop(n, task, maxChunks);
        // the workers that took part have written their clocks; one that did not (late) reports no share (-1)
        while (published.get() < joined.get()) Thread.onSpinWait();
        long exit = PoolProfile.cpu();
        long[] ws = new long[threads], we = new long[threads];
        ws[0] = workStart[0];
        we[0] = workEnd[0];
        for (int i = 1; i < threads; i++) {
            boolean took = workGeneration[i] == g;
            ws[i] = took ? workStart[i] : -1;
            we[i] = took ? workEnd[i] : -1;
        }
        prof.loop(label, n, enter, start, workStart[0], workEnd[0], exit, ws, we);
    }

    /** Runs one loop on the caller and whichever workers come; returns its generation once every chunk is done. */
    private long runLoop(int n, RangeTask task, int maxChunks) {
        final long g = generation + 1;
        final long tag = (g & 0xFFFF_FFFFL) << 32;
        // closed under the new generation first: a late worker of an earlier loop can no longer claim anything
        claims.set(tag | CLOSED);
        this.task = task;
        this.n = n;
        final int c = Math.max(1, Math.min(n, maxChunks));
        this.chunks = c;
        front.set(0);
        back.set(c - 1);
        done.set(0);
        joined.set(0);
        published.set(0);
        this.failure = null;
        waiter = Thread.currentThread();
        resting = false;
        claims.set(tag);
        generation = g;
        for (int i = 0; i < workers.length; i++) {
            if (parked.get(i + 1) != 0) LockSupport.unpark(workers[i]);
        }
        Throwable mine = null;
        int expected = c;
        try {
            timedChunk(0, g);
        } catch (Throwable t) {
            mine = t;
            // no more claims; wait only for the chunks already claimed (the caller's failed one counts as done)
            expected = (int) Math.min(c, claims.getAndSet(tag | CLOSED) & 0xFFFF_FFFFL);
        }
        int spins = 0;
        while (done.get() < expected) {
            if (++spins < PURE_SPIN) {
                Thread.onSpinWait();
            } else if (spins < SPIN) {
                Thread.yield();
            } else {
                waiterParked = true;
                if (done.get() < expected) LockSupport.parkNanos(this, 50_000);
                waiterParked = false;
            }
        }
        this.task = null;
        Throwable f = mine != null ? mine : failure;
        if (f instanceof RuntimeException re) throw re;
        if (f instanceof Error e) throw e;
        if (f != null) throw new RuntimeException(f);
        return g;
    }

    /** {@link #runChunk} with this thread's CPU clock read around it while profiling. */
    private void timedChunk(int id, long g) {
        if (profile == null) {
            runChunk(id, g);
            return;
        }
        long s0 = PoolProfile.cpu();
        boolean took = false;
        try {
            took = runChunk(id, g);
        } finally {
            if (id == 0 || took) {
                workStart[id] = s0;
                workEnd[id] = PoolProfile.cpu();
                workGeneration[id] = g;
                if (id != 0) published.incrementAndGet();
            }
        }
    }

    /**
     * Claims and runs chunks of loop {@code g} until none is left (or the loop is no longer g: this thread came late);
     * returns whether it ran any. The loop's state is read before the first claim, and a claim succeeds only while the
     * counter still carries g, so what was read is g's.
     */
    private boolean runChunk(int id, long g) {
        final int total = n, c = chunks;
        final RangeTask t = task;
        final long tag = (g & 0xFFFF_FFFFL) << 32;
        final AtomicInteger end = (id & 1) == 0 ? front : back;
        final int step = (id & 1) == 0 ? 1 : -1;
        boolean took = false;
        while (true) {
            long v = claims.get();
            if ((v & 0xFFFF_FFFF_0000_0000L) != tag || (int) v >= c) return took;
            if (!claims.compareAndSet(v, v + 1)) continue;
            if (!took && id != 0) joined.incrementAndGet();
            took = true;
            int k = end.getAndAdd(step);
            int start = (int) ((long) total * k / c);
            int stop = (int) ((long) total * (k + 1) / c);
            try {
                if (start < stop) t.run(start, stop, id);
            } catch (RuntimeException | Error x) {
                if (id == 0) throw x;
                // recorded before the chunk counts as done, so the caller, once every chunk is done, sees it
                failure = x;
                return true;
            } finally {
                if (done.incrementAndGet() >= c && waiterParked) LockSupport.unpark(waiter);
            }
        }
    }

    private void workerLoop(int id) {
        long seen = 0;
        while (!closed) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (++spins < PURE_SPIN && !resting) {
                    Thread.onSpinWait();
                } else if (spins < SPIN && !resting) {
                    Thread.yield();
                } else {
                    // publish "parked" before the last check: the caller bumps generation, then reads the flag
                    parked.set(id, 1);
                    if (generation == seen && !closed) LockSupport.park(this);
                    parked.set(id, 0);
                }
            }
            if (closed) return;
            seen = generation;
            try {
                timedChunk(id, seen);
            } catch (Throwable t) {
                failure = t;
            }
        }
    }

    /**
     * Says no loop follows soon (an engine's model step has ended; what comes next is sampling on the sessions' threads,
     * then the next step): idle workers park now rather than spin and yield for up to {@code SPIN} rounds on a core those
     * threads need. The next loop wakes them as usual.
     */
    public void rest() {
        resting = true;
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
