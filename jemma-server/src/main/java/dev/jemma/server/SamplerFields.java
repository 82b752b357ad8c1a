package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.SamplerSetting;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The samplers beyond OpenAI's that llama-server's and Ollama's clients send (Open WebUI, Modelfiles, SillyTavern):
 * locally typical, Mirostat, XTC, DRY and top-n-sigma, under llama-server's names, which Ollama's {@code options} share for the ones
 * it has ({@code typical_p}, {@code mirostat}, {@code mirostat_tau}, {@code mirostat_eta}). Each is range-checked with a
 * 400 naming it; the ranges are {@link SamplerSetting}'s, which the CLI's flags share.
 */
final class SamplerFields {
    private SamplerFields() {
    }

    static final Set<String> NAMES = Set.of("typical_p", "mirostat", "mirostat_tau", "mirostat_eta", "xtc_probability",
            "xtc_threshold", "dry_multiplier", "dry_base", "dry_allowed_length", "dry_penalty_last_n", "dry_sequence_breakers",
            "top_n_sigma");

    /** The fields as sent; null = not sent. */
    record Values(Float typicalP, Integer mirostat, Float mirostatTau, Float mirostatEta, Float xtcProbability,
                  Float xtcThreshold, Float dryMultiplier, Float dryBase, Integer dryAllowedLength, Integer dryPenaltyLastN,
                  List<String> drySequenceBreakers, Float topNSigma, Set<Stage> omitted) {
        static final Values NONE = new Values(null, null, null, null, null, null, null, null, null, null, null, null, Set.of());

        void applyTo(GenerationOptions.Builder b) {
            b.typicalP(typicalP).mirostat(mirostat).mirostatTau(mirostatTau).mirostatEta(mirostatEta)
                    .xtcProbability(xtcProbability).xtcThreshold(xtcThreshold).dryMultiplier(dryMultiplier).dryBase(dryBase)
                    .dryAllowedLength(dryAllowedLength).dryPenaltyLastN(dryPenaltyLastN).drySequenceBreakers(drySequenceBreakers)
                    .topNSigma(topNSigma);
            // a stage left out of llama-server's samplers list is not applied, whatever its fields say; under Mirostat
            // llama.cpp ignores the list (its Mirostat chain is temperature and Mirostat), so the temperature stays
            if (mirostat == null || mirostat == 0) for (Stage s : omitted) s.off(b);
        }
    }

    /**
     * Reads the fields from {@code o} (a /v1 request's body, or Ollama's {@code options}), each range-checked against
     * {@link SamplerSetting}'s table; errors name a field {@code prefix + name}, as the client sent it
     * ({@code "options."} for Ollama's).
     */
    static Values parse(JsonNode o, String prefix) {
        return new Values(
                Params.setting(o, prefix, SamplerSetting.TYPICAL_P),
                Params.intSetting(o, prefix, SamplerSetting.MIROSTAT),
                Params.setting(o, prefix, SamplerSetting.MIROSTAT_TAU),
                Params.setting(o, prefix, SamplerSetting.MIROSTAT_ETA),
                Params.setting(o, prefix, SamplerSetting.XTC_PROBABILITY),
                Params.setting(o, prefix, SamplerSetting.XTC_THRESHOLD),
                Params.setting(o, prefix, SamplerSetting.DRY_MULTIPLIER),
                Params.setting(o, prefix, SamplerSetting.DRY_BASE),
                Params.intSetting(o, prefix, SamplerSetting.DRY_ALLOWED_LENGTH),
                Params.intSetting(o, prefix, SamplerSetting.DRY_PENALTY_LAST_N),
                breakers(o, prefix),
                Params.setting(o, prefix, SamplerSetting.TOP_N_SIGMA),
                omitted(o, prefix));
    }

    /**
     * llama.cpp's default sampler order, each stage with the letter and names llama-server's {@code samplers} takes: the
     * canonical name, its kebab-case and no-dash spellings ("top-k", "topk"), as llama.cpp derives them, and aliases.
     */
    enum Stage {
        PENALTIES('e', "penalties"), DRY('d', "dry"), TOP_N_SIGMA('s', "top_n_sigma", "top-n-sigma", "topnsigma", "top-nsigma"),
        TOP_K('k', "top_k", "top-k", "topk"), TYPICAL('y', "typ_p", "typ-p", "typp", "typ", "typical_p", "typical-p", "typical"),
        TOP_P('p', "top_p", "top-p", "topp", "nucleus"), MIN_P('m', "min_p", "min-p", "minp"), XTC('x', "xtc"),
        TEMPERATURE('t', "temperature", "temp");

        final char letter;
        final List<String> names;

        Stage(char letter, String... names) {
            this.letter = letter;
            this.names = List.of(names);
        }

        static Stage of(String name) {
            for (Stage s : values()) if (s.names.contains(name.toLowerCase(Locale.ROOT))) return s;
            return null;
        }

        static Stage of(char letter) {
            for (Stage s : values()) if (s.letter == letter) return s;
            return null;
        }

        /** The stage's neutral settings: llama.cpp does not run a stage left out of the list. */
        void off(GenerationOptions.Builder b) {
            switch (this) {
                case PENALTIES -> b.repeatPenalty(1f).presencePenalty(0f).frequencyPenalty(0f);
                case DRY -> b.dryMultiplier(0f);
                case TOP_N_SIGMA -> b.topNSigma(-1f);
                case TOP_K -> b.topK(0);
                case TYPICAL -> b.typicalP(1f);
                case TOP_P -> b.topP(1f);
                case MIN_P -> b.minP(0f);
                case XTC -> b.xtcProbability(0f);
                // no temperature stage: llama.cpp draws from the unscaled distribution
                case TEMPERATURE -> b.temperature(1f);
            }
        }
    }

    private static final String ORDER = "penalties, dry, top_n_sigma, top_k, typ_p, top_p, min_p, xtc, temperature (letters edskypmxt)";

    /**
     * llama-server's {@code samplers}: the stages to run, as names or as one string of letters ("edskypmxt"). Jemma's
     * order is llama.cpp's default, so a list in that order (any stages left out) is honoured — the stages left out are
     * not applied — and any other order is refused. Returns the stages left out; none when the field is absent.
     */
    private static Set<Stage> omitted(JsonNode o, String prefix) {
        JsonNode n = o.get("samplers");
        if (n == null || n.isNull()) return Set.of();
        List<Stage> listed = new ArrayList<>();
        if (n.isTextual()) {
            for (char c : n.asText().toCharArray()) {
                Stage s = Stage.of(c);
                if (s == null) throw HttpError.badRequest("field '" + prefix + "samplers': unknown sampler letter '" + c + "' (Jemma's: " + ORDER + ")");
                listed.add(s);
            }
        } else if (n.isArray()) {
            for (JsonNode e : n) {
                Stage s = e.isTextual() ? Stage.of(e.asText()) : null;
                if (s == null) {
                    throw HttpError.badRequest("field '" + prefix + "samplers': unknown or unsupported sampler " + dev.jemma.core.Printable.line(e.toString()) + " (Jemma's: " + ORDER + ")");
                }
                listed.add(s);
            }
        } else {
            throw HttpError.badRequest("field '" + prefix + "samplers' must be an array of sampler names or a string of sampler letters");
        }
        for (int i = 1; i < listed.size(); i++) {
            if (listed.get(i).ordinal() <= listed.get(i - 1).ordinal()) {
                throw HttpError.badRequest("field '" + prefix + "samplers': Jemma runs the samplers in llama.cpp's default order only (" + ORDER
                        + "), each once; leave one out to skip it");
            }
        }
        EnumSet<Stage> out = EnumSet.allOf(Stage.class);
        listed.forEach(out::remove);
        return out;
    }

    /** llama-server's {@code dry_sequence_breakers}: an array of non-empty strings (empty: none). */
    private static List<String> breakers(JsonNode o, String prefix) {
        JsonNode n = o.get("dry_sequence_breakers");
        if (n == null || n.isNull()) return null;
        if (!n.isArray()) throw HttpError.badRequest("field '" + prefix + "dry_sequence_breakers' must be an array of strings");
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual() || e.asText().isEmpty()) throw HttpError.badRequest("field '" + prefix + "dry_sequence_breakers' must contain only non-empty strings");
            out.add(e.asText());
        }
        if (out.size() > 64) throw HttpError.badRequest("field '" + prefix + "dry_sequence_breakers': at most 64 breakers");
        return out;
    }

    /**
     * Ollama's options that its current engine dropped: {@code tfs_z} (tail-free sampling, removed from llama.cpp too)
     * and {@code penalize_newline}. Their neutral values pass, as older clients and Modelfiles send them; any other
     * value would ask for something no longer done anywhere, so it is refused with the reason.
     */
    static void refuseDropped(JsonNode options) {
        Float tfs = Params.number(options, "options.", "tfs_z", null, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
        if (tfs != null && tfs != 1f) {
            throw HttpError.badRequest("field 'options.tfs_z': tail-free sampling was removed from Ollama and llama.cpp and is not supported; send 1 (off) or leave it out (typical_p or min_p do a similar cut)");
        }
        JsonNode pn = options.get("penalize_newline");
        if (pn != null && !pn.isNull() && !Params.bool(options, "options.", "penalize_newline", true)) {
            throw HttpError.badRequest("field 'options.penalize_newline': false is not supported (Ollama dropped the option; the repeat penalty applies to every token, newlines included); send true or leave it out");
        }
    }
}
