package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SamplerTest {
    static SamplingParams p(float temp, int topK, float topP, float minP, float rep, long seed) {
        return new SamplingParams(temp, topK, topP, minP, rep, 64, 0f, 0f, seed);
    }

    static Map<Integer, Integer> histogram(Sampler s, float[] logits, int n) {
        Map<Integer, Integer> h = new HashMap<>();
        for (int i = 0; i < n; i++) h.merge(s.sample(logits, 0, logits.length, null, 0), 1, Integer::sum);
        return h;
    }

    @Test
    void greedyIsArgmax() {
        float[] l = {0.1f, 3f, 2.9f, -1f};
        assertThat(new Sampler(p(0, 64, 0.95f, 0, 1, 1)).sample(l, 0, 4, null, 0)).isEqualTo(1);
    }

    @Test
    void topKOneIsGreedyWhateverTheTemperature() {
        float[] l = {0.1f, 3f, 2.9f, -1f};
        assertThat(histogram(new Sampler(p(5f, 1, 1f, 0, 1, 7)), l, 200)).containsOnlyKeys(1);
    }

    @Test
    void topPKeepsTheSmallestSetReachingP() {
        // probabilities ~ 0.64, 0.24, 0.09, 0.03: top-p 0.8 keeps the first two
        float[] l = {3f, 2f, 1f, 0f};
        Map<Integer, Integer> h = histogram(new Sampler(p(1f, 0, 0.8f, 0, 1, 3)), l, 2000);
        assertThat(h).containsOnlyKeys(0, 1);
        assertThat(h.get(0)).isBetween(1300, 1600); // 0.64/0.88 = 0.73
    }

    @Test
    void topPZeroKeepsOnlyTheMostLikelyToken() {
        // OpenAI and llama.cpp accept top_p = 0: the kept set never drops below one token (issue 22)
        float[] l = {0.1f, 3f, 2.9f, -1f};
        assertThat(histogram(new Sampler(p(2f, 0, 0f, 0, 1, 11)), l, 300)).containsOnlyKeys(1);
    }

    @Test
    void minPDropsUnlikelyTokens() {
        float[] l = {3f, 2f, 1f, 0f}; // relative to the best: 1, 0.37, 0.14, 0.05
        assertThat(histogram(new Sampler(p(1f, 0, 1f, 0.2f, 1, 3)), l, 1000)).containsOnlyKeys(0, 1);
    }

    @Test
    void temperatureSharpensAndFlattens() {
        float[] l = {1f, 0f};
        int cold = histogram(new Sampler(p(0.25f, 0, 1f, 0, 1, 5)), l, 2000).getOrDefault(0, 0);
        int hot = histogram(new Sampler(p(4f, 0, 1f, 0, 1, 5)), l, 2000).getOrDefault(0, 0);
        assertThat(cold).isGreaterThan(1900); // e^4 : 1
        assertThat(hot).isBetween(1000, 1300); // e^0.25 : 1 = 0.56
    }

    @Test
    void sameSeedSameSequence() {
        float[] l = new float[1000];
        for (int i = 0; i < l.length; i++) l[i] = (float) Math.sin(i);
        Sampler a = new Sampler(p(1f, 64, 0.95f, 0, 1, 99)), b = new Sampler(p(1f, 64, 0.95f, 0, 1, 99));
        for (int i = 0; i < 50; i++) assertThat(a.sample(l, 0, 1000, null, 0)).isEqualTo(b.sample(l, 0, 1000, null, 0));
    }

    @Test
    void penaltiesPushRepeatsDown() {
        float[] l = {2f, 1.9f, -1f};
        int[] hist = {0, 0, 0};
        // repeat penalty 1.5: 2/1.5 = 1.33 < 1.9
        assertThat(new Sampler(new SamplingParams(0, 0, 1, 0, 1.5f, 64, 0, 0, 1)).sample(l, 0, 3, hist, 3)).isEqualTo(1);
        // frequency 0.05 × 3 = 0.15 below 1.9
        assertThat(new Sampler(new SamplingParams(0, 0, 1, 0, 1f, 64, 0, 0.05f, 1)).sample(l, 0, 3, hist, 3)).isEqualTo(1);
        // presence 0.2 once
        assertThat(new Sampler(new SamplingParams(0, 0, 1, 0, 1f, 64, 0.2f, 0, 1)).sample(l, 0, 3, hist, 3)).isEqualTo(1);
        // look-back window of 0 turns penalties off
        assertThat(new Sampler(new SamplingParams(0, 0, 1, 0, 1.5f, 0, 0, 0, 1)).sample(l, 0, 3, hist, 3)).isEqualTo(0);
    }

    /** -1 looks back over the whole history (llama.cpp's and Ollama's repeat_last_n -1), not refused. */
    @Test
    void aLookBackOfMinusOneCoversTheWholeHistory() {
        float[] l = {2f, 1.9f, -1f};
        int[] hist = new int[200];
        java.util.Arrays.fill(hist, 2);
        hist[0] = 0; // token 0, seen 199 tokens ago: beyond a window of 64, within "all"
        assertThat(new Sampler(new SamplingParams(0, 0, 1, 0, 1.5f, 64, 0, 0, 1)).sample(l, 0, 3, hist, 200)).isEqualTo(0);
        assertThat(new Sampler(new SamplingParams(0, 0, 1, 0, 1.5f, -1, 0, 0, 1)).sample(l, 0, 3, hist, 200)).isEqualTo(1);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new SamplingParams(0, 0, 1, 0, 1.5f, -2, 0, 0, 1))
                .hasMessage("repeat-last-n must be >= 0, or -1 for the whole context, got -2");
    }

    @Test
    void invalidParametersAreRejected() {
        assertThatThrownBy(() -> p(-1, 0, 1, 0, 1, 0)).hasMessageContaining("temperature");
        assertThatThrownBy(() -> p(1, 0, -0.1f, 0, 1, 0)).hasMessageContaining("top-p");
        assertThatThrownBy(() -> p(1, 0, 1.1f, 0, 1, 0)).hasMessageContaining("top-p");
        assertThatThrownBy(() -> p(1, -2, 1, 0, 1, 0)).hasMessageContaining("top-k");
    }

    @Test
    void stopStringsHoldBackPossiblePrefixes() {
        StopStrings s = new StopStrings(List.of("</end>"));
        assertThat(s.accept("Hello <")).isEqualTo("Hello ");
        assertThat(s.accept("/e")).isEmpty();
        assertThat(s.accept("x")).isEqualTo("</ex");
        assertThat(s.accept(" done </en")).isEqualTo(" done ");
        assertThat(s.accept("d> more")).isEmpty();
        assertThat(s.stopped()).isTrue();
        StopStrings t = new StopStrings(List.of("STOP"));
        assertThat(t.accept("ab ST")).isEqualTo("ab ");
        assertThat(t.flush()).isEqualTo("ST");
    }
}
