package dev.jemma.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tensor.kernels.VectorWidth;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The decode and prefill paths of whole models allocate no boxed vectors once compiled, in one JVM that runs them the way
 * a long-lived server does (issue 16, docs/PERFORMANCE.md, "Kernels in a long-lived mixed-use JVM"): several files of
 * different quantization types one after another (keep-alive swaps: Q4_K_M's Q4_K / Q6_K / Q5_0 kernels, then Q4_0,
 * Q8_0 and Q6_K files, then Q4_K_M again), each through single-token decode steps, batched steps of 4 rows and a
 * 40-token prompt, so that every kernel is compiled from the mixed profile real use gives it, not from one shape. The
 * build runs this class at 512, 256 and 128 bits (the kernel-allocation, width-256 and width-128 executions).
 * <p>
 * What a compiled step may allocate: the model's own per-call objects (the {@link Batch} and its row lists, per-call
 * bookkeeping) — measured 2.5-3.4 KB for a decode or 4-row step and 6.8 KB for the 40-token prompt at 512 bits (the
 * figures printed). A kernel that C2 left with Vector API calls boxes vectors on every block: even one boxed vector
 * (at least 80 bytes) per 32-row group and block in each of a layer's 7 matrices comes to 6 layers × 7 × 8 groups × 80 B
 * ≈ 27 KB per token, and the boxing found so far cost 0.1-10 MB per call; {@value #PER_STEP_BOUND} bytes lies between.
 */
class ModelStepAllocationTest {
    /** Bytes a compiled step may allocate (see the class comment). */
    static final long PER_STEP_BOUND = 16 * 1024;
    /** How long a case may take to compile (90 s: on a loaded machine C2 may need that); -Djemma.allocationSeconds. */
    private static final long SECONDS = Long.getLong("jemma.allocationSeconds", 90);

    private static Path file(String variant) {
        JsonNode m = Fixtures.manifest().path("models").path("gemma3-small-k");
        Path p = Fixtures.any().resolve(m.path("variants").path(variant).path("file").asText());
        Assumptions.assumeTrue(!m.isMissingNode() && Files.isRegularFile(p), "gemma3-small-k " + variant + " is not in the fixtures here");
        return p;
    }

    @Test
    void compiledStepsOfEveryModelTypeInOneJvmDoNotBox() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        Assumptions.assumeTrue(threads.isThreadAllocatedMemorySupported());
        List<String> failures = new ArrayList<>();
        try (ThreadPool pool = new ThreadPool(2)) {
            for (String variant : new String[]{"Q4_K_M", "Q4_0", "Q8_0", "Q6_K", "Q4_K_M"}) {
                try (LanguageModel m = ModelLoader.load(file(variant), new ModelLoader.Options(false, 2, 64), pool)) {
                    int vocab = m.config().vocabSize();
                    float[] logits = new float[64 * vocab];
                    List<Thread> workers = new ArrayList<>(pool.workers());
                    workers.add(Thread.currentThread());
                    long[] ids = workers.stream().mapToLong(Thread::threadId).toArray();

                    KvCache one = m.newCache(256);
                    KvCache[] four = {m.newCache(256), m.newCache(256), m.newCache(256), m.newCache(256)};
                    KvCache prompt = m.newCache(64);
                    int[] tokens = new int[40];
                    for (int i = 0; i < tokens.length; i++) tokens[i] = 2 + (7919 * (i + 1)) % (vocab - 2);
                    Runnable decode = () -> {
                        if (one.length() >= 255) one.clear();
                        m.forward(Batch.builder().token(one, tokens[one.length() % tokens.length], true).build(), logits);
                    };
                    Runnable batched = () -> {
                        Batch.Builder b = Batch.builder();
                        for (int i = 0; i < four.length; i++) {
                            if (four[i].length() >= 255) four[i].clear();
                            b.token(four[i], tokens[(four[i].length() + i) % tokens.length], true);
                        }
                        m.forward(b.build(), logits);
                    };
                    Runnable prefill = () -> {
                        prompt.clear();
                        m.forward(Batch.builder().tokens(prompt, tokens, 0, tokens.length, false).build(), logits);
                    };
                    for (var step : List.of(new Object[]{"decode step", decode, 400}, new Object[]{"4-row step", batched, 200},
                            new Object[]{"40-token prompt", prefill, 50})) {
                        long least = leastBytesPerCall(threads, ids, (Runnable) step[1], (Integer) step[2]);
                        String line = String.format("%s %s at %d bits: %d bytes per compiled call", variant, step[0], VectorWidth.BITS, least);
                        System.out.println(line);
                        if (least > PER_STEP_BOUND) failures.add(line);
                    }
                }
            }
        }
        assertThat(failures).as("steps allocating more than %d bytes (boxed vectors) in a JVM that ran every type", PER_STEP_BOUND).isEmpty();
    }

    /**
     * The fewest bytes one call allocated on {@code ids}' threads (the caller and the pool's workers), measured after each
     * round of {@code warm} calls until one is within the bound or {@link #SECONDS} pass.
     */
    private static long leastBytesPerCall(com.sun.management.ThreadMXBean threads, long[] ids, Runnable call, int warm) {
        long least = Long.MAX_VALUE, deadline = System.nanoTime() + SECONDS * 1_000_000_000L;
        while (least > PER_STEP_BOUND && System.nanoTime() < deadline) {
            for (int i = 0; i < warm; i++) call.run();
            long before = sum(threads.getThreadAllocatedBytes(ids));
            call.run();
            least = Math.min(least, sum(threads.getThreadAllocatedBytes(ids)) - before);
        }
        return least;
    }

    private static long sum(long[] a) {
        long s = 0;
        for (long v : a) s += Math.max(0, v);
        return s;
    }
}
