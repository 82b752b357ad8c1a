package dev.jemma.core.sampling;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One stage of llama.cpp's sampler chain, with the letter ({@code --sampling-seq}) and the names ({@code --samplers},
 * llama-server's {@code samplers}) llama.cpp takes for it: the canonical name, its kebab-case and no-dash spellings
 * ("top-k", "topk") as llama.cpp derives them, and its aliases. Declared in llama.cpp's default order.
 */
public enum SamplerStage {
    PENALTIES('e', "penalties"),
    DRY('d', "dry"),
    TOP_N_SIGMA('s', "top_n_sigma", "top-n-sigma", "topnsigma"),
    TOP_K('k', "top_k", "top-k", "topk"),
    TYPICAL_P('y', "typ_p", "typ-p", "typp", "typ"),
    TOP_P('p', "top_p", "top-p", "topp", "nucleus"),
    MIN_P('m', "min_p", "min-p", "minp"),
    XTC('x', "xtc"),
    TEMPERATURE('t', "temperature", "temp");

    private final char letter;
    private final List<String> names;

    SamplerStage(char letter, String... names) {
        this.letter = letter;
        this.names = List.of(names);
    }

    /** The letter of {@code --sampling-seq} and of llama-server's {@code samplers} given as one string. */
    public char letter() {
        return letter;
    }

    /** llama.cpp's canonical name ("top_k"). */
    public String canonicalName() {
        return names.getFirst();
    }

    /** The stage a name (any case) stands for, or null when it is none of llama.cpp's names for Jemma's stages. */
    public static SamplerStage named(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (SamplerStage s : values()) if (s.names.contains(n)) return s;
        // spellings clients send beside llama.cpp's own (Jemma took them before llama.cpp's list was checked)
        return switch (n) {
            case "top-nsigma" -> TOP_N_SIGMA;
            case "typical_p", "typical-p", "typical" -> TYPICAL_P;
            default -> null;
        };
    }

    /** The stage of a letter, or null. */
    public static SamplerStage ofLetter(char c) {
        for (SamplerStage s : values()) if (s.letter == c) return s;
        return null;
    }

    /** Why llama.cpp knows a name or letter Jemma has no stage for, or null when llama.cpp does not know it either. */
    static String unsupported(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "infill", "i" -> "infill (llama.cpp's fill-in-the-middle sampler) is not supported by Jemma";
            case "adaptive_p", "adaptive-p", "adaptivep", "a" -> "adaptive_p is not supported by Jemma";
            default -> null;
        };
    }

    /** Every stage's names, for error messages: "penalties (e), dry (d), …". */
    static String known() {
        List<String> all = new ArrayList<>();
        for (SamplerStage s : values()) all.add(s.canonicalName() + " (" + s.letter + ")");
        return String.join(", ", all);
    }
}
