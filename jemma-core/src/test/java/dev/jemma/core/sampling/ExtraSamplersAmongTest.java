package dev.jemma.core.sampling;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.IntFunction;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A grammar's paths ({@link Sampler#sampleAllowed}, {@link Sampler#sampleAmong}) draw with typical, Mirostat, XTC, DRY and top-n-sigma
 * what {@link Sampler#sample} draws from the logits masked to the allowed tokens: same seed, same token, step after step
 * (Mirostat's μ moving alike).
 */
class ExtraSamplersAmongTest {
    static final IntFunction<byte[]> BYTES = id -> id % 50 == 0 ? new byte[]{'\n'} : new byte[]{(byte) 'a', (byte) (id & 0x3f)};

    static List<SamplingParams> params() {
        SamplingParams base = new SamplingParams(0.8f, 40, 0.95f, 0.02f, 1.1f, 64, 0f, 0f, 9);
        DryParams dry = new DryParams(0.8f, 1.75f, 2, -1, DryParams.DEFAULT_BREAKERS);
        return List.of(base.withTypicalP(0.7f), base.withXtc(new XtcParams(0.5f, 0.05f)),
                base.withMirostat(new MirostatParams(1, 3f, 0.2f)), base.withMirostat(new MirostatParams(2, 3f, 0.2f)),
                base.withDry(dry), base.withTypicalP(0.9f).withXtc(new XtcParams(1f, 0.1f)).withDry(dry),
                new SamplingParams(0.8f, 0, 1f, 0f, 1f, 64, 0f, 0f, 10).withTypicalP(0.8f), base.withTopNSigma(1.5f),
                new SamplingParams(1.2f, 0, 1f, 0f, 1f, 64, 0f, 0f, 11).withTopNSigma(2f),
                new SamplingParams(1.5f, 40, 1f, 0f, 1f, 64, 0f, 0f, 12).withTopNSigma(1f));
    }

    @Test
    void allowedPathsDrawWhatTheMaskedSampleDraws() {
        Random rnd = new Random(31);
        int vocab = 3000;
        for (SamplingParams p : params()) {
            Sampler masked = new Sampler(p, null, BYTES, vocab), among = new Sampler(p, null, BYTES, vocab),
                    allowed = new Sampler(p, null, BYTES, vocab);
            int[] history = new int[200];
            int h = 0;
            for (int i = 0; i < 40; i++) history[h++] = rnd.nextInt(20);
            int decided = 0;
            for (int step = 0; step < 30; step++) {
                float[] l = SamplerEquivalenceTest.logits(rnd, vocab, step % 3);
                // a few repeated tokens among the allowed ones, so DRY has something to do
                int[] ids = new int[vocab];
                int n = 0;
                for (int i = 0; i < vocab; i++) if (i < 20 || rnd.nextDouble() < 0.3) ids[n++] = i;
                float[] m = new float[vocab];
                Arrays.fill(m, Float.NEGATIVE_INFINITY);
                for (int j = 0; j < n; j++) m[ids[j]] = l[ids[j]];
                int want = masked.sample(m, 0, vocab, history, h);
                int got = among.sampleAmong(l, 0, vocab, ids, n, history, h);
                assertThat(got).as("%s step %d", p, step).isEqualTo(want);
                int[] allowedIds = Arrays.copyOf(ids, n);
                int quick = allowed.sampleAllowed(l, 0, vocab, history, h, id -> Arrays.binarySearch(allowedIds, id) >= 0);
                if (quick < 0) quick = allowed.sample(m, 0, vocab, history, h);
                else decided++;
                assertThat(quick).as("%s step %d (allowed)", p, step).isEqualTo(want);
                if (h < history.length) history[h++] = want;
            }
            // with a top-k, the candidate check decides most steps itself (Mirostat and top-n-sigma never do)
            if (p.topK() > 0 && !p.mirostat().on() && p.topNSigma() <= 0) assertThat(decided).as("%s", p).isGreaterThan(20);
        }
    }
}
