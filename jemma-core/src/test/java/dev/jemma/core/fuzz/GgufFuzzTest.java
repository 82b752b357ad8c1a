package dev.jemma.core.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jemma.core.chat.ChatMessage;
import dev.jemma.core.chat.ChatTemplate;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.engine.Session;
import dev.jemma.core.engine.TokenListener;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;

import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fuzzes the GGUF reader and the model loader: whatever a file holds, opening it, reading its config and memory plan,
 * loading the model and running a forward pass, building its tokenizer and rendering its chat template either work or
 * fail with a {@link dev.jemma.core.JemmaException} — one line naming the file and the field.
 *
 * <ul>
 *   <li>{@link #ggufBytes} mutates whole files (header, metadata, tensor table, data) from the seeds in
 *       {@code GgufFuzzTestInputs/ggufBytes}: the parser's every count, length, type id, offset and alignment;</li>
 *   <li>{@link #hyperParameters} edits valid files structurally — any metadata key set to any type and value (every
 *       hyper-parameter the loaders read, per-layer array elements included), tensor-info fields (dims, type, name)
 *       changed, tensors dropped — so that the fuzzer spends its time on the loaders, not on the GGUF framing.</li>
 * </ul>
 * Both run over committed seeds in every build; {@code tools/fuzz} runs campaigns.
 */
class GgufFuzzTest {
    private static final Path DIR = Fuzzing.scratch("gguf");
    private static final ThreadPool POOL = new ThreadPool(1);
    /** Inputs whose tensors would need more bytes than this are skipped (the loader's limits are not the writer's). */
    private static final long MAX_TENSOR_BYTES = 32L << 20;

    @AfterAll
    static void close() {
        POOL.close();
    }

    @FuzzTest(maxDuration = "30s")
    void ggufBytes(byte[] bytes) {
        Path p = DIR.resolve("raw.gguf");
        Fuzzing.write(p, bytes);
        exercise(p, bytes.length > 0 && (bytes[bytes.length - 1] & 1) == 0);
    }

    @FuzzTest(maxDuration = "30s")
    void hyperParameters(FuzzedDataProvider data) {
        Base base = data.pickValue(Base.all());
        Map<String, Object[]> metadata = new LinkedHashMap<>(base.metadata);
        Map<String, TensorEdit> tensors = new LinkedHashMap<>();
        for (GgufTensorInfo t : base.file.tensors().values()) tensors.put(t.name(), new TensorEdit(t.name(), t.dims(), t.type(), t));
        int edits = data.consumeInt(1, 8);
        for (int i = 0; i < edits && data.remainingBytes() > 0; i++) {
            switch (data.consumeInt(0, 4)) {
                case 0, 1 -> editKey(data, base, metadata);
                case 2 -> editArrayElement(data, metadata);
                default -> editTensor(data, tensors);
            }
        }
        GgufWriter w = new GgufWriter();
        for (Map.Entry<String, Object[]> e : metadata.entrySet()) {
            Object[] v = e.getValue();
            w.put(e.getKey(), (GgufValueType) v[0], (GgufValueType) v[1], v[2]);
        }
        long total = 0;
        for (TensorEdit t : tensors.values()) {
            long n = 1;
            for (long d : t.dims) n = Math.multiplyExact(n, d);
            if (t.dims[0] % t.type.blockSize != 0) return; // the writer refuses it; ggufBytes covers such tables
            long size = t.type.bytesFor(n);
            total += size;
            if (total > MAX_TENSOR_BYTES) return;
            byte[] original = base.file.tensorData(t.source).toArray(ValueLayout.JAVA_BYTE);
            w.addTensor(t.name, t.dims, t.type, out -> {
                // the original bytes, repeated or cut to the new size (a changed type reads them as other blocks)
                long left = size;
                while (left > 0) {
                    int n1 = (int) Math.min(left, original.length);
                    if (n1 == 0) {
                        out.write(new byte[(int) Math.min(left, 1 << 16)]);
                        left -= Math.min(left, 1 << 16);
                        continue;
                    }
                    out.write(original, 0, n1);
                    left -= n1;
                }
            });
        }
        Path p = DIR.resolve("edited.gguf");
        w.write(p);
        exercise(p, data.consumeBoolean());
    }

    /** Opens, reads the config and plan, loads and runs the model, tokenizes and renders: clean success or refusal. */
    static void exercise(Path p, boolean exact) {
        GgufFile[] opened = new GgufFile[1];
        if (!Fuzzing.clean(() -> opened[0] = GgufFile.open(p))) return;
        try (GgufFile f = opened[0]) {
            Fuzzing.clean(() -> {
                ModelConfig c = ModelLoader.readConfig(f);
                ModelLoader.plan(f, c, 32, 4, null).problem();
            });
            Tokenizer[] tok = new Tokenizer[1];
            if (Fuzzing.clean(() -> tok[0] = Tokenizer.fromGguf(f))) {
                Tokenizer t = tok[0];
                int[] ids = t.encode("Hello <start_of_turn>wörld 🙂 \u0000", true, true);
                t.decode(ids);
                Fuzzing.clean(() -> {
                    String bos = t.bosId() >= 0 ? t.piece(t.bosId()) : "";
                    String eos = t.eosId() >= 0 ? t.piece(t.eosId()) : "";
                    ChatTemplate.fromGguf(f, bos, eos).render(List.of(ChatMessage.system("s"), ChatMessage.user("u"),
                            ChatMessage.assistant("a"), ChatMessage.user("v")), true);
                });
            }
        }
        // the whole load, as run/serve do it: memory plan for a short context, then the weights, then a forward pass
        Fuzzing.clean(() -> {
            ModelLoader.Options o = new ModelLoader.Options(exact, 1, 4, null, 16, true);
            try (LanguageModel m = ModelLoader.load(p, o, POOL)) {
                int vocab = m.config().vocabSize();
                KvCache cache = m.newCache(16);
                float[] logits = m.forward(new int[]{0, vocab - 1, vocab / 2}, 0, 3, cache, false);
                if (logits.length != vocab) throw new AssertionError("logits " + logits.length + " for vocabulary " + vocab);
                m.forward(new int[]{1 % vocab}, 0, 1, cache, false);
            }
        });
        // and as an application does: the engine (tokenizer, template, the file's sampling defaults) and a short chat
        Fuzzing.clean(() -> {
            EngineOptions o = EngineOptions.builder().threads(1).contextLength(24).maxBatch(4).exact(exact).f32Activations(true).build();
            try (Engine e = Engine.load(p, o); Session s = e.newSession("Be brief.")) {
                s.chat("Hello <end_of_turn> there", GenerationOptions.builder().maxTokens(3).build(), TokenListener.NONE);
                s.chat("again", GenerationOptions.builder().maxTokens(2).temperature(0.8f).seed(1L).build(), TokenListener.NONE);
            }
        });
    }

    private static final String[] EXTRA_KEYS = {"general.alignment", "general.name", "general.architecture",
            "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
            "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.model", "tokenizer.chat_template",
            "tokenizer.ggml.add_space_prefix"};
    private static final String[] ARCH_SUFFIXES = {"block_count", "embedding_length", "feed_forward_length", "context_length",
            "attention.head_count", "attention.head_count_kv", "attention.key_length", "attention.value_length",
            "attention.layer_norm_rms_epsilon", "attention.sliding_window", "attention.sliding_window_pattern", "attention.scale",
            "rope.freq_base", "rope.freq_base_swa", "rope.scaling.type", "rope.scaling.factor", "final_logit_softcapping",
            "altup.num_inputs", "altup.active_idx", "embedding_length_per_layer_input", "attention.shared_kv_layers",
            "activation_sparsity_scale"};
    private static final long[] INTERESTING = {0, 1, 2, 3, -1, 4, 7, 8, 16, 31, 32, 63, 64, 255, 256, 4096, 65535, 65536,
            Integer.MAX_VALUE, Integer.MIN_VALUE, 0xffffffffL, 1_900_000_000L, Long.MAX_VALUE, Long.MIN_VALUE};
    private static final double[] INTERESTING_FLOATS = {0, -0.0, 1e-6, 1, -1, 0.5, 8, 1e4, 1e6, 1e38, 1e-45, Double.NaN,
            Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, Float.MAX_VALUE, Double.MAX_VALUE};

    private static void editKey(FuzzedDataProvider data, Base base, Map<String, Object[]> metadata) {
        List<String> keys = new ArrayList<>(base.metadata.keySet());
        for (String s : ARCH_SUFFIXES) keys.add(base.arch + "." + s);
        keys.addAll(Arrays.asList(EXTRA_KEYS));
        String key = data.pickValue(keys);
        if (data.consumeInt(0, 9) == 0) {
            metadata.remove(key);
            return;
        }
        if (key.equals("general.alignment")) {
            // the writer lays the data out by it (the raw-bytes harness feeds the reader any alignment)
            metadata.put(key, new Object[]{GgufValueType.UINT32, null, (long) (1 << data.consumeInt(0, 8))});
            return;
        }
        metadata.put(key, value(data, 0));
    }

    /** A random value of a random GGUF type: {type, elementType, value}. */
    private static Object[] value(FuzzedDataProvider data, int depth) {
        GgufValueType type = data.pickValue(GgufValueType.values());
        if (type == GgufValueType.ARRAY && depth > 0) type = GgufValueType.UINT32;
        if (type == GgufValueType.ARRAY) {
            GgufValueType et = data.pickValue(new GgufValueType[]{GgufValueType.UINT32, GgufValueType.INT32, GgufValueType.FLOAT32,
                    GgufValueType.BOOL, GgufValueType.STRING, GgufValueType.UINT8, GgufValueType.INT64, GgufValueType.UINT64});
            int n = data.consumeInt(0, 80);
            Object arr = switch (et) {
                case FLOAT32 -> {
                    float[] a = new float[n];
                    for (int i = 0; i < n; i++) a[i] = (float) floatValue(data);
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[n];
                    for (int i = 0; i < n; i++) a[i] = data.consumeBoolean();
                    yield a;
                }
                case STRING -> {
                    String[] a = new String[n];
                    for (int i = 0; i < n; i++) a[i] = data.consumeString(12);
                    yield a;
                }
                case UINT8 -> {
                    int[] a = new int[n];
                    for (int i = 0; i < n; i++) a[i] = data.consumeInt(0, 255);
                    yield a;
                }
                case INT64, UINT64 -> {
                    long[] a = new long[n];
                    for (int i = 0; i < n; i++) a[i] = intValue(data);
                    yield a;
                }
                default -> {
                    int[] a = new int[n];
                    for (int i = 0; i < n; i++) a[i] = (int) intValue(data);
                    yield a;
                }
            };
            return new Object[]{type, et, arr};
        }
        Object v = switch (type) {
            case UINT8 -> data.consumeInt(0, 255);
            case INT8 -> data.consumeInt(-128, 127);
            case UINT16 -> data.consumeInt(0, 65535);
            case INT16 -> data.consumeInt(-32768, 32767);
            case UINT32 -> intValue(data) & 0xffffffffL;
            case INT32 -> (int) intValue(data);
            case UINT64, INT64 -> intValue(data);
            case FLOAT32 -> (float) floatValue(data);
            case FLOAT64 -> floatValue(data);
            case BOOL -> data.consumeBoolean();
            case STRING -> data.consumeString(64);
            case ARRAY -> throw new AssertionError();
        };
        return new Object[]{type, null, v};
    }

    private static long intValue(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.pickValue(INTERESTING) : data.consumeLong();
    }

    private static double floatValue(FuzzedDataProvider data) {
        return data.consumeBoolean() ? data.pickValue(INTERESTING_FLOATS) : data.consumeDouble();
    }

    private static void editArrayElement(FuzzedDataProvider data, Map<String, Object[]> metadata) {
        List<String> arrays = new ArrayList<>();
        for (Map.Entry<String, Object[]> e : metadata.entrySet()) {
            if (e.getValue()[0] == GgufValueType.ARRAY && !e.getKey().equals("tokenizer.ggml.tokens")
                    && java.lang.reflect.Array.getLength(e.getValue()[2]) > 0) arrays.add(e.getKey());
        }
        if (arrays.isEmpty()) return;
        String key = data.pickValue(arrays);
        Object[] v = metadata.get(key);
        Object copy = cloneArray(v[2]);
        int i = data.consumeInt(0, java.lang.reflect.Array.getLength(copy) - 1);
        switch (copy) {
            case int[] a -> a[i] = (int) intValue(data);
            case long[] a -> a[i] = intValue(data);
            case float[] a -> a[i] = (float) floatValue(data);
            case double[] a -> a[i] = floatValue(data);
            case boolean[] a -> a[i] = !a[i];
            case String[] a -> a[i] = data.consumeString(16);
            default -> {
                return;
            }
        }
        metadata.put(key, new Object[]{v[0], v[1], copy});
    }

    private static Object cloneArray(Object a) {
        int n = java.lang.reflect.Array.getLength(a);
        Object c = java.lang.reflect.Array.newInstance(a.getClass().getComponentType(), n);
        System.arraycopy(a, 0, c, 0, n);
        return c;
    }

    private static final GgmlType[] TYPES = GgmlType.values();

    private static void editTensor(FuzzedDataProvider data, Map<String, TensorEdit> tensors) {
        if (tensors.isEmpty()) return;
        String name = data.pickValue(new ArrayList<>(tensors.keySet()));
        TensorEdit t = tensors.get(name);
        switch (data.consumeInt(0, 4)) {
            case 0 -> tensors.remove(name);
            case 1 -> {
                // a dim halved, doubled, set to 1 or to an interesting value, or a dim added / dropped
                long[] d = t.dims.clone();
                int i = data.consumeInt(0, d.length - 1);
                d[i] = switch (data.consumeInt(0, 4)) {
                    case 0 -> Math.max(1, d[i] / 2);
                    case 1 -> d[i] * 2;
                    case 2 -> 1;
                    case 3 -> data.consumeLong(1, 1 << 20);
                    default -> d[i] + 32;
                };
                if (data.consumeBoolean() && d.length < 4) d = Arrays.copyOf(d, d.length + 1);
                if (d.length > 1 && d[d.length - 1] == 0) d[d.length - 1] = 1;
                if (data.consumeInt(0, 5) == 0 && d.length > 1) d = Arrays.copyOf(d, d.length - 1);
                tensors.put(name, new TensorEdit(name, d, t.type, t.source));
            }
            case 2 -> tensors.put(name, new TensorEdit(name, t.dims, data.pickValue(TYPES), t.source));
            case 3 -> {
                // renamed: to another block's name (a duplicate is refused by the writer's reader) or a new one
                String to = data.consumeBoolean() ? "blk." + data.consumeInt(0, 40) + name.substring(name.indexOf('.', 4) < 0 ? 0 : name.indexOf('.', 4))
                        : data.consumeString(40);
                if (to.isEmpty() || tensors.containsKey(to)) return;
                tensors.remove(name);
                tensors.put(to, new TensorEdit(to, t.dims, t.type, t.source));
            }
            default -> {
                // all the dims of another tensor
                TensorEdit other = tensors.get(data.pickValue(new ArrayList<>(tensors.keySet())));
                tensors.put(name, new TensorEdit(name, other.dims, t.type, t.source));
            }
        }
    }

    private record TensorEdit(String name, long[] dims, GgmlType type, GgufTensorInfo source) {
    }

    /** A valid file to edit: its metadata as {type, elementType, value} per key. */
    private static final class Base {
        private static List<Base> all;
        final GgufFile file;
        final String arch;
        final Map<String, Object[]> metadata = new LinkedHashMap<>();

        Base(Path p) {
            file = GgufFile.open(p);
            arch = file.getString("general.architecture");
            for (Map.Entry<String, Object> e : file.metadata().entrySet()) {
                GgufValueType[] t = file.valueType(e.getKey());
                metadata.put(e.getKey(), new Object[]{t[0], t.length > 1 ? t[1] : null, e.getValue()});
            }
        }

        static synchronized List<Base> all() {
            if (all == null) all = List.of(new Base(resource("/fuzz/gemma3-micro-Q8_0.gguf")), new Base(resource("/gemma3n/e2b-cut-Q8_0.gguf")));
            return all;
        }
    }

    static Path resource(String name) {
        try {
            return Path.of(GgufFuzzTest.class.getResource(name).toURI());
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource " + name, e);
        }
    }
}
