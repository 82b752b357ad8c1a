package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The sampler chain in llama.cpp's other orders ({@link SamplerChain}, {@link OrderedChain}): run stage by stage in the
 * default order it draws what the default path draws; a reordered chain draws what applying its stages in that order
 * by hand gives; a stage left out is not applied.
 */
class OrderedChainTest {
    private static final Random RND = new Random(27);

    private static Sampler stageByStage(SamplingParams p) {
        return new Sampler(p, null, null, 0, true);
    }

    private static SamplingParams plain(float t, int k, float topP, float minP, long seed) {
        return new SamplingParams(t, k, topP, minP, 1f, 64, 0f, 0f, seed);
    }

    private static SamplerChain chain(String names) {
        return SamplerChain.ofNames(names);
    }

    /** The default grid and llama.cpp's other samplers, each setting with its own seed. */
    private static List<SamplingParams> settings() {
        List<SamplingParams> all = new ArrayList<>(SamplerEquivalenceTest.grid(300));
        for (long s = 0; s < 8; s++) {
            SamplingParams base = new SamplingParams(s % 2 == 0 ? 0.8f : 1.3f, s < 4 ? 40 : 0, 0.9f, 0.02f, 1.2f, 64, 0.3f, 0.1f, 900 + s);
            all.add(base.withTypicalP(0.7f));
            all.add(base.withXtc(new XtcParams(0.6f, 0.05f)));
            all.add(base.withTopNSigma(1.5f));
            all.add(base.withDry(new DryParams(0.8f, 1.75f, 2, -1, List.of())));
            all.add(base.withTypicalP(0.9f).withXtc(new XtcParams(1f, 0.02f)).withTopNSigma(2f).withDry(new DryParams(1f, 2f, 1, 16, List.of())));
            all.add(base.withTypicalP(0.8f).withSamplers(SamplerChain.DEFAULT).withXtc(new XtcParams(0.5f, 0.1f)));
            all.add(new SamplingParams(0f, 40, 0.9f, 0.05f, 1.3f, 64, 0.4f, 0f, 950 + s).withTypicalP(0.5f).withXtc(new XtcParams(1f, 0.01f)));
        }
        return all;
    }

    /**
     * The default order run stage by stage draws the default path's token at every step, over the grid of settings and
     * logit shapes (penalties, typical, XTC, top-n-sigma, DRY, greedy included; 1,472 draws). Mutations caught:
     * top-p's cut at '>' instead of '>=', greedy taken after the whole chain (typical and XTC then drop the best).
     */
    @Test
    void theDefaultOrderStageByStageDrawsWhatTheDefaultPathDraws() {
        int draws = 0;
        for (SamplingParams p : settings()) {
            Sampler fast = new Sampler(p), ordered = stageByStage(p);
            int[] history = new int[24];
            int h = 0;
            for (int step = 0; step < 8; step++) {
                int vocab = 500 + RND.nextInt(4000);
                float[] l = SamplerEquivalenceTest.logits(RND, vocab, step % 6);
                int a = fast.sample(l, 0, vocab, history, h);
                int b = ordered.sample(l, 0, vocab, history, h);
                assertThat(b).as("%s, step %d", p, step).isEqualTo(a);
                if (h < history.length) history[h++] = a;
                draws++;
            }
        }
        assertThat(draws).isGreaterThan(1400);
    }

    /** Gemma's defaults over a full-size vocabulary, 500 seeded draws: the stage-by-stage chain equals the default path. */
    @Test
    void fiveHundredSeededDrawsOfGemmasDefaults() {
        float[] l = SamplerEquivalenceTest.logits(new Random(5), 262_144, 0);
        for (long seed = 0; seed < 500; seed++) {
            SamplingParams p = new SamplingParams(1f, 64, 0.95f, 0f, 1f, 64, 0f, 0f, seed);
            assertThat(stageByStage(p).sample(l, 0, l.length, null, 0)).isEqualTo(new Sampler(p).sample(l, 0, l.length, null, 0));
        }
    }

    /** Within a grammar's allowed ids the same holds ({@link Sampler#sampleAmong}). */
    @Test
    void amongAllowedIdsToo() {
        for (SamplingParams p : settings().subList(0, 64)) {
            Sampler fast = new Sampler(p), ordered = stageByStage(p);
            int vocab = 3000;
            float[] l = SamplerEquivalenceTest.logits(RND, vocab, RND.nextInt(4));
            int[] ids = new int[vocab];
            int n = 0;
            for (int i = 0; i < vocab; i++) if (RND.nextInt(10) == 0) ids[n++] = i;
            int[] history = {ids[0], ids[1], ids[0]};
            assertThat(ordered.sampleAmong(l, 0, vocab, ids, n, history, 3)).as("%s", p).isEqualTo(fast.sampleAmong(l, 0, vocab, ids, n, history, 3));
        }
    }

    /** Logits whose probabilities are 0.665, 0.245, 0.090 (2, 1, 0) and a long tail far below. */
    private static float[] threeWay() {
        float[] l = new float[50];
        java.util.Arrays.fill(l, -30f);
        l[0] = 2f;
        l[1] = 1f;
        l[2] = 0f;
        return l;
    }

    private static float[] divided(float[] l, float t) {
        float[] out = l.clone();
        for (int i = 0; i < out.length; i++) out[i] /= t;
        return out;
    }

    /**
     * Temperature before top-p changes which tokens survive: at 0.5 the logits 4, 2, 0 give the best 0.867, so top-p
     * 0.8 keeps it alone; after top-p (the default order) it keeps two. At 3 the probabilities flatten to 0.42, 0.30,
     * 0.28 and top-p keeps all three. And the draw equals the default path on the logits divided by hand with
     * temperature 1, seed by seed. Mutation caught: a temperature that is not the last stage folded into the draw
     * instead of dividing the logits (top-p then keeps two tokens at 0.5).
     */
    @Test
    void temperatureBeforeTopPIsTopPsInputByHand() {
        float[] l = threeWay();
        for (float t : new float[]{0.5f, 3f}) {
            java.util.Set<Integer> before = new java.util.TreeSet<>(), after = new java.util.TreeSet<>();
            for (long seed = 0; seed < 500; seed++) {
                SamplingParams p = plain(t, 0, 0.8f, 0f, seed);
                int a = new Sampler(p.withSamplers(chain("temperature;top_p"))).sample(l, 0, l.length, null, 0);
                int hand = new Sampler(plain(1f, 0, 0.8f, 0f, seed)).sample(divided(l, t), 0, l.length, null, 0);
                assertThat(a).as("t %s, seed %d", t, seed).isEqualTo(hand);
                before.add(a);
                after.add(new Sampler(p.withSamplers(chain("top_p;temperature"))).sample(l, 0, l.length, null, 0));
            }
            assertThat(before).isEqualTo(t < 1 ? java.util.Set.of(0) : java.util.Set.of(0, 1, 2));
            assertThat(after).isEqualTo(java.util.Set.of(0, 1));
        }
    }

    /**
     * Min-p after temperature: min-p 0.3 keeps tokens at least 0.3 times as likely as the best — 1 (e^-1 = 0.37) but
     * not 2 (0.14) on the raw logits; at temperature 2 first, 2 is e^-1 too and stays. Drawn as the default path draws
     * from the logits halved by hand (seed by seed).
     */
    @Test
    void temperatureBeforeMinP() {
        float[] l = threeWay();
        java.util.Set<Integer> seen = new java.util.TreeSet<>();
        for (long seed = 0; seed < 500; seed++) {
            int a = new Sampler(plain(2f, 0, 1f, 0.3f, seed).withSamplers(chain("temp;min_p"))).sample(l, 0, l.length, null, 0);
            assertThat(a).isEqualTo(new Sampler(plain(1f, 0, 1f, 0.3f, seed)).sample(divided(l, 2f), 0, l.length, null, 0));
            seen.add(a);
        }
        assertThat(seen).containsExactly(0, 1, 2);
    }

    /**
     * Temperature twice divides twice (llama.cpp runs a stage as often as listed): "t;t" at 0.5 draws what temperature
     * 0.5 draws from logits halved by hand.
     */
    @Test
    void aStageListedTwiceRunsTwice() {
        float[] l = SamplerEquivalenceTest.logits(new Random(8), 2000, 1);
        for (long seed = 0; seed < 300; seed++) {
            int a = new Sampler(plain(0.5f, 0, 1f, 0f, seed).withSamplers(SamplerChain.ofLetters("tt"))).sample(l, 0, l.length, null, 0);
            assertThat(a).isEqualTo(new Sampler(plain(0.5f, 0, 1f, 0f, seed)).sample(divided(l, 0.5f), 0, l.length, null, 0));
        }
    }

    /**
     * Penalties after top-k work on the k kept: a negative presence penalty (a bonus) lifts token 5 far above the rest,
     * but top-k 2 ran first and dropped it, so it is never drawn; penalties first (the default order), it always is.
     */
    @Test
    void penaltiesAfterTopKCannotBringBackWhatItDropped() {
        float[] l = threeWay();
        l[5] = -1f;
        int[] history = {5};
        for (long seed = 0; seed < 200; seed++) {
            SamplingParams p = new SamplingParams(1f, 2, 1f, 0f, 1f, 64, -2f, 0f, seed);
            // temperature 0.01 makes the best certain
            SamplingParams cold = new SamplingParams(0.01f, 2, 1f, 0f, 1f, 64, -2f, 0f, seed);
            assertThat(new Sampler(p.withSamplers(chain("top_k;penalties;temperature")))
                    .sample(l, 0, l.length, history, 1)).isIn(0, 1);
            float[] strong = l.clone();
            strong[5] = 3f; // 3 + 2 = 5 after the bonus
            assertThat(new Sampler(cold.withSamplers(chain("penalties;top_k;temperature"))).sample(strong, 0, l.length, history, 1)).isEqualTo(5);
            assertThat(new Sampler(cold.withSamplers(chain("top_k;penalties;temperature"))).sample(strong, 0, l.length, history, 1)).isEqualTo(5);
            strong[5] = 0.5f; // not in the top 2 before the bonus, the best after it
            assertThat(new Sampler(cold.withSamplers(chain("top_k;penalties;temperature"))).sample(strong, 0, l.length, history, 1)).isIn(0, 1);
            assertThat(new Sampler(cold.withSamplers(chain("penalties;top_k;temperature"))).sample(strong, 0, l.length, history, 1)).isEqualTo(5);
        }
    }

    /**
     * Greedy is the best candidate where the temperature stage runs: before the penalties, the repeated token 0 stays
     * the pick despite a penalty that makes 1 the best after them (as llama.cpp, whose temperature 0 masks all but the
     * best). Without a temperature stage, temperature 0 is not applied at all: the draw is from the unscaled
     * distribution, so token 1 and 2 turn up. Mutation caught: greedy taken as the argmax after the whole chain.
     */
    @Test
    void greedyIsTheBestWhereTheTemperatureStageRuns() {
        float[] l = threeWay();
        int[] history = {0};
        SamplingParams p = new SamplingParams(0f, 0, 1f, 0f, 3f, 64, 0f, 0f, 1);
        assertThat(new Sampler(p).sample(l, 0, l.length, history, 1)).isEqualTo(1); // 2/3 < 1
        assertThat(new Sampler(p.withSamplers(chain("temperature;penalties"))).sample(l, 0, l.length, history, 1)).isZero();
        assertThat(new Sampler(p.withSamplers(chain("penalties;top_k;temperature"))).sample(l, 0, l.length, history, 1)).isEqualTo(1);
        java.util.Set<Integer> seen = new java.util.TreeSet<>(), reordered = new java.util.TreeSet<>();
        for (long seed = 0; seed < 300; seed++) {
            SamplingParams q = new SamplingParams(0f, 0, 1f, 0f, 1f, 64, 0f, 0f, seed);
            seen.add(new Sampler(q.withSamplers(chain("top_p;min_p"))).sample(l, 0, l.length, null, 0));
            reordered.add(new Sampler(q.withSamplers(chain("min_p;top_p"))).sample(l, 0, l.length, null, 0));
        }
        assertThat(seen).contains(0, 1, 2);
        assertThat(reordered).contains(0, 1, 2);
    }

    /**
     * A stage left out is not applied, whether the order is the default one (served by the default path with that
     * stage neutral) or not: top-k 1 with top_k left out is not greedy; top-p 0 (the best only) left out draws others.
     * Mutations caught: the stages left out of an in-order list still run (the first check draws only token 0); the
     * reordered chain running top-k whatever the list (the second).
     */
    @Test
    void aStageLeftOutIsNotApplied() {
        float[] l = threeWay();
        java.util.Set<Integer> inOrder = new java.util.TreeSet<>(), reordered = new java.util.TreeSet<>();
        for (long seed = 0; seed < 300; seed++) {
            SamplingParams p = plain(1f, 1, 0f, 0f, seed);
            inOrder.add(new Sampler(p.withSamplers(chain("min_p;temperature"))).sample(l, 0, l.length, null, 0));
            reordered.add(new Sampler(p.withSamplers(chain("temperature;min_p"))).sample(l, 0, l.length, null, 0));
            // listed, they cut to the best
            assertThat(new Sampler(p.withSamplers(chain("temperature;top_k"))).sample(l, 0, l.length, null, 0)).isZero();
            assertThat(new Sampler(p.withSamplers(chain("top_p;temperature"))).sample(l, 0, l.length, null, 0)).isZero();
        }
        assertThat(inOrder).contains(0, 1, 2);
        assertThat(reordered).contains(0, 1, 2);
    }

    /** Under Mirostat the chain is ignored, as llama.cpp ignores it: the same tokens as without one. */
    @Test
    void mirostatIgnoresTheChain() {
        float[] l = SamplerEquivalenceTest.logits(new Random(9), 1000, 0);
        SamplingParams p = plain(0.8f, 40, 0.9f, 0f, 3).withMirostat(new MirostatParams(2, 5f, 0.1f));
        Sampler a = new Sampler(p), b = new Sampler(p.withSamplers(chain("top_k")));
        for (int i = 0; i < 100; i++) assertThat(b.sample(l, 0, 1000, null, 0)).isEqualTo(a.sample(l, 0, 1000, null, 0));
    }

    /** llama.cpp's names, spellings and letters; anything else is refused naming it. */
    @Test
    void namesAndLetters() {
        assertThat(SamplerChain.ofLetters("edskypmxt")).isEqualTo(SamplerChain.DEFAULT);
        assertThat(SamplerChain.ofNames("penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature")).isEqualTo(SamplerChain.DEFAULT);
        assertThat(SamplerChain.ofNames("Top-K;nucleus;TEMP;typ;minp;topnsigma").letters()).isEqualTo("kptyms");
        assertThat(SamplerChain.ofNames("top_k;;temperature;").toString()).isEqualTo("top_k;temperature");
        assertThat(SamplerChain.ofLetters("")).isEqualTo(new SamplerChain(List.of()));
        assertThatThrownBy(() -> SamplerChain.ofNames("top_k;tfs_z")).hasMessageStartingWith("unknown sampler 'tfs_z' (Jemma's: penalties (e),");
        assertThatThrownBy(() -> SamplerChain.ofLetters("kq")).hasMessageStartingWith("unknown sampler letter 'q'");
        assertThatThrownBy(() -> SamplerChain.ofLetters("ki")).hasMessageContaining("infill");
        assertThatThrownBy(() -> SamplerChain.ofNames("adaptive_p")).hasMessageContaining("adaptive_p is not supported");
    }
}
