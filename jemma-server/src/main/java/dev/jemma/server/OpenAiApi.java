package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.chat.ToolCall;
import dev.jemma.core.chat.ToolCalling;
import dev.jemma.core.engine.SamplerSetting;

import java.util.List;
import java.util.UUID;

/** The OpenAI-compatible API: /v1/chat/completions, /v1/completions, /v1/models. */
final class OpenAiApi {
    private static final String SSE = "text/event-stream";
    private final JemmaServer server;

    OpenAiApi(JemmaServer server) {
        this.server = server;
    }

    void route(Exchange ex, String method, String path) {
        if (path.equals("/v1/chat/completions")) OllamaApi.only(ex, method, "POST", () -> complete(ex, true));
        else if (path.equals("/v1/completions")) OllamaApi.only(ex, method, "POST", () -> complete(ex, false));
        else if (path.equals("/v1/models")) OllamaApi.only(ex, method, "GET", () -> models(ex));
        else if (path.startsWith("/v1/models/")) OllamaApi.only(ex, method, "GET", () -> model(ex, path.substring(11)));
        else throw HttpError.notFound("no such endpoint: " + method + " " + path);
    }

    private static ObjectNode obj() {
        return Exchange.JSON.createObjectNode();
    }

    private static ObjectNode modelObject(ModelManager.Entry e) {
        return obj().put("id", e.name()).put("object", "model").put("created", e.modified().getEpochSecond())
                .put("owned_by", e.digest().isEmpty() ? "local" : "library");
    }

    private void models(Exchange ex) {
        ObjectNode o = obj().put("object", "list");
        ArrayNode data = o.putArray("data");
        for (ModelManager.Entry e : server.models.available()) data.add(modelObject(e));
        ex.json(200, o);
    }

    private void model(Exchange ex, String id) {
        ModelManager.Entry e = server.models.lookup(id).orElseThrow(() -> HttpError.notFound("model '" + id + "' not found"));
        ex.json(200, modelObject(e));
    }

    private void complete(Exchange ex, boolean chat) {
        ObjectNode body = ex.jsonBody();
        String model = Params.requiredString(body, "model");
        boolean stream = Params.bool(body, "stream", false);
        JsonNode streamOptions = body.get("stream_options");
        if (streamOptions != null && !streamOptions.isNull() && !streamOptions.isObject()) {
            throw HttpError.badRequest("field 'stream_options' must be an object such as {\"include_usage\": true}");
        }
        boolean includeUsage = streamOptions != null && streamOptions.isObject() && Params.bool(streamOptions, "include_usage", false);
        ServedModel.Options opts = options(body, chat);
        JsonNode effort = body.get("reasoning_effort");
        if (effort != null && !effort.isNull() && !(effort.isTextual() && effort.asText().equals("none"))) {
            throw HttpError.badRequest("field 'reasoning_effort': this model has no reasoning mode (Gemma 3); send \"none\" or leave it out");
        }
        if (!chat) OllamaApi.refuseSuffix(body);
        dev.jemma.core.constrain.Grammar grammar = Constraints.openAi(body);
        ToolRequest tools = chat ? ToolRequest.parse(body) : null;
        if (!chat && body.has("tools") && !body.get("tools").isNull()) throw HttpError.badRequest("field 'tools' is for /v1/chat/completions");
        boolean calling = tools != null && tools.grammar != null;
        if (calling && grammar != null) throw HttpError.badRequest("fields 'response_format' and 'tools' cannot be combined");
        ServedModel.Request req;
        List<ServedModel.Message> msgs = null;
        if (chat) {
            msgs = OllamaApi.messages(body, true);
            if (msgs.isEmpty()) throw HttpError.badRequest("field 'messages' must be a non-empty array");
            req = null; // made once the model is known: its chat template decides the tool format
        } else {
            JsonNode p = body.get("prompt");
            String prompt;
            if (p == null || p.isNull()) throw HttpError.badRequest("field 'prompt' is required");
            if (p.isTextual()) prompt = p.asText();
            else if (p.isArray() && p.size() == 1 && p.get(0).isTextual()) prompt = p.get(0).asText();
            else throw HttpError.badRequest("field 'prompt' must be a string (or an array of one string)");
            // Completions continue the text as given: no chat template (BOS is still added).
            req = new ServedModel.Request(null, prompt, null, true, null, opts, grammar);
        }
        if (server.models.lookup(model).isEmpty()) throw HttpError.notFound("model '" + model + "' not found");
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "").substring(0, 24);
        long created = System.currentTimeMillis() / 1000;
        try (Scheduler.Slot slot = server.scheduler.acquire(server.config().queueWait().toMillis());
             ModelManager.Lease lease = server.models.acquire(model, null)) {
            String name = lease.entry().name();
            ToolCalling.Format format = ToolCalling.Format.of(lease.model().info().chatTemplate());
            if (chat) req = new ServedModel.Request(ToolRequest.rewrite(msgs, tools, format), null, null, false, null, opts, calling ? tools.grammar(format) : grammar);
            boolean[] started = {false};
            int[] textOffset = {0};
            Generation.Sink send = (text, lps) -> {
                if (!stream) return true;
                if (!started[0]) {
                    ex.startStream(SSE);
                    started[0] = true;
                    if (chat && !ex.sendEvent(chunk(id, created, name, chat, obj().put("role", "assistant").put("content", ""), null))) {
                        return false;
                    }
                }
                ObjectNode c = chunk(id, created, name, chat, chat ? obj().put("content", text) : null, null, text);
                if (opts.logprobs() != null) ((ObjectNode) c.get("choices").get(0)).set("logprobs", logprobsJson(chat, lps, textOffset));
                return ex.sendEvent(c);
            };
            ToolStream ts = calling && stream ? new ToolStream(send, format) : null;
            Generation.Outcome out = Generation.run(lease, req, ts != null ? ts : send, ex::clientGone, server.metrics, ex.received);
            if (out.clientGone()) return;
            List<ToolCall> calls = calling ? format.parse(out.text()) : null;
            // an unfinished call list (cut by the token limit) goes out as the text it is
            if (calls == null && ts != null && !ts.release()) return;
            String finish = calls != null ? "tool_calls" : out.doneReason().equals("length") ? "length" : "stop";
            if (stream && calls != null) {
                if (!started[0]) {
                    ex.startStream(SSE);
                    started[0] = true;
                    ex.sendEvent(chunk(id, created, name, chat, obj().put("role", "assistant").putNull("content"), null));
                }
                ObjectNode delta = obj();
                delta.set("tool_calls", toolCalls(calls, true));
                ObjectNode c = chunk(id, created, name, chat, delta, null);
                if (opts.logprobs() != null) ((ObjectNode) c.get("choices").get(0)).set("logprobs", logprobsJson(chat, ts.heldLogprobs(), textOffset));
                ex.sendEvent(c);
            }
            ObjectNode usage = obj().put("prompt_tokens", out.result().promptTokens())
                    .put("completion_tokens", out.result().evalCount())
                    .put("total_tokens", out.result().promptTokens() + out.result().evalCount());
            usage.putObject("prompt_tokens_details").put("cached_tokens",
                    out.result().promptTokens() - out.result().promptEvalCount());
            if (stream) {
                if (!started[0]) {
                    ex.startStream(SSE);
                    if (chat) ex.sendEvent(chunk(id, created, name, chat, obj().put("role", "assistant").put("content", ""), null));
                }
                ObjectNode last = chunk(id, created, name, chat, chat ? obj() : null, finish, "");
                if (opts.logprobs() != null && !out.unsent().isEmpty()) {
                    ((ObjectNode) last.get("choices").get(0)).set("logprobs", logprobsJson(chat, out.unsent(), textOffset));
                }
                ex.sendEvent(last);
                if (includeUsage) {
                    ObjectNode u = obj().put("id", id).put("object", chat ? "chat.completion.chunk" : "text_completion")
                            .put("created", created).put("model", name).put("system_fingerprint", "jemma");
                    u.putArray("choices");
                    u.set("usage", usage);
                    ex.sendEvent(u);
                }
                ex.send("data: [DONE]\n\n");
                return;
            }
            ObjectNode o = obj().put("id", id).put("object", chat ? "chat.completion" : "text_completion")
                    .put("created", created).put("model", name).put("system_fingerprint", "jemma");
            ObjectNode choice = o.putArray("choices").addObject().put("index", 0);
            if (chat && calls != null) {
                ObjectNode msg = choice.putObject("message").put("role", "assistant").putNull("content");
                msg.set("tool_calls", toolCalls(calls, false));
            } else if (chat) choice.putObject("message").put("role", "assistant").put("content", out.text());
            else choice.put("text", out.text());
            if (opts.logprobs() != null) choice.set("logprobs", logprobsJson(chat, out.logprobs(), new int[]{0}));
            else choice.putNull("logprobs");
            choice.put("finish_reason", finish);
            o.set("usage", usage);
            ex.json(200, o);
        }
    }

    /**
     * The request's generation settings: OpenAI's fields and llama-server's sampling extensions, each range-checked
     * against {@link SamplerSetting}'s table (temperature within OpenAI's own 0…2), a 400 naming the field as sent.
     */
    static ServedModel.Options options(JsonNode body, boolean chat) {
        Integer n = Params.integer(body, "n", 1);
        if (n != 1) throw HttpError.badRequest("field 'n': only 1 choice is supported");
        String maxField = body.hasNonNull("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        Integer maxTokens = Params.integer(body, maxField, chat ? null : 16);
        if (maxTokens != null && maxTokens < 1) throw HttpError.badRequest("field '" + maxField + "' must be at least 1, got " + maxTokens);
        List<String> stops = Params.stringList(body, "stop");
        if (stops.size() > 4) throw HttpError.badRequest("field 'stop': at most 4 sequences");
        OpenAiUnsupported.refuse(body, chat);
        // Unset fields keep the model's recommended sampling (Gemma: temperature 1, top-k 64, top-p 0.95). top_k, min_p,
        // repeat_penalty and repeat_last_n are llama-server's extensions, which its clients send here too.
        Float temperature = Params.number(body, "temperature", null, Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY);
        if (temperature != null && !(SamplerSetting.TEMPERATURE.accepts(body.get("temperature").asDouble())
                && body.get("temperature").asDouble() <= SamplerSetting.OPENAI_MAX_TEMPERATURE)) {
            throw HttpError.badRequest("field 'temperature' must be between 0 and " + SamplerSetting.OPENAI_MAX_TEMPERATURE
                    + " (OpenAI's range; 0 = greedy), got " + body.get("temperature"));
        }
        return new ServedModel.Options(maxTokens, temperature,
                Params.intSetting(body, "", SamplerSetting.TOP_K), Params.setting(body, "", SamplerSetting.TOP_P),
                Params.setting(body, "", SamplerSetting.MIN_P), Params.setting(body, "", SamplerSetting.REPEAT_PENALTY),
                Params.intSetting(body, "", SamplerSetting.REPEAT_LAST_N), Params.setting(body, "", SamplerSetting.PRESENCE_PENALTY),
                Params.setting(body, "", SamplerSetting.FREQUENCY_PENALTY),
                Params.longValue(body, "seed", null), stops, null, null,
                // llama-server's extension: keep generating past the end of turn (load tests, benchmarks)
                body.has("ignore_eos") ? Params.bool(body, "ignore_eos", false) : null,
                // llama-server's other samplers: typical, Mirostat, XTC, DRY
                SamplerFields.parse(body, "")).withLogprobs(chat ? chatLogprobs(body) : legacyLogprobs(body));
    }

    /** Chat completions: {@code logprobs} (true/false) and {@code top_logprobs} (0–20, needs logprobs). */
    private static Integer chatLogprobs(JsonNode body) {
        boolean on = Params.bool(body, "logprobs", false);
        Integer top = Params.integer(body, "top_logprobs", null);
        if (top != null && (top < 0 || top > 20)) throw HttpError.badRequest("field 'top_logprobs' must be between 0 and 20");
        if (top != null && !on) throw HttpError.badRequest("field 'top_logprobs' needs \"logprobs\": true");
        return on ? (top == null ? 0 : top) : null;
    }

    /** Legacy completions: {@code logprobs} is the number of alternatives (0–5), or null for none. */
    private static Integer legacyLogprobs(JsonNode body) {
        Integer n = Params.integer(body, "logprobs", null);
        if (n != null && (n < 0 || n > 5)) throw HttpError.badRequest("field 'logprobs' must be between 0 and 5");
        return n;
    }

    /**
     * The {@code logprobs} of a choice: for chat {@code {content: [{token, logprob, bytes, top_logprobs}], refusal}};
     * for legacy completions {@code {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}}, where
     * {@code offset[0]} carries the text offset from one chunk to the next.
     */
    private static ObjectNode logprobsJson(boolean chat, List<ServedModel.Logprob> lps, int[] offset) {
        ObjectNode o = obj();
        if (chat) {
            ArrayNode content = o.putArray("content");
            for (ServedModel.Logprob lp : lps) {
                ObjectNode e = content.addObject().put("token", lp.token()).put("logprob", lp.logprob());
                OllamaApi.putBytes(e, lp.bytes());
                ArrayNode top = e.putArray("top_logprobs");
                for (ServedModel.Alternative a : lp.top()) {
                    ObjectNode t = top.addObject().put("token", a.token()).put("logprob", a.logprob());
                    OllamaApi.putBytes(t, a.bytes());
                }
            }
            o.putNull("refusal");
            return o;
        }
        ArrayNode tokens = o.putArray("tokens"), values = o.putArray("token_logprobs"), tops = o.putArray("top_logprobs"),
                offsets = o.putArray("text_offset");
        for (ServedModel.Logprob lp : lps) {
            tokens.add(lp.token());
            values.add(lp.logprob());
            // OpenAI: the alternatives and always the sampled token, so up to logprobs + 1 entries
            ObjectNode top = tops.addObject();
            for (ServedModel.Alternative a : lp.top()) top.put(a.token(), a.logprob());
            if (!top.has(lp.token())) top.put(lp.token(), lp.logprob());
            offsets.add(offset[0]);
            offset[0] += lp.token().length();
        }
        return o;
    }

    /** OpenAI's tool_calls: [{id, type: "function", function: {name, arguments: "<JSON text>"}}], with index in a stream. */
    private static ArrayNode toolCalls(List<ToolCall> calls, boolean streamed) {
        ArrayNode a = Exchange.JSON.createArrayNode();
        for (int i = 0; i < calls.size(); i++) {
            ToolCall c = calls.get(i);
            ObjectNode o = a.addObject();
            if (streamed) o.put("index", i);
            o.put("id", c.id()).put("type", "function");
            o.putObject("function").put("name", c.name()).put("arguments", c.arguments());
        }
        return a;
    }

    private static ObjectNode chunk(String id, long created, String model, boolean chat, ObjectNode delta, String finish) {
        return chunk(id, created, model, chat, delta, finish, "");
    }

    private static ObjectNode chunk(String id, long created, String model, boolean chat, ObjectNode delta, String finish, String text) {
        ObjectNode o = obj().put("id", id).put("object", chat ? "chat.completion.chunk" : "text_completion")
                .put("created", created).put("model", model).put("system_fingerprint", "jemma");
        ObjectNode c = o.putArray("choices").addObject().put("index", 0);
        if (chat) c.set("delta", delta);
        else c.put("text", text).putNull("logprobs");
        if (finish == null) c.putNull("finish_reason");
        else c.put("finish_reason", finish);
        return o;
    }
}
