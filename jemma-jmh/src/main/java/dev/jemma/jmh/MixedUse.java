package dev.jemma.jmh;

import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingStream;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Do the kernels box in a long-lived process that runs every kind of work through them (issue 16, docs/PERFORMANCE.md,
 * "Kernels in a long-lived mixed-use JVM")? One JVM serves the models one after another as {@code jemma serve}'s
 * keep-alive swaps do — each loaded with {@code --parallel 8}, {@link Engine#warmUp} run as the server runs it — and in
 * each runs phases of real use: 1, 4 and 8 concurrent greedy streams (single-token and batched few-token steps, their
 * prompts beside them) and one long prompt alone (the tile GEMMs). Per phase it prints the heap bytes the whole process
 * allocated ({@code getTotalThreadAllocatedBytes}: every thread, ended ones included) per step and per row, and where JFR's
 * allocation samples fell: each sample is charged to its innermost {@code dev.jemma} frame, so a kernel that C2 left
 * with boxed vectors shows by name with megabytes per step, while the sessions' own per-token garbage (token events,
 * text) stays at a few KB per row.
 * <pre>
 *   java --add-modules jdk.incubator.vector -XX:-UseTypeSpeculation -XX:+UseG1GC -cp jemma-jmh/target/jemma-benchmarks.jar \
 *       dev.jemma.jmh.MixedUse 2 /work/bench/gemma3-1b-Q4_K_M.gguf,/work/bench/gemma3-1b-Q4_0.gguf,/work/bench/gemma3-1b-Q8_0.gguf,/work/bench/gemma3-1b-Q4_K_M.gguf
 * </pre>
 * Arguments: THREADS MODEL[,MODEL…] [ROUNDS (2)] [P (32)] [G (16)] [LONG (256)]: every model gets ROUNDS rounds of the
 * phases (the first is what a fresh server's first users see, the last the settled state); streams take prompts of P
 * tokens and generate G; the long prompt has LONG tokens.
 */
public final class MixedUse {
    private static final java.io.PrintStream OUT = System.out;
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    /** Sampled bytes per innermost dev.jemma method, for the phase running now. */
    private static volatile Map<String, AtomicLong> sampled = new ConcurrentHashMap<>();

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: MixedUse THREADS MODEL[,MODEL...] [ROUNDS] [P] [G] [LONG]");
            System.exit(2);
        }
        int threads = Integer.parseInt(args[0]);
        String[] models = args[1].split(",");
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 2;
        int p = args.length > 3 ? Integer.parseInt(args[3]) : 32;
        int g = args.length > 4 ? Integer.parseInt(args[4]) : 16;
        int longPrompt = args.length > 5 ? Integer.parseInt(args[5]) : 256;
        try (RecordingStream rs = new RecordingStream()) {
            rs.enable("jdk.ObjectAllocationSample").with("throttle", "1000/s").withStackTrace();
            rs.onEvent("jdk.ObjectAllocationSample", MixedUse::charge);
            rs.startAsync();
            OUT.printf("%-8s %-28s %5s %6s %6s %6s %12s %12s  top sampled dev.jemma methods (bytes per step)%n",
                    "model", "phase", "round", "steps", "prompt", "decode", "B/step", "B/row");
            for (int mi = 0; mi < models.length; mi++) {
                Path model = Path.of(models[mi]);
                String name = model.getFileName().toString().replaceAll("^gemma3-1b-|\\.gguf$", "") + "#" + (mi + 1);
                EngineOptions opts = EngineOptions.builder().threads(threads).parallel(8)
                        .contextLength(Math.max(2048, longPrompt + 64)).build();
                try (Engine engine = Engine.load(model, opts)) {
                    Phase warm = phase(engine, () -> engine.warmUp());
                    warm.print(name, "server warm-up", 0, rs);
                    for (int round = 1; round <= rounds; round++) {
                        for (int c : new int[]{1, 4, 8}) {
                            phase(engine, () -> streams(engine, c, p, g)).print(name, c + " stream(s) P" + p + " G" + g, round, rs);
                        }
                        phase(engine, () -> streams(engine, 1, longPrompt, 1)).print(name, "prompt of " + longPrompt, round, rs);
                    }
                }
            }
        }
    }

    private interface Work {
        void run() throws Exception;
    }

    /** What one phase did: steps, rows, process-wide bytes allocated. */
    private record Phase(long steps, long promptRows, long decodeRows, long bytes, Map<String, AtomicLong> samples) {
        void print(String model, String what, int round, RecordingStream rs) {
            long rows = promptRows + decodeRows;
            StringBuilder top = new StringBuilder();
            samples.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue().get(), a.getValue().get())).limit(3)
                    .forEach(e -> top.append(' ').append(e.getKey()).append('=').append(e.getValue().get() / Math.max(1, steps)));
            OUT.printf("%-8s %-28s %5d %6d %6d %6d %12d %12d %s%n", model, what, round, steps, promptRows, decodeRows,
                    bytes / Math.max(1, steps), bytes / Math.max(1, rows), top);
            OUT.flush();
        }
    }

    private static Phase phase(Engine engine, Work work) throws Exception {
        AtomicLong steps = new AtomicLong(), prompt = new AtomicLong(), decode = new AtomicLong();
        engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
            steps.incrementAndGet();
            prompt.addAndGet(promptRows);
            decode.addAndGet(decodeRows);
        });
        Thread.sleep(300);   // the previous phase's samples reach the stream before its map is replaced
        Map<String, AtomicLong> mine = new ConcurrentHashMap<>();
        sampled = mine;
        long b0 = THREADS.getTotalThreadAllocatedBytes();
        work.run();
        long bytes = THREADS.getTotalThreadAllocatedBytes() - b0;
        Thread.sleep(300);
        engine.observeSteps(null);
        return new Phase(steps.get(), prompt.get(), decode.get(), bytes, mine);
    }

    /** C clients at once, one request each: P prompt tokens (distinct), G generated greedily. */
    private static void streams(Engine engine, int c, int p, int g) throws InterruptedException {
        int vocab = engine.config().vocabSize();
        List<Thread> ts = new ArrayList<>();
        for (int i = 0; i < c; i++) {
            int k = i;
            Thread t = new Thread(() -> {
                Random rnd = new Random(1000 + k + 31L * p);
                int[] ids = new int[p];
                ids[0] = 2;
                for (int j = 1; j < p; j++) ids[j] = rnd.nextInt(10, vocab);
                try (Session s = engine.newSession()) {
                    s.generate(ids, GenerationOptions.builder().maxTokens(g).temperature(0f).ignoreEos(true).build(), tok -> { });
                }
            }, "client-" + i);
            ts.add(t);
            t.start();
        }
        for (Thread t : ts) t.join();
    }

    /** Charges an allocation sample to its innermost dev.jemma frame (the kernel that boxed, if one did). */
    private static void charge(RecordedEvent e) {
        var st = e.getStackTrace();
        if (st == null) return;
        for (RecordedFrame f : st.getFrames()) {
            String type = f.getMethod().getType().getName();
            if (type.startsWith("dev.jemma.") && !type.startsWith("dev.jemma.jmh.")) {
                String key = type.substring(type.lastIndexOf('.') + 1) + "." + f.getMethod().getName();
                sampled.computeIfAbsent(key, x -> new AtomicLong()).addAndGet(e.getLong("weight"));
                return;
            }
        }
    }

    private MixedUse() {
    }
}
