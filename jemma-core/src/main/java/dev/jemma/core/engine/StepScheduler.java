package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.Batch;
import dev.jemma.core.model.LanguageModel;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Continuous batching for an engine's sessions: every forward a session asks for joins a queue, and each model step
 * runs the queued work of <em>all</em> sessions as one {@link Batch} — decode tokens first (a running stream never
 * waits behind a prompt), then prompt chunks in arrival order up to a token budget per step (a long prompt is split
 * across steps, so other streams keep producing tokens while it is processed). Every matrix is then read once for
 * all sequences, which is what makes serving several users nearly as cheap as one: decoding is bound by reading the
 * weights.
 *
 * <p>No dedicated thread: a caller whose work is queued while no step runs becomes the leader and runs steps (its own
 * work and everyone else's) until its own work is done, then hands the lead to a waiting caller. A lone session thus
 * runs its forwards on its own thread, as before, with no hand-off per token.
 *
 * <p>A prompt with images queues like any other: its image rows carry their embeddings, and a chunk never cuts one of
 * Gemma 3's bidirectional image runs (those rows attend to each other, so they run in one step — the engine's batch size
 * is at least one image's tokens; a run that starts a chunk is taken whole even past the step's budget, which the model
 * then splits before it). Gemma 3n's soft tokens are causal and split like text.
 *
 * <p>Fairness: a session in its decode loop is an open <em>stream</em> ({@link #openStream}). Between two of its
 * tokens it samples on its own thread, and a leader that ran the next step at once would leave it out of every other
 * step (during a long prompt, half its tokens). So before a step the leader waits until every open stream has queued
 * its next token — the streams move in lockstep, one token per step each, whatever prompt chunks ride along — but at
 * most {@link #DEFAULT_GRACE_NANOS}: a stream that is late once (its listener blocks on a slow client) is then waited
 * for at most {@link #LATE_GRACE_NANOS} until its generation ends, so it cannot slow the others much step after step,
 * while one late by accident keeps its place in the lockstep.
 *
 * <p>Short prompts join a step whole ({@code whole}): with no stream open, a whole wave in one step (up to
 * {@link #WHOLE_STEP_FACTOR} × {@code whole} rows); beside open streams, only as many rows of them as keep the step
 * within {@link #DEFAULT_WHOLE_STEP_COST} × the streams' decode step, but always the first waiting one, the others
 * waiting whole, in arrival order ({@link #wholeRowsBeside}).
 *
 * <p>Cancellation: work carries its session's cancel flag; cancelled work leaves the queue at the next step (a long
 * prompt stops between two chunks) and its caller gets a {@link java.util.concurrent.CancellationException}.
 */
final class StepScheduler {
    /** Longest wait for an open stream's next token before a step runs without it. */
    static final long DEFAULT_GRACE_NANOS = 50_000_000L;
    /**
     * Longest wait for a stream that was late once. Not none: a stream late once by accident (a collection, its thread
     * descheduled on a busy machine) that was never waited for again fell out of the lockstep for the rest of its answer —
     * sampling a little after the others, it missed the next step and ran in the one after, so the steps carried fewer
     * rows and there were more of them (on the loaded 2-core machine, 8 streams: 80 steps of 6.0 rows for 63 tokens each
     * instead of 63 of 7.6). A stream stuck behind a slow client costs the others at most this much per step.
     */
    static final long LATE_GRACE_NANOS = 2_000_000L;
    /** Prompt tokens a step takes beside decoding streams however many there are (so a prompt always moves on). */
    static final int MIN_PROMPT_ROWS = 4;
    /**
     * Most rows of a step per decoding stream: a step is each stream's inter-token time, and a lone stream's step is
     * cheap, so the same chunk costs it more. Measured (1B Q4_0, 2 threads, least wall time of 20 alternated steps on a
     * loaded machine; docs/PERFORMANCE.md "Run ends and long prompts"): 1 decode row 30.8 ms, with 7 prompt rows 78 ms
     * (2.5×), 9 86 ms (2.8×), 15 117 ms (3.8×: past the 3× bound on the streams' inter-token time while a long
     * prompt arrives); 2 rows 49 ms, with 14 prompt rows 109 ms (2.2×); 3 rows 53 ms, with 13 122 ms (2.3×). So one
     * stream caps a step at 8 rows, two or more at the chunk (16 by default).
     */
    static final int ROWS_PER_STREAM = 8;
    /**
     * Whole prompts one step takes, in rows, as a multiple of the longest one admitted whole: a burst of short prompts
     * (a team's users arriving together, serve-bench's first requests) enters in one step, as llama-server puts new
     * prompts into its next batch, instead of one after another in chunks — the last of 8 waited ~90 steps.
     */
    static final int WHOLE_STEP_FACTOR = 4;
    /**
     * While streams decode, a step's whole prompts cost it at most about this many times the streams' own decode step —
     * the bound on their inter-token time while a prompt arrives — or one whole prompt if that alone costs more:
     * the rest wait for the next step in arrival order, not chunked (each still enters whole, the first of them always).
     * Why: a wave that split (some prompts entered, the rest came a little later over kept-alive connections) joined the
     * streams' next step whole and together: 5 prompts beside 3 streams made one 643-row step, and those streams waited
     * 7.6 s for one token on the loaded machine. On with {@code -Djemma.wholeStepCost=3} (this value); off by default.
     */
    static final int WHOLE_STEP_COST = 3;
    /**
     * The cap's default: off (the whole prompts of a step beside streams reach {@link #WHOLE_STEP_FACTOR} × the longest
     * admitted whole). Why: on a quiet machine (serve-bench, 1B Q4_0, N = 16, one jar, 2026-12-07) the cap staggered the
     * waves it was meant to protect: at C = 8 a wave whose first prompt entered alone then took its others one per step
     * (TTFTs 0.5–3.7 s, p95 3,674 ms against 3,434 off, inter-token p95 95 against 78 ms, 86.4 against 87.8 tok/s).
     */
    static final int DEFAULT_WHOLE_STEP_COST = 0;
    /**
     * A step's CPU on one thread, 1B Q4_0 (jemma-jmh {@code BatchedStepCost}, least of 5, loaded 2-core machine;
     * docs/PERFORMANCE.md "A split wave's prompts, one step at a time"): d decode rows 22 ms + 10 ms each (1, 3, 8 rows:
     * 32.2, 51.6, 101.6 ms); a prompt row beside them 8.1 ms in a 16-row chunk, 6.7 in 32, 5.8 in 64, 5.7 in 128 (3 + 128
     * rows 782 ms: 15× the 3 rows' step). The budget's rows are the few-token ones (it is ~8-30 rows), at 7.5 ms.
     */
    static final int DECODE_STEP_MICROS = 22_000, DECODE_ROW_MICROS = 10_000, PROMPT_ROW_MICROS = 7_500;
    /**
     * One caller's request: tokens [next, end) of {@code tokens} for {@code cache}; the logits of the last one. Rows with
     * an {@code embeddings} entry take it as input instead of their token's embedding; each [start, end) of
     * {@code spans} is one image's bidirectional run.
     */
    private static final class Work {
        final int[] tokens;
        final float[][] embeddings;
        final List<int[]> spans;
        final int end;
        /** Rows the caller asked for (a prompt of at most {@code whole} rows joins a step whole). */
        final int count;
        final KvCache cache;
        final Object stream;
        final java.util.function.BooleanSupplier cancelled;
        /** Where the logits go (a session's own row, reused every token), or null for a new array. */
        final float[] into;
        /** When it was queued ({@link System#nanoTime}): the admission window runs from the first prompt's arrival. */
        final long queuedAt = System.nanoTime();
        int next;
        float[] logits;
        RuntimeException error;
        boolean done;

        Work(int[] tokens, float[][] embeddings, List<int[]> spans, int offset, int count, KvCache cache, Object stream,
             java.util.function.BooleanSupplier cancelled, float[] into) {
            this.stream = stream;
            this.into = into;
            this.cancelled = cancelled;
            this.tokens = tokens;
            this.embeddings = embeddings;
            this.spans = spans;
            this.next = offset;
            this.end = offset + count;
            this.count = count;
            this.cache = cache;
        }

        int remaining() {
            return end - next;
        }

        /**
         * Rows the next chunk takes with room for {@code room}: fewer when it would end inside an image run that starts
         * later, the whole run when one starts here (never split).
         */
        int chunk(int room) {
            int stop = next + Math.min(remaining(), room);
            for (int[] s : spans) {
                if (s[0] < stop && stop < s[1]) return (s[0] > next ? s[0] : s[1]) - next;
            }
            return stop - next;
        }
    }

    private final LanguageModel model;
    /** While set, every step's pool loops are accounted there (a profiling aid: {@link Engine#profileSteps}). */
    private volatile dev.jemma.core.tensor.PoolProfile profile;
    private dev.jemma.core.tensor.ThreadPool profiledPool;
    /** The logits of the step running now (see {@link #run}); only the step's leader touches it. */
    private float[] stepLogits = new float[0];
    private final Runnable afterStep;
    private final int budget, chunk, vocab;
    /** Longest prompt taken whole beside decoding streams (0: none), and the most rows of such prompts in one step. */
    private final int whole, wholeStep;
    /** The cap on a step's whole prompts beside streams, in decode steps ({@link #DEFAULT_WHOLE_STEP_COST}; 0: none). */
    private final int wholeCost;
    /**
     * The admission window (0: none): how long a short prompt reaching a scheduler with no stream open waits at most for
     * requests on their way ({@link #awaitCompany}), and the most sequences that can be queued at once (a KV slot each; 0: no limit), past which nobody else can come.
     */
    private final long admitNanos;
    private final int maxSequences;
    private volatile long graceNanos = DEFAULT_GRACE_NANOS;
    private volatile StepObserver observer;
    /** Sessions in their decode loop, and those of them that once missed a step's grace (waited for briefly since). */
    private final java.util.Set<Object> streams = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private final java.util.Set<Object> late = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private final ReentrantLock lock = new ReentrantLock();
    /**
     * Callers waiting for their work to be done or for the lead to be free (and {@link #alone}, {@link #close}): signalled
     * when a step finishes and when a leader leaves.
     */
    private final Condition changed = lock.newCondition();
    /**
     * The leader waiting before a step, for the open streams' next tokens ({@link #awaitStreams}) or for requests on their
     * way ({@link #awaitCompany}): signalled when work is queued and when a stream closes. Apart from {@link #changed}
     * because a queued token concerns only the leader: with one condition every stream's token woke every stream waiting
     * for its own (at C = 4, six wake-ups a step where one was needed), threads that then competed for the lock and for
     * the two cores with the streams still sampling.
     */
    private final Condition leaderWake = lock.newCondition();
    private final ArrayDeque<Work> queue = new ArrayDeque<>();
    private boolean leading, closed;
    /** Steps run and rows in them (for tests and statistics). */
    private long steps, rows, sharedSteps;
    /** Steps whose start waited in the admission window for a request on its way (for tests and statistics). */
    private long admissionWaits;
    /**
     * Times a caller waiting for its work woke up to find it not done and the lead still taken: wake-ups that bought
     * nothing (for tests: see {@link #leaderWake}).
     */
    private long idleWakeups;
    /** Requests on their way to this engine, which the admission window waits for. */
    private final Arrivals arrivals;

    /**
     * @param budget rows one model call takes (the model's batch size): prompt chunks fill a step up to it
     * @param chunk  rows of a step while streams decode ({@code --batch-chunk}): their tokens, then prompt tokens up to
     *               this many rows in all, but at least {@link #MIN_PROMPT_ROWS} (or the chunk, if smaller)
     */
    StepScheduler(LanguageModel model, int budget, int chunk) {
        this(model, budget, chunk, 0, 0, 0, new Arrivals(), () -> { });
    }

    /**
     * @param whole     a prompt of at most this many rows is taken whole in the next step, beside the decoding streams and
     *                  other such prompts (up to {@link #WHOLE_STEP_FACTOR} × this many rows of them per step; at least
     *                  one); 0: every prompt is chunked beside streams
     * @param admitNanos   how long a prompt taken whole waits at most, when no stream is open, for requests still on
     *                     their way ({@code arrivals}) to share its step (the admission window; 0: none)
     * @param maxSequences sequences that can be queued at once (the KV pool's slots; 0: no limit): with that many
     *                     queued the window closes at once
     * @param arrivals     requests on their way to this engine (see {@link #awaitCompany})
     * @param afterStep run after every model step (the engine lets its pool's workers park: sampling comes next)
     */
    StepScheduler(LanguageModel model, int budget, int chunk, int whole, long admitNanos, int maxSequences, Arrivals arrivals,
                  Runnable afterStep) {
        this.arrivals = java.util.Objects.requireNonNull(arrivals);
        this.afterStep = afterStep;
        this.admitNanos = Math.max(0, admitNanos);
        this.maxSequences = Math.max(0, maxSequences);
        this.model = model;
        this.budget = Math.max(1, budget);
        this.chunk = Math.max(1, chunk);
        this.whole = Math.max(0, whole);
        this.wholeStep = Math.multiplyExact(WHOLE_STEP_FACTOR, this.whole);
        this.wholeCost = Math.max(0, Integer.getInteger("jemma.wholeStepCost", DEFAULT_WHOLE_STEP_COST));
        this.vocab = model.config().vocabSize();
    }

    /** Who sees each step from now on (null: nobody). */
    /** The {@link dev.jemma.core.tensor.PoolProfile} label of a step's serial end; its count is the steps profiled. */
    static final String STEP_END = "(step: serial after the last loop)";

    /** Accounts every step's loops on {@code pool} in {@code p} from the next step on; null stops. */
    void profile(dev.jemma.core.tensor.PoolProfile p, dev.jemma.core.tensor.ThreadPool pool) {
        profiledPool = pool;
        profile = p;
    }

    void observer(StepObserver o) {
        observer = o;
    }

    /** For tests: how long a step waits for open streams. */
    void graceNanos(long nanos) {
        graceNanos = nanos;
    }

    /** {@code key} (a session) enters its decode loop: steps wait (briefly) for its next token. */
    void openStream(Object key) {
        lock.lock();
        try {
            streams.add(key);
        } finally {
            lock.unlock();
        }
    }

    /** {@code key} leaves its decode loop. */
    void closeStream(Object key) {
        lock.lock();
        try {
            streams.remove(key);
            late.remove(key);
            leaderWake.signal();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Runs {@code count} tokens of {@code tokens} from {@code offset} at the cache's next positions, batched with
     * whatever other sessions have queued, and returns the last token's logits. Blocks until done.
     */
    float[] forward(int[] tokens, int offset, int count, KvCache cache) {
        return forward(tokens, null, List.of(), offset, count, cache, null, () -> false, null);
    }

    /**
     * As {@link #forward(int[], int, int, KvCache)} for a prompt with images: row i takes {@code embeddings[i]} as input
     * where that is set (an image's soft token, not scaled by √dim), and each [start, end) of {@code spans} is one
     * image's run, attended bidirectionally and never split. {@code offset} must not fall inside a run, nor the end.
     */
    float[] forward(int[] tokens, float[][] embeddings, List<int[]> spans, int offset, int count, KvCache cache) {
        return forward(tokens, embeddings, spans, offset, count, cache, null, () -> false, null);
    }

    /**
     * {@link #forward(int[], float[][], List, int, int, KvCache)} for a session ({@code stream}, its key for
     * {@link #openStream}; may be null) whose {@code cancelled} flag is checked before each step. The logits are written
     * to {@code into} when it holds a vocabulary's row, and it is returned: a decoding session hands the same row every
     * token, rather than each token leaving a new 1 MB array (262,144 floats) behind — garbage at the rate of tokens × 1 MB
     * that let G1 grow its young generation, and with it the server's resident memory, with the number of streams.
     *
     * @throws java.util.concurrent.CancellationException when cancelled before the work was done (the cache then holds
     *                                                    the chunks that ran)
     */
    float[] forward(int[] tokens, float[][] embeddings, List<int[]> spans, int offset, int count, KvCache cache, Object stream,
                    java.util.function.BooleanSupplier cancelled, float[] into) {
        if (count <= 0) throw new IllegalArgumentException("no tokens");
        for (int[] s : spans) {
            // the last row gives the logits: it must be text, not inside (or the end of) an image's run
            if ((s[0] < offset && offset < s[1]) || (s[0] < offset + count && offset + count <= s[1])) {
                throw new IllegalArgumentException("rows [" + offset + ", " + (offset + count) + ") cut or end with the image run [" + s[0] + ", " + s[1] + ")");
            }
        }
        Work w = new Work(tokens, embeddings, spans, offset, count, cache, stream, cancelled, into != null && into.length >= vocab ? into : null);
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the engine is closed");
            queue.add(w);
            // queued: this thread's request (if announced) is no longer on its way, in the same locked moment that a
            // waiting leader can see its work
            Arrivals.reached();
            leaderWake.signal();
            while (!w.done) {
                if (!leading) {
                    leading = true;
                    try {
                        lead(w);
                    } finally {
                        leading = false;
                        changed.signalAll();
                    }
                } else {
                    changed.awaitUninterruptibly();
                    if (!w.done && leading) idleWakeups++;
                }
            }
        } finally {
            lock.unlock();
        }
        if (w.error != null) throw w.error;
        return w.logits;
    }

    /**
     * Runs {@code body} (which calls the model itself) as if it were a step: after the step running now, and with no step
     * starting until it returns, since the model keeps one set of buffers ({@link Engine#warmUp}).
     */
    void alone(Runnable body) {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the engine is closed");
            while (leading) changed.awaitUninterruptibly();
            leading = true;
        } finally {
            lock.unlock();
        }
        try {
            body.run();
        } finally {
            lock.lock();
            try {
                leading = false;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /** Runs steps until {@code own} is done (called with the lock held; released while the model runs). */
    private void lead(Work own) {
        while (!own.done) {
            awaitStreams();
            awaitCompany();
            List<Work> picked = new ArrayList<>();
            List<Integer> take = new ArrayList<>();
            pick(picked, take);
            if (picked.isEmpty()) return;
            StepObserver o = observer;
            int[] kinds = o == null ? null : rowKinds(picked, take);
            lock.unlock();
            float[] logits = null;
            RuntimeException failure = null;
            long t0 = System.nanoTime();
            try {
                logits = run(picked, take);
                if (o != null) observe(o, kinds, picked.size(), System.nanoTime() - t0);
            } catch (RuntimeException e) {
                failure = e;
            } finally {
                lock.lock();
            }
            finish(picked, take, logits, failure);
            changed.signalAll();
        }
    }

    /**
     * Waits (lock held, released while waiting) until every open stream has queued work: at most the grace for a stream
     * that has never been late, at most {@link #LATE_GRACE_NANOS} for one that has; a stream still missing at its grace
     * is marked late.
     */
    private void awaitStreams() {
        final long t0 = System.nanoTime(), lateGrace = Math.min(graceNanos, LATE_GRACE_NANOS);
        while (true) {
            List<Object> missing = null;
            long now = System.nanoTime(), until = Long.MAX_VALUE;
            for (Object s : streams) {
                if (queued(s)) continue;
                boolean wasLate = late.contains(s);
                long limit = t0 + (wasLate ? lateGrace : graceNanos);
                if (now - limit < 0) {
                    until = Math.min(until, limit);
                } else if (!wasLate) {
                    if (missing == null) missing = new ArrayList<>();
                    missing.add(s);
                }
            }
            if (missing != null) {
                late.addAll(missing);
            }
            if (until == Long.MAX_VALUE) return;
            try {
                leaderWake.awaitNanos(until - now);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * The admission window (lock held, released while waiting): while no stream is open, only prompts that would be taken
     * whole are queued, and requests are still on their way to this engine ({@link Arrivals#pending}: received by the
     * server but still being parsed, templated, tokenized), waits for them — until none is left, the step is full
     * ({@link #wholeStep} rows) or every sequence that can be queued is, but at most {@link #admitNanos} after the first
     * queued prompt. Why: requests sent together (a team's users, serve-bench's waves: the next one comes when the streams
     * all end in one step) reach the engine tens of ms apart on a busy 2-core host (each request's HTTP handling, chat
     * template and tokenizer run before it queues), and the first one's step started alone while the others waited a whole
     * prompt step for it (quiet host, C = 8: with a fixed 15 ms window the first request of a wave ran alone, TTFT 0.7 s,
     * the other seven 5.9–6.5 s). A fixed window long enough for the wave (50 ms caught every wave there) delays a lone
     * request's first token by as much; this one waits only for what is known to be coming, so a lone request pays
     * nothing and a wave is caught whole however long its members take. A stream's token never waits: none is open.
     *
     * <p>{@link Arrivals#pending} is read, not signalled (one registry serves a server's engines, each with its own lock):
     * a request queued here signals {@link #leaderWake}; one that ends elsewhere is seen within {@link #ARRIVAL_POLL_NANOS}.
     */
    private void awaitCompany() {
        if (admitNanos == 0) return;
        boolean waited = false;
        try {
            while (true) {
                if (!streams.isEmpty() || queue.isEmpty() || arrivals.pending() == 0) return;
                long first = Long.MAX_VALUE;
                int rows = 0;
                for (Work w : queue) {
                    // a prompt of one row waits too: with no stream open it is not a token of one but a prompt whose prefix
                    // the session had cached (loaded, C = 8: a wave's first request repeating a warm-up prompt ran
                    // alone, and the seven others waited for its step)
                    if (!isWhole(w)) return;
                    first = Math.min(first, w.queuedAt);
                    rows += w.remaining();
                }
                if (rows >= wholeStep || (maxSequences > 0 && queue.size() >= maxSequences)) return;
                long wait = first + admitNanos - System.nanoTime();
                if (wait <= 0) return;
                waited = true;
                try {
                    leaderWake.awaitNanos(Math.min(wait, ARRIVAL_POLL_NANOS));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        } finally {
            if (waited) admissionWaits++;
        }
    }

    /** How often the admission window looks at {@link Arrivals#pending} while it waits (see {@link #awaitCompany}). */
    static final long ARRIVAL_POLL_NANOS = 1_000_000L;

    private boolean queued(Object stream) {
        for (Work w : queue) if (w.stream == stream) return true;
        return false;
    }

    /**
     * Chooses this step's rows: one token of every decoding sequence first, then prompt chunks in arrival order, while
     * streams decode up to {@code chunk} rows in all (at least {@link #MIN_PROMPT_ROWS} prompt tokens), and no more
     * than fill the model's batch (an image run is taken whole); short prompts whole, beside streams within
     * {@link #wholeRowsBeside} (the first always); a sequence
     * whose tokens cannot run (its context is full, a token id out of range) fails alone, and cancelled work leaves the
     * queue.
     */
    private void pick(List<Work> picked, List<Integer> take) {
        int decodes = 0;
        for (Iterator<Work> it = queue.iterator(); it.hasNext(); ) {
            Work w = it.next();
            if (w.cancelled.getAsBoolean()) {
                it.remove();
                w.error = new java.util.concurrent.CancellationException("cancelled");
                w.done = true;
                continue;
            }
            if (w.remaining() == 1) decodes++;
        }
        // the chunk caps a step's rows only while streams decode beside it (their inter-token time is the step's); a prompt
        // with nobody waiting on the step takes the whole batch, as fast as a lone prefill. The streams' own rows count:
        // up to 16 rows every matrix stays on the few-token kernels, past them a step costs a lot more per prompt row
        // (1B Q4_0, one thread, CPU: 3 decode rows 110 ms, + 13 prompt rows 224 ms, + 16 prompt rows 348 ms), and a lone
        // stream's step is kept to ROWS_PER_STREAM rows
        int beside = promptRows(chunk, decodes);
        int prompt = Math.max(1, Math.min(streams.isEmpty() ? budget : beside, budget - decodes));
        // short prompts go in whole, beside the streams and the chunks: one longer step for the streams instead of many
        // slower ones, and prompts arriving together start together (the model runs a step of more rows than its batch
        // in parts); longer ones (the intrusion case's 2,000 tokens) are chunked in arrival order as before. Beside
        // streams the whole prompts' rows are capped (wholeRowsBeside): the first always enters, the others while they
        // fit, and from the first that does not, the rest wait whole for a later step (FIFO: none overtakes it)
        boolean capped = !streams.isEmpty() && wholeCost > 0;
        int wholeRows = capped ? Math.min(wholeStep, wholeRowsBeside(wholeCost, decodes)) : wholeStep;
        boolean tookWhole = false, wholeWaits = false;
        for (int pass = 0; pass < 2; pass++) {
            for (Iterator<Work> it = queue.iterator(); it.hasNext(); ) {
                Work w = it.next();
                boolean decode = w.remaining() == 1;
                if (pass == 0 != decode || picked.contains(w)) continue;
                boolean entire;
                if (!decode && capped && isWhole(w)) {
                    if (wholeWaits || (tookWhole && w.remaining() > wholeRows)) {
                        wholeWaits = true;
                        continue;
                    }
                    entire = true;
                } else {
                    entire = !decode && isWhole(w) && w.remaining() <= wholeRows;
                }
                if (!decode && !entire && prompt <= 0) continue;
                RuntimeException bad = check(w);
                if (bad != null) {
                    it.remove();
                    w.error = bad;
                    w.done = true;
                    continue;
                }
                int n = decode ? 1 : entire ? w.remaining() : w.chunk(prompt);
                if (n == 0) continue;
                picked.add(w);
                take.add(n);
                if (entire) {
                    wholeRows -= n;
                    tookWhole = true;
                }
                else if (!decode) prompt -= n;
            }
        }
    }

    /**
     * Whether a prompt joins a step whole: asked for in one call of at most {@link #whole} rows (a conversation's next
     * turn counts only its new tokens), with no image run (those keep the chunk rules), and not begun in chunks.
     */
    private boolean isWhole(Work w) {
        return w.count <= whole && w.spans.isEmpty() && w.remaining() == w.count;
    }

    /**
     * Rows of whole prompts a step takes beside {@code decodes} decoding streams (at least one counted) so that it costs
     * at most {@code cost} times their decode step, by the step-cost figures above: 8 rows beside one stream, 13 beside
     * three, 27 beside eight at cost 3. A longer whole prompt still enters, alone.
     */
    static int wholeRowsBeside(int cost, int decodes) {
        long decodeStep = DECODE_STEP_MICROS + (long) DECODE_ROW_MICROS * Math.max(1, decodes);
        return (int) Math.min(Integer.MAX_VALUE, (cost - 1L) * decodeStep / PROMPT_ROW_MICROS);
    }

    /**
     * Prompt rows a step takes beside {@code decodes} decoding streams with chunk {@code chunk}: the rest of a step of
     * {@code chunk} rows, or of {@link #ROWS_PER_STREAM} per stream if fewer, at least {@link #MIN_PROMPT_ROWS} (or the
     * chunk, if smaller).
     */
    static int promptRows(int chunk, int decodes) {
        int rows = Math.min(chunk, ROWS_PER_STREAM * Math.max(1, decodes));
        return Math.max(Math.min(chunk, MIN_PROMPT_ROWS), rows - decodes);
    }

    private RuntimeException check(Work w) {
        if (w.cache.length() + w.remaining() > w.cache.contextLength()) {
            return new JemmaException("context full: " + (w.cache.length() + w.remaining()) + " tokens exceed the context length " + w.cache.contextLength());
        }
        for (int i = w.next; i < w.end; i++) {
            if (w.embeddings != null && w.embeddings[i] != null) continue;   // a soft token: its id is never looked up
            int t = w.tokens[i];
            if (t < 0 || t >= vocab) return new JemmaException("token id " + t + " is outside the vocabulary (0.." + (vocab - 1) + ")");
        }
        return null;
    }

    /** One model step over the picked chunks; the logits of each chunk that ends its work, in order. */
    private float[] run(List<Work> picked, List<Integer> take) {
        Batch.Builder b = Batch.builder();
        for (int i = 0; i < picked.size(); i++) {
            Work w = picked.get(i);
            int n = take.get(i);
            boolean last = n == w.remaining();
            for (int j = 0; j < n; ) {
                int r = w.next + j;
                int[] span = spanAt(w, r);
                if (span != null) {
                    // whole, by chunk(): an image's rows see each other
                    b.bidirectional(w.cache, java.util.Arrays.copyOfRange(w.embeddings, span[0], span[1]), false);
                    j += span[1] - span[0];
                } else if (w.embeddings != null && w.embeddings[r] != null) {
                    // a causal soft token (Gemma 3n's media)
                    b.embedding(w.cache, w.embeddings[r], last && j == n - 1);
                    j++;
                } else {
                    b.token(w.cache, w.tokens[r], last && j == n - 1);
                    j++;
                }
            }
        }
        // mid-prompt chunks ask for no logits; a step of only those returns none
        Batch batch = b.build();
        // every step's logits in one buffer (finish copies the rows out before the next step runs): a new array per step
        // was 1 MB per row of garbage, humongous for G1, which grew the committed heap with it (the memory plan counts
        // the buffer: the model's forward scratch includes the logits of a full batch)
        int need = Math.multiplyExact(batch.logitRows(), vocab);
        // grown by doubling (up to a full step's rows), not row by row: each new buffer is another humongous allocation
        if (stepLogits.length < need) {
            long grown = Math.min(Math.min(2L * stepLogits.length, (long) budget * vocab), Integer.MAX_VALUE - 16);
            stepLogits = new float[(int) Math.max(need, grown)];
        }
        // steps run one at a time, whichever session leads: the profile's per-thread clocks start on this step's leader
        final dev.jemma.core.tensor.PoolProfile prof = profile;
        final dev.jemma.core.tensor.ThreadPool pp = profiledPool;
        if (prof != null) {
            pp.profile(prof);
            prof.start();
        }
        try {
            return model.forward(batch, stepLogits);
        } finally {
            if (prof != null) {
                prof.mark(STEP_END);
                pp.profile(null);
            }
            afterStep.run();
        }
    }

    /**
     * Prompt rows and decode rows of a step (lock held): a decoding sequence (an open stream) queues exactly its next
     * token; anything else is (a chunk of) a prompt.
     */
    private int[] rowKinds(List<Work> picked, List<Integer> take) {
        int prompt = 0, decode = 0;
        for (int i = 0; i < picked.size(); i++) {
            Work w = picked.get(i);
            int n = take.get(i);
            if (n == 1 && w.remaining() == 1 && w.stream != null && streams.contains(w.stream)) decode++;
            else prompt += n;
        }
        return new int[]{prompt, decode};
    }

    private static void observe(StepObserver o, int[] kinds, int sequences, long nanos) {
        try {
            o.onStep(kinds[0], kinds[1], sequences, nanos);
        } catch (RuntimeException ignored) {
            // metrics never fail a step
        }
    }

    private static int[] spanAt(Work w, int row) {
        for (int[] s : w.spans) if (s[0] == row) return s;
        return null;
    }

    private void finish(List<Work> picked, List<Integer> take, float[] logits, RuntimeException failure) {
        steps++;
        if (picked.size() > 1) sharedSteps++;
        int at = 0;
        for (int i = 0; i < picked.size(); i++) {
            Work w = picked.get(i);
            int n = take.get(i);
            rows += n;
            if (failure != null) {
                queue.remove(w);
                w.error = failure;
                w.done = true;
                continue;
            }
            w.next += n;
            if (w.remaining() == 0) {
                if (w.into != null) {
                    System.arraycopy(logits, at * vocab, w.into, 0, vocab);
                    w.logits = w.into;
                } else {
                    w.logits = java.util.Arrays.copyOfRange(logits, at * vocab, (at + 1) * vocab);
                }
                at++;
                queue.remove(w);
                w.done = true;
            }
        }
    }

    /**
     * Refuses new work and waits until no step runs and nothing is queued (queued work still runs), so the model can be
     * released safely.
     */
    void close() {
        lock.lock();
        try {
            closed = true;
            while (leading || !queue.isEmpty()) changed.awaitUninterruptibly();
        } finally {
            lock.unlock();
        }
    }

    /** Open streams and queued work now. */
    BatchStatus status() {
        lock.lock();
        try {
            return new BatchStatus(streams.size(), queue.size());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Steps run so far, rows in them, steps that served more than one sequence, steps whose start waited in the
     * admission window, and callers' wake-ups that found their work not done and the lead taken.
     */
    long[] statistics() {
        lock.lock();
        try {
            return new long[]{steps, rows, sharedSteps, admissionWaits, idleWakeups};
        } finally {
            lock.unlock();
        }
    }
}
