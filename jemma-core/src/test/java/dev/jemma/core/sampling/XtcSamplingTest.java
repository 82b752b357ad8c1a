package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import static dev.jemma.core.sampling.SamplerTest.histogram;
import static dev.jemma.core.sampling.TypicalSamplingTest.logits;
import static org.assertj.core.api.Assertions.assertThat;

class XtcSamplingTest {
    static SamplingParams xtc(float probability, float threshold, float topP, long seed) {
        return new SamplingParams(1f, 40, topP, 0f, 1f, 64, 0f, 0f, seed).withXtc(new XtcParams(probability, threshold));
    }

    /**
     * Probabilities 0.5, 0.3, 0.15, 0.05, threshold 0.1: three tokens reach it, the two most likely go, the third stays.
     * Mutation caught: removing the last above-threshold token too leaves only token 3.
     */
    @Test
    void removesEveryTopChoiceButTheLeastLikely() {
        var h = histogram(new Sampler(xtc(1f, 0.1f, 1f, 1)), logits(0.5, 0.3, 0.15, 0.05), 2000);
        assertThat(h).containsOnlyKeys(2, 3);
        assertThat(h.get(2)).isBetween(1350, 1650); // 0.15 / 0.2 = 0.75
    }

    /** One token above the threshold is not a choice to exclude: nothing is removed. */
    @Test
    void keepsALoneTopChoice() {
        var h = histogram(new Sampler(xtc(1f, 0.1f, 1f, 2)), logits(0.9, 0.05, 0.05), 2000);
        assertThat(h).containsKeys(0, 1, 2);
        assertThat(h.get(0)).isGreaterThan(1700);
    }

    /** The probabilities are those left by top-p: 0.5 and 0.3 renormalised (0.625, 0.375) both reach 0.35
     * (mutation caught: probabilities over every candidate, where only 0.5 does, leave 0 and 1). */
    @Test
    void worksOnWhatTopPLeft() {
        var h = histogram(new Sampler(xtc(1f, 0.35f, 0.75f, 3)), logits(0.5, 0.3, 0.15, 0.05), 500);
        assertThat(h).containsOnlyKeys(1);
    }

    /** Applied on about that share of the tokens: token 0 (half the mass) shows up only when XTC does not apply. */
    @Test
    void appliesWithItsProbability() {
        var h = histogram(new Sampler(xtc(0.5f, 0.1f, 1f, 4)), logits(0.5, 0.3, 0.15, 0.05), 4000);
        assertThat(h.get(0)).isBetween(850, 1150); // 0.5 × 0.5 = 0.25
    }

    @Test
    void aThresholdAboveOneHalfIsOff() {
        SamplingParams on = xtc(1f, 0.51f, 1f, 5);
        Sampler a = new Sampler(on.withXtc(XtcParams.OFF)), b = new Sampler(on);
        float[] l = logits(0.5, 0.3, 0.15, 0.05);
        for (int i = 0; i < 200; i++) assertThat(b.sample(l, 0, 4, null, 0)).isEqualTo(a.sample(l, 0, 4, null, 0));
    }
}
