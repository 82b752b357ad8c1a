package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.Printable;
import dev.jemma.core.chat.ToolCall;
import dev.jemma.core.chat.ToolCalling;
import dev.jemma.core.engine.ModelCapabilities;
import dev.jemma.core.engine.SamplerSetting;
import dev.jemma.core.store.ModelRef;
import dev.jemma.tools.store.ModelPuller;
import dev.jemma.tools.store.PullListener;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The Ollama REST API (https://github.com/ollama/ollama/blob/main/docs/api.md), the parts a client needs. */
final class OllamaApi {
    private static final String NDJSON = "application/x-ndjson";
    private final JemmaServer server;
    /** What each listed model can do, probed from its headers once (a changed file is a new entry). */
    private final Map<ModelManager.Entry, ModelCapabilities> probed = new java.util.concurrent.ConcurrentHashMap<>();

    OllamaApi(JemmaServer server) {
        this.server = server;
    }

    void route(Exchange ex, String method, String path) {
        switch (path) {
            case "/api/version" -> only(ex, method, "GET", () -> ex.json(200, obj().put("version", JemmaServer.VERSION)));
            case "/api/tags" -> only(ex, method, "GET", () -> tags(ex));
            case "/api/ps" -> only(ex, method, "GET", () -> ps(ex));
            case "/api/show" -> only(ex, method, "POST", () -> show(ex));
            case "/api/generate" -> only(ex, method, "POST", () -> generate(ex, false));
            case "/api/chat" -> only(ex, method, "POST", () -> generate(ex, true));
            case "/api/pull" -> only(ex, method, "POST", () -> pull(ex));
            case "/api/delete" -> only(ex, method, "DELETE", () -> delete(ex));
            case SamplingSettingsJson.PATH -> only(ex, method, "GET", () -> ex.json(200, SamplingSettingsJson.table()));
            default -> throw HttpError.notFound("no such endpoint: " + method + " " + path);
        }
    }

    static void only(Exchange ex, String method, String allowed, Runnable r) {
        if (!method.equals(allowed) && !(allowed.equals("GET") && method.equals("HEAD"))) {
            throw new HttpError(405, "method " + method + " not allowed; use " + allowed);
        }
        r.run();
    }

    private static ObjectNode obj() {
        return Exchange.JSON.createObjectNode();
    }

    private ObjectNode details(ModelManager.Entry e, ServedModel.Info info) {
        ObjectNode d = obj();
        d.put("parent_model", "");
        d.put("format", "gguf");
        String family = info == null ? family(e) : info.family();
        d.put("family", family);
        d.putArray("families").add(family);
        d.put("parameter_size", info == null ? "" : info.parameterSize());
        d.put("quantization_level", info == null ? guessQuant(e.path().getFileName().toString()) : info.quantization());
        return d;
    }

    private ServedModel.Info loadedInfo(String name) {
        for (ModelManager.Loaded l : server.models.loaded()) if (l.entry.name().equals(name)) return l.model.info();
        return null;
    }

    private void tags(Exchange ex) {
        ObjectNode o = obj();
        ArrayNode arr = o.putArray("models");
        for (ModelManager.Entry e : server.models.available()) {
            ObjectNode m = arr.addObject();
            m.put("name", e.name());
            m.put("model", e.name());
            m.put("modified_at", e.modified().toString());
            m.put("size", e.size());
            m.put("digest", e.digest().startsWith("sha256:") ? e.digest().substring(7) : e.digest());
            m.set("details", details(e, loadedInfo(e.name())));
            // Jemma's addition (Ollama reports capabilities in /api/show only): the web page greys out embedding
            // models without loading every model to ask
            ArrayNode caps = m.putArray("capabilities");
            capabilities(e).names().forEach(caps::add);
        }
        ex.json(200, o);
    }

    /** What the entry can do: from the loaded model, else from its file's header and its mmproj's (remembered). */
    private ModelCapabilities capabilities(ModelManager.Entry e) {
        for (ModelManager.Loaded l : server.models.loaded()) if (l.entry.equals(e)) return l.model.info().capabilities();
        return probed.computeIfAbsent(e, k -> ModelCapabilities.probe(k.path()));
    }

    private void ps(Exchange ex) {
        ObjectNode o = obj();
        ArrayNode arr = o.putArray("models");
        for (ModelManager.Loaded l : server.models.loaded()) {
            ObjectNode m = arr.addObject();
            m.put("name", l.entry.name());
            m.put("model", l.entry.name());
            m.put("size", l.entry.size());
            m.put("digest", l.entry.digest().startsWith("sha256:") ? l.entry.digest().substring(7) : l.entry.digest());
            m.set("details", details(l.entry, l.model.info()));
            Instant exp = l.expiresAt;
            m.put("expires_at", exp == null ? (l.users > 0 ? Instant.now().plus(server.models.defaultKeepAlive()).toString()
                    : "0001-01-01T00:00:00Z") : exp.toString());
            m.put("size_vram", 0);
            m.put("context_length", l.model.info().contextLength());
            dev.jemma.core.engine.KvPoolStatus pool = l.model.kvPool();
            if (pool != null) m.set("kv_pool", kvPoolJson(pool));
        }
        ex.json(200, o);
    }

    /** A model's KV pool for /api/ps (Jemma's own field; Ollama clients ignore it). */
    static ObjectNode kvPoolJson(dev.jemma.core.engine.KvPoolStatus p) {
        ObjectNode o = obj();
        o.put("slots", p.slots());
        o.put("context_per_slot", p.contextLength());
        o.put("bytes_per_slot", p.bytesPerSlot());
        o.put("total_bytes", p.totalBytes());
        o.put("allocated", p.allocated());
        o.put("busy", p.busy());
        o.put("idle", p.idle());
        o.put("waiting", p.waiting());
        return o;
    }

    private void show(Exchange ex) {
        ObjectNode body = ex.jsonBody();
        String name = modelName(body);
        ModelManager.Entry e = server.models.lookup(name).orElseThrow(() -> HttpError.notFound("model '" + name + "' not found"));
        ServedModel.Info info;
        dev.jemma.core.engine.GenerationOptions sampling;
        try (ModelManager.Lease lease = server.models.acquire(e.name(), null)) {
            info = lease.model().info();
            sampling = lease.model().samplingDefaults();
        }
        ObjectNode o = obj();
        o.put("license", "");
        o.put("modelfile", "# served by jemma\nFROM " + e.path() + "\n");
        o.put("parameters", parameters(info.modelInfo(), server.config().sampling()));
        o.put("template", info.chatTemplate() == null ? "" : info.chatTemplate());
        o.set("details", details(e, info));
        ObjectNode mi = o.putObject("model_info");
        for (Map.Entry<String, Object> kv : info.modelInfo().entrySet()) mi.set(kv.getKey(), Exchange.JSON.valueToTree(kv.getValue()));
        ArrayNode caps = o.putArray("capabilities");
        info.capabilities().names().forEach(caps::add);
        o.put("modified_at", e.modified().toString());
        // Jemma's addition: every sampling setting's value when a request leaves it out (the web page's placeholders),
        // the sampler order included, which parameters leaves out
        if (sampling != null) o.set("sampling_defaults", SamplingSettingsJson.defaults(sampling));
        ex.json(200, o);
    }

    /** A GGUF's general.sampling.* keys under the names Ollama's options take them (the ones it has). */
    private static final String[][] FILE_PARAMETERS = {{"general.sampling.temp", "temperature"}, {"general.sampling.top_k", "top_k"},
            {"general.sampling.top_p", "top_p"}, {"general.sampling.min_p", "min_p"}, {"general.sampling.penalty_repeat", "repeat_penalty"},
            {"general.sampling.penalty_last_n", "repeat_last_n"}};

    /** The options of serve's sampling flags that Ollama's options have, under its names. */
    private static final List<Map.Entry<String, java.util.function.Function<dev.jemma.core.engine.GenerationOptions, Object>>> SERVE_PARAMETERS = List.of(
            Map.entry("temperature", g -> g.temperature()), Map.entry("top_k", g -> g.topK()), Map.entry("top_p", g -> g.topP()),
            Map.entry("min_p", g -> g.minP()), Map.entry("typical_p", g -> g.typicalP()), Map.entry("repeat_penalty", g -> g.repeatPenalty()),
            Map.entry("repeat_last_n", g -> g.repeatLastN()), Map.entry("presence_penalty", g -> g.presencePenalty()),
            Map.entry("frequency_penalty", g -> g.frequencyPenalty()), Map.entry("mirostat", g -> g.mirostat()),
            Map.entry("mirostat_tau", g -> g.mirostatTau()), Map.entry("mirostat_eta", g -> g.mirostatEta()), Map.entry("seed", g -> g.seed()));

    static String parameters(Map<String, Object> modelInfo) {
        return parameters(modelInfo, null);
    }

    /**
     * /api/show's {@code parameters}: Ollama lists the options a model's Modelfile sets, one {@code "%-30s %v"} line each;
     * here the defaults every answer starts from, which are the same thing: a GGUF's general.sampling.*
     * recommendations, with {@code jemma serve}'s sampling flags ({@code serve}, may be null) over them. The sampler
     * order is left out: Ollama has no such option (Jemma takes it in {@code options.samplers}, as it takes XTC and DRY;
     * /api/show's {@code sampling_defaults} has it).
     */
    static String parameters(Map<String, Object> modelInfo, dev.jemma.core.engine.GenerationOptions serve) {
        Map<String, Object> values = new java.util.LinkedHashMap<>();
        for (String[] p : FILE_PARAMETERS) {
            if (modelInfo.get(p[0]) instanceof Number v) values.put(p[1], v);
        }
        if (serve != null) {
            for (var p : SERVE_PARAMETERS) {
                Object v = p.getValue().apply(serve);
                if (v != null) values.put(p.getKey(), v);
            }
        }
        List<String> lines = new ArrayList<>();
        for (Map.Entry<String, Object> kv : values.entrySet()) {
            Object v = kv.getValue();
            String value = v instanceof Float || v instanceof Double
                    ? new java.math.BigDecimal(v.toString()).stripTrailingZeros().toPlainString() : v.toString();
            lines.add(String.format(Locale.ROOT, "%-30s %s", kv.getKey(), value));
        }
        return String.join("\n", lines);
    }

    private static String modelName(JsonNode body) {
        String m = Params.string(body, "model", null);
        if (m == null || m.isBlank()) m = Params.string(body, "name", null);
        if (m == null || m.isBlank()) throw HttpError.badRequest("field 'model' is required");
        return m;
    }

    /**
     * The {@code options} Jemma applies per request: Ollama's, and llama.cpp's samplers under llama-server's names
     * ({@link SamplerFields}). {@code tfs_z} and {@code penalize_newline}, which Ollama dropped, pass at their neutral
     * value only. {@code num_keep} (the tokens a context shift keeps) passes: Jemma never shifts the context — an
     * answer ends when it is full, and a prompt that does not fit loses whole turns or is refused — so every token is
     * kept, whatever the value.
     */
    private static final java.util.Set<String> OPTIONS = union(java.util.Set.of("num_predict", "temperature", "top_k", "top_p", "min_p",
            "repeat_penalty", "repeat_last_n", "presence_penalty", "frequency_penalty", "seed", "stop", "num_ctx", "ignore_eos",
            "tfs_z", "penalize_newline", "num_keep"), SamplerFields.NAMES);

    private static java.util.Set<String> union(java.util.Set<String> a, java.util.Set<String> b) {
        java.util.Set<String> all = new java.util.HashSet<>(a);
        all.addAll(b);
        return java.util.Set.copyOf(all);
    }
    /** Whether {@code name} is one of the per-request {@code options} (a client may put one beside them by mistake). */
    static boolean isOption(String name) {
        return OPTIONS.contains(name) || LOAD_TIME.containsKey(name);
    }

    /** Ollama's options that set up the runner when a model loads; Jemma sets those once, on jemma serve's command line. */
    private static final java.util.Map<String, String> LOAD_TIME = java.util.Map.of("num_thread", "-t", "num_batch", "--batch-chunk",
            "num_gpu", "none (Jemma runs on the CPU)", "main_gpu", "none (Jemma runs on the CPU)", "low_vram", "none (Jemma runs on the CPU)",
            "use_mmap", "none (Jemma always maps the file)", "use_mlock", "none", "numa", "none", "vocab_only", "none", "f16_kv", "none");

    static ServedModel.Options options(JsonNode body) {
        JsonNode o = body.get("options");
        if (o == null || o.isNull()) return ServedModel.Options.none();
        if (!o.isObject()) throw HttpError.badRequest("field 'options' must be an object");
        // never ignore an option silently: apply it, or say why not
        for (var it = o.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (OPTIONS.contains(f) || o.get(f).isNull()) continue;
            String flag = LOAD_TIME.get(f);
            if (flag != null) {
                throw HttpError.badRequest("field 'options." + f + "' is a load-time setting, not a per-request one; in Jemma it is set by jemma serve: " + flag);
            }
            throw HttpError.badRequest("field 'options." + Printable.line(f) + "' is not supported (supported: " + String.join(", ", new java.util.TreeSet<>(OPTIONS)) + ")");
        }
        // every error names the field as the client sent it, inside options
        String in = "options.";
        SamplerFields.refuseDropped(o);
        Integer keep = Params.integer(o, in, "num_keep", null);
        if (keep != null && keep < -1) throw HttpError.badRequest("field 'options.num_keep' must be >= -1, got " + keep);
        Integer numCtx = Params.integer(o, in, "num_ctx", null);
        if (numCtx != null && numCtx < 1) throw HttpError.badRequest("field 'options.num_ctx' must be >= 1, got " + numCtx);
        return new ServedModel.Options(
                Params.intSetting(o, in, SamplerSetting.NUM_PREDICT),
                Params.setting(o, in, SamplerSetting.TEMPERATURE),
                Params.intSetting(o, in, SamplerSetting.TOP_K),
                Params.setting(o, in, SamplerSetting.TOP_P),
                Params.setting(o, in, SamplerSetting.MIN_P),
                Params.setting(o, in, SamplerSetting.REPEAT_PENALTY),
                Params.intSetting(o, in, SamplerSetting.REPEAT_LAST_N),
                Params.setting(o, in, SamplerSetting.PRESENCE_PENALTY),
                Params.setting(o, in, SamplerSetting.FREQUENCY_PENALTY),
                Params.longValue(o, in, "seed", null),
                Params.stringList(o, in, "stop"),
                null,
                // the context of this request, within one KV slot (EngineModel refuses a larger one)
                numCtx,
                // llama.cpp's option, as the OpenAI side takes it: keep generating past the end of turn (load tests)
                o.has("ignore_eos") && !o.get("ignore_eos").isNull() ? Params.bool(o, in, "ignore_eos", false) : null,
                SamplerFields.parse(o, in));
    }

    /**
     * Ollama's {@code logprobs} (true: report each token's log-probability) and {@code top_logprobs} (0–20 alternatives
     * per token): the number of alternatives, or null when not asked for.
     */
    static Integer logprobs(JsonNode body) {
        boolean on = Params.bool(body, "logprobs", false);
        Integer top = Params.integer(body, "top_logprobs", null);
        if (top != null && (top < 0 || top > 20)) throw HttpError.badRequest("field 'top_logprobs' must be between 0 and 20");
        if (top != null && top > 0 && !on) throw HttpError.badRequest("field 'top_logprobs' needs \"logprobs\": true");
        return on ? (top == null ? 0 : top) : null;
    }

    /** Ollama's log-probabilities: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]. */
    static ArrayNode logprobsJson(List<ServedModel.Logprob> lps) {
        ArrayNode arr = Exchange.JSON.createArrayNode();
        for (ServedModel.Logprob lp : lps) {
            ObjectNode e = arr.addObject();
            e.put("token", lp.token());
            e.put("logprob", lp.logprob());
            putBytes(e, lp.bytes());
            if (!lp.top().isEmpty()) {
                ArrayNode top = e.putArray("top_logprobs");
                for (ServedModel.Alternative a : lp.top()) {
                    ObjectNode t = top.addObject().put("token", a.token()).put("logprob", a.logprob());
                    putBytes(t, a.bytes());
                }
            }
        }
        return arr;
    }

    static void putBytes(ObjectNode o, byte[] bytes) {
        ArrayNode b = o.putArray("bytes");
        for (byte x : bytes) b.add(x & 0xff);
    }

    /** Gemma 3 and 3n have no thinking mode: {@code think} may be false or absent, anything else is refused. */
    static void refuseThinking(JsonNode body) {
        JsonNode t = body.get("think");
        if (t == null || t.isNull() || (t.isBoolean() && !t.asBoolean())) return;
        throw HttpError.badRequest("field 'think': this model has no thinking mode (Gemma 3 does not think before it answers); "
                + "send false or leave it out");
    }

    /**
     * Ollama's {@code template} replaces the model's prompt template with a Go template for this request; Jemma renders
     * the model's own chat template only, so a template is refused rather than ignored ({@code raw: true} uses none).
     */
    static void refuseTemplate(JsonNode body) {
        String t = Params.string(body, "template", null);
        if (t == null || t.isEmpty()) return;
        throw HttpError.badRequest("field 'template' is not supported (Jemma uses the model's own chat template); leave it out,"
                + " or send \"raw\": true with the prompt already formatted");
    }

    /** Fill-in-the-middle: Gemma writes only after its prompt (no "insert" capability, as Ollama says of such models). */
    static void refuseSuffix(JsonNode body) {
        JsonNode s = body.get("suffix");
        if (s == null || s.isNull() || s.isTextual() && s.asText().isEmpty()) return;
        throw HttpError.badRequest("field 'suffix': this model cannot fill in the middle (no 'insert' capability; Gemma only continues"
                + " a prompt); leave it out");
    }

    static List<ServedModel.Message> messages(JsonNode body, boolean openAi) {
        JsonNode arr = body.get("messages");
        if (arr == null || arr.isNull()) return List.of();
        if (!arr.isArray()) throw HttpError.badRequest("field 'messages' must be an array");
        List<ServedModel.Message> out = new ArrayList<>();
        Map<String, String> callNames = ToolRequest.newNames();
        int i = 0;
        for (JsonNode m : arr) {
            if (!m.isObject()) throw HttpError.badRequest("messages[" + i + "] must be an object");
            String role = Params.string(m, "role", null);
            if (role == null) throw HttpError.badRequest("messages[" + i + "].role is required");
            role = switch (role) {
                case "developer" -> "system";
                case "system", "user", "assistant", "tool" -> role;
                default -> throw HttpError.badRequest("messages[" + i + "].role '" + role + "' is not one of system, user, assistant, tool");
            };
            List<dev.jemma.core.chat.ChatImage> images = new ArrayList<>();
            String field = null;
            JsonNode imgs = m.get("images");
            if (imgs != null && !imgs.isNull()) {
                // Ollama's field: base64 images, placed before the text
                field = "messages[" + i + "].images";
                images.addAll(base64Images(imgs, field));
            }
            List<dev.jemma.core.chat.ChatAudio> audio = new ArrayList<>();
            if (!openAi) {
                ollamaAudio(m, i, audio);
            } else if (m.has("audio") && !m.get("audio").isNull()) {
                throw HttpError.badRequest("messages[" + i + "].audio: send audio as an input_audio content part {\"type\": \"input_audio\", "
                        + "\"input_audio\": {\"data\": BASE64, \"format\": \"wav\"}} on /v1/chat/completions");
            }
            StringBuilder text = new StringBuilder();
            String partsField = content(m.get("content"), i, text, images, audio);
            if (partsField != null && field == null) field = partsField;
            String content = text.toString();
            JsonNode calls = m.get("tool_calls");
            List<ToolCall> toolCalls = List.of();
            if (calls != null && !calls.isNull() && !(calls.isArray() && calls.isEmpty())) {
                if (!role.equals("assistant")) throw HttpError.badRequest("messages[" + i + "].tool_calls: only assistant messages carry tool calls");
                // earlier calls stay structured until the model's tool format writes them (ToolRequest.rewrite)
                toolCalls = ToolRequest.calls(calls, i, callNames);
            }
            String toolName = null;
            if (role.equals("tool")) {
                // OpenAI names the call it answers (tool_call_id), Ollama the function (tool_name)
                toolName = Params.string(m, "tool_name", null);
                if (toolName == null) toolName = Params.string(m, "name", null);
                String id = Params.string(m, "tool_call_id", null);
                if (toolName == null && id != null) toolName = callNames.get(id);
            }
            out.add(new ServedModel.Message(role, content, images, field, audio, toolCalls, toolName, List.of()));
            i++;
        }
        return out;
    }

    /** OpenAI's {@code input_audio}: {@code {data: base64, format: "wav"}}; the clip is named after the field. */
    private static dev.jemma.core.chat.ChatAudio inputAudio(JsonNode a, String where) {
        if (a == null || !a.isObject()) throw HttpError.badRequest(where + " must be an object {data, format}");
        String format = Params.string(a, "format", null);
        if (format == null) throw HttpError.badRequest(where + ".format is required (\"wav\")");
        if (!format.equalsIgnoreCase("wav")) throw HttpError.badRequest(where + ".format '" + format + "' is not supported; supported: wav");
        return dev.jemma.core.chat.ChatAudio.of(base64Audio(a.get("data"), where + ".data"), where);
    }

    /**
     * Jemma's Ollama audio field: {@code messages[i].audio}, an array of base64 WAV files, like {@code images}; the
     * clips go before the message's text unless it places them with {@code <audio_soft_token>} markers.
     */
    private static void ollamaAudio(JsonNode m, int i, List<dev.jemma.core.chat.ChatAudio> audio) {
        JsonNode a = m.get("audio");
        if (a == null || a.isNull()) return;
        if (!a.isArray()) throw HttpError.badRequest("messages[" + i + "].audio must be an array of base64-encoded WAV files");
        for (int k = 0; k < a.size(); k++) {
            String where = "messages[" + i + "].audio[" + k + "]";
            audio.add(dev.jemma.core.chat.ChatAudio.of(base64Audio(a.get(k), where), where));
        }
    }

    private static byte[] base64Audio(JsonNode d, String where) {
        if (d == null || !d.isTextual()) throw HttpError.badRequest(where + " must be a base64 string");
        String s = d.asText();
        int comma = s.startsWith("data:") ? s.indexOf(',') : -1;   // a data: URL is accepted too
        try {
            byte[] b = java.util.Base64.getMimeDecoder().decode(comma >= 0 ? s.substring(comma + 1) : s);
            if (b.length == 0) throw HttpError.badRequest(where + " is empty");
            return b;
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest(where + " is not valid base64 (" + e.getMessage() + ")");
        }
    }

    /**
     * A message content into {@code text}: a string, or OpenAI's array of parts — {type:"text", text} and
     * {type:"image_url", image_url:{url:"data:image/…;base64,…"}}, an image part leaving an image marker where it
     * stands. Returns the field of the first image part, or null.
     */
    static String content(JsonNode c, int i, StringBuilder text, List<dev.jemma.core.chat.ChatImage> images,
                          List<dev.jemma.core.chat.ChatAudio> audio) {
        if (c == null || c.isNull()) return null;
        if (c.isTextual()) {
            text.append(c.asText());
            return null;
        }
        if (c.isArray()) {
            String first = null;
            int j = 0;
            for (JsonNode part : c) {
                String type = part.path("type").asText("");
                String field = "messages[" + i + "].content[" + j + "]";
                if (type.equals("text")) {
                    text.append(part.path("text").asText(""));
                } else if (type.equals("image_url")) {
                    JsonNode u = part.path("image_url");
                    String url = u.isTextual() ? u.asText() : u.path("url").asText(null);
                    if (url == null) throw HttpError.badRequest(field + ".image_url.url is required");
                    images.add(dataUrlImage(url, field + ".image_url.url"));
                    text.append("<start_of_image>");
                    if (first == null) first = field;
                } else if (type.equals("input_audio")) {
                    // OpenAI's audio part {data: base64, format: "wav"}; a marker keeps its place between the text parts
                    audio.add(inputAudio(part.get("input_audio"), field + ".input_audio"));
                    text.append(dev.jemma.core.chat.ChatMessage.AUDIO_MARKER);
                } else {
                    throw HttpError.badRequest(field + ": content part type '" + type + "' is not supported (text, image_url and input_audio are)");
                }
                j++;
            }
            return first;
        }
        throw HttpError.badRequest("messages[" + i + "].content must be a string or an array of parts");
    }

    /** Ollama's {@code images}: an array of base64-encoded image files. */
    static List<dev.jemma.core.chat.ChatImage> base64Images(JsonNode imgs, String field) {
        if (!imgs.isArray()) throw HttpError.badRequest("field '" + field + "' must be an array of base64-encoded images");
        List<dev.jemma.core.chat.ChatImage> out = new ArrayList<>();
        int j = 0;
        for (JsonNode im : imgs) {
            String name = field + "[" + j++ + "]";
            if (!im.isTextual()) throw HttpError.badRequest(name + " must be a base64-encoded image (a string)");
            out.add(dev.jemma.core.chat.ChatImage.of(base64(im.asText(), name), name));
        }
        return out;
    }

    /** An OpenAI image URL: only {@code data:} URLs (remote URLs are not fetched). */
    static dev.jemma.core.chat.ChatImage dataUrlImage(String url, String field) {
        if (!url.regionMatches(true, 0, "data:", 0, 5)) {
            String scheme = url.contains(":") ? url.substring(0, url.indexOf(':')) : url;
            throw HttpError.badRequest(field + ": only data: URLs are accepted (data:image/png;base64,…); '" + (scheme.length() > 20 ? scheme.substring(0, 20) + "…" : scheme)
                    + ":' URLs are not fetched");
        }
        int comma = url.indexOf(',');
        if (comma < 0 || !url.substring(0, comma).toLowerCase(java.util.Locale.ROOT).endsWith(";base64")) {
            throw HttpError.badRequest(field + ": a data: URL must be base64-encoded (data:image/png;base64,…)");
        }
        return dev.jemma.core.chat.ChatImage.of(base64(url.substring(comma + 1), field), field);
    }

    private static byte[] base64(String s, String field) {
        try {
            return java.util.Base64.getMimeDecoder().decode(s.strip());
        } catch (IllegalArgumentException e) {
            throw HttpError.badRequest(field + ": not valid base64 (" + e.getMessage() + ")");
        }
    }

    private void generate(Exchange ex, boolean chat) {
        ObjectNode body = ex.jsonBody();
        OllamaFields.refuseUnknown(body, chat);
        String model = modelName(body);
        boolean stream = Params.bool(body, "stream", true);
        Duration keepAlive = Params.keepAlive(body);
        ServedModel.Options opts = options(body).withLogprobs(logprobs(body));
        refuseThinking(body);
        if (!chat) refuseSuffix(body);
        dev.jemma.core.constrain.Grammar grammar = Constraints.ollama(body);
        ToolRequest tools = chat ? ToolRequest.parse(body) : null;
        if (!chat && body.has("tools") && !body.get("tools").isNull()) throw HttpError.badRequest("field 'tools' is for /api/chat");
        boolean calling = tools != null && tools.grammar != null;
        if (calling && grammar != null) throw HttpError.badRequest("fields 'format' and 'tools' cannot be combined");
        List<ServedModel.Message> msgs = chat ? messages(body, false) : List.of();
        String prompt = chat ? null : Params.string(body, "prompt", "");
        String system = chat ? null : Params.string(body, "system", null);
        boolean raw = !chat && Params.bool(body, "raw", false);
        if (!chat && !raw) refuseTemplate(body);
        int[] context = null;
        if (!chat && body.has("context") && !body.get("context").isNull()) {
            JsonNode c = body.get("context");
            if (!c.isArray()) throw HttpError.badRequest("field 'context' must be an array of token ids");
            context = new int[c.size()];
            for (int i = 0; i < context.length; i++) {
                if (!c.get(i).isInt()) throw HttpError.badRequest("field 'context' must be an array of token ids");
                context[i] = c.get(i).asInt();
            }
        }
        if (!chat && body.has("audio") && !body.get("audio").isNull()) {
            throw HttpError.badRequest("field 'audio': send audio with /api/chat, as messages[i].audio (an array of base64 WAV files)");
        }
        List<dev.jemma.core.chat.ChatImage> images = !chat && body.has("images") && !body.get("images").isNull()
                ? base64Images(body.get("images"), "images") : List.of();
        if (server.models.lookup(model).isEmpty()) throw HttpError.notFound("model '" + model + "' not found");
        boolean empty = chat ? msgs.isEmpty() : prompt.isEmpty();
        if (empty) {
            // Ollama's load/unload request: no prompt, just (un)load the model.
            loadOrUnload(ex, model, keepAlive, chat);
            return;
        }
        try (Scheduler.Slot slot = server.scheduler.acquire(server.config().queueWait().toMillis())) {
            long t0 = System.nanoTime();
            try (ModelManager.Lease lease = server.models.acquire(model, keepAlive)) {
                long loadNanos = System.nanoTime() - t0;
                String name = lease.entry().name();
                // the model's chat template decides how tools are declared, called and answered
                ToolCalling.Format format = ToolCalling.Format.of(lease.model().info().chatTemplate());
                ServedModel.Request req = new ServedModel.Request(chat ? ToolRequest.rewrite(msgs, tools, format) : null, prompt, system, raw,
                        context, opts, calling ? tools.grammar(format) : grammar, images);
                // The stream starts with the first text, so an error found before it (prompt too long…) still gets
                // its proper status code.
                boolean[] started = {false};
                Generation.Sink send = (text, lps) -> {
                    if (!stream) return true;
                    if (!started[0]) {
                        ex.startStream(NDJSON);
                        started[0] = true;
                    }
                    ObjectNode c = chunk(name, chat, text);
                    if (opts.logprobs() != null && !lps.isEmpty()) c.set("logprobs", logprobsJson(lps));
                    return ex.sendLine(c);
                };
                ToolStream ts = calling && stream ? new ToolStream(send, format) : null;
                Generation.Outcome out = Generation.run(lease, req, ts != null ? ts : send, ex::clientGone, server.metrics, ex.received);
                if (out.clientGone()) return;
                List<ToolCall> calls = calling ? format.parse(out.text()) : null;
                // an unfinished call list (cut by the token limit) goes out as the text it is
                if (calls == null && ts != null && !ts.release()) return;
                if (stream && !started[0]) ex.startStream(NDJSON);
                if (stream && calls != null) {
                    ObjectNode c = chunk(name, chat, "");
                    ((ObjectNode) c.get("message")).set("tool_calls", toolCalls(calls));
                    if (opts.logprobs() != null && !ts.heldLogprobs().isEmpty()) c.set("logprobs", logprobsJson(ts.heldLogprobs()));
                    ex.sendLine(c);
                }
                ObjectNode fin = stream || calls != null ? chunk(name, chat, "") : chunk(name, chat, out.text());
                if (!stream && calls != null) ((ObjectNode) fin.get("message")).set("tool_calls", toolCalls(calls));
                fin.put("done", true);
                fin.put("done_reason", out.doneReason());
                if (opts.logprobs() != null) {
                    List<ServedModel.Logprob> lps = stream ? out.unsent() : out.logprobs();
                    if (!stream || !lps.isEmpty()) fin.set("logprobs", logprobsJson(lps));
                }
                if (!chat) {
                    ArrayNode ctx = fin.putArray("context");
                    for (int id : out.result().context()) ctx.add(id);
                }
                fin.put("total_duration", System.nanoTime() - t0);
                fin.put("load_duration", loadNanos);
                fin.put("prompt_eval_count", out.result().promptEvalCount());
                fin.put("prompt_eval_duration", out.result().promptEvalNanos());
                fin.put("eval_count", out.result().evalCount());
                fin.put("eval_duration", out.result().evalNanos());
                if (stream) ex.sendLine(fin);
                else ex.json(200, fin);
            }
        }
    }

    /** Ollama's tool_calls: [{function: {name, arguments: {…}}}]. */
    private static ArrayNode toolCalls(List<ToolCall> calls) {
        ArrayNode a = Exchange.JSON.createArrayNode();
        for (var c : calls) {
            ObjectNode f = a.addObject().putObject("function");
            f.put("name", c.name());
            try {
                f.set("arguments", Exchange.JSON.readTree(c.arguments()));
            } catch (java.io.IOException e) {
                throw new IllegalStateException(e);
            }
        }
        return a;
    }

    private void loadOrUnload(Exchange ex, String model, Duration keepAlive, boolean chat) {
        String name;
        String reason;
        if (keepAlive != null && keepAlive.isZero()) {
            name = server.models.lookup(model).orElseThrow().name();
            server.models.unload(name);
            reason = "unload";
        } else {
            try (ModelManager.Lease lease = server.models.acquire(model, keepAlive)) {
                name = lease.entry().name();
            }
            reason = "load";
        }
        ObjectNode o = chunk(name, chat, "");
        o.put("done", true);
        o.put("done_reason", reason);
        ex.json(200, o);
    }

    private static ObjectNode chunk(String model, boolean chat, String text) {
        ObjectNode o = obj();
        o.put("model", model);
        o.put("created_at", Instant.now().toString());
        if (chat) {
            ObjectNode m = o.putObject("message");
            m.put("role", "assistant");
            m.put("content", text);
        } else {
            o.put("response", text);
        }
        o.put("done", false);
        return o;
    }

    private void pull(Exchange ex) {
        ObjectNode body = ex.jsonBody();
        String name = modelName(body);
        boolean stream = Params.bool(body, "stream", true);
        if (server.store == null) throw new HttpError(500, "no model store configured");
        try {
            ModelRef.parse(name);
        } catch (JemmaException e) {
            throw HttpError.badRequest(e.getMessage());
        }
        if (!stream) {
            try {
                new ModelPuller(server.store).pull(name, server.hub.get(), PullListener.NONE);
            } catch (JemmaException e) {
                // the request was fine (its name parsed above); the hub could not be reached or refused it: a client
                // must not read a 400 here as "fix your request" (Ollama answers such a failure with a 500)
                throw new HttpError(502, e.getMessage());
            }
            ex.json(200, obj().put("status", "success"));
            return;
        }
        ex.startStream(NDJSON);
        try {
            new ModelPuller(server.store).pull(name, server.hub.get(), new PullListener() {
                @Override
                public void status(String status) {
                    if (!ex.sendLine(obj().put("status", status))) throw new JemmaException("client disconnected");
                }

                @Override
                public void progress(String digest, long completed, long total) {
                    ObjectNode o = obj().put("status", "pulling " + digest.replace("sha256:", "").substring(0, Math.min(12,
                            digest.length()))).put("digest", digest).put("total", total).put("completed", completed);
                    if (!ex.sendLine(o)) throw new JemmaException("client disconnected");
                }
            });
        } catch (JemmaException e) {
            // Headers are out already: report the failure as a final NDJSON line, as Ollama does.
            ex.sendLine(obj().put("error", e.getMessage()));
        }
    }

    private void delete(Exchange ex) {
        ObjectNode body = ex.jsonBody();
        String name = modelName(body);
        if (server.store == null) throw HttpError.notFound("model '" + name + "' not found");
        if (!ModelRef.isValid(name)) throw HttpError.notFound("model '" + name + "' not found");
        String canonical = ModelRef.parse(name).name();
        server.models.unload(canonical);
        if (!server.store.remove(name)) throw HttpError.notFound("model '" + name + "' not found");
        ex.json(200, obj());
    }

    /** File (and its modification time) → general.architecture, so a listing reads each header once. */
    private final java.util.Map<String, String> families = new java.util.concurrent.ConcurrentHashMap<>();

    /** The family of a model not loaded: its file's general.architecture; a guess from the name if unreadable. */
    private String family(ModelManager.Entry e) {
        java.nio.file.Path p = e.path();
        String key;
        try {
            key = p + "@" + java.nio.file.Files.getLastModifiedTime(p).toMillis();
        } catch (java.io.IOException | RuntimeException ex) {
            return guessFamily(e.name());
        }
        return families.computeIfAbsent(key, k -> {
            try (dev.jemma.core.gguf.GgufFile f = dev.jemma.core.gguf.GgufFile.open(p)) {
                String arch = f.getString("general.architecture");
                return arch != null ? arch : guessFamily(e.name());
            } catch (RuntimeException ex) {
                return guessFamily(e.name());
            }
        });
    }

    /** Last resort when the file cannot be read: Gemma 3n names say "3n". */
    static String guessFamily(String name) {
        String n = name.toLowerCase();
        return n.contains("3n") ? "gemma3n" : "gemma3";
    }

    static String guessQuant(String file) {
        var m = java.util.regex.Pattern.compile("(?i)(IQ\\d_\\w+|Q\\d_K_[SML]|Q\\d_K|Q\\d_\\d|BF16|F16|F32)").matcher(file);
        return m.find() ? m.group(1).toUpperCase() : "";
    }
}
