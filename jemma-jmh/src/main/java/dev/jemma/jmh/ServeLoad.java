package dev.jemma.jmh;

import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * serve-bench's loads without HTTP, measured in CPU time (docs/PERFORMANCE.md, "Run ends and long prompts"): one engine
 * as {@code jemma serve} holds it ({@code --parallel C}, {@link Engine#warmUp} first, as the server does right after
 * loading), then either
 * <ul>
 *   <li>{@code load}: C client threads send N requests in all, one after another each (P prompt tokens, G generated,
 *       greedy, distinct prompts), as {@code jemma loadtest -C C -n N -p P -g G} does — requests finish early and join
 *       late, so steps of every row count run, prompt chunks beside decode rows included; or</li>
 *   <li>{@code intrude}: serve-bench's intrusion case — 3 streams ({@code -Dstreams}) of G tokens (P = 32), and after
 *       {@code -Dafter=S} seconds one prompt of {@code -Dintruder=2000} tokens generating 1.</li>
 * </ul>
 * It prints the process CPU of the run (every thread: the sessions, the pool, the JIT compilers), CPU per generated
 * token and per step, the JIT's compilation time during the run (what warm-up left to compile), TTFT and inter-token
 * percentiles in wall time, and for {@code intrude} the CPU of the steps that carried the intruder's chunks against the
 * decode-only steps. Reports go to stderr; on stdout a line {@code === serving ===} separates warm-up from the run in
 * {@code -XX:+PrintCompilation} output.
 * <pre>
 *   java --add-modules jdk.incubator.vector -cp jemma-jmh/target/jemma-benchmarks.jar dev.jemma.jmh.ServeLoad \
 *       /work/bench/gemma3-1b-Q4_0.gguf 2 load 8 16 128 128 [CHUNK]
 *   java … dev.jemma.jmh.ServeLoad /work/bench/gemma3-1b-Q4_0.gguf 2 intrude 4 3 32 256 [CHUNK]
 * </pre>
 * Arguments: MODEL THREADS load|intrude C N P G [--batch-chunk]; {@code -DwarmUp=false} skips the engine's warm-up;
 * {@code -DwholePrompt=N} sets {@code EngineOptions.wholePrompt} (-1: every prompt chunked beside streams);
 * {@code -Dadmission=MS} the admission window ({@code jemma serve --admission-window}; it waits only for requests announced
 * in {@code Engine.arrivals()}, which each client does as it starts a request, as the server's router does); {@code -Dstagger=MS} starts client
 * i's first request i × MS later (requests sent together arrive spread, as through HTTP);
 * {@code -Druns=2} runs the load twice in the same JVM (the second run: a server whose JIT has finished); process CPU is
 * read in the OS's clock ticks (10 ms), so per-step CPU medians come out in steps of 10 ms.
 */
public final class ServeLoad {
    /** Reports go to stderr, so that -XX:+PrintCompilation's stdout can be kept apart. */
    private static final java.io.PrintStream OUT = System.err;
    /** Streams beside the intruder ({@code -Dstreams}, serve-bench's 3). */
    private static final int STREAMS = Integer.getInteger("streams", 3);

    public static void main(String[] args) throws Exception {
        if (args.length < 7) {
            System.err.println("usage: ServeLoad MODEL.gguf THREADS load|intrude C N P G [CHUNK]");
            System.exit(2);
        }
        Path model = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        boolean intrude = args[2].equals("intrude");
        int c = Integer.parseInt(args[3]), n = Integer.parseInt(args[4]), p = Integer.parseInt(args[5]), g = Integer.parseInt(args[6]);
        int intruder = Integer.getInteger("intruder", 2000);
        EngineOptions.Builder ob = EngineOptions.builder().threads(threads).parallel(c)
                .contextLength(Math.max(2048, Math.max(p, intrude ? intruder : 0) + g + 64));
        if (args.length > 7) ob.batchChunk(Integer.parseInt(args[7]));
        // -DwholePrompt=N: the longest prompt joining a step whole beside streams (-1: chunk every prompt, as before)
        if (System.getProperty("wholePrompt") != null) ob.wholePrompt(Integer.getInteger("wholePrompt"));
        // -Dadmission=MS: the admission window (jemma serve's --admission-window; 0 here unless set)
        ob.admissionMillis(Integer.getInteger("admission", 0));
        var jit = ManagementFactory.getCompilationMXBean();
        try (Engine engine = Engine.load(model, ob.build())) {
            long cpu0 = processCpu(), w0 = System.nanoTime(), j0 = jit.getTotalCompilationTime();
            int rounds = Boolean.parseBoolean(System.getProperty("warmUp", "true")) ? engine.warmUp() : 0;
            OUT.printf("warm-up: %d rounds, wall %.1f s, process CPU %.1f s, compiling %.1f s%n", rounds,
                    (System.nanoTime() - w0) / 1e9, (processCpu() - cpu0) / 1e9, (jit.getTotalCompilationTime() - j0) / 1e3);
            OUT.flush();
            System.out.println("=== serving === " + java.time.Instant.now());
            System.out.flush();
            // -Druns=2: the same load again in the same JVM — what the first run paid for JIT work warm-up left undone
            for (int run = 1, runs = Integer.getInteger("runs", 1); run <= runs; run++) {
                Steps steps = new Steps();
                engine.observeSteps(steps);
                long cpu1 = processCpu(), w1 = System.nanoTime(), j1 = jit.getTotalCompilationTime();
                List<Request> done = intrude ? intrusion(engine, c, p, g, intruder, steps) : load(engine, c, n, p, g);
                long cpu = processCpu() - cpu1, wall = System.nanoTime() - w1, compiling = jit.getTotalCompilationTime() - j1;
                engine.observeSteps(null);
                long tokens = done.stream().filter(r -> !r.intruder).mapToLong(r -> r.tokens).sum();
                OUT.printf("run %d: %d requests, %d tokens; wall %.1f s, process CPU %.2f s = %.2f ms per generated token; compiling %.2f s;"
                                + " %d steps of %.2f rows (%.2f decode), CPU %.1f ms per step (process CPU / steps)%n",
                        run, done.size(), tokens, wall / 1e9, cpu / 1e9, cpu / 1e6 / tokens, compiling / 1e3, steps.count.get(),
                        steps.rows.get() / (double) steps.count.get(), steps.decode.get() / (double) steps.count.get(), cpu / 1e6 / steps.count.get());
                report("streams", done.stream().filter(r -> !r.intruder).toList());
                if (!intrude) {
                    requests(done, w1);
                    steps.split();
                }
                if (intrude) {
                    report("intruder", done.stream().filter(r -> r.intruder).toList());
                    steps.intrusion();
                }
                OUT.flush();
            }
        }
    }

    /** C clients, N requests in all (as jemma loadtest). */
    private static List<Request> load(Engine engine, int c, int n, int p, int g) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        List<Request> done = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> ts = new ArrayList<>();
        long stagger = Integer.getInteger("stagger", 0);
        // every client started before any sends (as jemma loadtest's): started and sending one by one, the first client's
        // prompt was queued and its step begun before the others had announced theirs (a 1 + 7 first wave in a run)
        java.util.concurrent.CountDownLatch ready = new java.util.concurrent.CountDownLatch(c), go = new java.util.concurrent.CountDownLatch(1);
        for (int i = 0; i < c; i++) {
            long delay = i * stagger;
            Thread t = new Thread(() -> {
                try {
                    ready.countDown();
                    go.await();
                    Thread.sleep(delay);
                } catch (InterruptedException e) {
                    return;
                }
                for (int k; (k = next.getAndIncrement()) < n; ) done.add(request(engine, k, p, g, false));
            }, "client-" + i);
            ts.add(t);
            t.start();
        }
        ready.await();
        go.countDown();
        for (Thread t : ts) t.join();
        return done;
    }

    /** 3 streams of G tokens, and one long prompt arriving after a while. */
    private static List<Request> intrusion(Engine engine, int c, int p, int g, int intruder, Steps steps) throws InterruptedException {
        List<Request> done = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < Math.min(STREAMS, c - 1); i++) {
            int k = i;
            Thread t = new Thread(() -> done.add(request(engine, k, p, g, false)), "stream-" + i);
            ts.add(t);
            t.start();
        }
        long afterMs = (long) (1000 * Double.parseDouble(System.getProperty("after", "3")));
        Thread.sleep(afterMs);
        Thread t = new Thread(() -> {
            steps.intruding = true;
            Request r = request(engine, 99, intruder, 1, true);
            steps.intruding = false;
            done.add(r);
        }, "intruder");
        ts.add(t);
        t.start();
        for (Thread x : ts) x.join();
        return done;
    }

    private static Request request(Engine engine, int k, int p, int g, boolean intruder) {
        int vocab = engine.config().vocabSize();
        Random rnd = new Random(1000 + k);
        int[] ids = new int[p];
        ids[0] = 2;
        for (int j = 1; j < p; j++) ids[j] = rnd.nextInt(10, vocab);
        Request r = new Request(intruder);
        r.id = k;
        long t0 = System.nanoTime();
        r.start = t0;
        waiting.add(r);
        // announced as the server's router announces a request it has received (its ticket ends once the prompt is
        // queued), so -Dadmission waits for clients whose requests are on their way as jemma serve's window does
        try (dev.jemma.core.engine.Arrivals.Ticket arrival = engine.arrivals().arrive(); Session s = engine.newSession()) {
            GenerationOptions o = GenerationOptions.builder().maxTokens(g).temperature(0f).ignoreEos(true).build();
            s.generate(ids, o, tok -> {
                long now = System.nanoTime();
                if (tok.id() < 0) return;
                if (r.tokens == 0) {
                    r.ttft = now - t0;
                    waiting.remove(r);
                }
                else r.gaps.add(now - r.last);
                r.last = now;
                r.tokens++;
            });
        }
        return r;
    }

    private static void report(String what, List<Request> rs) {
        if (rs.isEmpty()) return;
        long[] ttft = rs.stream().mapToLong(r -> r.ttft).sorted().toArray();
        long[] gaps = rs.stream().flatMap(r -> r.gaps.stream()).mapToLong(Long::longValue).sorted().toArray();
        OUT.printf("  %s (wall): TTFT p50 %.0f max %.0f ms", what, pct(ttft, 50) / 1e6, ttft[ttft.length - 1] / 1e6);
        if (gaps.length > 0) {
            OUT.printf("; inter-token p50 %.1f p95 %.1f p99 %.1f max %.1f ms", pct(gaps, 50) / 1e6, pct(gaps, 95) / 1e6,
                    pct(gaps, 99) / 1e6, gaps[gaps.length - 1] / 1e6);
        }
        OUT.println();
    }

    /**
     * Every request in order of arrival: when it came (from the run's start), its TTFT, and the steps that ran while it
     * waited for its first token — which requests' TTFT is long, and what the steps before their first token carried.
     */
    private static void requests(List<Request> rs, long start) {
        List<Request> byArrival = new ArrayList<>(rs);
        byArrival.sort(java.util.Comparator.comparingLong(r -> r.start));
        OUT.println("  requests by arrival: start s, TTFT s, steps before the first token (of which with prompt rows), their mean rows");
        StringBuilder b = new StringBuilder();
        for (Request r : byArrival) {
            b.append(String.format("    #%d at %.2f: TTFT %.2f, %d steps (%d with prompt rows), %.1f rows%n", r.id,
                    (r.start - start) / 1e9, r.ttft / 1e9, r.stepsToFirst, r.promptStepsToFirst,
                    r.stepsToFirst == 0 ? 0.0 : r.rowsToFirst / (double) r.stepsToFirst));
        }
        OUT.print(b);
    }

    private static double pct(long[] sorted, double q) {
        return sorted[(int) Math.min(sorted.length - 1, Math.ceil(q / 100 * sorted.length) - 1)];
    }

    /** Requests waiting for their first token (each step counts itself in theirs). */
    private static final java.util.Set<Request> waiting = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private static final class Request {
        final boolean intruder;
        int id;
        long start;
        int stepsToFirst, promptStepsToFirst;
        long rowsToFirst;
        final List<Long> gaps = new ArrayList<>();
        long ttft, last;
        int tokens;

        Request(boolean intruder) {
            this.intruder = intruder;
        }
    }

    /**
     * Every step's rows, and the process CPU from one step's end to the next (the step and the sampling before it), split
     * by whether the step carried the intruder's chunk.
     */
    private static final class Steps implements dev.jemma.core.engine.StepObserver {
        final AtomicLong count = new AtomicLong(), rows = new AtomicLong(), decode = new AtomicLong();
        volatile boolean intruding;
        long lastCpu = processCpu();
        final List<long[]> log = new ArrayList<>();

        @Override
        public synchronized void onStep(int promptRows, int decodeRows, int sequences, long nanos) {
            long now = processCpu();
            count.incrementAndGet();
            rows.addAndGet(promptRows + decodeRows);
            decode.addAndGet(decodeRows);
            log.add(new long[]{promptRows, decodeRows, now - lastCpu, nanos, intruding ? 1 : 0});
            lastCpu = now;
            for (Request r : waiting) {
                r.stepsToFirst++;
                if (promptRows > 0) r.promptStepsToFirst++;
                r.rowsToFirst += promptRows + decodeRows;
            }
        }

        /** Decode-only steps against steps with prompt rows: count, rows, wall and process CPU in all. */
        synchronized void split() {
            long[][] sum = new long[2][4];
            for (long[] s : log) {
                long[] a = sum[s[0] > 0 ? 1 : 0];
                a[0]++;
                a[1] += s[0] + s[1];
                a[2] += s[3];
                a[3] += s[2];
            }
            String[] names = {"decode-only", "with prompt rows"};
            for (int i = 0; i < 2; i++) {
                long[] a = sum[i];
                if (a[0] == 0) continue;
                OUT.printf("  %s steps: %d, %.2f rows each, wall %.1f s (%.1f ms each, %.2f ms a row), process CPU %.1f s (%.1f ms each)%n",
                        names[i], a[0], a[1] / (double) a[0], a[2] / 1e9, a[2] / 1e6 / a[0], a[2] / 1e6 / a[1], a[3] / 1e9, a[3] / 1e6 / a[0]);
            }
            // wall of steps by row count (least and median), to see the cost of a row
            java.util.TreeMap<Long, List<Long>> byRows = new java.util.TreeMap<>();
            for (long[] s : log) byRows.computeIfAbsent(s[0] + s[1], x -> new ArrayList<>()).add(s[3]);
            StringBuilder b = new StringBuilder("  step wall by rows (count: median ms):");
            byRows.forEach((rows, ws) -> {
                long[] w = ws.stream().mapToLong(Long::longValue).sorted().toArray();
                b.append(String.format(" %d (%d: %.0f)", rows, w.length, w[w.length / 2] / 1e6));
            });
            OUT.println(b);
        }

        /** Decode-only steps of the streams' rows against steps of those and a chunk of the intruder: CPU and wall. */
        synchronized void intrusion() {
            List<long[]> calm = new ArrayList<>(), mixed = new ArrayList<>();
            for (long[] s : log) {
                if (s[1] != STREAMS) continue;
                if (s[0] == 0) calm.add(s);
                else if (s[4] == 1) mixed.add(s);
            }
            long intrudedCpu = 0, intrudedSteps = 0;
            for (long[] s : log) {
                if (s[4] == 1) {
                    intrudedCpu += s[2];
                    intrudedSteps++;
                }
            }
            OUT.printf("  while the intruder was queued: %d steps, process CPU %.2f s (its CPU time to first token)%n",
                    intrudedSteps, intrudedCpu / 1e9);
            if (calm.isEmpty() || mixed.isEmpty()) return;
            double[] cc = median(calm), mc = median(mixed);
            long promptRows = mixed.stream().mapToLong(s -> s[0]).sum();
            OUT.printf("  steps of %d decode rows: %d alone, CPU median %.1f ms, wall %.1f ms; %d with %.1f prompt rows, CPU %.1f ms,"
                            + " wall %.1f ms; ratio CPU %.2fx, wall %.2fx%n", STREAMS, calm.size(), cc[0] / 1e6, cc[1] / 1e6, mixed.size(),
                    promptRows / (double) mixed.size(), mc[0] / 1e6, mc[1] / 1e6, mc[0] / cc[0], mc[1] / cc[1]);
        }

        private static double[] median(List<long[]> steps) {
            long[] cpu = steps.stream().mapToLong(s -> s[2]).sorted().toArray();
            long[] wall = steps.stream().mapToLong(s -> s[3]).sorted().toArray();
            return new double[]{cpu[cpu.length / 2], wall[wall.length / 2]};
        }
    }

    private static long processCpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
