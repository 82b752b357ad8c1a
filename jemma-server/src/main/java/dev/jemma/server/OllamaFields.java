package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.Printable;

import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * The top-level fields /api/generate and /api/chat know; any other is refused with a 400 naming it rather than ignored
 * (as {@code options} and /api/embed already were). The common mistake it catches: a sampling option such as
 * {@code num_predict} or {@code temperature} beside {@code options} instead of inside it, which did nothing.
 */
final class OllamaFields {
    private OllamaFields() {
    }

    private static final Set<String> COMMON = Set.of("model", "name", "stream", "format", "keep_alive", "options", "think",
            "logprobs", "top_logprobs", "grammar", "json_schema", "truncate", "shift");
    private static final Set<String> GENERATE = union(COMMON, "prompt", "suffix", "system", "template", "context", "raw", "images", "audio");
    private static final Set<String> CHAT = union(COMMON, "messages", "tools", "tool_choice", "parallel_tool_calls");

    private static Set<String> union(Set<String> base, String... more) {
        Set<String> all = new HashSet<>(base);
        all.addAll(List.of(more));
        return Set.copyOf(all);
    }

    static void refuseUnknown(JsonNode body, boolean chat) {
        String endpoint = chat ? "/api/chat" : "/api/generate";
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if ((chat ? CHAT : GENERATE).contains(f)) continue;
            String hint = OllamaApi.isOption(f) ? " (a sampling option: put it inside \"options\")" : "";
            throw HttpError.badRequest("field '" + Printable.of(f) + "' is not supported by " + endpoint + hint);
        }
        // Ollama's defaults are what Jemma does: a long chat loses its oldest turns, a full context ends the answer
        if (!Params.bool(body, "truncate", true)) {
            throw HttpError.badRequest("field 'truncate': false is not supported (a conversation longer than the context loses its oldest turns); leave it out");
        }
        if (Params.bool(body, "shift", false)) {
            throw HttpError.badRequest("field 'shift': true is not supported (an answer ends when the context is full, done_reason \"length\"); leave it out");
        }
    }
}
