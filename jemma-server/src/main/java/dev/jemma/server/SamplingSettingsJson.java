package dev.jemma.server;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.sampling.SamplerChain;
import dev.jemma.core.sampling.SamplerStage;
import dev.jemma.core.sampling.SamplingParams;

/**
 * The sampling settings as JSON for clients that offer them (the web page's settings panel): {@link #table()}, the
 * ranges every front end checks ({@link SamplerSetting}), served at {@link #PATH}, so that a client refuses what the
 * server would refuse without copying the numbers; {@link #defaults}, the value each setting takes when a request leaves
 * it out, for /api/show.
 */
final class SamplingSettingsJson {
    /** Jemma's own endpoint (GET): the range table. It needs no model, so reading it loads none. */
    static final String PATH = "/api/sampler-settings";

    private SamplingSettingsJson() {
    }

    /**
     * {@code {"settings": [{name, flag, min, max, min_exclusive, integer, rule}…], "samplers": {"default": "edskypmxt",
     * "stages": [{letter, name}…]}, "openai_max_temperature": 2}}: a bound with no limit is null; {@code min_exclusive}
     * where the minimum itself is refused (the repeat penalty's 0); {@code rule} is the wording of the server's 400.
     */
    static ObjectNode table() {
        ObjectNode o = Exchange.JSON.createObjectNode();
        ArrayNode settings = o.putArray("settings");
        for (SamplerSetting s : SamplerSetting.values()) {
            ObjectNode e = settings.addObject();
            e.put("name", s.apiName());
            e.put("flag", s.flag());
            bound(e, "min", s.min());
            bound(e, "max", s.max());
            e.put("min_exclusive", !Double.isInfinite(s.min()) && !s.accepts(s.min()));
            e.put("integer", s.integer());
            e.put("rule", s.rule());
        }
        ObjectNode samplers = o.putObject("samplers");
        samplers.put("default", SamplerChain.DEFAULT.letters());
        ArrayNode stages = samplers.putArray("stages");
        for (SamplerStage st : SamplerStage.values()) stages.addObject().put("letter", String.valueOf(st.letter())).put("name", st.canonicalName());
        o.put("openai_max_temperature", SamplerSetting.OPENAI_MAX_TEMPERATURE);
        return o;
    }

    private static void bound(ObjectNode e, String name, double v) {
        if (Double.isInfinite(v)) e.putNull(name);
        else if (v == Math.rint(v)) e.put(name, (long) v);
        else e.put(name, v);
    }

    /**
     * Every setting's value when a request leaves it out, under its API name, and {@code samplers}, the order as
     * letters: {@code defaults} (jemma serve's flags over the file's general.sampling.*) with Gemma's own for the rest;
     * a seed not set is -1 (a random one per answer), as is an unlimited {@code num_predict}.
     */
    static ObjectNode defaults(GenerationOptions defaults) {
        SamplingParams p = defaults.sampling();
        ObjectNode o = Exchange.JSON.createObjectNode();
        for (SamplerSetting s : SamplerSetting.values()) {
            Number v = value(s, defaults, p);
            if (v instanceof Float f) o.put(s.apiName(), f);
            else if (v instanceof Long l) o.put(s.apiName(), l);
            else o.put(s.apiName(), v.intValue());
        }
        o.put("samplers", p.samplers().letters());
        return o;
    }

    /** Exhaustive, so that a setting added to the table without a default here does not compile. */
    private static Number value(SamplerSetting s, GenerationOptions d, SamplingParams p) {
        return switch (s) {
            case TEMPERATURE -> p.temperature();
            case TOP_K -> p.topK();
            case TOP_P -> p.topP();
            case MIN_P -> p.minP();
            case REPEAT_PENALTY -> p.repeatPenalty();
            case REPEAT_LAST_N -> wholeContext(p.repeatLastN());
            case PRESENCE_PENALTY -> p.presencePenalty();
            case FREQUENCY_PENALTY -> p.frequencyPenalty();
            case TYPICAL_P -> p.typicalP();
            case MIROSTAT -> p.mirostat().version();
            case MIROSTAT_TAU -> p.mirostat().tau();
            case MIROSTAT_ETA -> p.mirostat().eta();
            case XTC_PROBABILITY -> p.xtc().probability();
            case XTC_THRESHOLD -> p.xtc().threshold();
            case DRY_MULTIPLIER -> p.dry().multiplier();
            case DRY_BASE -> p.dry().base();
            case DRY_ALLOWED_LENGTH -> p.dry().allowedLength();
            case DRY_PENALTY_LAST_N -> wholeContext(p.dry().penaltyLastN());
            case TOP_N_SIGMA -> p.topNSigma();
            case NUM_PREDICT -> d.maxTokensOrUnlimited();
            // the sampled seed is drawn per answer: the default is "random", not this draw
            case SEED -> d.seed() != null ? d.seed() : GenerationOptions.RANDOM_SEED;
        };
    }

    /** The samplers keep "the whole context" as the largest int; clients send and read it as -1. */
    private static int wholeContext(int n) {
        return n == Integer.MAX_VALUE ? -1 : n;
    }
}
