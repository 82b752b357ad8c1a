package dev.jemma.tools.eval;

import dev.jemma.core.JemmaException;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** llama-perplexity's chunking rules and KLD statistics, checked on a synthetic model with known logits. */
class PerplexityTest {
    static final int VOCAB = 50;

    /** Logits depend on the input token, its position and a "quality" knob (noise to emulate a quantized copy). */
    static final class FakeModel implements LanguageModel {
        final double noise;
        final ModelConfig cfg = new ModelConfig("fake", "fake", 1, 4, new int[]{4}, 1, 1, 4, 4, 1e-6f, 4096, 0,
                new boolean[]{false}, new float[]{1e4f}, new float[]{1}, 1, 0, VOCAB, 1, List.of());

        FakeModel(double noise) {
            this.noise = noise;
        }

        static float logit(int tok, int pos, int v, double noise) {
            double base = 3 * Math.sin(0.37 * v + 0.11 * tok + 0.05 * pos) + (v == (tok * 7 + 3) % VOCAB ? 4 : 0);
            return (float) (base + noise * Math.cos(1.7 * v + 0.3 * pos + tok));
        }

        public ModelConfig config() {
            return cfg;
        }

        public KvCache newCache(int n) {
            return new KvCache(new int[]{1}, new int[]{1}, new int[]{0}, n);
        }

        @Override
        public long scratchBytesHeld() {
            return 0;
        }

        @Override
        public float[] forward(int[] tokens, int offset, int count, KvCache cache, boolean all) {
            float[] out = new float[(all ? count : 1) * VOCAB];
            for (int i = 0; i < count; i++) {
                int pos = cache.length() + i;
                if (!all && i < count - 1) continue;
                int row = all ? i : 0;
                for (int v = 0; v < VOCAB; v++) out[row * VOCAB + v] = logit(tokens[offset + i], pos, v, noise);
            }
            cache.advance(count);
            return out;
        }

        public float[] forward(dev.jemma.core.model.Batch b) {
            throw new UnsupportedOperationException("the fake answers only the one-sequence forward");
        }

        public int maxBatch() {
            return 16;
        }

        public void close() {
        }
    }

    static int[] tokens(int n) {
        Random r = new Random(3);
        int[] t = new int[n];
        t[0] = 2; // BOS
        for (int i = 1; i < n; i++) t[i] = r.nextInt(VOCAB);
        return t;
    }

    /** Straight from the definition: chunk c, BOS at its start, positions nCtx/2 .. nCtx-2 predict the next token. */
    static double expectedPpl(int[] t, int nCtx, double noise) {
        double nll = 0;
        int count = 0;
        for (int c = 0; c < t.length / nCtx; c++) {
            for (int j = nCtx / 2; j <= nCtx - 2; j++) {
                int in = j == 0 ? 2 : t[c * nCtx + j];
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int v = 0; v < VOCAB; v++) max = Math.max(max, FakeModel.logit(in, j, v, noise));
                for (int v = 0; v < VOCAB; v++) sum += Math.exp(FakeModel.logit(in, j, v, noise) - max);
                nll += max + Math.log(sum) - FakeModel.logit(in, j, t[c * nCtx + j + 1], noise);
                count++;
            }
        }
        return Math.exp(nll / count);
    }

    @Test
    void perplexityFollowsLlamaCppsChunkingAndScoresTheSecondHalf() {
        int[] t = tokens(1000);
        Perplexity.Result r = Perplexity.run(new FakeModel(0), t, 64, 2, true, 16, null, null);
        assertThat(r.chunks()).isEqualTo(1000 / 64);
        assertThat(r.count()).isEqualTo((long) (1000 / 64) * (64 - 1 - 32));
        assertThat(r.ppl()).isCloseTo(expectedPpl(t, 64, 0), within(1e-6 * r.ppl()));
        assertThat(r.pplError()).isPositive().isLessThan(r.ppl());
        // batch size must not matter
        assertThat(Perplexity.run(new FakeModel(0), t, 64, 2, true, 7, null, null).ppl()).isCloseTo(r.ppl(), within(1e-9));
    }

    @Test
    void kldAgainstItselfIsZeroAndAgainstANoisyCopyIsPositive(@TempDir Path tmp) throws Exception {
        int[] t = tokens(700);
        Path base = tmp.resolve("base.kld");
        Perplexity.Result r = Perplexity.run(new FakeModel(0), t, 64, 2, true, 16, base, null);
        int nv = 2 * ((VOCAB + 1) / 2) + 4;
        assertThat(Files.size(base)).isEqualTo(20L + 4L * 64 * r.chunks() + 2L * nv * 31 * r.chunks());
        Perplexity.KldResult self = Perplexity.kld(new FakeModel(0), base, 2, true, 16, null);
        assertThat(self.meanKld()).isLessThan(1e-6);
        assertThat(self.sameTop()).isGreaterThan(0.99); // near-ties can collapse to one 16-bit level in the base file
        assertThat(self.ppl()).isCloseTo(r.ppl(), within(1e-4 * r.ppl()));
        assertThat(self.basePpl()).isCloseTo(r.ppl(), within(1e-3 * r.ppl())); // 16-bit log-probs
        Perplexity.KldResult noisy = Perplexity.kld(new FakeModel(0.8), base, 2, true, 16, null);
        assertThat(noisy.meanKld()).isGreaterThan(0.01);
        assertThat(noisy.p99Kld()).isGreaterThan(noisy.medianKld());
        assertThat(noisy.sameTop()).isLessThan(1.0).isGreaterThan(0.3);
        assertThat(noisy.ppl()).isCloseTo(expectedPpl(t, 64, 0.8), within(1e-6 * noisy.ppl()));
    }

    @Test
    void badInputsAreOneLineErrors(@TempDir Path tmp) throws Exception {
        assertThatThrownBy(() -> Perplexity.run(new FakeModel(0), tokens(100), 64, 2, true, 16, null, null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("needs at least 128");
        Path bad = tmp.resolve("bad.kld");
        Files.writeString(bad, "not a logits file at all");
        assertThatThrownBy(() -> Perplexity.kld(new FakeModel(0), bad, 2, true, 16, null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("_logits_");
        Path base = tmp.resolve("b.kld");
        Perplexity.run(new FakeModel(0), tokens(300), 64, 2, true, 16, base, null);
        byte[] all = Files.readAllBytes(base);
        Files.write(bad, java.util.Arrays.copyOf(all, all.length - 10));
        assertThatThrownBy(() -> Perplexity.kld(new FakeModel(0), bad, 2, true, 16, null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("truncated");
    }
}
