package dev.jemma.core.gguf;

import dev.jemma.core.JemmaException;
import dev.jemma.core.tensor.GgmlType;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file: metadata with explicit value types, then tensor infos, then the aligned tensor data,
 * streamed from {@link TensorSource}s so multi-gigabyte models never sit in memory. The file is written to a
 * temporary sibling and renamed into place only when complete: a failed or interrupted write leaves no
 * half-written model behind.
 */
public final class GgufWriter {
    /** Produces a tensor's bytes; must write exactly the declared size. */
    @FunctionalInterface
    public interface TensorSource {
        void writeTo(OutputStream out) throws IOException;
    }

    private record Value(GgufValueType type, GgufValueType elementType, Object value) {
    }

    private record Tensor(String name, long[] dims, GgmlType type, long size, TensorSource source) {
    }

    private final Map<String, Value> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private int alignment = 32;

    public GgufWriter putString(String key, String v) {
        return put(key, GgufValueType.STRING, null, v);
    }

    public GgufWriter putU32(String key, long v) {
        return put(key, GgufValueType.UINT32, null, v);
    }

    public GgufWriter putI32(String key, int v) {
        return put(key, GgufValueType.INT32, null, v);
    }

    public GgufWriter putU64(String key, long v) {
        return put(key, GgufValueType.UINT64, null, v);
    }

    public GgufWriter putF32(String key, float v) {
        return put(key, GgufValueType.FLOAT32, null, v);
    }

    public GgufWriter putBool(String key, boolean v) {
        return put(key, GgufValueType.BOOL, null, v);
    }

    public GgufWriter putStrings(String key, String[] v) {
        return put(key, GgufValueType.ARRAY, GgufValueType.STRING, v);
    }

    public GgufWriter putFloats(String key, float[] v) {
        return put(key, GgufValueType.ARRAY, GgufValueType.FLOAT32, v);
    }

    public GgufWriter putInts(String key, int[] v) {
        return put(key, GgufValueType.ARRAY, GgufValueType.INT32, v);
    }

    public GgufWriter putBools(String key, boolean[] v) {
        return put(key, GgufValueType.ARRAY, GgufValueType.BOOL, v);
    }

    /** Any value with an explicit type (arrays: {@code type} = ARRAY and the element type). */
    public GgufWriter put(String key, GgufValueType type, GgufValueType elementType, Object value) {
        if (key.equals("general.alignment")) alignment = ((Number) value).intValue();
        metadata.put(key, new Value(type, elementType, value));
        return this;
    }

    public GgufWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    /** Copies every metadata key of {@code src}, keeping its stored types. */
    public GgufWriter copyMetadata(GgufFile src) {
        for (Map.Entry<String, Object> e : src.metadata().entrySet()) {
            GgufValueType[] t = src.valueType(e.getKey());
            put(e.getKey(), t[0], t.length > 1 ? t[1] : null, e.getValue());
        }
        return this;
    }

    public GgufWriter addTensor(String name, long[] dims, GgmlType type, TensorSource source) {
        long n = 1;
        for (long d : dims) n *= d;
        if (dims[0] % type.blockSize != 0) throw new IllegalArgumentException(name + ": row " + dims[0] + " not a multiple of " + type.blockSize);
        tensors.add(new Tensor(name, dims.clone(), type, type.bytesFor(n), source));
        return this;
    }

    /** Writes everything to {@code path} atomically. */
    public void write(Path path) {
        Path abs = path.toAbsolutePath();
        Path tmp = abs.resolveSibling(abs.getFileName() + ".part");
        // Ctrl-C or a kill mid-write ends the JVM without the catch below: the JVM's exit deletes what is still there
        // (a quantization stopped half-way otherwise left gigabytes of OUT.gguf.part); once moved it is gone already
        tmp.toFile().deleteOnExit();
        try {
            try (OutputStream raw = Files.newOutputStream(tmp);
                 CountingStream out = new CountingStream(new BufferedOutputStream(raw, 1 << 20))) {
                writeHeader(out);
                for (Tensor t : tensors) {
                    pad(out);
                    long before = out.count;
                    t.source().writeTo(out);
                    if (out.count - before != t.size()) {
                        throw new IllegalStateException("tensor " + t.name() + " wrote " + (out.count - before) + " bytes, expected " + t.size());
                    }
                }
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new JemmaException(path + ": cannot write: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            deleteQuietly(tmp);
            throw e;
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: the temp file has a .part suffix and is never mistaken for a model
        }
    }

    private void writeHeader(CountingStream out) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(GgufFile.MAGIC).putInt(3).putLong(tensors.size()).putLong(metadata.size());
        out.write(b.array(), 0, 24);
        for (Map.Entry<String, Value> e : metadata.entrySet()) {
            writeString(out, e.getKey());
            writeI32(out, e.getValue().type().ordinal());
            writeValue(out, e.getValue().type(), e.getValue().elementType(), e.getValue().value());
        }
        long offset = 0;
        for (Tensor t : tensors) {
            writeString(out, t.name());
            writeI32(out, t.dims().length);
            for (long d : t.dims()) writeI64(out, d);
            writeI32(out, t.type().id);
            offset = (offset + alignment - 1) / alignment * alignment;
            writeI64(out, offset);
            offset += t.size();
        }
    }

    /** Data starts aligned and so does every tensor; absolute alignment equals alignment relative to the data start. */
    private void pad(CountingStream out) throws IOException {
        while (out.count % alignment != 0) out.write(0);
    }

    private void writeValue(OutputStream out, GgufValueType type, GgufValueType elementType, Object v) throws IOException {
        switch (type) {
            case UINT8, INT8 -> out.write(((Number) v).intValue());
            case BOOL -> out.write(v instanceof Boolean bo ? (bo ? 1 : 0) : ((Number) v).intValue());
            case UINT16, INT16 -> {
                int x = ((Number) v).intValue();
                out.write(x & 0xff);
                out.write((x >>> 8) & 0xff);
            }
            case UINT32, INT32 -> writeI32(out, (int) ((Number) v).longValue());
            case FLOAT32 -> writeI32(out, Float.floatToRawIntBits(((Number) v).floatValue()));
            case UINT64, INT64 -> writeI64(out, ((Number) v).longValue());
            case FLOAT64 -> writeI64(out, Double.doubleToRawLongBits(((Number) v).doubleValue()));
            case STRING -> writeString(out, (String) v);
            case ARRAY -> {
                if (elementType == null) throw new IllegalArgumentException("array without element type");
                writeI32(out, elementType.ordinal());
                int n = java.lang.reflect.Array.getLength(v);
                writeI64(out, n);
                for (int i = 0; i < n; i++) {
                    Object e = java.lang.reflect.Array.get(v, i);
                    if (elementType == GgufValueType.ARRAY) {
                        throw new IllegalArgumentException("nested arrays are not written");
                    }
                    writeValue(out, elementType, null, e);
                }
            }
        }
    }

    private static void writeString(OutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        writeI64(out, b.length);
        out.write(b);
    }

    private static void writeI32(OutputStream out, int v) throws IOException {
        out.write(v & 0xff);
        out.write((v >>> 8) & 0xff);
        out.write((v >>> 16) & 0xff);
        out.write((v >>> 24) & 0xff);
    }

    private static void writeI64(OutputStream out, long v) throws IOException {
        writeI32(out, (int) v);
        writeI32(out, (int) (v >>> 32));
    }

    /** Counts bytes so tensor padding and sizes can be checked. */
    private static final class CountingStream extends java.io.FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
