package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * Embeddings in both APIs: Ollama's {@code /api/embed} (batch {@code input}, {@code truncate}, {@code dimensions}) and
 * legacy {@code /api/embeddings} ({@code prompt}), OpenAI's {@code /v1/embeddings} (string, strings or token-id
 * input, {@code dimensions}, {@code encoding_format} float or base64). Served by embedding models only: a chat model
 * answers 400, as llama-server does without {@code --embeddings}.
 */
final class EmbeddingApi {
    static final Set<String> PATHS = Set.of("/api/embed", "/api/embeddings", "/v1/embeddings");
    private static final Set<String> OLLAMA_FIELDS = Set.of("model", "input", "prompt", "truncate", "dimensions", "keep_alive", "options");
    private static final Set<String> OPENAI_FIELDS = Set.of("model", "input", "dimensions", "encoding_format", "user");
    private final JemmaServer server;

    EmbeddingApi(JemmaServer server) {
        this.server = server;
    }

    void route(Exchange ex, String method, String path) {
        switch (path) {
            case "/api/embed" -> OllamaApi.only(ex, method, "POST", () -> ollama(ex, false));
            case "/api/embeddings" -> OllamaApi.only(ex, method, "POST", () -> ollama(ex, true));
            case "/v1/embeddings" -> OllamaApi.only(ex, method, "POST", () -> openai(ex));
            default -> throw HttpError.notFound("no such endpoint: " + method + " " + path);
        }
    }

    /** A field this endpoint does not know is refused by name rather than ignored. */
    private static void onlyFields(JsonNode body, Set<String> known, String endpoint) {
        for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!known.contains(f)) throw HttpError.badRequest("field '" + f + "' is not supported by " + endpoint);
        }
    }

    private static int dimensions(JsonNode body) {
        Integer d = Params.integer(body, "dimensions", 0);
        if (d < 0 || (body.has("dimensions") && !body.get("dimensions").isNull() && d == 0)) {
            throw HttpError.badRequest("field 'dimensions' must be a positive integer");
        }
        return d;
    }

    private void ollama(Exchange ex, boolean legacy) {
        long t0 = System.nanoTime();
        ObjectNode body = ex.jsonBody();
        String endpoint = legacy ? "/api/embeddings" : "/api/embed";
        onlyFields(body, OLLAMA_FIELDS, endpoint);
        String model = Params.requiredString(body, "model");
        Duration keepAlive = Params.keepAlive(body);
        JsonNode options = body.get("options");
        if (options != null && !options.isNull()) {
            if (!options.isObject()) throw HttpError.badRequest("field 'options' must be an object");
            // sampling and context options shape generation, not an embedding: refused by name, not ignored
            if (options.fieldNames().hasNext()) {
                throw HttpError.badRequest("field 'options." + options.fieldNames().next() + "' does not apply to embeddings");
            }
        }
        List<String> texts;
        if (legacy) {
            if (body.has("input")) throw HttpError.badRequest("field 'input' belongs to /api/embed; /api/embeddings takes 'prompt'");
            texts = List.of(Params.string(body, "prompt", ""));
        } else {
            if (body.has("prompt")) throw HttpError.badRequest("field 'prompt' belongs to /api/embeddings; /api/embed takes 'input'");
            texts = strings(body.get("input"));
        }
        boolean truncate = Params.bool(body, "truncate", true);
        int dims = dimensions(body);
        long load0 = System.nanoTime();
        try (ModelManager.Lease lease = server.models.acquire(model, keepAlive)) {
            long loadNanos = System.nanoTime() - load0;
            if (texts.isEmpty()) {
                // Ollama answers an empty input by loading the model and returning no vectors
                ex.json(200, obj().put("model", model).set("embeddings", Exchange.JSON.createArrayNode()));
                return;
            }
            ServedModel.Embedded e = lease.model().embed(texts, null, null, dims, truncate);
            ObjectNode o = obj();
            if (legacy) {
                o.set("embedding", vector(e.vectors().get(0)));
            } else {
                o.put("model", model);
                ArrayNode arr = o.putArray("embeddings");
                for (float[] v : e.vectors()) arr.add(vector(v));
                o.put("total_duration", System.nanoTime() - t0);
                o.put("load_duration", loadNanos);
                o.put("prompt_eval_count", e.promptTokens());
            }
            ex.json(200, o);
        }
    }

    private void openai(Exchange ex) {
        ObjectNode body = ex.jsonBody();
        onlyFields(body, OPENAI_FIELDS, "/v1/embeddings");
        String model = Params.requiredString(body, "model");
        String format = Params.string(body, "encoding_format", "float");
        if (!format.equals("float") && !format.equals("base64")) {
            throw HttpError.badRequest("field 'encoding_format' must be \"float\" or \"base64\"");
        }
        int dims = dimensions(body);
        JsonNode input = body.get("input");
        if (input == null || input.isNull()) throw HttpError.badRequest("field 'input' is required");
        List<String> texts = null;
        List<int[]> ids = null;
        if (input.isArray() && !input.isEmpty() && input.get(0).isNumber()) {
            ids = List.of(ids(input, "input"));
        } else if (input.isArray() && !input.isEmpty() && input.get(0).isArray()) {
            ids = new ArrayList<>();
            for (int i = 0; i < input.size(); i++) ids.add(ids(input.get(i), "input[" + i + "]"));
        } else {
            texts = strings(input);
            if (texts.isEmpty()) throw HttpError.badRequest("field 'input' must not be empty");
        }
        try (ModelManager.Lease lease = server.models.acquire(model, null)) {
            // OpenAI refuses over-long input rather than cutting it
            ServedModel.Embedded e = lease.model().embed(texts, ids, null, dims, false);
            ObjectNode o = obj().put("object", "list");
            ArrayNode data = o.putArray("data");
            for (int i = 0; i < e.vectors().size(); i++) {
                ObjectNode d = data.addObject().put("object", "embedding").put("index", i);
                if (format.equals("base64")) d.put("embedding", base64(e.vectors().get(i)));
                else d.set("embedding", vector(e.vectors().get(i)));
            }
            o.put("model", model);
            o.putObject("usage").put("prompt_tokens", e.promptTokens()).put("total_tokens", e.promptTokens());
            ex.json(200, o);
        }
    }

    /** A string or an array of strings. */
    private static List<String> strings(JsonNode n) {
        if (n == null || n.isNull()) return List.of();
        if (n.isTextual()) return List.of(n.asText());
        if (!n.isArray()) throw HttpError.badRequest("field 'input' must be a string or an array of strings");
        List<String> out = new ArrayList<>();
        for (JsonNode e : n) {
            if (!e.isTextual()) throw HttpError.badRequest("field 'input' must contain only strings");
            out.add(e.asText());
        }
        return out;
    }

    private static int[] ids(JsonNode n, String field) {
        if (!n.isArray() || n.isEmpty()) throw HttpError.badRequest("field '" + field + "' must be a non-empty array of token ids");
        int[] r = new int[n.size()];
        for (int i = 0; i < r.length; i++) {
            JsonNode e = n.get(i);
            if (!e.isIntegralNumber() || !e.canConvertToInt()) throw HttpError.badRequest("field '" + field + "' must contain only token ids");
            r[i] = e.asInt();
        }
        return r;
    }

    private static ArrayNode vector(float[] v) {
        ArrayNode a = Exchange.JSON.createArrayNode();
        for (float x : v) a.add(x);
        return a;
    }

    /** OpenAI's base64 encoding: the little-endian float32 bytes. */
    static String base64(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) b.putFloat(x);
        return Base64.getEncoder().encodeToString(b.array());
    }

    private static ObjectNode obj() {
        return Exchange.JSON.createObjectNode();
    }
}
