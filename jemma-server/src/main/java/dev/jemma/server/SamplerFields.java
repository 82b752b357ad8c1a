package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.sampling.SamplerChain;

import java.util.ArrayList;
import java.util.List;
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
            "top_n_sigma", "samplers");

    /** The fields as sent; null = not sent. */
    record Values(Float typicalP, Integer mirostat, Float mirostatTau, Float mirostatEta, Float xtcProbability,
                  Float xtcThreshold, Float dryMultiplier, Float dryBase, Integer dryAllowedLength, Integer dryPenaltyLastN,
                  List<String> drySequenceBreakers, Float topNSigma, SamplerChain samplers) {
        static final Values NONE = new Values(null, null, null, null, null, null, null, null, null, null, null, null, null);

        void applyTo(GenerationOptions.Builder b) {
            b.typicalP(typicalP).mirostat(mirostat).mirostatTau(mirostatTau).mirostatEta(mirostatEta)
                    .xtcProbability(xtcProbability).xtcThreshold(xtcThreshold).dryMultiplier(dryMultiplier).dryBase(dryBase)
                    .dryAllowedLength(dryAllowedLength).dryPenaltyLastN(dryPenaltyLastN).drySequenceBreakers(drySequenceBreakers)
                    .topNSigma(topNSigma).samplers(samplers);
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
                samplers(o, prefix));
    }

    /**
     * llama-server's {@code samplers}: the stages to run, in order, as names or as one string of letters ("edskypmxt");
     * null when absent. Unknown names and letters, which llama.cpp skips with a warning, are a 400 naming them.
     */
    private static SamplerChain samplers(JsonNode o, String prefix) {
        JsonNode n = o.get("samplers");
        if (n == null || n.isNull()) return null;
        String field = "field '" + prefix + "samplers'";
        try {
            if (n.isTextual()) return SamplerChain.ofLetters(n.asText());
            if (n.isArray()) {
                List<String> names = new ArrayList<>();
                for (JsonNode e : n) {
                    if (!e.isTextual()) throw HttpError.badRequest(field + ": " + dev.jemma.core.Printable.line(e.toString()) + " is not a sampler name (a string)");
                    names.add(e.asText());
                }
                return SamplerChain.ofNames(names);
            }
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest(field + ": " + dev.jemma.core.Printable.line(e.getMessage()));
        }
        throw HttpError.badRequest(field + " must be an array of sampler names or a string of sampler letters");
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
