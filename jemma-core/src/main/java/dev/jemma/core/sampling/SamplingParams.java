package dev.jemma.core.sampling;

/**
 * How the next token is chosen from the logits, by default in llama.cpp's default sampler order: repetition penalties,
 * DRY, top-n-sigma, top-k, locally typical, top-p, min-p, XTC, then temperature and a seeded draw — or, with Mirostat
 * on, penalties, DRY, temperature and Mirostat's draw. {@link #samplers} picks other stages or another order, as
 * llama.cpp's {@code --samplers} does. A temperature of 0 (or below) means greedy: the best candidate where the
 * temperature stage runs, so in the default order the argmax after the penalties and DRY. Unlike llama.cpp, whose
 * greedy pick comes after the truncations, typical and XTC do not run under greedy, so they never drop the best token
 * and greedy stays the argmax it always was.
 *
 * @param temperature      divides the logits; 0 = greedy
 * @param topK             keep the k most likely tokens; 0 = all
 * @param topP             keep the smallest set whose probability reaches p; 1 = all; 0 = only the most likely token
 *                         (OpenAI and llama.cpp accept 0: the set never drops below one token)
 * @param minP             drop tokens less likely than minP × the most likely one; 0 = off
 * @param repeatPenalty    divide positive (multiply negative) logits of recently seen tokens; 1 = off
 * @param repeatLastN      how many recent tokens the penalties look at (prompt included); 0 = off; -1 = all of them (the
 *                         whole context, as llama.cpp's and Ollama's -1), held as {@link Integer#MAX_VALUE}
 * @param presencePenalty  subtracted once from the logit of every recently seen token
 * @param frequencyPenalty subtracted per occurrence from the logit of recently seen tokens
 * @param seed             seed of the random draw (same seed, same prompt, same options → same output)
 * @param typicalP         locally typical sampling (Meister et al.): keep the tokens whose surprise is closest to the
 *                         distribution's entropy until their probability exceeds p; 1 = off
 * @param mirostat         Mirostat v1 / v2, or {@link MirostatParams#OFF}
 * @param xtc              exclude top choices, or {@link XtcParams#OFF}
 * @param dry              the DRY repetition penalty, or {@link DryParams#OFF}
 * @param topNSigma        top-n-sigma (Tang et al., 2024): keep the tokens whose logit is within n standard deviations
 *                         of the logits below the best; 0 or below = off (llama.cpp's default -1)
 * @param samplers         which stages run and in what order ({@link SamplerChain}); null = {@link SamplerChain#DEFAULT}.
 *                         Ignored under Mirostat, as in llama.cpp
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, float repeatPenalty,
                             int repeatLastN, float presencePenalty, float frequencyPenalty, long seed,
                             float typicalP, MirostatParams mirostat, XtcParams xtc, DryParams dry, float topNSigma,
                             SamplerChain samplers) {
    /** Google's recommendation for Gemma 3: temperature 1.0, top-k 64, top-p 0.95; no penalties. */
    public static final SamplingParams GEMMA_DEFAULTS = new SamplingParams(1.0f, 64, 0.95f, 0.0f, 1.0f, 64, 0f, 0f, 0L);
    /** A bound that only catches typos: 100 standard deviations below the best keeps every token there is. */
    public static final int MAX_TOP_N_SIGMA = 100;

    /** The classic chain only: typical, Mirostat, XTC and DRY off. */
    public SamplingParams(float temperature, int topK, float topP, float minP, float repeatPenalty,
                          int repeatLastN, float presencePenalty, float frequencyPenalty, long seed) {
        this(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed,
                1f, MirostatParams.OFF, XtcParams.OFF, DryParams.OFF, -1f);
    }

    /** The default order ({@link SamplerChain#DEFAULT}). */
    public SamplingParams(float temperature, int topK, float topP, float minP, float repeatPenalty,
                          int repeatLastN, float presencePenalty, float frequencyPenalty, long seed,
                          float typicalP, MirostatParams mirostat, XtcParams xtc, DryParams dry, float topNSigma) {
        this(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, typicalP,
                mirostat, xtc, dry, topNSigma, null);
    }

    public SamplingParams {
        if (Float.isNaN(temperature) || temperature < 0) throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        if (!(topP >= 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in [0, 1], got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new IllegalArgumentException("min-p must be in [0, 1], got " + minP);
        if (!(repeatPenalty > 0)) throw new IllegalArgumentException("repeat penalty must be > 0, got " + repeatPenalty);
        if (repeatLastN < -1) throw new IllegalArgumentException("repeat-last-n must be >= 0, or -1 for the whole context, got " + repeatLastN);
        if (repeatLastN == -1) repeatLastN = Integer.MAX_VALUE;
        if (!(typicalP >= 0 && typicalP <= 1)) throw new IllegalArgumentException("typical-p must be in [0, 1], got " + typicalP);
        if (mirostat == null) mirostat = MirostatParams.OFF;
        if (xtc == null) xtc = XtcParams.OFF;
        if (dry == null) dry = DryParams.OFF;
        if (samplers == null) samplers = SamplerChain.DEFAULT;
        if (Float.isNaN(topNSigma) || topNSigma > MAX_TOP_N_SIGMA) throw new IllegalArgumentException("top-n-sigma must be at most " + MAX_TOP_N_SIGMA + " (0 or below = off), got " + topNSigma);
    }

    public SamplingParams withTypicalP(float v) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, v, mirostat, xtc, dry, topNSigma, samplers);
    }

    public SamplingParams withMirostat(MirostatParams v) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, typicalP, v, xtc, dry, topNSigma, samplers);
    }

    public SamplingParams withXtc(XtcParams v) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, typicalP, mirostat, v, dry, topNSigma, samplers);
    }

    public SamplingParams withDry(DryParams v) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, typicalP, mirostat, xtc, v, topNSigma, samplers);
    }

    public SamplingParams withTopNSigma(float v) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, typicalP, mirostat, xtc, dry, v, samplers);
    }

    public SamplingParams withSamplers(SamplerChain v) {
        return new SamplingParams(temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, typicalP, mirostat, xtc, dry, topNSigma, v);
    }

    /**
     * These settings as the default order runs them, or null when only a reordered chain can: under Mirostat the chain
     * is ignored, and a chain in the default order (stages left out) is the default order with the left-out stages at
     * their neutral settings — temperature 1 among them, since llama.cpp then never scales the logits (nor goes greedy).
     */
    SamplingParams inDefaultOrder() {
        if (mirostat.on() || samplers.equals(SamplerChain.DEFAULT)) return this;
        if (!samplers.inDefaultOrder()) return null;
        SamplingParams q = this;
        for (SamplerStage s : samplers.omitted()) {
            q = switch (s) {
                case PENALTIES -> new SamplingParams(q.temperature, q.topK, q.topP, q.minP, 1f, q.repeatLastN, 0f, 0f, q.seed,
                        q.typicalP, q.mirostat, q.xtc, q.dry, q.topNSigma, q.samplers);
                case DRY -> q.withDry(DryParams.OFF);
                case TOP_N_SIGMA -> q.withTopNSigma(-1f);
                case TOP_K -> new SamplingParams(q.temperature, 0, q.topP, q.minP, q.repeatPenalty, q.repeatLastN, q.presencePenalty,
                        q.frequencyPenalty, q.seed, q.typicalP, q.mirostat, q.xtc, q.dry, q.topNSigma, q.samplers);
                case TYPICAL_P -> q.withTypicalP(1f);
                case TOP_P -> new SamplingParams(q.temperature, q.topK, 1f, q.minP, q.repeatPenalty, q.repeatLastN, q.presencePenalty,
                        q.frequencyPenalty, q.seed, q.typicalP, q.mirostat, q.xtc, q.dry, q.topNSigma, q.samplers);
                case MIN_P -> new SamplingParams(q.temperature, q.topK, q.topP, 0f, q.repeatPenalty, q.repeatLastN, q.presencePenalty,
                        q.frequencyPenalty, q.seed, q.typicalP, q.mirostat, q.xtc, q.dry, q.topNSigma, q.samplers);
                case XTC -> q.withXtc(XtcParams.OFF);
                case TEMPERATURE -> new SamplingParams(1f, q.topK, q.topP, q.minP, q.repeatPenalty, q.repeatLastN, q.presencePenalty,
                        q.frequencyPenalty, q.seed, q.typicalP, q.mirostat, q.xtc, q.dry, q.topNSigma, q.samplers);
            };
        }
        return q.withSamplers(SamplerChain.DEFAULT);
    }

    /** Whether top-n-sigma cuts (it does not under Mirostat, as in llama.cpp, whose Mirostat chain has no other sampler). */
    boolean topNSigmaOn() {
        return topNSigma > 0 && !mirostat.on();
    }

    /** Whether a sampler of the chain needs the candidates sorted (the whole vocabulary without a top-k). */
    boolean truncatesBeyondTopP() {
        return typicalP < 1f || xtc.on();
    }

    public boolean greedy() {
        return temperature <= 0;
    }
}
