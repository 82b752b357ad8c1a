package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.Printable;

import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * OpenAI request fields that would change the answer but that Jemma cannot honour, and fields it does not know. Each
 * is refused with a 400 naming it: an answer made without what the client asked for, with a 200, is worse than no
 * answer. Fields that leave the answer as it is ({@code user}, {@code store}, {@code metadata}, {@code service_tier},
 * {@code prediction}, llama-server's {@code cache_prompt}, …) pass,
 * as does the neutral value of a refused one ({@code logit_bias: {}}, {@code modalities: ["text"]}, {@code echo: false},
 * {@code best_of: 1}), which clients send by default.
 */
final class OpenAiUnsupported {
    private OpenAiUnsupported() {
    }

    /**
     * The fields both endpoints know: read by {@link OpenAiApi} (llama-server's sampling and grammar extensions
     * included), refused by value below, or accepted because they leave the answer as it is.
     */
    private static final Set<String> COMMON = Set.of("model", "stream", "stream_options", "n", "max_tokens", "stop", "temperature",
            "top_p", "top_k", "min_p", "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty", "seed",
            "ignore_eos", "logprobs", "response_format", "grammar", "json_schema", "logit_bias", "user", "store", "metadata",
            "service_tier", "safety_identifier", "prompt_cache_key", "cache_prompt", "typical_p", "mirostat", "mirostat_tau",
            "mirostat_eta", "xtc_probability", "xtc_threshold", "dry_multiplier", "dry_base", "dry_allowed_length",
            "dry_penalty_last_n", "dry_sequence_breakers", "top_n_sigma", "samplers");
    private static final Set<String> CHAT = union(COMMON, "messages", "max_completion_tokens", "top_logprobs", "tools",
            "tool_choice", "parallel_tool_calls", "functions", "function_call", "reasoning_effort", "modalities", "audio",
            "web_search_options", "prediction");
    private static final Set<String> COMPLETIONS = union(COMMON, "prompt", "suffix", "echo", "best_of", "tools");

    private static Set<String> union(Set<String> base, String... more) {
        Set<String> all = new HashSet<>(base);
        all.addAll(List.of(more));
        return Set.copyOf(all);
    }

    static void refuse(JsonNode body, boolean chat) {
        // a field this endpoint does not know is refused by name, as /v1/embeddings does (and OpenAI itself)
        Set<String> known = chat ? CHAT : COMPLETIONS;
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) {
                throw HttpError.badRequest("field '" + Printable.of(f) + "' is not supported by " + (chat ? "/v1/chat/completions" : "/v1/completions"));
            }
        }
        JsonNode bias = body.get("logit_bias");
        if (present(bias) && !(bias.isObject() && bias.isEmpty())) {
            throw HttpError.badRequest("field 'logit_bias' is not supported (Jemma cannot bias tokens); leave it out");
        }
        JsonNode modalities = body.get("modalities");
        if (present(modalities)) {
            if (!modalities.isArray()) throw HttpError.badRequest("field 'modalities' must be an array of strings");
            for (JsonNode m : modalities) {
                if (!(m.isTextual() && m.asText().equals("text"))) {
                    throw HttpError.badRequest("field 'modalities': only \"text\" output is supported, not " + Printable.line(m.toString()));
                }
            }
        }
        if (present(body.get("audio"))) {
            throw HttpError.badRequest("field 'audio' asks for a spoken answer, which Jemma cannot give (text only); leave it out");
        }
        if (present(body.get("web_search_options"))) {
            throw HttpError.badRequest("field 'web_search_options' is not supported (Jemma cannot search the web); leave it out");
        }
        if (!chat) {
            if (Params.bool(body, "echo", false)) {
                throw HttpError.badRequest("field 'echo' is not supported (the answer never repeats the prompt); leave it out or send false");
            }
            Integer bestOf = Params.integer(body, "best_of", null);
            if (bestOf != null && bestOf != 1) throw HttpError.badRequest("field 'best_of': only 1 is supported");
        }
    }

    private static boolean present(JsonNode n) {
        return n != null && !n.isNull();
    }
}
