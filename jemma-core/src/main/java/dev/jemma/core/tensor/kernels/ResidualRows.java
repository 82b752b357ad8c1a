package dev.jemma.core.tensor.kernels;

import dev.jemma.core.tensor.WeightMatrix;

import java.util.regex.Pattern;

/**
 * Which int8 calls quantize residual rows ({@link QuantizedActivations}): every call over a matrix that asks for them
 * ({@link WeightMatrix#withResidualRows}: Gemma 3n's, in the default mode); every one with {@code -Djemma.int8.residual=true};
 * otherwise those whose matrix name matches {@code -Djemma.int8.residualNames=REGEX} (e.g. {@code .*attn_(q|k|v)\.weight},
 * {@code blk\.0\..*}), limited by {@code -Djemma.int8.residualTokens=decode|batch|all} to one-token calls, calls of more
 * tokens, or both (the default). Opt-in: residual rows double the int8 work of the matrices they cover. The selective
 * form exists to measure which matrices' activation rounding decides the default mode's fidelity, and to let a user
 * buy accuracy for some matrices only (docs/PERFORMANCE.md, "Fidelity, second pass").
 */
public final class ResidualRows {
    /** Which calls by token count: one-token calls, calls of more tokens, or both. */
    enum Tokens { DECODE, BATCH, ALL }

    private static final Pattern NAMES = names(System.getProperty("jemma.int8.residualNames"));
    private static final Tokens TOKENS = tokens(System.getProperty("jemma.int8.residualTokens"));

    private ResidualRows() {
    }

    static Pattern names(String regex) {
        if (regex == null || regex.isEmpty()) return null;
        try {
            return Pattern.compile(regex);
        } catch (java.util.regex.PatternSyntaxException e) {
            throw new IllegalArgumentException("-Djemma.int8.residualNames: not a regular expression: " + regex);
        }
    }

    static Tokens tokens(String s) {
        if (s == null || s.isEmpty()) return Tokens.ALL;
        return switch (s) {
            case "decode" -> Tokens.DECODE;
            case "batch" -> Tokens.BATCH;
            case "all" -> Tokens.ALL;
            default -> throw new IllegalArgumentException("-Djemma.int8.residualTokens: decode, batch or all, not " + s);
        };
    }

    /** Whether a call of {@code nTokens} tokens over w quantizes residual rows too (public: models' tests ask it). */
    public static boolean wanted(WeightMatrix w, int nTokens) {
        return w.residualRows() || QuantizedActivations.RESIDUAL || wanted(w.name(), nTokens, NAMES, TOKENS);
    }

    /** The selective rule alone: w's name matches {@code names} and the call's size {@code tokens}. */
    static boolean wanted(String name, int nTokens, Pattern names, Tokens tokens) {
        if (names == null) return false;
        if (tokens == Tokens.DECODE && nTokens != 1 || tokens == Tokens.BATCH && nTokens == 1) return false;
        return names.matcher(name).matches();
    }
}
