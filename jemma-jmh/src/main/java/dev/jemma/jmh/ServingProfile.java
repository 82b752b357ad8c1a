package dev.jemma.jmh;

import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.tensor.PoolProfile;
import dev.jemma.core.tensor.kernels.FastMatMul;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where a continuous-batching decode step's CPU goes with several threads (docs/PERFORMANCE.md, "Serving"): C sessions
 * of one engine ({@code --parallel C}) generate G greedy tokens each at once through the engine's scheduler, as the
 * server's requests do (no HTTP), and {@link PoolProfile} accounts every step's pool loops per thread
 * ({@link Engine#profileSteps}): the threads' work, the caller waiting for the workers, the workers idle within a step,
 * the serial code between loops. CPU time, because a shared machine inflates wall time. The prompts' steps are left
 * out (profiling starts when every stream has its first token), so the figures are decode steps.
 * <pre>
 *   mvn -Pjmh -pl jemma-jmh -am package -DskipTests
 *   java --add-modules jdk.incubator.vector -cp jemma-jmh/target/jemma-benchmarks.jar dev.jemma.jmh.ServingProfile \
 *       /work/bench/gemma3-1b-Q4_0.gguf 2 1,4,8 48 16 2 shared,separate
 * </pre>
 * Arguments: MODEL THREADS C-LIST G [P (16)] [ROUNDS (2: the first warms up)] [MODES (shared): {@code shared} the
 * matmul rules now, {@code ungated} those before {@link FastMatMul#gatedLoops} — the gated FFN's activation on the caller
 * and its down projection's input quantized in a loop of its own — {@code separate} those before
 * {@link FastMatMul#sharedLoops} — a loop per matrix unless all take the int8 GEMM, quantization in a loop — alternated
 * round by round in one process, or with {@code -Dstepwise=true} step by step within each run, each mode with its own
 * profile, so that both see the same streams and machine load]. {@code -Dsites=N}: how many loop sites to list (8).
 * The engine runs {@link Engine#warmUp} first, as the server does ({@code -DnoEngineWarmUp=true}: not).
 */
public final class ServingProfile {
    public static void main(String[] args) throws Exception {
        if (args.length < 4) {
            System.err.println("usage: ServingProfile MODEL.gguf THREADS C[,C...] G [P] [ROUNDS] [shared,ungated,separate]");
            System.exit(2);
        }
        Path model = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        int gen = Integer.parseInt(args[3]);
        int prompt = args.length > 4 ? Integer.parseInt(args[4]) : 16;
        int rounds = args.length > 5 ? Integer.parseInt(args[5]) : 2;
        String[] modes = (args.length > 6 ? args[6] : "shared").split(",");
        for (String cs : args[2].split(",")) {
            int c = Integer.parseInt(cs);
            EngineOptions opts = EngineOptions.builder().threads(threads).parallel(c).contextLength(c * 1024).build();
            Map<String, List<double[]>> byMode = new java.util.LinkedHashMap<>();
            try (Engine engine = Engine.load(model, opts)) {
                // the server's warm-up first (EngineModel calls it right after loading): without it the 2- and 3-row
                // kernels, which this harness's lockstep streams seldom run, were compiled only when the measured rounds
                // reached them — 8 % of a C = 4 JFR profile was those kernels uncompiled, which a server never pays
                // (docs/PERFORMANCE.md, "Run ends and long prompts")
                if (!Boolean.getBoolean("noEngineWarmUp")) engine.warmUp();
                run(engine, threads, c, gen, prompt, null);   // warm-up: the JIT compiles the kernels
                for (int round = 1; round < rounds; round++) {
                    if (Boolean.getBoolean("stepwise")) {
                        // the modes alternate step by step within one run: each sees the same streams and machine load
                        double[][] r = run(engine, threads, c, gen, prompt, modes);
                        for (int i = 0; i < modes.length; i++) byMode.computeIfAbsent(modes[i], m -> new ArrayList<>()).add(r[i]);
                        continue;
                    }
                    for (String mode : modes) {
                        byMode.computeIfAbsent(mode, m -> new ArrayList<>()).add(run(engine, threads, c, gen, prompt, new String[]{mode})[0]);
                    }
                }
                mode("shared");
            }
            // a shared machine preempts a round now and then (its spinning thread's CPU then grows): the least and the
            // median of the alternated rounds say more than any one round
            for (var e : byMode.entrySet()) {
                System.out.printf("C=%d %s over %d rounds: CPU/step min %.1f median %.1f ms; loops' work/step min %.1f median %.1f;"
                                + " CPU/row min %.2f median %.2f ms%n", c, e.getKey(), e.getValue().size(),
                        min(e.getValue(), 0), median(e.getValue(), 0), min(e.getValue(), 1), median(e.getValue(), 1),
                        min(e.getValue(), 2), median(e.getValue(), 2));
            }
        }
    }

    /** Sets the matmul rules of a mode (see the class comment). */
    private static void mode(String mode) {
        FastMatMul.sharedLoops(!mode.equals("separate"));
        FastMatMul.gatedLoops(mode.equals("shared"));
    }

    private static double min(List<double[]> runs, int i) {
        return runs.stream().mapToDouble(r -> r[i]).min().orElse(Double.NaN);
    }

    private static double median(List<double[]> runs, int i) {
        double[] v = runs.stream().mapToDouble(r -> r[i]).sorted().toArray();
        return v.length == 0 ? Double.NaN : v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /**
     * One run of C sessions, its decode steps in {@code modes} by turns (null: a warm-up, nothing reported); returns per
     * mode {CPU per step in steps, loops' work per step, CPU per row} in ms.
     */
    private static double[][] run(Engine engine, int threads, int c, int gen, int prompt, String[] modes) throws Exception {
        int vocab = engine.config().vocabSize();
        Random rnd = new Random(c);
        int k = modes == null ? 1 : modes.length;
        PoolProfile[] profs = new PoolProfile[k];
        AtomicLong[] decodeRows = new AtomicLong[k], observedSteps = new AtomicLong[k], stepNanos = new AtomicLong[k],
                gapNanos = new AtomicLong[k];
        for (int i = 0; i < k; i++) {
            profs[i] = new PoolProfile(threads);
            decodeRows[i] = new AtomicLong();
            observedSteps[i] = new AtomicLong();
            stepNanos[i] = new AtomicLong();
            gapNanos[i] = new AtomicLong();
        }
        // the wall time between one step's end and the next one's start: the streams sampling, the lockstep's wait and
        // the hand-off of the lead (the observer runs on each step's leader right after the step)
        AtomicLong lastEnd = new AtomicLong(), firstCpu = new AtomicLong(), lastCpu = new AtomicLong();
        if (modes != null) mode(modes[0]);
        AtomicInteger firstTokens = new AtomicInteger(), current = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < c; i++) {
            int[] ids = new int[prompt];
            ids[0] = 2;
            for (int j = 1; j < prompt; j++) ids[j] = rnd.nextInt(10, vocab);
            Thread t = new Thread(() -> {
                Session s = engine.newSession();
                GenerationOptions g = GenerationOptions.builder().maxTokens(gen).temperature(0f).ignoreEos(true).build();
                s.generate(ids, g, tok -> {
                    // nobody blocks here: a stream held back would be left behind by the scheduler as late
                    if (tok.index() == 0 && firstTokens.incrementAndGet() == c) {
                        // called by each step's leader after the step, before the next: the next step's mode and profile
                        engine.observeSteps((promptRows, decode, sequences, nanos) -> {
                            int m = current.get();
                            long end = System.nanoTime(), previous = lastEnd.getAndSet(end);
                            if (previous == 0) {
                                firstCpu.set(processCpu());
                                return;     // the step during which profiling began: not a whole one
                            }
                            lastCpu.set(processCpu());
                            decodeRows[m].addAndGet(decode + promptRows);
                            observedSteps[m].incrementAndGet();
                            stepNanos[m].addAndGet(nanos);
                            gapNanos[m].addAndGet(Math.max(0, end - nanos - previous));
                            if (k > 1) {
                                int next = (m + 1) % k;
                                current.set(next);
                                mode(modes[next]);
                                engine.profileSteps(profs[next]);
                            }
                        });
                        engine.profileSteps(profs[0]);
                    }
                });
            }, "session-" + i);
            ts.add(t);
        }
        long cpu0 = processCpu(), wall0 = System.nanoTime();
        for (Thread t : ts) t.start();
        for (Thread t : ts) t.join();
        long wall = System.nanoTime() - wall0, cpu = processCpu() - cpu0;
        engine.profileSteps(null);
        engine.observeSteps(null);
        if (modes == null) return null;
        double[][] result = new double[k][];
        for (int i = 0; i < k; i++) {
            result[i] = report(profs[i], c, modes[i] + (k > 1 ? " (steps by turns with " + String.join(", ", modes) + ")" : ""),
                    decodeRows[i].get(), observedSteps[i].get(), wall, cpu, (long) c * gen);
            long n = Math.max(1, observedSteps[i].get());
            System.out.printf("  wall per decode step %.2f ms: model %.2f, between steps %.2f (sampling, lockstep wait, hand-off);"
                            + " process CPU per step over the steps %.2f ms%n", (stepNanos[i].get() + gapNanos[i].get()) / 1e6 / n,
                    stepNanos[i].get() / 1e6 / n, gapNanos[i].get() / 1e6 / n,
                    k == 1 ? (lastCpu.get() - firstCpu.get()) / 1e6 / n : Double.NaN);
        }
        return result;
    }

    /** Prints one mode's profile; returns {CPU per step in steps, loops' work per step, CPU per row} in ms. */
    private static double[] report(PoolProfile prof, int c, String label, long decodeRows, long observedSteps, long wall, long cpu,
                                   long tokens) {
        Map<String, PoolProfile.Entry> entries = prof.entries();
        long steps = 0, loops = 0, work = 0, callerWait = 0, workerIdle = 0, serial = 0;
        for (var e : entries.entrySet()) {
            PoolProfile.Entry x = e.getValue();
            if (e.getKey().startsWith("(step")) steps += x.calls;
            else loops += x.calls;
            work += x.work();
            callerWait += x.callerWait;
            workerIdle += x.workerIdle;
            serial += x.serialBefore;
        }
        final long stepCount = steps;
        final double perStep = 1e6 * Math.max(1, steps), rows = Math.max(1, decodeRows);
        long inSteps = work + callerWait + workerIdle + serial;
        System.out.printf("C=%d %s: %d decode steps of %.2f rows, pool loops/step %.1f; the run: wall %.1f s, process CPU %.1f s for %d tokens%n",
                c, label, steps, rows / Math.max(1, observedSteps), loops / (double) Math.max(1, steps), wall / 1e9, cpu / 1e9, tokens);
        System.out.printf("  CPU/step in steps %.2f ms: loops' work %.2f, caller waiting for workers %.2f, workers idle within the step %.2f, serial between loops %.2f%n",
                inSteps / perStep, work / perStep, callerWait / perStep, workerIdle / perStep, serial / perStep);
        System.out.printf("  CPU per row in steps %.2f ms%n", inSteps / 1e6 / rows);
        System.out.println("  heaviest loop sites, CPU/step ms (work + waiting + idle + the serial code before the loop), calls/step:");
        entries.entrySet().stream()
                .sorted(Comparator.comparingLong((Map.Entry<String, PoolProfile.Entry> e) -> -cost(e.getValue())))
                .limit(Integer.getInteger("sites", 8))
                .forEach(e -> System.out.printf("    %7.2f %6.1f  (work %.2f, caller wait %.2f, worker idle %.2f, serial before %.2f)  %s%n",
                        cost(e.getValue()) / perStep, e.getValue().calls / (double) Math.max(1, stepCount),
                        e.getValue().work() / perStep, e.getValue().callerWait / perStep, e.getValue().workerIdle / perStep,
                        e.getValue().serialBefore / perStep, site(e.getKey())));
        return new double[]{inSteps / perStep, work / perStep, inSteps / 1e6 / rows};
    }

    /** A loop's label without the profiler's and the pool's own frames. */
    private static String site(String label) {
        return label.replace("PoolProfile.label < ThreadPool.profiledFor < ThreadPool.parallelFor < ", "");
    }

    private static long cost(PoolProfile.Entry e) {
        return e.work() + e.callerWait + e.workerIdle + e.serialBefore;
    }

    private static long processCpu() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
