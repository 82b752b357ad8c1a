package dev.jemma.tools.quant;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.tensor.Formats;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.ThreadPool;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Quantizes a GGUF model file (F32/F16/BF16 weights) to a {@link QuantPreset}, choosing each tensor's type the
 * way llama.cpp's {@code llama-quantize} does without an importance matrix, so files are comparable:
 * <ul>
 *   <li>only 2-D {@code *.weight} tensors are quantized (norms and other vectors stay as they are); tiny
 *       Gemma 3n AltUp/LAuReL tensors and the per-layer projection are kept too;</li>
 *   <li>the output matrix — for Gemma the tied {@code token_embd} — becomes Q6_K (Q8_0 when its rows are not
 *       a multiple of 256, or when the target is Q8_0);</li>
 *   <li>Q4_K_M / Q5_K_M: {@code attn_v} and {@code ffn_down} become Q6_K in the layers llama.cpp's
 *       "use more bits" rule picks (first and last eighth, and every third layer between);</li>
 *   <li>a K-quant whose rows are not a multiple of 256 falls back (Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, and F16
 *       if even that does not divide the row).</li>
 * </ul>
 * {@code pure} disables all mixing except that fallback. Tensors are quantized row-parallel and streamed into a
 * {@link GgufWriter}, so only one tensor is in memory at a time.
 */
public final class ModelQuantizer {
    /** Options; {@code tokenEmbeddingType} and {@code outputType} may be null (= the rules above). */
    public record Options(QuantPreset preset, GgmlType tokenEmbeddingType, GgmlType outputType, boolean pure) {
        public Options(QuantPreset preset) {
            this(preset, null, null, false);
        }
    }

    /** Progress: called with the number of input bytes processed so far (from several threads' tensors, in order). */
    public interface Progress {
        void update(long done, long total, String tensor);
    }

    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    private ModelQuantizer() {
    }

    /** llama.cpp's layer selection for extra precision in Q4_K_M / Q5_K_M. */
    static boolean useMoreBits(int layer, int nLayers) {
        return layer < nLayers / 8 || layer >= 7 * nLayers / 8 || (layer - nLayers / 8) % 3 == 2;
    }

    static boolean isQuantizable(GgufTensorInfo t) {
        String n = t.name();
        if (!n.endsWith("weight") || t.dims().length < 2) return false;
        if (n.endsWith("_norm.weight")) return false;
        if (n.contains("altup") || n.contains("laurel") || n.contains("per_layer_model_proj")) return false;
        if (n.equals("position_embd.weight") || n.equals("token_types.weight")) return false;
        return true;
    }

    /** The type each tensor of {@code file} gets. Tensors not quantized keep their stored type. */
    public static Map<String, GgmlType> plan(GgufFile file, Options o) {
        boolean hasOutput = file.tensors().containsKey("output.weight");
        int nLayers = file.has(ConfigKeys.blockCount(file)) ? file.requireInt(ConfigKeys.blockCount(file)) : 0;
        Map<String, GgmlType> plan = new LinkedHashMap<>();
        GgmlType base = o.preset().defaultType;
        for (GgufTensorInfo t : file.tensors().values()) {
            if (!isQuantizable(t)) {
                plan.put(t.name(), t.type());
                continue;
            }
            GgmlType type = base;
            String n = t.name();
            long row = t.dims()[0];
            boolean isOutput = n.equals("output.weight") || (!hasOutput && n.equals("token_embd.weight"));
            if (!o.pure() && base.isQuantized()) {
                if (isOutput) {
                    if (o.outputType() != null) type = o.outputType();
                    else if (row % 256 != 0) type = GgmlType.Q8_0;
                    else if (base != GgmlType.Q8_0) type = GgmlType.Q6_K;
                } else if (n.equals("token_embd.weight") && o.tokenEmbeddingType() != null) {
                    type = o.tokenEmbeddingType();
                } else if (o.preset() == QuantPreset.Q4_K_M || o.preset() == QuantPreset.Q5_K_M) {
                    Matcher m = LAYER.matcher(n);
                    if (m.find() && (n.endsWith(".attn_v.weight") || n.endsWith(".ffn_down.weight"))
                            && useMoreBits(Integer.parseInt(m.group(1)), nLayers)) {
                        type = GgmlType.Q6_K;
                    }
                }
            }
            // An explicit token-embedding type wins even when token_embd is also the (tied) output.
            if (n.equals("token_embd.weight") && o.tokenEmbeddingType() != null) type = o.tokenEmbeddingType();
            if (row % type.blockSize != 0) {
                type = switch (type) {
                    case Q4_K -> GgmlType.Q5_0;
                    case Q5_K -> GgmlType.Q5_1;
                    case Q6_K -> GgmlType.Q8_0;
                    case Q2_K, Q3_K -> GgmlType.Q4_0;
                    default -> GgmlType.F16;
                };
                if (row % type.blockSize != 0) type = GgmlType.F16;
            }
            plan.put(n, type);
        }
        return plan;
    }

    /** Writes the quantized copy of {@code in} to {@code out} (atomically); returns the plan it followed. */
    public static Map<String, GgmlType> quantize(Path in, Path out, Options o, ThreadPool pool, Progress progress) {
        try (GgufFile file = GgufFile.open(in)) {
            for (GgufTensorInfo t : file.tensors().values()) {
                if (isQuantizable(t) && t.type() != GgmlType.F32 && t.type() != GgmlType.F16 && t.type() != GgmlType.BF16) {
                    throw new JemmaException(in + ": tensor " + t.name() + " is already " + t.type()
                            + "; quantize from an F32, F16 or BF16 file");
                }
            }
            Map<String, GgmlType> plan = plan(file, o);
            GgufWriter w = new GgufWriter().copyMetadata(file);
            w.putU32("general.quantization_version", 2);
            w.put("general.file_type", GgufValueType.UINT32, null, (long) o.preset().fileType);
            long total = 0;
            for (GgufTensorInfo t : file.tensors().values()) total += t.byteSize();
            long[] done = {0};
            final long totalBytes = total;
            for (GgufTensorInfo t : file.tensors().values()) {
                GgmlType type = plan.get(t.name());
                w.addTensor(t.name(), t.dims(), type, os -> {
                    writeTensor(file, t, type, pool, os);
                    done[0] += t.byteSize();
                    if (progress != null) progress.update(done[0], totalBytes, t.name());
                });
            }
            w.write(out);
            return plan;
        }
    }

    private static void writeTensor(GgufFile file, GgufTensorInfo t, GgmlType type, ThreadPool pool,
                                    java.io.OutputStream os) throws IOException {
        MemorySegment data = file.tensorData(t);
        if (type == t.type()) { // unchanged: copy the stored bytes
            byte[] buf = new byte[1 << 20];
            for (long off = 0; off < t.byteSize(); off += buf.length) {
                int n = (int) Math.min(buf.length, t.byteSize() - off);
                MemorySegment.copy(data, java.lang.foreign.ValueLayout.JAVA_BYTE, off, buf, 0, n);
                os.write(buf, 0, n);
            }
            return;
        }
        int rowLen = (int) t.dims()[0];
        long rows = t.elementCount() / rowLen;
        long inRowBytes = t.type().bytesFor(rowLen);
        int outRowBytes = (int) type.bytesFor(rowLen);
        BlockQuantizer q = Quantizers.of(type);
        var fmt = Formats.of(t.type());
        // chunks of rows keep memory bounded (~16 MB of f32 per chunk) while giving every thread work
        int chunkRows = (int) Math.max(1, Math.min(rows, (4L << 20) / rowLen));
        byte[] out = new byte[chunkRows * outRowBytes];
        int threads = pool == null ? 1 : pool.threads();
        float[][] scratch = new float[Math.max(1, threads)][rowLen];
        for (long r0 = 0; r0 < rows; r0 += chunkRows) {
            int n = (int) Math.min(chunkRows, rows - r0);
            long base = r0;
            Runnable serial = () -> {
                for (int r = 0; r < n; r++) {
                    fmt.dequantize(data, (base + r) * inRowBytes, scratch[0], 0, rowLen);
                    q.quantize(scratch[0], 0, rowLen, out, r * outRowBytes);
                }
            };
            if (pool == null || threads <= 1) serial.run();
            else pool.parallelFor(n, (s, e, worker) -> {
                for (int r = s; r < e; r++) {
                    fmt.dequantize(data, (base + r) * inRowBytes, scratch[worker], 0, rowLen);
                    q.quantize(scratch[worker], 0, rowLen, out, r * outRowBytes);
                }
            });
            os.write(out, 0, n * outRowBytes);
        }
    }

    /** Reads the architecture-prefixed keys the plan needs. */
    static final class ConfigKeys {
        static String blockCount(GgufFile f) {
            Object a = f.get("general.architecture");
            return (a == null ? "" : a) + ".block_count";
        }
    }

    /** Human-readable summary of a plan: counts per type. */
    public static String summary(Map<String, GgmlType> plan) {
        Map<GgmlType, Integer> counts = new LinkedHashMap<>();
        for (GgmlType t : plan.values()) counts.merge(t, 1, Integer::sum);
        List<String> parts = new ArrayList<>();
        counts.forEach((t, c) -> parts.add(t + "×" + c));
        return String.join(", ", parts);
    }
}
