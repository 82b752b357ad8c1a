package dev.jemma.core.model;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.GgmlType;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * What loading a model will cost, computed before anything is allocated: the weights (mapped from the file, so
 * they live in the page cache, not the Java heap), the KV cache for the requested context (per-layer capacity: a
 * ring of {@code window} slots on sliding layers, the whole context on global ones; layers that borrow another
 * layer's cache cost nothing), the forward pass's scratch buffers, and a heap headroom. {@link #check()} refuses a
 * plan that cannot fit with one line that gives the numbers and what to change.
 *
 * <p>Available memory: the JVM's maximum heap ({@code Runtime.maxMemory()}) for the on-heap KV cache and scratch;
 * {@code MemAvailable} from /proc/meminfo (or the cgroup limit, when lower) for everything. The system properties
 * {@code jemma.memory.heap} and {@code jemma.memory.available} (bytes) override both, for tests and for users who
 * know better; {@code jemma.memory.check=false} turns the refusal off.
 *
 * @param weightBytes    bytes of tensor data the model reads (all of the file's, less what a MatFormer slice drops:
 *                       skipped layers, the cut-off FFN neurons, K/V projections of layers that share K/V)
 * @param mappedBytes    the part of {@code weightBytes} that stays mapped and is read a row per token (Gemma 3n's
 *                       per-layer-embedding table): it lives on disk / in the page cache on demand, so it is not
 *                       counted against available memory; the rest is "in fast memory"
 * @param bytesByType    tensor count and bytes per tensor type
 * @param kvBytes        KV cache for {@code contextLength} positions
 * @param kvSlotBytes    KV bytes per ring slot, summed over the sliding layers that own a cache
 * @param kvPositionBytes KV bytes per context position, summed over the global layers that own a cache
 * @param window         sliding window (ring capacity), 0 when no layer slides
 * @param scratchBytes   activations and logits for a batch of {@code maxBatch} tokens
 * @param headroomBytes  heap kept free for everything else: a caller's copy of a batch of logits, the tokenizer,
 *                       temporary arrays, the JVM's own use
 * @param heapLimit      the JVM's maximum heap, bytes
 * @param memAvailable   memory the system can still give, bytes; -1 when unknown
 */
public record MemoryPlan(String file, int contextLength, int maxBatch, long weightBytes, long mappedBytes, Map<GgmlType, long[]> bytesByType,
                         long kvBytes, long kvSlotBytes, long kvPositionBytes, int window, long scratchBytes, long headroomBytes, long heapLimit, long memAvailable) {

    /** Context used when none is asked for: the model's own, capped (a 128K cache on every load would be wasteful). */
    public static final int DEFAULT_CONTEXT_CAP = 8192;
    /** Heap reserved beyond KV cache, scratch and a caller's copy of a batch of logits (tokenizer, temporaries, JVM). */
    public static final long HEADROOM = 64L << 20;

    public static int defaultContext(ModelConfig c) {
        return Math.min(c.contextLength(), DEFAULT_CONTEXT_CAP);
    }

    /** The plan for loading {@code file} (with config {@code c}) for {@code contextLength} positions (0 = default). */
    public static MemoryPlan of(GgufFile file, ModelConfig c, int contextLength, int maxBatch) {
        return of(file, c, contextLength, maxBatch, null);
    }

    /**
     * The plan for loading {@code file} with an optional Gemma 3n MatFormer slice ({@link MatFormer#parse} syntax;
     * ignored for other architectures, whose loader refuses it): weights, KV cache and scratch of the sliced model.
     */
    public static MemoryPlan of(GgufFile file, ModelConfig c, int contextLength, int maxBatch, String matformer) {
        int ctx = contextLength > 0 ? contextLength : defaultContext(c);
        Map<GgmlType, long[]> byType = new EnumMap<>(GgmlType.class);
        for (GgufTensorInfo t : file.tensors().values()) {
            long[] e = byType.computeIfAbsent(t.type(), k -> new long[2]);
            e[0]++;
            e[1] += t.byteSize();
        }
        boolean is3n = c.architecture().equals("gemma3n");
        long weights = 0, mapped = 0;
        ModelConfig mc = c;
        boolean[] ownsKv;
        if (is3n) {
            // the model as Gemma3nModel will build it (sliced when asked): which blocks, which FFN widths, who shares K/V
            Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(file, c, matformer == null ? null : MatFormer.parse(matformer));
            mc = loaded.config();
            Gemma3nConfig g = loaded.gemma3n();
            int[] modelLayer = new int[g.fileLayers()];
            java.util.Arrays.fill(modelLayer, -1);
            for (int l = 0; l < mc.layers(); l++) modelLayer[g.fileLayer()[l]] = l;
            ownsKv = new boolean[mc.layers()];
            for (int l = 0; l < mc.layers(); l++) ownsKv[l] = !g.sharesKv(l);
            for (GgufTensorInfo t : file.tensors().values()) {
                long bytes = usedBytes3n(t, modelLayer, mc, g);
                weights += bytes;
                if (t.name().equals("per_layer_token_embd.weight")) mapped += bytes;
            }
        } else {
            for (GgufTensorInfo t : file.tensors().values()) weights += t.byteSize();
            ownsKv = new boolean[c.layers()];
            java.util.Arrays.fill(ownsKv, true);
        }
        // per layer as the model's newCache allocates: f32 keys + values, a ring of min(window, ctx) slots on sliding
        // layers, ctx slots on global ones; layers that read another layer's cache (Gemma 3n) cost nothing
        long slot = 0, position = 0;
        int window = mc.slidingWindow(), owning = 0;
        for (int l = 0; l < mc.layers(); l++) {
            if (!ownsKv[l]) continue;
            owning++;
            long bytes = 2L * 4 * mc.kvDim();
            if (mc.sliding()[l] && window > 0) slot += bytes;
            else position += bytes;
        }
        long scratch = is3n ? scratch3n(file, mc, maxBatch, owning) : Gemma3Model.scratchBytes(c, maxBatch);
        long kv = slot * Math.min(window, ctx) + position * ctx;
        return new MemoryPlan(file.path().getFileName().toString(), ctx, maxBatch, weights, mapped, Collections.unmodifiableMap(byType),
                kv, slot, position, window, scratch, HEADROOM + 4L * maxBatch * mc.vocabSize(), systemHeapLimit(), systemMemAvailable());
    }

    /**
     * Bytes of tensor {@code t} that the (possibly sliced) Gemma 3n model reads: none for a skipped block or for the
     * K/V projections of a layer that shares K/V, a prefix of the rows of gate/up and of the columns of down for a
     * narrowed FFN (the model maps the gate/up prefix and copies the down columns once), all of it otherwise.
     */
    private static long usedBytes3n(GgufTensorInfo t, int[] modelLayer, ModelConfig mc, Gemma3nConfig g) {
        String name = t.name();
        if (!name.startsWith("blk.")) return t.byteSize();
        int dot = name.indexOf('.', 4);
        int fl;
        try {
            fl = Integer.parseInt(name.substring(4, dot));
        } catch (RuntimeException e) {
            return t.byteSize();
        }
        if (fl < 0 || fl >= modelLayer.length || modelLayer[fl] < 0) return 0;
        int l = modelLayer[fl];
        String rest = name.substring(dot + 1);
        if (g.sharesKv(l) && (rest.startsWith("attn_k.") || rest.startsWith("attn_v.") || rest.startsWith("attn_k_norm."))) return 0;
        int ffn = mc.ffnDim()[l];
        long[] d = t.dims();
        if (d.length == 2 && (rest.startsWith("ffn_gate.") || rest.startsWith("ffn_up.")) && d[1] > ffn) {
            return t.byteSize() / d[1] * ffn;
        }
        if (d.length == 2 && rest.startsWith("ffn_down.") && d[0] > ffn) {
            return t.type().bytesFor(ffn) * d[1];
        }
        return t.byteSize();
    }

    /**
     * Gemma3nModel's per-batch buffers: the Gemma 3 set plus AltUp's streams and predictions, the per-layer inputs,
     * Laurel's low-rank middle and per-owning-layer batch K/V. An estimate kept in step with that class by hand.
     */
    private static long scratch3n(GgufFile f, ModelConfig c, int maxBatch, int ownLayers) {
        String a = c.architecture() + ".";
        long streams = f.getLong(a + "altup.num_inputs", 4), p = f.getLong(a + "embedding_length_per_layer_input", 256);
        long ffn = java.util.Arrays.stream(c.ffnDim()).max().orElse(0);
        long perToken = (1 + 2 * streams + 4) * c.dim() + (long) c.layers() * p + 2L * c.qDim() + 2L * c.kvDim()
                + Math.max(ffn, p) + ffn + 64 + streams + p + 2L * c.kvDim() * ownLayers + c.vocabSize();
        return 4 * perToken * maxBatch;
    }

    /** Heap the model needs: KV cache + scratch + headroom. */
    public long heapNeeded() {
        return kvBytes + scratchBytes + headroomBytes;
    }

    /** Weights that must stay resident for speed: every byte the model reads except the row-per-token tables. */
    public long fastWeightBytes() {
        return weightBytes - mappedBytes;
    }

    /** What must fit in memory: the weights in fast memory (page cache) + heap; mapped tables are left to the disk. */
    public long totalBytes() {
        return fastWeightBytes() + heapNeeded();
    }

    /** Null when the plan fits, else the one-line reason with the numbers and what to change. */
    public String problem() {
        if (heapNeeded() > heapLimit) {
            int fits = largestContextFitting(heapLimit);
            String ctxAdvice = fits >= 1 && fits < contextLength ? "use a smaller context (-c " + fits + ") or " : "";
            return file + ": needs " + gb(heapNeeded()) + " of Java heap for a " + contextLength + "-token context (KV cache "
                    + gb(kvBytes) + " + scratch " + gb(scratchBytes) + " + headroom " + gb(headroomBytes) + ") but the JVM allows "
                    + gb(heapLimit) + "; " + ctxAdvice + "give Java a larger heap (JEMMA_JAVA_OPTS=-Xmx"
                    + Math.max(1, (heapNeeded() + (1L << 30) - 1) >> 30) + "g)";
        }
        if (memAvailable >= 0 && totalBytes() > memAvailable) {
            String advice;
            if (kvBytes > fastWeightBytes() / 4 && contextLength > 1024) {
                int fits = largestContextFitting(memAvailable - fastWeightBytes());
                advice = fits >= 1 ? "use a smaller context (-c " + fits + ") or a smaller model file" : "use a smaller model file (a lower quantization)";
            } else {
                advice = "use a smaller model file (a lower quantization, e.g. Q4_0) or free memory";
            }
            String weights = mappedBytes > 0 ? "weights in fast memory " + gb(fastWeightBytes()) + ", " + gb(mappedBytes) + " more mapped from disk"
                    : "weights " + gb(weightBytes);
            return file + ": needs " + gb(totalBytes()) + " (" + weights + " + KV cache " + gb(kvBytes) + " for "
                    + contextLength + " tokens + scratch " + gb(scratchBytes + headroomBytes) + ") but only " + gb(memAvailable)
                    + " of memory is available; " + advice;
        }
        return null;
    }

    public boolean fits() {
        return problem() == null;
    }

    /** Throws a {@link JemmaException} with {@link #problem()} unless the plan fits or checking is turned off. */
    public MemoryPlan check() {
        if ("false".equalsIgnoreCase(System.getProperty("jemma.memory.check"))) return this;
        String p = problem();
        if (p != null) throw new JemmaException(p);
        return this;
    }

    /** Largest context (a multiple of 256, or of 1 below 256) whose KV cache + scratch + headroom fit {@code budget}. */
    private int largestContextFitting(long budget) {
        long fixed = scratchBytes + headroomBytes;
        int lo = 0, hi = contextLength;
        while (lo < hi) {
            int mid = (int) (((long) lo + hi + 1) / 2);
            if (kvBytesAt(mid) + fixed <= budget) lo = mid;
            else hi = mid - 1;
        }
        return lo >= 256 ? lo / 256 * 256 : lo;
    }

    /** KV bytes this model would need for another context length. */
    public long kvBytesAt(int ctx) {
        return ctx <= 0 ? 0 : kvSlotBytes * Math.min(window, ctx) + kvPositionBytes * ctx;
    }

    static long systemHeapLimit() {
        Long o = Long.getLong("jemma.memory.heap");
        return o != null ? o : Runtime.getRuntime().maxMemory();
    }

    /** MemAvailable (Linux), lowered to the cgroup v2 limit's remaining room when that is smaller; -1 if unknown. */
    static long systemMemAvailable() {
        Long o = Long.getLong("jemma.memory.available");
        if (o != null) return o;
        long avail = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemAvailable:")) {
                    avail = Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        try {
            Path max = Path.of("/sys/fs/cgroup/memory.max"), cur = Path.of("/sys/fs/cgroup/memory.current");
            if (Files.isReadable(max) && Files.isReadable(cur)) {
                String m = Files.readString(max).trim();
                if (!m.equals("max")) {
                    long room = Long.parseLong(m) - Long.parseLong(Files.readString(cur).trim());
                    if (room >= 0 && (avail < 0 || room < avail)) avail = room;
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // no cgroup limit readable: MemAvailable stands
        }
        return avail;
    }

    /** "1.23 GB" (decimal units, like file sizes in ls -h --si and llama.cpp's logs). */
    public static String gb(long bytes) {
        if (bytes < 1_000_000) return String.format(Locale.ROOT, "%.1f KB", bytes / 1e3);
        if (bytes < 1_000_000_000) return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
    }
}
