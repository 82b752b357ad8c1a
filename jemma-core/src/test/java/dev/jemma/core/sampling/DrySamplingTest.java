package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.IntFunction;

import static org.assertj.core.api.Assertions.assertThat;

class DrySamplingTest {
    // ids: X A B C Y, then "\n", "a:" (holds a breaker), "\n\n"
    static final int X = 0, A = 1, B = 2, C = 3, Y = 4, NL = 5, COLON = 6, NLNL = 7, VOCAB = 8;
    static final String[] TEXT = {"x", "a", "b", "c", "y", "\n", "a:", "\n\n"};
    static final IntFunction<byte[]> BYTES = id -> TEXT[id].getBytes(StandardCharsets.UTF_8);

    static DryParams dry(float multiplier, float base, int allowed, int lastN) {
        return new DryParams(multiplier, base, allowed, lastN, DryParams.DEFAULT_BREAKERS);
    }

    static float[] penalties(DryParams p, int... history) {
        float[] l = new float[VOCAB];
        new Dry(p, BYTES, VOCAB, null).apply(l, VOCAB, history, history.length);
        return l;
    }

    /**
     * X A B C Y X A B: the end "X A B" repeats positions 0–2, followed by C, so C would extend a 3-token repeat and
     * loses multiplier · base^(3 − 2) = 2. Mutations caught: the repeat length one too long (4) or short (1), the
     * exponent off by one.
     */
    @Test
    void penalisesTheTokenThatWouldExtendARepeat() {
        float[] l = penalties(dry(1f, 2f, 2, -1), X, A, B, C, Y, X, A, B);
        float[] want = new float[VOCAB];
        want[C] = -2f;
        assertThat(l).containsExactly(want);
    }

    /** A repeat of 3 with 4 allowed is not penalised; with 3 allowed it is, by the multiplier alone. */
    @Test
    void allowsRepeatsUpToTheAllowedLength() {
        assertThat(penalties(dry(1f, 2f, 4, -1), X, A, B, C, Y, X, A, B)).containsOnly(0f);
        assertThat(penalties(dry(0.8f, 2f, 3, -1), X, A, B, C, Y, X, A, B)[C]).isEqualTo(-0.8f);
    }

    /**
     * A breaker ends a repeat: with "a:" for A, the repeat before C is only B long. A token holding a breaker text
     * ("\n\n" holds "\n") breaks too; the last token a breaker, nothing is penalised. Mutation caught: breakers ignored.
     */
    @Test
    void breakersEndRepeats() {
        assertThat(penalties(dry(1f, 2f, 2, -1), X, COLON, B, C, Y, X, COLON, B)).containsOnly(0f);
        assertThat(penalties(dry(1f, 2f, 1, -1), X, COLON, B, C, Y, X, COLON, B)[C]).isEqualTo(-1f); // 1 · 2^(1 − 1)
        assertThat(penalties(dry(1f, 2f, 2, -1), X, A, NLNL, C, Y, X, A, NLNL)).containsOnly(0f);
        // the token after the repeat a breaker: never penalised
        assertThat(penalties(dry(1f, 2f, 2, -1), X, A, B, NL, Y, X, A, B)).containsOnly(0f);
    }

    /** Only the last penaltyLastN tokens are searched. */
    @Test
    void searchesOnlyTheWindow() {
        // the last 7: A B C Y X A B — the repeat "A B" (2) before C
        assertThat(penalties(dry(1f, 2f, 2, 7), X, A, B, C, Y, X, A, B)[C]).isEqualTo(-1f);
        // the last 6: B C Y X A B — only "B" (1)
        assertThat(penalties(dry(1f, 2f, 2, 6), X, A, B, C, Y, X, A, B)).containsOnly(0f);
    }

    /**
     * The Z-function's repeat lengths against the published algorithm's loop (each earlier occurrence of the last token
     * extended backwards), over random texts of a small alphabet with breakers: the same penalty on every token.
     */
    @Test
    void matchesThePublishedAlgorithm() {
        Random rnd = new Random(5);
        for (int trial = 0; trial < 2000; trial++) {
            int n = 2 + rnd.nextInt(60);
            int[] h = new int[n];
            int alphabet = 2 + rnd.nextInt(5);
            for (int i = 0; i < n; i++) h[i] = rnd.nextInt(20) == 0 ? NL : rnd.nextInt(alphabet);
            int allowed = 1 + rnd.nextInt(3);
            int lastN = rnd.nextBoolean() ? -1 : 1 + rnd.nextInt(n + 2);
            DryParams p = dry(0.5f, 1.5f, allowed, lastN);
            float[] got = penalties(p, h);
            float[] want = reference(p, h);
            assertThat(got).as("history %s, allowed %d, last %d", Arrays.toString(h), allowed, lastN).containsExactly(want);
        }
    }

    /** text-generation-webui's DRY loop, as published, over the last penaltyLastN tokens. */
    static float[] reference(DryParams p, int[] all) {
        int from = (int) Math.max(0, (long) all.length - p.penaltyLastN());
        int[] h = Arrays.copyOfRange(all, from, all.length);
        float[] l = new float[VOCAB];
        if (h.length < 2) return l;
        java.util.Set<Integer> breakers = java.util.Set.of(NL, COLON, NLNL);
        int last = h[h.length - 1];
        if (breakers.contains(last)) return l;
        Map<Integer, Integer> lengths = new HashMap<>();
        for (int i = 0; i < h.length - 1; i++) {
            if (h[i] != last) continue;
            int next = h[i + 1];
            if (breakers.contains(next)) continue;
            int length = 1;
            while (true) {
                int j = i - length;
                if (j < 0) break;
                int previous = h[h.length - 1 - length];
                if (h[j] != previous || breakers.contains(previous)) break;
                length++;
            }
            lengths.merge(next, length, Math::max);
        }
        Dry penalty = new Dry(p, BYTES, VOCAB, null);
        lengths.forEach((t, len) -> {
            if (len >= p.allowedLength()) l[t] -= penalty.penalty(len);
        });
        return l;
    }

    /** Through the sampler: DRY moves even a greedy choice, and a long repeat's penalty stays finite. */
    @Test
    void changesTheSamplersChoice() {
        float[] logits = {0, 0, 0, 1f, 0.5f, 0, 0, 0};
        int[] h = {X, A, B, C, Y, X, A, B};
        SamplingParams greedy = new SamplingParams(0f, 64, 1f, 0f, 1f, 64, 0f, 0f, 1);
        assertThat(new Sampler(greedy).sample(logits, 0, VOCAB, h, h.length)).isEqualTo(C);
        Sampler s = new Sampler(greedy.withDry(dry(1f, 2f, 2, -1)), null, BYTES, VOCAB);
        assertThat(s.sample(logits, 0, VOCAB, h, h.length)).isEqualTo(Y);
        assertThat(new Dry(dry(5f, 100f, 2, -1), BYTES, VOCAB, null).penalty(1000)).isEqualTo(Float.MAX_VALUE);
    }

    @Test
    void breakersNeedTheVocabulary() {
        var p = new SamplingParams(1f, 64, 1f, 0f, 1f, 64, 0f, 0f, 1).withDry(dry(1f, 2f, 2, -1));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Sampler(p)).hasMessageContaining("vocabulary");
        // without breakers it needs none
        new Sampler(p.withDry(new DryParams(1f, 2f, 2, -1, List.of())));
    }
}
