package dev.jemma.core.engine;

import dev.jemma.core.sampling.DryParams;
import dev.jemma.core.sampling.MirostatParams;
import dev.jemma.core.sampling.SamplingParams;

/**
 * The range of every per-request sampling setting, one table for all front ends: the CLI's flags, chat's {@code /set},
 * the Ollama API's {@code options} and the OpenAI API's fields check a value against its entry here, so that what one
 * takes, all take. Each entry has the API name (llama-server's, which Ollama's {@code options} share), the CLI flag
 * (llama-cli's), the bounds and what the special values mean.
 *
 * <p>The bounds are the front ends', not the sampler's: where the sampler would take any value (a temperature of 1000,
 * a repeat penalty of 1e6) a bound only catches typos. The sampler's own checks ({@link SamplingParams}) stay, for the
 * Java API; a value within these bounds always passes them.
 */
public enum SamplerSetting {
    /** OpenAI's {@code /v1} keeps OpenAI's own 0…2 ({@link #OPENAI_MAX_TEMPERATURE}); elsewhere 100 only catches typos. */
    TEMPERATURE("temperature", "--temp", 0, 100, false, "0 = greedy"),
    TOP_K("top_k", "--top-k", 0, Integer.MAX_VALUE, true, "0 = off"),
    /** 0 keeps only the most likely token, as OpenAI and llama.cpp take it. */
    TOP_P("top_p", "--top-p", 0, 1, false, "1 = off"),
    MIN_P("min_p", "--min-p", 0, 1, false, "0 = off"),
    /** Above 0 (it divides the logits; llama.cpp's 0 divides by zero), 1 = off. */
    REPEAT_PENALTY("repeat_penalty", "--repeat-penalty", 0, GenerationOptions.MAX_REPEAT_PENALTY, false, "1 = off") {
        @Override
        public boolean accepts(double v) {
            return v > 0 && v <= max;
        }

        @Override
        public String rule() {
            return "above 0 and at most " + fmt(max) + " (" + meaning + ")";
        }
    },
    REPEAT_LAST_N("repeat_last_n", "--repeat-last-n", -1, Integer.MAX_VALUE, true, "-1 = the whole context, 0 = off"),
    PRESENCE_PENALTY("presence_penalty", "--presence-penalty", -GenerationOptions.MAX_ADDITIVE_PENALTY, GenerationOptions.MAX_ADDITIVE_PENALTY, false, "0 = off"),
    FREQUENCY_PENALTY("frequency_penalty", "--frequency-penalty", -GenerationOptions.MAX_ADDITIVE_PENALTY, GenerationOptions.MAX_ADDITIVE_PENALTY, false, "0 = off"),
    TYPICAL_P("typical_p", "--typical", 0, 1, false, "1 = off"),
    MIROSTAT("mirostat", "--mirostat", 0, 2, true, "") {
        @Override
        public String rule() {
            return "0 (off), 1 (Mirostat) or 2 (Mirostat 2.0)";
        }
    },
    MIROSTAT_TAU("mirostat_tau", "--mirostat-ent", 0, MirostatParams.MAX_TAU, false, ""),
    MIROSTAT_ETA("mirostat_eta", "--mirostat-lr", 0, MirostatParams.MAX_ETA, false, ""),
    XTC_PROBABILITY("xtc_probability", "--xtc-probability", 0, 1, false, "0 = off"),
    XTC_THRESHOLD("xtc_threshold", "--xtc-threshold", 0, 1, false, "above 0.5 = off"),
    DRY_MULTIPLIER("dry_multiplier", "--dry-multiplier", 0, DryParams.MAX_MULTIPLIER, false, "0 = off"),
    DRY_BASE("dry_base", "--dry-base", 1, DryParams.MAX_BASE, false, ""),
    DRY_ALLOWED_LENGTH("dry_allowed_length", "--dry-allowed-length", 1, Integer.MAX_VALUE, true, ""),
    DRY_PENALTY_LAST_N("dry_penalty_last_n", "--dry-penalty-last-n", -1, Integer.MAX_VALUE, true, "-1 = the whole context, 0 = off"),
    TOP_N_SIGMA("top_n_sigma", "--top-nsigma", Double.NEGATIVE_INFINITY, SamplingParams.MAX_TOP_N_SIGMA, false, "0 or below = off"),
    /**
     * Tokens to generate: llama.cpp's and Ollama's -1 (no limit) and -2 (until the context is full) are the same here,
     * since an answer always ends when the context is full. OpenAI's {@code max_tokens} is its own (at least 1).
     */
    NUM_PREDICT("num_predict", "-n", -2, Integer.MAX_VALUE, true, "") {
        @Override
        public String rule() {
            return ">= 0, or -1 for no limit (-2, until the context is full, is the same)";
        }
    },
    /**
     * Any 64-bit integer: the same seed, prompt and settings give the same answer; -1 draws a random one, as in
     * llama.cpp and Ollama ({@link GenerationOptions#RANDOM_SEED}).
     */
    SEED("seed", "--seed", Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY, true, "-1 = random");

    /** OpenAI's range of temperature, which {@code /v1} keeps: OpenAI's clients and documentation promise it. */
    public static final int OPENAI_MAX_TEMPERATURE = 2;

    private final String apiName;
    private final String flag;
    /** The bounds, inclusive unless an entry says otherwise; infinite where there is none. */
    final double min, max;
    private final boolean integer;
    final String meaning;

    SamplerSetting(String apiName, String flag, double min, double max, boolean integer, String meaning) {
        this.apiName = apiName;
        this.flag = flag;
        this.min = min;
        this.max = max;
        this.integer = integer;
        this.meaning = meaning;
    }

    /** The name in the APIs' requests (llama-server's; Ollama's {@code options} use the same) and in chat's {@code /set}. */
    public String apiName() {
        return apiName;
    }

    /** The CLI's flag (llama-cli's name). */
    public String flag() {
        return flag;
    }

    public double min() {
        return min;
    }

    public double max() {
        return max;
    }

    /** Whether the setting is a whole number (the APIs refuse 1.5 for it). */
    public boolean integer() {
        return integer;
    }

    /** Whether {@code v} is in range (NaN never is). */
    public boolean accepts(double v) {
        return v >= min && v <= max;
    }

    /** What a value must be, for messages: "between 0 and 1 (1 = off)". */
    public String rule() {
        String range = Double.isInfinite(max) && Double.isInfinite(min) ? "any number"
                : Double.isInfinite(min) ? "at most " + fmt(max)
                : max >= Integer.MAX_VALUE ? ">= " + fmt(min)
                : "between " + fmt(min) + " and " + fmt(max);
        return meaning.isEmpty() ? range : range + " (" + meaning + ")";
    }

    /**
     * {@code v} when null or in range, else an {@link IllegalArgumentException} naming the setting as the user wrote it
     * ({@code as}: a flag, a {@code /set} name) and the value: "--typical 1.5: must be between 0 and 1 (1 = off)".
     */
    public <N extends Number> N check(String as, N v) {
        return check(as, v, v == null ? null : v.toString());
    }

    /**
     * {@link #check(String, Number)} naming the value as the user wrote it ({@code sent}: "0" or "1e-50", where the
     * parsed float would print "0.0").
     */
    public <N extends Number> N check(String as, N v, String sent) {
        if (v != null && !accepts(v.doubleValue())) throw new IllegalArgumentException(as + " " + sent + ": must be " + rule());
        return v;
    }

    /** The entry whose API name is {@code name}, or null. */
    public static SamplerSetting byApiName(String name) {
        for (SamplerSetting s : values()) if (s.apiName.equals(name)) return s;
        return null;
    }

    static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
