package dev.jemma.cli;

import dev.jemma.core.sampling.DryParams;
import dev.jemma.core.sampling.MirostatParams;
import dev.jemma.core.sampling.SamplingParams;

/**
 * The ranges of llama.cpp's other samplers (typical, Mirostat, XTC, DRY) as the servers' APIs take them, for the CLI's
 * flags and chat's {@code /set}: each check throws {@link IllegalArgumentException} naming the flag or parameter as the
 * user wrote it, and the value.
 */
final class SamplerRanges {
    private SamplerRanges() {
    }

    static Float unit(String name, Float v, String off) {
        return range(name, v, 0, 1, off);
    }

    static Float range(String name, Float v, double min, double max, String off) {
        if (v != null && !(v >= min && v <= max)) {
            throw new IllegalArgumentException(name + " " + v + ": must be between " + fmt(min) + " and " + fmt(max) + (off.isEmpty() ? "" : " (" + off + ")"));
        }
        return v;
    }

    static Float topNSigma(String name, Float v) {
        if (v != null && !(v <= SamplingParams.MAX_TOP_N_SIGMA)) {
            throw new IllegalArgumentException(name + " " + v + ": must be at most " + SamplingParams.MAX_TOP_N_SIGMA + " (0 or below = off)");
        }
        return v;
    }

    static Integer mirostat(String name, Integer v) {
        if (v != null && (v < 0 || v > 2)) throw new IllegalArgumentException(name + " " + v + ": must be 0 (off), 1 (Mirostat) or 2 (Mirostat 2.0)");
        return v;
    }

    static Float tau(String name, Float v) {
        return range(name, v, 0, MirostatParams.MAX_TAU, "");
    }

    static Float eta(String name, Float v) {
        return range(name, v, 0, MirostatParams.MAX_ETA, "");
    }

    static Float dryMultiplier(String name, Float v) {
        return range(name, v, 0, DryParams.MAX_MULTIPLIER, "0 = off");
    }

    static Float dryBase(String name, Float v) {
        return range(name, v, 1, DryParams.MAX_BASE, "");
    }

    static Integer atLeast(String name, Integer v, int min, String meaning) {
        if (v != null && v < min) throw new IllegalArgumentException(name + " " + v + ": must be >= " + min + (meaning.isEmpty() ? "" : " (" + meaning + ")"));
        return v;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
