package dev.jemma.core.model;

import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The child JVM of {@link ColdWarmLogitsTest}: one model's logits for a prompt and a few greedy steps, computed once
 * (in whatever JIT state the JVM's options give, e.g. C1 only: the Vector API's Java fallback, never its C2
 * intrinsics), written as little-endian float32 to a file.
 *
 * <p>Arguments: MODEL.gguf EXACT(true|false) THREADS STEPS OUT.f32 ID...
 */
public final class ColdLogits {
    private ColdLogits() {
    }

    public static void main(String[] args) throws IOException {
        Path model = Path.of(args[0]);
        boolean exact = Boolean.parseBoolean(args[1]);
        int threads = Integer.parseInt(args[2]), steps = Integer.parseInt(args[3]);
        Path out = Path.of(args[4]);
        int[] ids = new int[args.length - 5];
        for (int i = 0; i < ids.length; i++) ids[i] = Integer.parseInt(args[5 + i]);
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(model, new ModelLoader.Options(exact, threads, 64), pool)) {
            float[] logits = promptAndSteps(m, ids, steps);
            ByteBuffer b = ByteBuffer.allocate(logits.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(logits);
            Files.write(out, b.array());
        }
    }

    /** Every prompt row's logits, then {@code steps} greedy decode steps' logits (one forward per token). */
    static float[] promptAndSteps(LanguageModel m, int[] ids, int steps) {
        int vocab = m.config().vocabSize();
        KvCache cache = m.newCache(ids.length + steps);
        float[] out = new float[(ids.length + steps) * vocab];
        float[] prompt = m.forward(ids, 0, ids.length, cache, true);
        System.arraycopy(prompt, 0, out, 0, prompt.length);
        int next = argmax(prompt, (ids.length - 1) * vocab, vocab);
        for (int i = 0; i < steps; i++) {
            float[] l = m.forward(new int[]{next}, 0, 1, cache, false);
            System.arraycopy(l, 0, out, (ids.length + i) * vocab, vocab);
            next = argmax(l, 0, vocab);
        }
        return out;
    }

    private static int argmax(float[] a, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[off + i] > a[off + best]) best = i;
        return best;
    }
}
