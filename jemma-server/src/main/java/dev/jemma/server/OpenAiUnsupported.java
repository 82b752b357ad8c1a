package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.Printable;

/**
 * OpenAI request fields that would change the answer but that Jemma cannot honour. Each is refused with a 400 naming
 * it: an answer made without what the client asked for, with a 200, is worse than no answer. Fields that leave the
 * answer as it is ({@code user}, {@code store}, {@code metadata}, {@code service_tier}, {@code prediction}, …) pass,
 * as does the neutral value of a refused one ({@code logit_bias: {}}, {@code modalities: ["text"]}, {@code echo: false},
 * {@code best_of: 1}), which clients send by default.
 */
final class OpenAiUnsupported {
    private OpenAiUnsupported() {
    }

    static void refuse(JsonNode body, boolean chat) {
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
