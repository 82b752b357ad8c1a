package dev.jemma.tools.quant;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.model.Gemma3nConfig;
import dev.jemma.core.model.MatFormer;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.reflect.Array;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Writes a MatFormer slice of a Gemma 3n GGUF as a new GGUF, tensor types unchanged (no requantization): the kept
 * blocks renumbered 0..n-1, gate/up cut to their first {@code ffn} rows and down to its first {@code ffn} columns,
 * the per-layer-embedding table and {@code per_layer_model_proj} cut to the kept layers' P-slices, and the per-layer
 * keys ({@code feed_forward_length}, {@code attention.sliding_window_pattern}, {@code activation_sparsity_scale})
 * picked for the kept layers, {@code shared_kv_layers} counted over them — what Google's slicing notebook does and
 * what tools/gemma3n_matformer_cut.py does with numpy. Loading the result equals loading the source with the same
 * {@code --matformer} spec.
 */
public final class MatFormerExport {
    private MatFormerExport() {
    }

    /** Slices {@code in} with {@code spec} ({@link MatFormer#parse} syntax) and writes {@code out} atomically; returns a description. */
    public static String write(Path in, Path out, String spec) {
        MatFormer slice = MatFormer.parse(spec);
        try (GgufFile f = GgufFile.open(in)) {
            ModelConfig base = ModelLoader.readConfig(f);
            if (!base.architecture().equals("gemma3n")) {
                throw new JemmaException(in + ": --matformer applies to gemma3n models only, this one is " + base.architecture());
            }
            Gemma3nConfig.Loaded loaded = Gemma3nConfig.read(f, base, slice); // validates shapes and the slice
            Gemma3nConfig g = loaded.gemma3n();
            int[] keep = g.fileLayer();
            int[] ffn = loaded.config().ffnDim();
            int n = base.layers(), p = g.pleDim();
            String a = "gemma3n.";

            GgufWriter w = new GgufWriter().copyMetadata(f);
            w.put(a + "block_count", f.valueType(a + "block_count")[0], null, (long) keep.length);
            w.put(a + "attention.shared_kv_layers", GgufValueType.UINT32, null, (long) g.sharedKvLayers());
            long[] ffnOut = new long[keep.length];
            for (int i = 0; i < keep.length; i++) ffnOut[i] = ffn[i];
            w.put(a + "feed_forward_length", GgufValueType.ARRAY, GgufValueType.UINT32, ffnOut);
            for (String k : new String[]{"attention.sliding_window_pattern", "activation_sparsity_scale"}) {
                Object v = f.get(a + k);
                if (v == null || !v.getClass().isArray()) continue;
                if (Array.getLength(v) != n) throw f.error(a + k + ": " + Array.getLength(v) + " entries for " + n + " layers");
                Object picked = Array.newInstance(v.getClass().getComponentType(), keep.length);
                for (int i = 0; i < keep.length; i++) Array.set(picked, i, Array.get(v, keep[i]));
                GgufValueType[] t = f.valueType(a + k);
                w.put(a + k, t[0], t.length > 1 ? t[1] : null, picked);
            }
            String name = f.getString("general.name");
            if (name != null) w.putString("general.name", name + " (MatFormer " + slice.text() + ": " + keep.length + " layers)");

            Map<Integer, Integer> renumber = new HashMap<>();
            for (int i = 0; i < keep.length; i++) renumber.put(keep[i], i);
            for (GgufTensorInfo t : f.tensors().values()) {
                String tn = t.name();
                long[] d = t.dims().clone();
                MemorySegment data = f.tensorData(t);
                long rowBytes = t.type().bytesFor(d[0]);
                if (tn.startsWith("blk.")) {
                    int dot = tn.indexOf('.', 4);
                    Integer l = renumber.get(Integer.parseInt(tn.substring(4, dot)));
                    if (l == null) continue;
                    String rest = tn.substring(dot + 1);
                    int width = ffn[l];
                    String newName = "blk." + l + "." + rest;
                    if ((rest.equals("ffn_gate.weight") || rest.equals("ffn_up.weight")) && d[1] != width) {
                        d[1] = width;
                        long bytes = rowBytes * width;
                        w.addTensor(newName, d, t.type(), os -> copy(data, 0, bytes, os));
                    } else if (rest.equals("ffn_down.weight") && d[0] != width) {
                        long rows = d[1], cut = t.type().bytesFor(width);
                        d[0] = width;
                        w.addTensor(newName, d, t.type(), os -> {
                            for (long r = 0; r < rows; r++) copy(data, r * rowBytes, cut, os);
                        });
                    } else {
                        w.addTensor(newName, d, t.type(), os -> copy(data, 0, t.byteSize(), os));
                    }
                } else if (tn.equals("per_layer_token_embd.weight")) {
                    if (p % t.type().blockSize != 0) throw f.error("tensor " + tn + ": P " + p + " is not a multiple of the " + t.type() + " block");
                    long rows = d[1], slice1 = t.type().bytesFor(p);
                    d[0] = (long) keep.length * p;
                    w.addTensor(tn, d, t.type(), os -> {
                        for (long r = 0; r < rows; r++) {
                            for (int fl : keep) copy(data, r * rowBytes + t.type().bytesFor((long) fl * p), slice1, os);
                        }
                    });
                } else if (tn.equals("per_layer_model_proj.weight")) {
                    d[1] = (long) keep.length * p;
                    w.addTensor(tn, d, t.type(), os -> {
                        for (int fl : keep) copy(data, (long) fl * p * rowBytes, p * rowBytes, os);
                    });
                } else {
                    w.addTensor(tn, d, t.type(), os -> copy(data, 0, t.byteSize(), os));
                }
            }
            w.write(out);
            return g.matformer();
        }
    }

    private static void copy(MemorySegment src, long off, long len, OutputStream os) throws IOException {
        byte[] buf = new byte[(int) Math.min(len, 1 << 20)];
        for (long done = 0; done < len; ) {
            int k = (int) Math.min(buf.length, len - done);
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, off + done, buf, 0, k);
            os.write(buf, 0, k);
            done += k;
        }
    }
}
