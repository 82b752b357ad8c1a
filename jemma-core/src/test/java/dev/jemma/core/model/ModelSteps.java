package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.testing.Fixtures;

import java.nio.file.Path;
import java.util.List;

/**
 * The whole-model step shapes the JIT tests drive ({@link ModelStepAllocationTest}, {@link ModelJitBailoutTest}): over
 * gemma3-small-k's files one after another in one JVM, as a long-lived server swaps them (Q4_K_M's Q4_K / Q6_K kernels,
 * then Q4_0, Q8_0 and Q6_K files, then Q4_K_M again), then gemma3n-tiny Q8_0 (residual rows, and the f32 row tiles of
 * its matrices without an interleaved copy, which boxed on every tile until 2026-12-07), each through single-token decode steps, batched steps of 4 rows,
 * batched steps of 5 to 8 rows (a server's step at 5-8 streams: at 512 bits Q4_0's passes of 5-8 tokens, Q4WidePasses,
 * and Q8_0's of 8) and a 40-token prompt.
 */
final class ModelSteps {
    /** The files ("model:variant" of the fixtures' manifest), in the order they run. */
    static final String[] VARIANTS = {"gemma3-small-k:Q4_K_M", "gemma3-small-k:Q4_0", "gemma3-small-k:Q8_0",
            "gemma3-small-k:Q6_K", "gemma3-small-k:Q4_K_M", "gemma3n-tiny:Q8_0"};

    /** One shape: its name, the call, and how many calls make a warm-up round. */
    record Step(String name, Runnable call, int warm) {
    }

    private ModelSteps() {
    }

    static Path file(String variant) {
        int colon = variant.indexOf(':');
        return Fixtures.variant(variant.substring(0, colon), variant.substring(colon + 1));
    }

    /** The four shapes over a loaded model (its own caches and logits buffer). */
    static List<Step> of(LanguageModel m) {
        int vocab = m.config().vocabSize();
        float[] logits = new float[64 * vocab];
        KvCache one = m.newCache(256);
        KvCache[] four = {m.newCache(256), m.newCache(256), m.newCache(256), m.newCache(256)};
        KvCache[] eight = new KvCache[8];
        for (int i = 0; i < eight.length; i++) eight[i] = m.newCache(256);
        int[] wideCalls = {0};
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
        // 5, 6, 7, 8 rows in turn: each pass width runs a quarter of the calls
        Runnable wide = () -> {
            int rows = 5 + wideCalls[0]++ % 4;
            Batch.Builder b = Batch.builder();
            for (int i = 0; i < rows; i++) {
                if (eight[i].length() >= 255) eight[i].clear();
                b.token(eight[i], tokens[(eight[i].length() + i) % tokens.length], true);
            }
            m.forward(b.build(), logits);
        };
        Runnable prefill = () -> {
            prompt.clear();
            m.forward(Batch.builder().tokens(prompt, tokens, 0, tokens.length, false).build(), logits);
        };
        return List.of(new Step("decode step", decode, 400), new Step("4-row step", batched, 200),
                new Step("5-8-row step", wide, 200), new Step("40-token prompt", prefill, 50));
    }
}
