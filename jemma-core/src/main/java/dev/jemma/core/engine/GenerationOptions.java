package dev.jemma.core.engine;

import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.sampling.DryParams;
import dev.jemma.core.sampling.MirostatParams;
import dev.jemma.core.sampling.SamplerChain;
import dev.jemma.core.sampling.SamplingParams;
import dev.jemma.core.sampling.XtcParams;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Per-request generation settings. Every field is optional: {@code null} means "not set here", and
 * {@link #orElse(GenerationOptions)} fills unset fields from another set of options. A request's options are layered
 * over the engine's defaults ({@link EngineOptions}), which are layered over the model file's recommendations
 * ({@code general.sampling.*}), which are layered over Google's Gemma 3 defaults (temperature 1.0, top-k 64,
 * top-p 0.95). Immutable and thread-safe; build one with {@link #builder()}.
 */
public final class GenerationOptions {
    /** Unlimited: generate until a stop condition or a full context. */
    public static final int UNLIMITED = -1;
    /**
     * The largest repeat penalty the servers' APIs and the CLI take (1 = off; the lower bound is above 0). A bound, not
     * a sampling rule: far beyond it a penalty only says a typo, and the front ends agree so that what one takes, all do.
     */
    public static final int MAX_REPEAT_PENALTY = 100;
    /** Presence and frequency penalties lie within ± this, OpenAI's range, in the servers' APIs and the CLI alike. */
    public static final int MAX_ADDITIVE_PENALTY = 2;
    /**
     * The seed that asks for a random one: llama.cpp's {@code LLAMA_DEFAULT_SEED} as {@code --seed -1} and
     * llama-server's {@code "seed": -1} spell it, and Ollama passes {@code options.seed: -1} on to mean the same.
     * Kept as set (not turned into "unset") so that a request's -1 is not filled from the engine's default seed.
     */
    public static final long RANDOM_SEED = -1;

    private final Integer maxTokens;
    private final Float temperature;
    private final Integer topK;
    private final Float topP;
    private final Float minP;
    private final Float repeatPenalty;
    private final Integer repeatLastN;
    private final Float presencePenalty;
    private final Float frequencyPenalty;
    private final Long seed;
    private final List<String> stop;
    private final Boolean ignoreEos;
    private final Grammar grammar;
    private final Integer logprobs;
    private final Integer contextLength;
    private final Float typicalP;
    private final Integer mirostat;
    private final Float mirostatTau;
    private final Float mirostatEta;
    private final Float xtcProbability;
    private final Float xtcThreshold;
    private final Float dryMultiplier;
    private final Float dryBase;
    private final Integer dryAllowedLength;
    private final Integer dryPenaltyLastN;
    private final List<String> drySequenceBreakers;
    private final Float topNSigma;
    private final SamplerChain samplers;

    private GenerationOptions(Builder b) {
        maxTokens = b.maxTokens;
        temperature = b.temperature;
        topK = b.topK;
        topP = b.topP;
        minP = b.minP;
        repeatPenalty = b.repeatPenalty;
        repeatLastN = b.repeatLastN;
        presencePenalty = b.presencePenalty;
        frequencyPenalty = b.frequencyPenalty;
        seed = b.seed;
        stop = b.stop == null ? null : List.copyOf(b.stop);
        ignoreEos = b.ignoreEos;
        grammar = b.grammar;
        logprobs = b.logprobs;
        contextLength = b.contextLength;
        typicalP = b.typicalP;
        mirostat = b.mirostat;
        mirostatTau = b.mirostatTau;
        mirostatEta = b.mirostatEta;
        xtcProbability = b.xtcProbability;
        xtcThreshold = b.xtcThreshold;
        dryMultiplier = b.dryMultiplier;
        dryBase = b.dryBase;
        dryAllowedLength = b.dryAllowedLength;
        dryPenaltyLastN = b.dryPenaltyLastN;
        drySequenceBreakers = b.drySequenceBreakers == null ? null : List.copyOf(b.drySequenceBreakers);
        topNSigma = b.topNSigma;
        samplers = b.samplers;
    }

    /** No field set. */
    public static GenerationOptions none() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder pre-filled with these options, to change a few. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxTokens = maxTokens;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.minP = minP;
        b.repeatPenalty = repeatPenalty;
        b.repeatLastN = repeatLastN;
        b.presencePenalty = presencePenalty;
        b.frequencyPenalty = frequencyPenalty;
        b.seed = seed;
        b.stop = stop;
        b.ignoreEos = ignoreEos;
        b.grammar = grammar;
        b.logprobs = logprobs;
        b.contextLength = contextLength;
        b.typicalP = typicalP;
        b.mirostat = mirostat;
        b.mirostatTau = mirostatTau;
        b.mirostatEta = mirostatEta;
        b.xtcProbability = xtcProbability;
        b.xtcThreshold = xtcThreshold;
        b.dryMultiplier = dryMultiplier;
        b.dryBase = dryBase;
        b.dryAllowedLength = dryAllowedLength;
        b.dryPenaltyLastN = dryPenaltyLastN;
        b.drySequenceBreakers = drySequenceBreakers;
        b.topNSigma = topNSigma;
        b.samplers = samplers;
        return b;
    }

    /** These options, with every unset field taken from {@code fallback}. */
    public GenerationOptions orElse(GenerationOptions fallback) {
        if (fallback == null) return this;
        Builder b = toBuilder();
        if (b.maxTokens == null) b.maxTokens = fallback.maxTokens;
        if (b.temperature == null) b.temperature = fallback.temperature;
        if (b.topK == null) b.topK = fallback.topK;
        if (b.topP == null) b.topP = fallback.topP;
        if (b.minP == null) b.minP = fallback.minP;
        if (b.repeatPenalty == null) b.repeatPenalty = fallback.repeatPenalty;
        if (b.repeatLastN == null) b.repeatLastN = fallback.repeatLastN;
        if (b.presencePenalty == null) b.presencePenalty = fallback.presencePenalty;
        if (b.frequencyPenalty == null) b.frequencyPenalty = fallback.frequencyPenalty;
        if (b.seed == null) b.seed = fallback.seed;
        if (b.stop == null) b.stop = fallback.stop;
        if (b.ignoreEos == null) b.ignoreEos = fallback.ignoreEos;
        if (b.grammar == null) b.grammar = fallback.grammar;
        if (b.logprobs == null) b.logprobs = fallback.logprobs;
        if (b.contextLength == null) b.contextLength = fallback.contextLength;
        if (b.typicalP == null) b.typicalP = fallback.typicalP;
        if (b.mirostat == null) b.mirostat = fallback.mirostat;
        if (b.mirostatTau == null) b.mirostatTau = fallback.mirostatTau;
        if (b.mirostatEta == null) b.mirostatEta = fallback.mirostatEta;
        if (b.xtcProbability == null) b.xtcProbability = fallback.xtcProbability;
        if (b.xtcThreshold == null) b.xtcThreshold = fallback.xtcThreshold;
        if (b.dryMultiplier == null) b.dryMultiplier = fallback.dryMultiplier;
        if (b.dryBase == null) b.dryBase = fallback.dryBase;
        if (b.dryAllowedLength == null) b.dryAllowedLength = fallback.dryAllowedLength;
        if (b.dryPenaltyLastN == null) b.dryPenaltyLastN = fallback.dryPenaltyLastN;
        if (b.drySequenceBreakers == null) b.drySequenceBreakers = fallback.drySequenceBreakers;
        if (b.topNSigma == null) b.topNSigma = fallback.topNSigma;
        if (b.samplers == null) b.samplers = fallback.samplers;
        return b.build();
    }

    /**
     * Sampling parameters with Gemma's defaults for anything unset; an unset seed or {@link #RANDOM_SEED} draws a
     * fresh random one each call (each generation).
     */
    public SamplingParams sampling() {
        SamplingParams d = SamplingParams.GEMMA_DEFAULTS;
        return new SamplingParams(
                temperature != null ? temperature : d.temperature(),
                topK != null ? topK : d.topK(),
                topP != null ? topP : d.topP(),
                minP != null ? minP : d.minP(),
                repeatPenalty != null ? repeatPenalty : d.repeatPenalty(),
                repeatLastN != null ? repeatLastN : d.repeatLastN(),
                presencePenalty != null ? presencePenalty : d.presencePenalty(),
                frequencyPenalty != null ? frequencyPenalty : d.frequencyPenalty(),
                seed != null && seed != RANDOM_SEED ? seed : drawSeed(),
                typicalP != null ? typicalP : d.typicalP(),
                mirostat == null && mirostatTau == null && mirostatEta == null ? d.mirostat() : new MirostatParams(
                        mirostat != null ? mirostat : d.mirostat().version(),
                        mirostatTau != null ? mirostatTau : d.mirostat().tau(),
                        mirostatEta != null ? mirostatEta : d.mirostat().eta()),
                xtcProbability == null && xtcThreshold == null ? d.xtc() : new XtcParams(
                        xtcProbability != null ? xtcProbability : d.xtc().probability(),
                        xtcThreshold != null ? xtcThreshold : d.xtc().threshold()),
                dryMultiplier == null && dryBase == null && dryAllowedLength == null && dryPenaltyLastN == null && drySequenceBreakers == null ? d.dry() : new DryParams(
                        dryMultiplier != null ? dryMultiplier : d.dry().multiplier(),
                        dryBase != null ? dryBase : d.dry().base(),
                        dryAllowedLength != null ? dryAllowedLength : d.dry().allowedLength(),
                        dryPenaltyLastN != null ? dryPenaltyLastN : -1,
                        drySequenceBreakers != null ? drySequenceBreakers : d.dry().breakers()),
                topNSigma != null ? topNSigma : d.topNSigma(),
                samplers);
    }

    /** A random seed other than {@link #RANDOM_SEED}, so that the seed a generation ran with can be sent back to repeat it. */
    private static long drawSeed() {
        long s;
        do {
            s = ThreadLocalRandom.current().nextLong();
        } while (s == RANDOM_SEED);
        return s;
    }

    /** Maximum tokens to generate, or {@link #UNLIMITED}. */
    public int maxTokensOrUnlimited() {
        return maxTokens == null || maxTokens < 0 ? UNLIMITED : maxTokens;
    }

    public List<String> stopOrEmpty() {
        return stop == null ? List.of() : stop;
    }

    public boolean ignoreEosOrFalse() {
        return ignoreEos != null && ignoreEos;
    }

    public Integer maxTokens() {
        return maxTokens;
    }

    public Float temperature() {
        return temperature;
    }

    public Integer topK() {
        return topK;
    }

    public Float topP() {
        return topP;
    }

    public Float minP() {
        return minP;
    }

    public Float repeatPenalty() {
        return repeatPenalty;
    }

    public Integer repeatLastN() {
        return repeatLastN;
    }

    public Float presencePenalty() {
        return presencePenalty;
    }

    public Float frequencyPenalty() {
        return frequencyPenalty;
    }

    public Long seed() {
        return seed;
    }

    public List<String> stop() {
        return stop;
    }

    public Boolean ignoreEos() {
        return ignoreEos;
    }

    /** How many alternatives each generated token's {@link Token#logprobs()} lists, or null for no log-probabilities. */
    public Integer logprobs() {
        return logprobs;
    }

    /** The grammar the answer must follow, or null. */
    public Grammar grammar() {
        return grammar;
    }

    /**
     * The context this request may use (prompt + answer, Ollama's {@code num_ctx}), at most the session's; null = the
     * session's whole context.
     */
    public Integer contextLength() {
        return contextLength;
    }

    /** Locally typical sampling's p (1 = off). */
    public Float typicalP() {
        return typicalP;
    }

    /** Mirostat: 0 off, 1 or 2 (the version); it then replaces top-k, typical, top-p, min-p and XTC. */
    public Integer mirostat() {
        return mirostat;
    }

    /** Mirostat's target surprise τ in bits. */
    public Float mirostatTau() {
        return mirostatTau;
    }

    /** Mirostat's learning rate η. */
    public Float mirostatEta() {
        return mirostatEta;
    }

    /** XTC's chance per token (0 = off). */
    public Float xtcProbability() {
        return xtcProbability;
    }

    /** XTC's threshold (above 0.5 = off). */
    public Float xtcThreshold() {
        return xtcThreshold;
    }

    /** DRY's penalty scale (0 = off). */
    public Float dryMultiplier() {
        return dryMultiplier;
    }

    /** DRY's penalty growth per token of repeat. */
    public Float dryBase() {
        return dryBase;
    }

    /** Repeats this long go unpenalised by DRY. */
    public Integer dryAllowedLength() {
        return dryAllowedLength;
    }

    /** How many recent tokens DRY searches; 0 = off, -1 = the whole context. */
    public Integer dryPenaltyLastN() {
        return dryPenaltyLastN;
    }

    /** Texts across which DRY's repeats never extend (empty: none). */
    public List<String> drySequenceBreakers() {
        return drySequenceBreakers;
    }

    /** Top-n-sigma's n (0 or below = off). */
    public Float topNSigma() {
        return topNSigma;
    }

    /** Which sampler stages run and in what order; null = llama.cpp's default order. */
    public SamplerChain samplers() {
        return samplers;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GenerationOptions g && Objects.equals(maxTokens, g.maxTokens) && Objects.equals(temperature, g.temperature)
                && Objects.equals(topK, g.topK) && Objects.equals(topP, g.topP) && Objects.equals(minP, g.minP)
                && Objects.equals(repeatPenalty, g.repeatPenalty) && Objects.equals(repeatLastN, g.repeatLastN)
                && Objects.equals(presencePenalty, g.presencePenalty) && Objects.equals(frequencyPenalty, g.frequencyPenalty)
                && Objects.equals(seed, g.seed) && Objects.equals(stop, g.stop) && Objects.equals(ignoreEos, g.ignoreEos)
                && Objects.equals(grammar, g.grammar) && Objects.equals(logprobs, g.logprobs)
                && Objects.equals(contextLength, g.contextLength)
                && Objects.equals(typicalP, g.typicalP)
                && Objects.equals(mirostat, g.mirostat)
                && Objects.equals(mirostatTau, g.mirostatTau)
                && Objects.equals(mirostatEta, g.mirostatEta)
                && Objects.equals(xtcProbability, g.xtcProbability)
                && Objects.equals(xtcThreshold, g.xtcThreshold)
                && Objects.equals(dryMultiplier, g.dryMultiplier)
                && Objects.equals(dryBase, g.dryBase)
                && Objects.equals(dryAllowedLength, g.dryAllowedLength)
                && Objects.equals(dryPenaltyLastN, g.dryPenaltyLastN)
                && Objects.equals(drySequenceBreakers, g.drySequenceBreakers) && Objects.equals(topNSigma, g.topNSigma)
                && Objects.equals(samplers, g.samplers);
    }

    @Override
    public int hashCode() {
        return Objects.hash(maxTokens, temperature, topK, topP, minP, repeatPenalty, repeatLastN, presencePenalty, frequencyPenalty, seed, stop, ignoreEos, grammar, logprobs, contextLength,
                typicalP, mirostat, mirostatTau, mirostatEta, xtcProbability, xtcThreshold, dryMultiplier, dryBase, dryAllowedLength, dryPenaltyLastN, drySequenceBreakers, topNSigma, samplers);
    }

    @Override
    public String toString() {
        return "GenerationOptions{maxTokens=" + maxTokens + ", temperature=" + temperature + ", topK=" + topK + ", topP=" + topP
                + ", minP=" + minP + ", repeatPenalty=" + repeatPenalty + ", repeatLastN=" + repeatLastN + ", presencePenalty=" + presencePenalty
                + ", frequencyPenalty=" + frequencyPenalty + ", seed=" + seed + ", stop=" + stop + ", ignoreEos=" + ignoreEos + (logprobs != null ? ", logprobs=" + logprobs : "") + (contextLength != null ? ", contextLength=" + contextLength : "")
                + (typicalP != null ? ", typicalP=" + typicalP : "") + (mirostat != null ? ", mirostat=" + mirostat : "") + (mirostatTau != null ? ", mirostatTau=" + mirostatTau : "") + (mirostatEta != null ? ", mirostatEta=" + mirostatEta : "") + (xtcProbability != null ? ", xtcProbability=" + xtcProbability : "") + (xtcThreshold != null ? ", xtcThreshold=" + xtcThreshold : "") + (dryMultiplier != null ? ", dryMultiplier=" + dryMultiplier : "") + (dryBase != null ? ", dryBase=" + dryBase : "") + (dryAllowedLength != null ? ", dryAllowedLength=" + dryAllowedLength : "") + (dryPenaltyLastN != null ? ", dryPenaltyLastN=" + dryPenaltyLastN : "") + (drySequenceBreakers != null ? ", drySequenceBreakers=" + drySequenceBreakers : "") + (topNSigma != null ? ", topNSigma=" + topNSigma : "") + (samplers != null ? ", samplers=" + samplers : "") + (grammar != null ? ", grammar=<" + grammar.gbnf().length() + " chars>" : "") + "}";
    }

    /** Mutable builder; {@code null} leaves a field unset. */
    public static final class Builder {
        private Integer maxTokens;
        private Float temperature;
        private Integer topK;
        private Float topP;
        private Float minP;
        private Float repeatPenalty;
        private Integer repeatLastN;
        private Float presencePenalty;
        private Float frequencyPenalty;
        private Long seed;
        private List<String> stop;
        private Boolean ignoreEos;
        private Grammar grammar;
        private Integer logprobs;
        private Integer contextLength;
        private Float typicalP;
        private Integer mirostat;
        private Float mirostatTau;
        private Float mirostatEta;
        private Float xtcProbability;
        private Float xtcThreshold;
        private Float dryMultiplier;
        private Float dryBase;
        private Integer dryAllowedLength;
        private Integer dryPenaltyLastN;
        private List<String> drySequenceBreakers;
        private Float topNSigma;
        private SamplerChain samplers;

        private Builder() {
        }

        /** Maximum tokens to generate; negative = unlimited. */
        public Builder maxTokens(Integer v) {
            maxTokens = v;
            return this;
        }

        /** 0 = greedy. */
        public Builder temperature(Float v) {
            temperature = v;
            return this;
        }

        /** 0 = no top-k cut. */
        public Builder topK(Integer v) {
            topK = v;
            return this;
        }

        public Builder topP(Float v) {
            topP = v;
            return this;
        }

        public Builder minP(Float v) {
            minP = v;
            return this;
        }

        /** 1 = off. */
        public Builder repeatPenalty(Float v) {
            repeatPenalty = v;
            return this;
        }

        public Builder repeatLastN(Integer v) {
            repeatLastN = v;
            return this;
        }

        public Builder presencePenalty(Float v) {
            presencePenalty = v;
            return this;
        }

        public Builder frequencyPenalty(Float v) {
            frequencyPenalty = v;
            return this;
        }

        public Builder seed(Long v) {
            seed = v;
            return this;
        }

        /** Strings that end the generation (not included in the output). */
        public Builder stop(List<String> v) {
            stop = v;
            return this;
        }

        /** Keep generating past the end-of-turn / end-of-sequence tokens. */
        public Builder ignoreEos(Boolean v) {
            ignoreEos = v;
            return this;
        }

        /**
         * Constrains the answer to a grammar: {@link Grammar#parse} for GBNF,
         * {@link dev.jemma.core.constrain.JsonSchemaGrammar#fromSchema} for a JSON Schema,
         * {@link dev.jemma.core.constrain.JsonConstraint#grammar()} for any JSON object. The end of turn is only
         * possible where the grammar can end.
         */
        public Builder grammar(Grammar v) {
            grammar = v;
            return this;
        }

        /**
         * Reports each generated token's log-probability and those of the {@code top} most likely tokens at its position
         * ({@link Token#logprobs()}: the model's distribution, before penalties, masks and temperature); null = off.
         */
        public Builder logprobs(Integer top) {
            if (top != null && top < 0) throw new IllegalArgumentException("logprobs: the number of alternatives must be >= 0, got " + top);
            logprobs = top;
            return this;
        }

        /**
         * Limits this request to a context of {@code v} tokens (prompt + answer; Ollama's {@code num_ctx}): the
         * conversation is fitted to it and the answer stops when it is full. It cannot exceed the session's context
         * ({@link Session#contextLength()}); a larger value fails the request. Null = the session's.
         */
        public Builder contextLength(Integer v) {
            if (v != null && v < 1) throw new IllegalArgumentException("context length must be >= 1, got " + v);
            contextLength = v;
            return this;
        }

        /** Locally typical sampling's p (1 = off). */
        public Builder typicalP(Float v) {
            typicalP = v;
            return this;
        }

        /** Mirostat: 0 off, 1 or 2 (the version); it then replaces top-k, typical, top-p, min-p and XTC. */
        public Builder mirostat(Integer v) {
            mirostat = v;
            return this;
        }

        /** Mirostat's target surprise τ in bits. */
        public Builder mirostatTau(Float v) {
            mirostatTau = v;
            return this;
        }

        /** Mirostat's learning rate η. */
        public Builder mirostatEta(Float v) {
            mirostatEta = v;
            return this;
        }

        /** XTC's chance per token (0 = off). */
        public Builder xtcProbability(Float v) {
            xtcProbability = v;
            return this;
        }

        /** XTC's threshold (above 0.5 = off). */
        public Builder xtcThreshold(Float v) {
            xtcThreshold = v;
            return this;
        }

        /** DRY's penalty scale (0 = off). */
        public Builder dryMultiplier(Float v) {
            dryMultiplier = v;
            return this;
        }

        /** DRY's penalty growth per token of repeat. */
        public Builder dryBase(Float v) {
            dryBase = v;
            return this;
        }

        /** Repeats this long go unpenalised by DRY. */
        public Builder dryAllowedLength(Integer v) {
            dryAllowedLength = v;
            return this;
        }

        /** How many recent tokens DRY searches; 0 = off, -1 = the whole context. */
        public Builder dryPenaltyLastN(Integer v) {
            dryPenaltyLastN = v;
            return this;
        }

        /** Texts across which DRY's repeats never extend (empty: none). */
        public Builder drySequenceBreakers(List<String> v) {
            drySequenceBreakers = v;
            return this;
        }

        /** Top-n-sigma's n (0 or below = off). */
        public Builder topNSigma(Float v) {
            topNSigma = v;
            return this;
        }

        /**
         * Which sampler stages run and in what order (llama.cpp's {@code --samplers}): a stage left out is not run, so
         * its settings do nothing; under Mirostat the chain is ignored. Null = llama.cpp's default order.
         */
        public Builder samplers(SamplerChain v) {
            samplers = v;
            return this;
        }

        public GenerationOptions build() {
            GenerationOptions o = new GenerationOptions(this);
            if (o.temperature != null || o.topK != null || o.topP != null || o.minP != null || o.repeatPenalty != null || o.repeatLastN != null
                    || o.typicalP != null || o.mirostat != null || o.mirostatTau != null || o.mirostatEta != null || o.xtcProbability != null
                    || o.xtcThreshold != null || o.dryMultiplier != null || o.dryBase != null || o.dryAllowedLength != null
                    || o.dryPenaltyLastN != null || o.drySequenceBreakers != null || o.topNSigma != null) {
                o.sampling(); // validates ranges now, with a clear message, rather than mid-generation
            }
            return o;
        }
    }
}
