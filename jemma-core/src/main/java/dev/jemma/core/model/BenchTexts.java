package dev.jemma.core.model;

import dev.jemma.core.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The random batch an embedding benchmark embeds: {@code jemma bench --embed} times it, and the profiling tools in
 * jemma-core's test sources ({@code EmbedProfile}, {@code EmbedThreadProfile}, {@code EmbedThreadCompare}) profile it, so
 * a profile measures the very batch the bench times. The ids themselves change nothing in the arithmetic of a dense
 * forward; what matters is the shape (texts × tokens) and that each text looks like a tokenized one.
 */
public final class BenchTexts {
    /** The seed the bench and the profiles draw with. */
    public static final long SEED = 42;

    private BenchTexts() {
    }

    /**
     * {@code n} texts of {@code len} tokens: the tokenizer's BOS first and its EOS last (each where the file names one),
     * between them ids drawn uniformly from the vocabulary, never a control token (BOS, EOS, padding,
     * {@code <start_of_turn>} …), which a tokenized text has only where its template puts it.
     */
    public static List<int[]> random(Random rnd, Tokenizer tokenizer, int n, int len) {
        if (n < 1 || len < 1) throw new IllegalArgumentException("need at least one text of one token, got " + n + " × " + len);
        int vocab = tokenizer.vocabSize(), bos = tokenizer.bosId(), eos = tokenizer.eosId();
        boolean any = false;
        for (int id = 0; id < vocab && !any; id++) any = !tokenizer.isControl(id) && id != bos && id != eos;
        if (!any) throw new IllegalArgumentException("the vocabulary has no token but control tokens to draw from");
        List<int[]> batch = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int[] t = new int[len];
            for (int j = 0; j < len; j++) {
                int id;
                do id = rnd.nextInt(vocab); while (tokenizer.isControl(id) || id == bos || id == eos);
                t[j] = id;
            }
            if (bos >= 0) t[0] = bos;
            if (eos >= 0 && len > 1) t[len - 1] = eos;
            batch.add(t);
        }
        return batch;
    }
}
