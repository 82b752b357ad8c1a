package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.sampling.SamplerChain;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.util.List;

import static dev.jemma.core.engine.SamplerSetting.*;

/**
 * The sampler flags (llama.cpp's names), one set for {@code run}, {@code chat} and {@code serve}: a run's settings, and
 * a server's defaults under each request's own fields, as llama-server takes them.
 */
final class SamplingFlags {
    /** The parsed command line, for the values as typed in messages; null when the flags are set by hand. */
    @Spec
    CommandSpec spec;

    @Option(names = "--temp", paramLabel = "T", description = "temperature, 0…100; 0 = greedy (default: the file's, else 1.0)")
    Float temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "top-k; 0 = off (default: the file's, else 64)")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "top-p, 0…1; 1 = off (default: the file's, else 0.95)")
    Float topP;

    @Option(names = "--min-p", paramLabel = "P", description = "min-p, 0…1; 0 = off (default 0)")
    Float minP;

    @Option(names = "--repeat-penalty", paramLabel = "R", description = "repetition penalty, above 0 and at most 100; 1 = off (default 1)")
    Float repeatPenalty;

    @Option(names = "--repeat-last-n", paramLabel = "N", description = "tokens the penalties look back at; 0 = off, -1 = the whole context (default 64)")
    Integer repeatLastN;

    @Option(names = "--presence-penalty", paramLabel = "P", description = "presence penalty, -2…2 (default 0)")
    Float presencePenalty;

    @Option(names = "--frequency-penalty", paramLabel = "F", description = "frequency penalty, -2…2 (default 0)")
    Float frequencyPenalty;

    @Option(names = {"--top-nsigma", "--top-n-sigma"}, paramLabel = "N", description = "top-n-sigma: keep tokens within N standard deviations of the logits below the best, at most 100; 0 or below = off (default -1)")
    Float topNSigma;

    @Option(names = "--typical", paramLabel = "P", description = "locally typical sampling, 0…1; 1 = off (default 1)")
    Float typicalP;

    @Option(names = "--mirostat", paramLabel = "N", description = "Mirostat: 0 = off, 1 = Mirostat, 2 = Mirostat 2.0; replaces top-k, typical, top-p, min-p and XTC (default 0)")
    Integer mirostat;

    @Option(names = "--mirostat-lr", paramLabel = "ETA", description = "Mirostat's learning rate η, 0…10 (default 0.1)")
    Float mirostatEta;

    @Option(names = "--mirostat-ent", paramLabel = "TAU", description = "Mirostat's target entropy τ in bits, 0…100 (default 5)")
    Float mirostatTau;

    @Option(names = "--xtc-probability", paramLabel = "P", description = "XTC's chance per token of removing the top choices, 0…1; 0 = off (default 0)")
    Float xtcProbability;

    @Option(names = "--xtc-threshold", paramLabel = "P", description = "XTC's threshold, 0…1; above 0.5 = off (default 0.1)")
    Float xtcThreshold;

    @Option(names = "--dry-multiplier", paramLabel = "M", description = "DRY repetition penalty scale, 0…100; 0 = off (default 0)")
    Float dryMultiplier;

    @Option(names = "--dry-base", paramLabel = "B", description = "DRY penalty growth per token of repeat, 1…100 (default 1.75)")
    Float dryBase;

    @Option(names = "--dry-allowed-length", paramLabel = "N", description = "repeats this long go unpenalised by DRY, >= 1 (default 2)")
    Integer dryAllowedLength;

    @Option(names = "--dry-penalty-last-n", paramLabel = "N", description = "tokens DRY searches; 0 = off, -1 = the whole context (default -1)")
    Integer dryPenaltyLastN;

    @Option(names = "--dry-sequence-breaker", paramLabel = "TEXT", description = "a text DRY's repeats never extend across (repeatable; replaces the defaults \\n : \" *; 'none' = no breakers; \\n, \\t, \\\\ are escapes)")
    List<String> drySequenceBreakers;

    @Option(names = "--samplers", paramLabel = "NAMES", description = "the sampler stages to run, in order, separated by ';' (llama-cli's names: penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature, the default); a stage left out is not run")
    String samplers;

    @Option(names = {"--sampling-seq", "--sampler-seq"}, paramLabel = "LETTERS", description = "--samplers as one letter per stage, llama-cli's (default edskypmxt: e penalties, d dry, s top_n_sigma, k top_k, y typ_p, p top_p, m min_p, x xtc, t temperature)")
    String samplingSeq;

    @Option(names = {"-s", "--seed"}, paramLabel = "S", description = "random seed; -1 = a random one, as in llama.cpp (default: random)")
    Long seed;

    /** Whether any flag here was given: a server then has defaults to apply. */
    boolean any() {
        return temperature != null || topK != null || topP != null || minP != null || repeatPenalty != null || repeatLastN != null
                || presencePenalty != null || frequencyPenalty != null || topNSigma != null || typicalP != null || mirostat != null
                || mirostatEta != null || mirostatTau != null || xtcProbability != null || xtcThreshold != null || dryMultiplier != null
                || dryBase != null || dryAllowedLength != null || dryPenaltyLastN != null || drySequenceBreakers != null
                || samplers != null || samplingSeq != null || seed != null;
    }

    /** These flags, each checked against the range table, set on {@code b}; an unset flag leaves its field unset. */
    GenerationOptions.Builder applyTo(GenerationOptions.Builder b) {
        return b.temperature(check(spec, TEMPERATURE, temperature))
                .topK(check(spec, TOP_K, topK)).topP(check(spec, TOP_P, topP)).minP(check(spec, MIN_P, minP))
                .repeatPenalty(check(spec, REPEAT_PENALTY, repeatPenalty)).repeatLastN(check(spec, REPEAT_LAST_N, repeatLastN))
                .presencePenalty(check(spec, PRESENCE_PENALTY, presencePenalty)).frequencyPenalty(check(spec, FREQUENCY_PENALTY, frequencyPenalty))
                .seed(seed)
                .typicalP(check(spec, TYPICAL_P, typicalP))
                .mirostat(check(spec, MIROSTAT, mirostat))
                .mirostatEta(check(spec, MIROSTAT_ETA, mirostatEta))
                .mirostatTau(check(spec, MIROSTAT_TAU, mirostatTau))
                .xtcProbability(check(spec, XTC_PROBABILITY, xtcProbability))
                .xtcThreshold(check(spec, XTC_THRESHOLD, xtcThreshold))
                .dryMultiplier(check(spec, DRY_MULTIPLIER, dryMultiplier))
                .dryBase(check(spec, DRY_BASE, dryBase))
                .dryAllowedLength(check(spec, DRY_ALLOWED_LENGTH, dryAllowedLength))
                .dryPenaltyLastN(check(spec, DRY_PENALTY_LAST_N, dryPenaltyLastN))
                .drySequenceBreakers(breakers())
                .topNSigma(check(spec, TOP_N_SIGMA, topNSigma)).samplers(chain());
    }

    /** These flags alone as options, a bad value one line naming its flag. */
    GenerationOptions options() {
        try {
            return applyTo(GenerationOptions.builder()).build();
        } catch (IllegalArgumentException e) {
            throw new JemmaException(e.getMessage());
        }
    }

    /** --samplers or --sampling-seq as a chain, null when neither is given; a bad name is one line naming flag and value. */
    SamplerChain chain() {
        if (samplers != null && samplingSeq != null) throw new JemmaException("--samplers and --sampling-seq cannot be combined (both set the sampler order)");
        try {
            if (samplers != null) return SamplerChain.ofNames(samplers);
            if (samplingSeq != null) return SamplerChain.ofLetters(samplingSeq);
            return null;
        } catch (IllegalArgumentException e) {
            throw new JemmaException((samplers != null ? "--samplers " + samplers : "--sampling-seq " + samplingSeq) + ": " + e.getMessage());
        }
    }

    /**
     * {@code v} checked against the one range table, an error naming the flag and the value as typed; {@code spec} is
     * the parsed command line (null when the flags were set by hand).
     */
    static <N extends Number> N check(CommandSpec spec, SamplerSetting s, N v) {
        return s.check(s.flag(), v, sent(spec, s.flag(), v));
    }

    /** The text given to {@code flag} ("0", "1e-50"), where the parsed float would print "0.0"; the value when unknown. */
    private static String sent(CommandSpec spec, String flag, Number v) {
        OptionSpec o = spec == null ? null : spec.findOption(flag);
        List<String> typed = o == null ? List.of() : o.originalStringValues();
        return typed.isEmpty() ? String.valueOf(v) : typed.getLast();
    }

    /**
     * --dry-sequence-breaker as llama-cli takes it: the breakers given replace the defaults, "none" alone means none, and
     * escapes (\\n, \\t, \\", \\\\) let a shell pass a newline; null when not given.
     */
    List<String> breakers() {
        if (drySequenceBreakers == null || drySequenceBreakers.isEmpty()) return null;
        if (drySequenceBreakers.size() == 1 && drySequenceBreakers.getFirst().equals("none")) return List.of();
        List<String> out = new java.util.ArrayList<>();
        for (String b : drySequenceBreakers) {
            String t = unescape(b);
            if (t.isEmpty()) throw new IllegalArgumentException("--dry-sequence-breaker: must not be empty ('none' for no breakers)");
            if (b.equals("none")) throw new IllegalArgumentException("--dry-sequence-breaker none: only alone (it means no breakers)");
            out.add(t);
        }
        return out;
    }

    static String unescape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case 'r' -> sb.append('\r');
                    case '"' -> sb.append('"');
                    case '\'' -> sb.append('\'');
                    case '\\' -> sb.append('\\');
                    default -> sb.append(c).append(n);
                }
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

}
