package dev.jemma.tools.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A Gemma SentencePiece-BPE vocabulary read from Hugging Face {@code tokenizer.json} (+ {@code tokenizer_config.json})
 * and turned into the {@code tokenizer.ggml.*} arrays llama.cpp's converter writes for Gemma 3:
 * <ul>
 *   <li>added tokens: special → CONTROL (3), others → USER_DEFINED (4) with {@code ▁} turned back into spaces; score −1000;</li>
 *   <li>{@code <0xNN>} byte pieces → BYTE (6), score 0;</li>
 *   <li>other pieces → NORMAL (1), score −(id − first normal id): SentencePiece BPE scores pieces by merge order,
 *       which is their id order (checked against the fixture converted from tokenizer.model);</li>
 *   <li>ids at or beyond {@code config.json}'s vocab_size are dropped (Gemma 3's image soft token), missing ids
 *       are padded as UNUSED (5) {@code [PADn]} pieces.</li>
 * </ul>
 */
public record HfVocab(String[] tokens, float[] scores, int[] types, Map<String, Integer> specialIds,
                      Boolean addBos, Boolean addEos, String chatTemplate) {
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5, BYTE = 6;
    private static final ObjectMapper JSON = new ObjectMapper();

    static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new JemmaException(p + ": invalid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    public static HfVocab read(Path dir, int vocabSize) {
        Path tj = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(tj)) throw new JemmaException(dir + ": no tokenizer.json");
        JsonNode root = readJson(tj);
        JsonNode model = root.path("model");
        if (!"BPE".equals(model.path("type").asText())) {
            throw new JemmaException(tj + ": model.type '" + model.path("type").asText() + "' is not BPE (Gemma uses SentencePiece BPE)");
        }
        JsonNode vocab = model.get("vocab");
        if (vocab == null || !vocab.isObject()) throw new JemmaException(tj + ": model.vocab is missing");
        int n = vocabSize > 0 ? vocabSize : 0;
        Map<Integer, String> byId = new HashMap<>();
        vocab.fields().forEachRemaining(e -> byId.put(e.getValue().asInt(), e.getKey()));
        Map<Integer, Boolean> added = new HashMap<>();
        for (JsonNode a : root.path("added_tokens")) {
            int id = a.path("id").asInt();
            byId.put(id, a.path("content").asText());
            added.put(id, a.path("special").asBoolean(false));
        }
        if (n == 0) n = byId.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        // HF's Gemma tokenizer.json spells some byte-fallback pieces as the character itself ("\t" for <0x09>);
        // tokenizer.model (which llama.cpp reads) has <0xNN>. A character sitting right after <0x(NN-1)> is that byte.
        Map<String, Integer> ids = new HashMap<>();
        byId.forEach((id, p) -> ids.put(p, id));
        for (int b = 1; b < 256; b++) {
            String want = String.format("<0x%02X>", b);
            Integer prev = ids.get(String.format("<0x%02X>", b - 1));
            Integer asChar = ids.get(String.valueOf((char) b));
            if (!ids.containsKey(want) && prev != null && asChar != null && asChar == prev + 1 && !added.containsKey(asChar)) {
                byId.put(asChar, want);
                ids.put(want, asChar);
            }
        }
        int firstNormal = Integer.MAX_VALUE;
        for (var e : byId.entrySet()) {
            if (e.getKey() < n && !added.containsKey(e.getKey()) && !isByte(e.getValue())) firstNormal = Math.min(firstNormal, e.getKey());
        }
        String[] tokens = new String[n];
        float[] scores = new float[n];
        int[] types = new int[n];
        for (int id = 0; id < n; id++) {
            String piece = byId.get(id);
            if (piece == null) {
                tokens[id] = "[PAD" + id + "]";
                scores[id] = -1000f;
                types[id] = UNUSED;
            } else if (added.containsKey(id)) {
                boolean special = added.get(id);
                tokens[id] = special ? piece : piece.replace('\u2581', ' ');
                scores[id] = -1000f;
                types[id] = special ? CONTROL : USER_DEFINED;
            } else if (isByte(piece)) {
                tokens[id] = piece;
                scores[id] = 0f;
                types[id] = BYTE;
            } else {
                tokens[id] = piece;
                scores[id] = -(float) (id - firstNormal);
                types[id] = NORMAL;
            }
        }
        Map<String, Integer> inverse = new HashMap<>();
        for (int i = 0; i < n; i++) inverse.putIfAbsent(tokens[i], i);

        Map<String, Integer> special = new HashMap<>();
        Boolean addBos = null, addEos = null;
        String template = null;
        Path tc = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(tc)) {
            JsonNode cfg = readJson(tc);
            for (String k : new String[]{"bos", "eos", "unk", "pad"}) {
                String text = tokenText(cfg.get(k + "_token"));
                if (text != null && inverse.containsKey(text)) special.put(k, inverse.get(text));
            }
            if (cfg.has("add_bos_token")) addBos = cfg.get("add_bos_token").asBoolean();
            if (cfg.has("add_eos_token")) addEos = cfg.get("add_eos_token").asBoolean();
            if (cfg.path("chat_template").isTextual()) template = cfg.get("chat_template").asText();
        }
        Path jinja = dir.resolve("chat_template.jinja");
        if (template == null && Files.isRegularFile(jinja)) {
            try {
                template = Files.readString(jinja);
            } catch (IOException e) {
                throw new JemmaException(jinja + ": cannot read: " + e.getMessage());
            }
        }
        return new HfVocab(tokens, scores, types, special, addBos, addEos, template);
    }

    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        return n.path("content").isTextual() ? n.get("content").asText() : null;
    }

    private static boolean isByte(String piece) {
        return piece.length() == 6 && piece.startsWith("<0x") && piece.endsWith(">");
    }

    /** Pieces as a list (convenience for tests). */
    public List<String> tokenList() {
        return new ArrayList<>(List.of(tokens));
    }
}
