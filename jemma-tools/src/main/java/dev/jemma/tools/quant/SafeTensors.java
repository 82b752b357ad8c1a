package dev.jemma.tools.quant;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Read-only view of Hugging Face safetensors checkpoints: one {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. The format is an 8-byte little-endian header length, a JSON header
 * ({@code name → {dtype, shape, data_offsets}}), then raw little-endian data; files are memory-mapped and every
 * offset is checked against the file size before use.
 */
public final class SafeTensors implements AutoCloseable {
    /** One tensor: dtype (F32, F16, BF16), shape in PyTorch order (outermost first), and its bytes. */
    public record Entry(String name, String dtype, long[] shape, MemorySegment data, Path file) {
        public long elementCount() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }

        /** Element {@code i} as f32. */
        public float get(long i) {
            return switch (dtype) {
                case "F32" -> data.get(F32, 4 * i);
                case "F16" -> Float.float16ToFloat(data.get(I16, 2 * i));
                case "BF16" -> Float.intBitsToFloat((data.get(I16, 2 * i) & 0xffff) << 16);
                default -> throw new JemmaException(file + ": tensor " + name + " has unsupported dtype " + dtype);
            };
        }

        /** Elements [start, start+n) as f32 into dst. */
        public void read(long start, float[] dst, int off, int n) {
            if (dtype.equals("F32")) {
                MemorySegment.copy(data, F32, 4 * start, dst, off, n);
                return;
            }
            for (int i = 0; i < n; i++) dst[off + i] = get(start + i);
        }
    }

    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Arena arena = Arena.ofShared();
    private final Map<String, Entry> tensors = new LinkedHashMap<>();

    private SafeTensors() {
    }

    /** Opens the checkpoint in {@code dir}: the index's shards when an index exists, else model.safetensors. */
    public static SafeTensors openDir(Path dir) {
        SafeTensors st = new SafeTensors();
        try {
            Path index = dir.resolve("model.safetensors.index.json");
            List<Path> files = new ArrayList<>();
            if (Files.isRegularFile(index)) {
                JsonNode map = readJson(index).get("weight_map");
                if (map == null || !map.isObject()) throw new JemmaException(index + ": no weight_map object");
                Map<String, String> byName = new TreeMap<>();
                for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                    var e = it.next();
                    byName.put(e.getKey(), e.getValue().asText());
                }
                for (String f : new java.util.LinkedHashSet<>(byName.values())) {
                    Path p = dir.resolve(f).normalize();
                    if (!p.startsWith(dir.normalize())) throw new JemmaException(index + ": shard path '" + f + "' leaves the directory");
                    if (!Files.isRegularFile(p)) throw new JemmaException(index + ": shard " + f + " is missing");
                    if (!files.contains(p)) files.add(p);
                }
                files.sort(null);
                for (Path f : files) st.add(f);
                for (String name : byName.keySet()) {
                    Entry e = st.tensors.get(name);
                    if (e == null) throw new JemmaException(index + ": tensor " + name + " is not in " + byName.get(name));
                }
            } else {
                Path single = dir.resolve("model.safetensors");
                if (!Files.isRegularFile(single)) {
                    throw new JemmaException(dir + ": no model.safetensors or model.safetensors.index.json");
                }
                st.add(single);
            }
            return st;
        } catch (RuntimeException e) {
            st.close();
            throw e;
        }
    }

    private static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new JemmaException(p + ": invalid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }

    private void add(Path file) {
        MemorySegment seg;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            throw new JemmaException(file + ": cannot read: " + e.getMessage());
        }
        long size = seg.byteSize();
        if (size < 8) throw new JemmaException(file + ": too short for a safetensors header");
        long hlen = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (hlen <= 0 || hlen > size - 8 || hlen > (100L << 20)) {
            throw new JemmaException(file + ": header length " + hlen + " is invalid for a file of " + size + " bytes");
        }
        byte[] hb = seg.asSlice(8, hlen).toArray(ValueLayout.JAVA_BYTE);
        JsonNode header;
        try {
            header = JSON.readTree(new String(hb, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new JemmaException(file + ": header is not valid JSON");
        }
        long dataStart = 8 + hlen;
        // sorted by name, the order safetensors' safe_open lists keys in (and so llama.cpp's converter writes)
        Map<String, JsonNode> sorted = new TreeMap<>();
        header.fields().forEachRemaining(e -> sorted.put(e.getKey(), e.getValue()));
        for (Map.Entry<String, JsonNode> e : sorted.entrySet()) {
            if (e.getKey().equals("__metadata__")) continue;
            JsonNode t = e.getValue();
            String dtype = t.path("dtype").asText("");
            JsonNode shapeNode = t.get("shape"), offs = t.get("data_offsets");
            if (shapeNode == null || offs == null || offs.size() != 2) {
                throw new JemmaException(file + ": tensor " + e.getKey() + " lacks shape or data_offsets");
            }
            long[] shape = new long[shapeNode.size()];
            long n = 1;
            for (int i = 0; i < shape.length; i++) {
                shape[i] = shapeNode.get(i).asLong();
                if (shape[i] < 0) throw new JemmaException(file + ": tensor " + e.getKey() + " has a negative dimension");
                n *= shape[i];
            }
            int width = switch (dtype) {
                case "F32" -> 4;
                case "F16", "BF16" -> 2;
                default -> 0; // listed, but refused only if actually used
            };
            long begin = offs.get(0).asLong(), end = offs.get(1).asLong();
            if (begin < 0 || end < begin || dataStart + end > size) {
                throw new JemmaException(file + ": tensor " + e.getKey() + " data_offsets [" + begin + ", " + end + "] exceed the file");
            }
            if (width > 0 && end - begin != n * width) {
                throw new JemmaException(file + ": tensor " + e.getKey() + " has " + (end - begin) + " bytes, shape needs " + n * width);
            }
            if (tensors.containsKey(e.getKey())) throw new JemmaException(file + ": tensor " + e.getKey() + " appears twice");
            tensors.put(e.getKey(), new Entry(e.getKey(), dtype, shape, seg.asSlice(dataStart + begin, end - begin), file));
        }
    }

    /** Tensors by name, in file order (shards in file-name order, each sorted by name). */
    public Map<String, Entry> tensors() {
        return tensors;
    }

    @Override
    public void close() {
        arena.close();
    }
}
