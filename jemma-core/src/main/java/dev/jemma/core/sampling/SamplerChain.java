package dev.jemma.core.sampling;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The sampler stages to run and their order, as llama.cpp's {@code --samplers}, {@code --sampling-seq} and
 * llama-server's {@code samplers} give them. A stage left out is not run; a stage listed twice runs twice (temperature
 * twice divides twice); the seeded draw always comes last. Mirostat, when on, replaces the chain, as in llama.cpp.
 * Where the temperature stage sits matters: before top-p or min-p it changes the probabilities they cut on, and a
 * temperature of 0 (greedy) keeps only the best candidate at that point. Without the temperature stage the
 * temperature is not applied at all, 0 included.
 */
public record SamplerChain(List<SamplerStage> stages) {
    /** llama.cpp's default order: penalties, DRY, top-n-sigma, top-k, typical, top-p, min-p, XTC, temperature. */
    public static final SamplerChain DEFAULT = new SamplerChain(List.of(SamplerStage.values()));

    public SamplerChain {
        if (stages == null) throw new IllegalArgumentException("the sampler chain must be a list (empty: no stage)");
        stages = List.copyOf(stages);
    }

    /**
     * llama-cli's {@code --samplers}: names separated by ';' (blank ones skipped, as llama.cpp skips what it cannot
     * match; any other unknown name is refused, where llama.cpp only warns).
     */
    public static SamplerChain ofNames(String semicolonSeparated) {
        List<String> names = new ArrayList<>();
        for (String s : semicolonSeparated.split(";", -1)) if (!s.isBlank()) names.add(s.strip());
        return ofNames(names);
    }

    /** Stages by name, in the order given; an unknown name is refused with the name and the known ones. */
    public static SamplerChain ofNames(List<String> names) {
        List<SamplerStage> out = new ArrayList<>();
        for (String n : names) {
            SamplerStage s = n == null ? null : SamplerStage.named(n);
            if (s == null) throw new IllegalArgumentException(unknown("sampler '" + n + "'", n));
            out.add(s);
        }
        return new SamplerChain(out);
    }

    /** llama-cli's {@code --sampling-seq} and llama-server's {@code samplers} as one string: one letter per stage. */
    public static SamplerChain ofLetters(String letters) {
        List<SamplerStage> out = new ArrayList<>();
        for (int i = 0; i < letters.length(); i++) {
            char c = letters.charAt(i);
            SamplerStage s = SamplerStage.ofLetter(c);
            if (s == null) throw new IllegalArgumentException(unknown("sampler letter '" + c + "'", String.valueOf(c)));
            out.add(s);
        }
        return new SamplerChain(out);
    }

    private static String unknown(String what, String name) {
        String why = name == null ? null : SamplerStage.unsupported(name);
        return why != null ? why : "unknown " + what + " (Jemma's: " + SamplerStage.known() + ")";
    }

    /** The letters, as {@code --sampling-seq} takes them ("edskypmxt" for the default). */
    public String letters() {
        return stages.stream().map(s -> String.valueOf(s.letter())).collect(Collectors.joining());
    }

    /** The canonical names separated by ';', as {@code --samplers} takes them. */
    @Override
    public String toString() {
        return stages.stream().map(SamplerStage::canonicalName).collect(Collectors.joining(";"));
    }

    /** Whether every stage is listed once, in the default order: the stages left out are then the only difference. */
    boolean inDefaultOrder() {
        for (int i = 1; i < stages.size(); i++) if (stages.get(i).ordinal() <= stages.get(i - 1).ordinal()) return false;
        return true;
    }

    /** The stages not listed. */
    EnumSet<SamplerStage> omitted() {
        EnumSet<SamplerStage> out = EnumSet.allOf(SamplerStage.class);
        stages.forEach(out::remove);
        return out;
    }
}
