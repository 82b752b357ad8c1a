package dev.jemma.tools.quant;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.tensor.GgmlType;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Converts a Hugging Face Gemma 3 text checkpoint (config.json, safetensors, tokenizer.json) into a GGUF file with
 * the metadata keys, tokenizer arrays, tensor names and tensor order llama.cpp's {@code convert_hf_to_gguf.py}
 * writes, so the result runs in any GGUF runtime. Gemma's RMSNorm multiplies by (1 + w); like llama.cpp the +1
 * is folded into the stored norm weights. The token embedding is cut to the vocabulary size (Gemma 3 checkpoints
 * carry an extra image-token row). Vision-tower tensors of multimodal checkpoints are skipped.
 */
public final class HfConverter {
    /** Output storage: F32 everywhere, or 2-D weights in F16/BF16/Q8_0 with 1-D tensors kept F32 (as llama.cpp). */
    public enum OutType {
        F32(0, GgmlType.F32), F16(1, GgmlType.F16), BF16(32, GgmlType.BF16), Q8_0(7, GgmlType.Q8_0);

        final int fileType;
        final GgmlType matrixType;

        OutType(int fileType, GgmlType matrixType) {
            this.fileType = fileType;
            this.matrixType = matrixType;
        }

        public static OutType parse(String s) {
            for (OutType t : values()) if (t.name().equalsIgnoreCase(s)) return t;
            throw new JemmaException("--type: '" + s + "' is not one of f32, f16, bf16, q8_0");
        }
    }

    private static final Pattern LAYER = Pattern.compile("^(?:model\\.language_model\\.|language_model\\.model\\.|model\\.)layers\\.(\\d+)\\.(.+)$");

    private HfConverter() {
    }

    /** GGUF name for an HF tensor name, or null when the tensor is not written (tied lm_head, vision tower). */
    static String ggufName(String hf) {
        String n = hf;
        for (String p : new String[]{"model.language_model.", "language_model.model.", "model."}) {
            if (n.startsWith(p)) {
                n = n.substring(p.length());
                break;
            }
        }
        if (n.equals("embed_tokens.weight")) return "token_embd.weight";
        if (n.equals("norm.weight")) return "output_norm.weight";
        Matcher m = LAYER.matcher(hf);
        if (!m.matches()) return null;
        String suffix = switch (m.group(2)) {
            case "input_layernorm.weight" -> "attn_norm";
            case "self_attn.q_proj.weight" -> "attn_q";
            case "self_attn.k_proj.weight" -> "attn_k";
            case "self_attn.v_proj.weight" -> "attn_v";
            case "self_attn.o_proj.weight" -> "attn_output";
            case "self_attn.q_norm.weight" -> "attn_q_norm";
            case "self_attn.k_norm.weight" -> "attn_k_norm";
            case "post_attention_layernorm.weight" -> "post_attention_norm";
            case "pre_feedforward_layernorm.weight" -> "ffn_norm";
            case "post_feedforward_layernorm.weight" -> "post_ffw_norm";
            case "mlp.gate_proj.weight" -> "ffn_gate";
            case "mlp.up_proj.weight" -> "ffn_up";
            case "mlp.down_proj.weight" -> "ffn_down";
            default -> null;
        };
        return suffix == null ? null : "blk." + m.group(1) + "." + suffix + ".weight";
    }

    public interface Progress {
        void update(long done, long total, String tensor);
    }

    /** Converts {@code dir} to {@code out} (written atomically). */
    public static void convert(Path dir, Path out, OutType type, Progress progress) {
        if (!Files.isDirectory(dir)) throw new JemmaException(dir + ": not a directory");
        Path cfgPath = dir.resolve("config.json");
        if (!Files.isRegularFile(cfgPath)) throw new JemmaException(dir + ": no config.json");
        JsonNode cfg = HfVocab.readJson(cfgPath);
        if (cfg.has("text_config")) cfg = merge(cfg.get("text_config"), cfg); // multimodal Gemma 3
        String mt = cfg.path("model_type").asText("");
        if (!mt.equals("gemma3_text") && !mt.equals("gemma3")) {
            throw new JemmaException(cfgPath + ": model_type '" + mt + "' is not Gemma 3 (gemma3_text)");
        }
        int layers = req(cfg, "num_hidden_layers", cfgPath);
        int hidden = req(cfg, "hidden_size", cfgPath);
        int heads = req(cfg, "num_attention_heads", cfgPath);
        int vocabSize = cfg.path("vocab_size").asInt(262144);
        HfVocab vocab = HfVocab.read(dir, vocabSize);
        try (SafeTensors st = SafeTensors.openDir(dir)) {
            GgufWriter w = new GgufWriter();
            w.putString("general.architecture", "gemma3");
            w.putString("general.type", "model");
            w.putString("general.name", prettyName(dir));
            long params = 0;
            for (SafeTensors.Entry e : st.tensors().values()) {
                String gn = ggufName(e.name());
                if (gn == null) continue;
                params += gn.equals("token_embd.weight") ? (long) vocab.tokens().length * hidden : e.elementCount();
            }
            w.putString("general.size_label", sizeLabel(params));
            String a = "gemma3.";
            w.putU32(a + "block_count", layers);
            w.putU32(a + "context_length", cfg.path("max_position_embeddings").asInt(131072));
            w.putU32(a + "embedding_length", hidden);
            w.putU32(a + "feed_forward_length", req(cfg, "intermediate_size", cfgPath));
            w.putU32(a + "attention.head_count", heads);
            w.putU32(a + "attention.head_count_kv", cfg.path("num_key_value_heads").asInt(heads));
            JsonNode rs = cfg.get("rope_scaling");
            if (rs != null && rs.isObject() && "linear".equals(rs.path("rope_type").asText(rs.path("type").asText()))) {
                w.putString(a + "rope.scaling.type", "linear");
                w.putF32(a + "rope.scaling.factor", (float) rs.path("factor").asDouble(1.0));
            }
            w.putF32(a + "rope.freq_base", (float) cfg.path("rope_theta").asDouble(1_000_000));
            w.putF32(a + "rope.freq_base_swa", (float) cfg.path("rope_local_base_freq").asDouble(10_000));
            w.putF32(a + "attention.layer_norm_rms_epsilon", (float) cfg.path("rms_norm_eps").asDouble(1e-6));
            int headDim = cfg.path("head_dim").asInt(hidden / heads);
            w.putU32(a + "attention.key_length", headDim);
            w.putU32(a + "attention.value_length", headDim);
            w.putU32("general.file_type", type.fileType);
            if (cfg.has("sliding_window") && !cfg.get("sliding_window").isNull()) {
                w.putU32(a + "attention.sliding_window", cfg.get("sliding_window").asInt());
            }
            double qpas = cfg.path("query_pre_attn_scalar").asDouble(headDim);
            if (qpas != headDim) w.putF32(a + "attention.scale", (float) (1.0 / Math.sqrt(qpas)));
            w.putU32("general.quantization_version", 2);
            w.putString("tokenizer.ggml.model", "llama");
            w.putString("tokenizer.ggml.pre", "default");
            w.putStrings("tokenizer.ggml.tokens", vocab.tokens());
            w.putFloats("tokenizer.ggml.scores", vocab.scores());
            w.putInts("tokenizer.ggml.token_type", vocab.types());
            putId(w, "tokenizer.ggml.bos_token_id", vocab.specialIds().get("bos"), cfg.get("bos_token_id"));
            putId(w, "tokenizer.ggml.eos_token_id", vocab.specialIds().get("eos"), cfg.get("eos_token_id"));
            putId(w, "tokenizer.ggml.unknown_token_id", vocab.specialIds().get("unk"), null);
            putId(w, "tokenizer.ggml.padding_token_id", vocab.specialIds().get("pad"), cfg.get("pad_token_id"));
            w.putBool("tokenizer.ggml.add_bos_token", vocab.addBos() == null || vocab.addBos());
            w.putBool("tokenizer.ggml.add_sep_token", false);
            w.putBool("tokenizer.ggml.add_eos_token", vocab.addEos() != null && vocab.addEos());
            if (vocab.chatTemplate() != null) w.putString("tokenizer.chat_template", vocab.chatTemplate());
            w.putBool("tokenizer.ggml.add_space_prefix", false);

            List<Runnable> checks = new ArrayList<>();
            long total = 0;
            List<SafeTensors.Entry> used = new ArrayList<>();
            for (SafeTensors.Entry e : st.tensors().values()) {
                if (ggufName(e.name()) != null) {
                    used.add(e);
                    total += e.elementCount();
                }
            }
            if (used.stream().noneMatch(e -> ggufName(e.name()).equals("token_embd.weight"))) {
                throw new JemmaException(dir + ": no embed_tokens.weight tensor in the safetensors");
            }
            long[] done = {0};
            long totalElements = total;
            int nTokens = vocab.tokens().length;
            for (SafeTensors.Entry e : used) {
                String name = ggufName(e.name());
                boolean isNorm = name.endsWith("norm.weight");
                long[] shape = e.shape();
                if (name.equals("token_embd.weight")) {
                    if (shape.length != 2 || shape[1] != hidden) throw new JemmaException(e.file() + ": " + e.name() + " has shape " + java.util.Arrays.toString(shape));
                    if (shape[0] < nTokens) throw new JemmaException(e.file() + ": " + e.name() + " has " + shape[0] + " rows for " + nTokens + " tokens");
                    shape = new long[]{nTokens, shape[1]}; // drop rows past the vocabulary (image soft token)
                }
                long[] dims = new long[shape.length]; // ggml lists the row length first
                for (int i = 0; i < shape.length; i++) dims[i] = shape[shape.length - 1 - i];
                GgmlType t = shape.length >= 2 ? type.matrixType : GgmlType.F32;
                if (t.isQuantized() && dims[0] % t.blockSize != 0) t = GgmlType.F16; // llama.cpp's fallback
                final GgmlType tt = t;
                final long[] fShape = shape;
                w.addTensor(name, dims, tt, os -> {
                    writeTensor(e, fShape, isNorm, tt, os);
                    done[0] += e.elementCount();
                    if (progress != null) progress.update(done[0], totalElements, name);
                });
            }
            w.write(out);
        }
    }

    private static void writeTensor(SafeTensors.Entry e, long[] shape, boolean addOne, GgmlType t, OutputStream os) throws IOException {
        long rowLen = shape[shape.length - 1];
        long rows = 1;
        for (int i = 0; i < shape.length - 1; i++) rows *= shape[i];
        int rowsPerChunk = (int) Math.max(1, Math.min(rows, (1 << 20) / Math.max(1, rowLen)));
        float[] buf = new float[(int) (rowsPerChunk * rowLen)];
        byte[] bytes = new byte[(int) t.bytesFor(buf.length)];
        BlockQuantizer q = Quantizers.of(t);
        for (long r = 0; r < rows; r += rowsPerChunk) {
            int n = (int) Math.min(rowsPerChunk, rows - r);
            int count = (int) (n * rowLen);
            e.read(r * rowLen, buf, 0, count);
            if (addOne) for (int i = 0; i < count; i++) buf[i] += 1.0f;
            q.quantize(buf, 0, count, bytes, 0);
            os.write(bytes, 0, (int) t.bytesFor(count));
        }
    }

    private static void putId(GgufWriter w, String key, Integer fromTokenizer, JsonNode fromConfig) {
        Integer id = fromTokenizer;
        if (id == null && fromConfig != null) {
            if (fromConfig.isInt()) id = fromConfig.asInt();
            else if (fromConfig.isArray() && !fromConfig.isEmpty()) id = fromConfig.get(0).asInt();
        }
        if (id != null) w.putU32(key, id);
    }

    private static int req(JsonNode cfg, String key, Path p) {
        JsonNode n = cfg.get(key);
        if (n == null || !n.canConvertToInt() || n.asInt() <= 0) {
            throw new JemmaException(p + ": " + key + " is missing or not a positive integer" + (n == null ? "" : " (" + n + ")"));
        }
        return n.asInt();
    }

    private static JsonNode merge(JsonNode text, JsonNode outer) {
        var o = ((com.fasterxml.jackson.databind.node.ObjectNode) text.deepCopy());
        if (!o.has("model_type")) o.put("model_type", "gemma3_text");
        return o;
    }

    /** llama.cpp's rounded parameter count: 459840 → "460K", 1.74e6 → "1.7M", 4.3e9 → "4.3B". */
    static String sizeLabel(long n) {
        double scaled;
        String suffix;
        if (n > 1e12) {
            scaled = n * 1e-12;
            suffix = "T";
        } else if (n > 1e9) {
            scaled = n * 1e-9;
            suffix = "B";
        } else if (n > 1e6) {
            scaled = n * 1e-6;
            suffix = "M";
        } else {
            scaled = n * 1e-3;
            suffix = "K";
        }
        int digits = Long.toString(Math.round(scaled)).replaceFirst("^0+", "").length();
        int fix = Math.max(2 - digits, 0);
        return String.format(Locale.ROOT, "%." + fix + "f", scaled) + suffix;
    }

    /** "gemma3-tiny/hf" → "Gemma3 Tiny": llama.cpp derives the name from the directory the same way. */
    static String prettyName(Path dir) {
        Path d = dir.toAbsolutePath().normalize();
        String base = d.getFileName() == null ? "model" : d.getFileName().toString();
        if (base.equalsIgnoreCase("hf") && d.getParent() != null && d.getParent().getFileName() != null) {
            base = d.getParent().getFileName().toString();
        }
        StringBuilder sb = new StringBuilder();
        for (String part : base.split("[-_ ]+")) {
            if (part.isEmpty()) continue;
            if (!sb.isEmpty()) sb.append(' ');
            sb.append(part.substring(0, 1).toUpperCase(Locale.ROOT)).append(part.substring(1));
        }
        return sb.isEmpty() ? "model" : sb.toString();
    }
}
