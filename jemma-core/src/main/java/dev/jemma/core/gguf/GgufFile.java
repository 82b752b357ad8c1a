package dev.jemma.core.gguf;

import dev.jemma.core.JemmaException;
import dev.jemma.core.Printable;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.WeightMatrix;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file mapped read-only into memory. Metadata is parsed eagerly into Java values; tensor data stays in the
 * mapping and is exposed as zero-copy {@link MemorySegment} slices. Every count, offset and size is checked against
 * the file length before it is used, so a damaged file yields a {@link GgufFormatException} naming the file, the
 * field and the value instead of a crash.
 *
 * <p>Metadata value mapping: integers up to 32 bits signed → {@code Integer} ({@code uint32} → {@code Long}),
 * 64-bit → {@code Long}, floats → {@code Float}/{@code Double}, bool → {@code Boolean}, string → {@code String};
 * arrays → {@code int[]} (u8..i32), {@code long[]} (u32, u64, i64), {@code float[]}, {@code double[]},
 * {@code boolean[]}, {@code String[]}, or {@code Object[]} of such arrays when nested.
 *
 * <p>Thread-safe after construction. {@link #close()} unmaps the file; segments obtained earlier become invalid.
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" little-endian
    private static final long MAX_DIM = 1L << 40;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final String fileName;
    private final Arena arena;
    private final MemorySegment segment;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, GgufValueType[]> types = new java.util.HashMap<>();
    private final Map<String, GgufTensorInfo> tensors;
    private final long dataStart;
    private final int alignment;
    private long pos;

    private GgufFile(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.fileName = path.getFileName() == null ? path.toString() : path.getFileName().toString();
        this.arena = arena;
        this.segment = segment;
        if (segment.byteSize() < 4) throw error("file is too small to be GGUF (" + segment.byteSize() + " bytes)");
        int magic = readI32("magic");
        if (magic != MAGIC) {
            throw error(String.format("not a GGUF file: magic 0x%08x (expected 'GGUF')", magic));
        }
        version = readI32("version");
        if (version < 2 || version > 3) throw error("unsupported GGUF version " + version + " (supported: 2, 3)");
        long tensorCount = readCount("tensor_count", 8 + 8 + 4 + 8);
        long kvCount = readCount("metadata_kv_count", 8 + 4);
        Map<String, Object> md = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = readString("metadata key #" + i);
            String shown = Printable.of(key);
            int typeId = readI32("type of " + shown);
            GgufValueType type = GgufValueType.byId(typeId);
            if (type == null) throw error("metadata " + shown + ": unknown value type " + typeId);
            if (md.containsKey(key)) throw error("metadata " + shown + ": duplicate key");
            long before = pos;
            md.put(key, readValue(type, shown, 0));
            types.put(key, type == GgufValueType.ARRAY ? new GgufValueType[]{type, arrayElementType(before)} : new GgufValueType[]{type});
        }
        metadata = Collections.unmodifiableMap(md);
        Object align = md.get("general.alignment");
        if (align == null) {
            alignment = 32;
        } else {
            long a = align instanceof Number n ? n.longValue() : -1;
            if (a <= 0 || a > (1 << 20) || Long.bitCount(a) != 1) {
                throw error("general.alignment: " + align + " is not a power of two");
            }
            alignment = (int) a;
        }
        List<long[]> raw = new ArrayList<>();
        Map<String, GgufTensorInfo> infos = new LinkedHashMap<>();
        List<String> names = new ArrayList<>();
        List<long[]> dimsList = new ArrayList<>();
        List<GgmlType> types = new ArrayList<>();
        for (long i = 0; i < tensorCount; i++) {
            String rawName = readString("tensor #" + i + " name");
            // every message below quotes the name: escaped and cut (a damaged table can hold kilobytes of control bytes)
            String name = Printable.of(rawName);
            int nDims = readI32("tensor " + name + " n_dims");
            if (nDims < 1 || nDims > 4) throw error("tensor " + name + ": n_dims " + nDims + " (must be 1..4)");
            long[] dims = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                dims[d] = readI64("tensor " + name + " dim " + d);
                if (dims[d] <= 0 || dims[d] > MAX_DIM) {
                    throw error("tensor " + name + ": dim " + d + " = " + Long.toUnsignedString(dims[d]) + " is absurd");
                }
                elements = Math.multiplyHigh(elements, dims[d]) != 0 ? -1 : elements * dims[d];
                if (elements < 0 || elements > MAX_DIM) {
                    throw error("tensor " + name + ": element count overflows (dims " + java.util.Arrays.toString(dims) + ")");
                }
            }
            int typeId = readI32("tensor " + name + " type");
            GgmlType type = GgmlType.byId(typeId & 0xffffffffL);
            if (type == null) throw error("tensor " + name + ": unknown tensor type " + Integer.toUnsignedString(typeId));
            if (dims[0] % type.blockSize != 0) {
                throw error("tensor " + name + ": row length " + dims[0] + " is not a multiple of " + type + "'s block size " + type.blockSize);
            }
            long offset = readI64("tensor " + name + " offset");
            if (infos.containsKey(rawName)) throw error("tensor " + name + ": duplicate name");
            names.add(rawName);
            dimsList.add(dims);
            types.add(type);
            raw.add(new long[]{offset, type.bytesFor(elements)});
            infos.put(rawName, null);
        }
        long start = alignUp(pos, alignment);
        dataStart = start;
        long fileSize = segment.byteSize();
        for (int i = 0; i < names.size(); i++) {
            long off = raw.get(i)[0], size = raw.get(i)[1];
            String rawName = names.get(i), name = Printable.of(rawName);
            if (off < 0 || off % alignment != 0) {
                throw error("tensor " + name + ": offset " + Long.toUnsignedString(off) + " is not aligned to " + alignment);
            }
            if (start > fileSize || off > fileSize - start || size > fileSize - start - off) {
                throw error("tensor " + name + ": data [" + Long.toUnsignedString(off) + ", +" + size + ") extends past the end of the file ("
                        + fileSize + " bytes, data starts at " + start + "); is the file truncated?");
            }
            infos.put(rawName, new GgufTensorInfo(rawName, dimsList.get(i), types.get(i), off, size));
        }
        List<GgufTensorInfo> byOffset = new ArrayList<>(infos.values());
        byOffset.sort(Comparator.comparingLong(GgufTensorInfo::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            GgufTensorInfo a = byOffset.get(i - 1), b = byOffset.get(i);
            if (a.offset() + a.byteSize() > b.offset()) {
                throw error("tensors " + Printable.of(a.name()) + " and " + Printable.of(b.name()) + " overlap (offsets " + a.offset() + "+" + a.byteSize() + " and " + b.offset() + ")");
            }
        }
        tensors = Collections.unmodifiableMap(infos);
    }

    /**
     * Drops the header's pages (keys, values, tensor table) from this process's resident set: once parsed they live in
     * Java objects (for a 262k-token vocabulary ~6 MB of pages). Clean file pages, faulted back in from the page cache
     * if read again. Best effort.
     */
    public boolean releaseHeaderPages() {
        return Madvise.advise(segment.asSlice(0, dataStart), Madvise.MADV_DONTNEED);
    }

    /**
     * Drops the whole mapping from this process's resident set (MADV_DONTNEED): for a model that has read its small
     * tensors into arrays and reads its matrices from an interleaved copy. Loading faults in scattered pages of the
     * file (metadata, norm vectors, fingerprint samples), and where the page cache holds the file in large folios
     * each fault maps far more than the bytes read (1B QAT file: ~47 MB resident for ~0.6 MB read). Clean file pages:
     * whatever is read again is faulted back in from the page cache. Best effort.
     */
    public boolean releaseResidentPages() {
        return Madvise.advise(segment, Madvise.MADV_DONTNEED);
    }

    /** Maps and parses a GGUF file. Throws {@link JemmaException} with a one-line message on any problem. */
    public static GgufFile open(Path path) {
        if (!Files.exists(path)) throw new JemmaException(path + ": no such file");
        if (Files.isDirectory(path)) throw new JemmaException(path + ": is a directory, not a GGUF file");
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment seg = size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return new GgufFile(path, arena, seg);
        } catch (NoSuchFileException e) {
            arena.close();
            throw new JemmaException(path + ": no such file");
        } catch (IOException e) {
            arena.close();
            throw new JemmaException(path + ": cannot read: " + e.getMessage());
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public int alignment() {
        return alignment;
    }

    public long fileSize() {
        return segment.byteSize();
    }

    public long dataStart() {
        return dataStart;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    /** Tensors in file order. */
    public Map<String, GgufTensorInfo> tensors() {
        return tensors;
    }

    public GgufTensorInfo tensor(String name) {
        return tensors.get(name);
    }

    /** Zero-copy view of a tensor's bytes. */
    /** Tensor {@code t} as a zero-copy {@link WeightMatrix} (rows of {@code rowLength} weights). */
    public WeightMatrix matrix(GgufTensorInfo t) {
        if (t.rows() > Integer.MAX_VALUE || t.rowLength() > Integer.MAX_VALUE) throw error("tensor " + Printable.of(t.name()) + " is too large");
        return WeightMatrix.of(t.name(), tensorData(t), t.type(), t.rows(), t.rowLength());
    }

    public MemorySegment tensorData(GgufTensorInfo t) {
        return segment.asSlice(dataStart + t.offset(), t.byteSize());
    }

    /** The whole mapping (read-only). */
    /**
     * Tells the kernel this mapping is read at random: no read-ahead and no fault-around, so a page fault maps one
     * page instead of 16. For a model whose big matrices are read from elsewhere (an interleaved copy), this keeps
     * the embedding-row lookups from pulling ~64 KB each into resident memory. Best effort.
     */
    public boolean adviseRandomAccess() {
        return Madvise.advise(segment, Madvise.MADV_RANDOM);
    }

    public MemorySegment segment() {
        return segment;
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    public Object get(String key) {
        return metadata.get(key);
    }

    public String getString(String key) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (v instanceof String s) return s;
        throw error("metadata " + key + ": expected a string, found " + describe(v));
    }

    /** Integer value of a numeric key, or {@code def} when absent. */
    public long getLong(String key, long def) {
        Object v = metadata.get(key);
        if (v == null) return def;
        if (v instanceof Integer || v instanceof Long) return ((Number) v).longValue();
        if (v instanceof Boolean b) return b ? 1 : 0;
        throw error("metadata " + key + ": expected an integer, found " + describe(v));
    }

    public int getInt(String key, int def) {
        long v = getLong(key, def);
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) throw error("metadata " + key + ": value " + v + " is out of range");
        return (int) v;
    }

    /** A required integer key: a clear error when missing. */
    public int requireInt(String key) {
        if (!metadata.containsKey(key)) throw error("missing required key " + key);
        return getInt(key, 0);
    }

    public double getDouble(String key, double def) {
        Object v = metadata.get(key);
        if (v == null) return def;
        if (v instanceof Number n) return n.doubleValue();
        throw error("metadata " + key + ": expected a number, found " + describe(v));
    }

    public boolean getBool(String key, boolean def) {
        Object v = metadata.get(key);
        if (v == null) return def;
        if (v instanceof Boolean b) return b;
        if (v instanceof Number n) return n.longValue() != 0;
        throw error("metadata " + key + ": expected a bool, found " + describe(v));
    }

    public String[] getStringArray(String key) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (v instanceof String[] a) return a;
        throw error("metadata " + key + ": expected an array of strings, found " + describe(v));
    }

    public float[] getFloatArray(String key) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (v instanceof float[] a) return a;
        if (v instanceof double[] d) {
            float[] f = new float[d.length];
            for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
            return f;
        }
        if (v instanceof int[] ia) {
            float[] f = new float[ia.length];
            for (int i = 0; i < ia.length; i++) f[i] = ia[i];
            return f;
        }
        throw error("metadata " + key + ": expected an array of floats, found " + describe(v));
    }

    public int[] getIntArray(String key) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (v instanceof int[] a) return a;
        if (v instanceof long[] l) {
            int[] r = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                if (l[i] < Integer.MIN_VALUE || l[i] > Integer.MAX_VALUE) {
                    throw error("metadata " + key + "[" + i + "]: value " + l[i] + " is out of range");
                }
                r[i] = (int) l[i];
            }
            return r;
        }
        if (v instanceof boolean[] b) {
            int[] r = new int[b.length];
            for (int i = 0; i < b.length; i++) r[i] = b[i] ? 1 : 0;
            return r;
        }
        throw error("metadata " + key + ": expected an array of integers, found " + describe(v));
    }

    public boolean[] getBoolArray(String key) {
        Object v = metadata.get(key);
        if (v == null) return null;
        if (v instanceof boolean[] b) return b;
        if (v instanceof int[] a) {
            boolean[] b = new boolean[a.length];
            for (int i = 0; i < a.length; i++) b[i] = a[i] != 0;
            return b;
        }
        if (v instanceof long[] a) {
            boolean[] b = new boolean[a.length];
            for (int i = 0; i < a.length; i++) b[i] = a[i] != 0;
            return b;
        }
        throw error("metadata " + key + ": expected an array of bools, found " + describe(v));
    }

    /** The stored GGUF type of a key ({@code [ARRAY, elementType]} for arrays), so writers can round-trip it. */
    public GgufValueType[] valueType(String key) {
        return types.get(key);
    }

    private GgufValueType arrayElementType(long valueStart) {
        return GgufValueType.byId(segment.get(I32, valueStart));
    }

    /** An error message prefixed with this file's name. */
    public GgufFormatException error(String message) {
        return new GgufFormatException(fileName + ": " + message);
    }

    public static String describe(Object v) {
        if (v == null) return "nothing";
        if (v.getClass().isArray()) return v.getClass().getComponentType().getSimpleName() + " array of " + java.lang.reflect.Array.getLength(v);
        return v.getClass().getSimpleName() + " " + Printable.of(String.valueOf(v), 40);
    }

    @Override
    public void close() {
        arena.close();
    }

    // ---- parsing -------------------------------------------------------------------------------------------

    private static long alignUp(long x, long a) {
        return (x + a - 1) / a * a;
    }

    private void need(long n, String what) {
        if (n < 0 || pos + n > segment.byteSize() || pos + n < 0) {
            throw error("truncated: " + what + " at offset " + pos + " needs " + n + " bytes but the file has " + segment.byteSize());
        }
    }

    private int readI32(String what) {
        need(4, what);
        int v = segment.get(I32, pos);
        pos += 4;
        return v;
    }

    private long readI64(String what) {
        need(8, what);
        long v = segment.get(I64, pos);
        pos += 8;
        return v;
    }

    /** A count of items each at least {@code minItemBytes} long: rejected if the rest of the file cannot hold them. */
    private long readCount(String what, long minItemBytes) {
        long n = readI64(what);
        long remaining = segment.byteSize() - pos;
        if (n < 0 || (minItemBytes > 0 && n > remaining / minItemBytes)) {
            throw error(what + " = " + Long.toUnsignedString(n) + " cannot fit in the " + remaining + " remaining bytes");
        }
        return n;
    }

    private String readString(String what) {
        return readString(what, -1);
    }

    /**
     * Reads one string; {@code index} >= 0 names an array element. The error label is built only on error: the
     * 262 144-entry vocabulary would otherwise cost two string concatenations per token at every load.
     */
    private String readString(String what, int index) {
        if (pos + 8 > segment.byteSize()) need(8, label(what, index) + " length");
        long len = segment.get(I64, pos);
        pos += 8;
        if (len < 0 || len > segment.byteSize() - pos) {
            throw error("truncated or corrupt: " + label(what, index) + " length " + Long.toUnsignedString(len) + " exceeds the "
                    + (segment.byteSize() - pos) + " remaining bytes");
        }
        if (len > Integer.MAX_VALUE - 8) throw error(label(what, index) + ": a string of " + len + " bytes is absurd");
        byte[] b = new byte[(int) len];
        MemorySegment.copy(segment, ValueLayout.JAVA_BYTE, pos, b, 0, b.length);
        pos += len;
        return new String(b, StandardCharsets.UTF_8);
    }

    private static String label(String what, int index) {
        return index < 0 ? what : what + "[" + index + "]";
    }

    private Object readValue(GgufValueType type, String key, int depth) {
        switch (type) {
            case UINT8 -> { need(1, key); return (int) (segment.get(ValueLayout.JAVA_BYTE, pos++) & 0xff); }
            case INT8 -> { need(1, key); return (int) segment.get(ValueLayout.JAVA_BYTE, pos++); }
            case UINT16 -> { need(2, key); int v = segment.get(I16, pos) & 0xffff; pos += 2; return v; }
            case INT16 -> { need(2, key); int v = segment.get(I16, pos); pos += 2; return v; }
            case UINT32 -> { return readI32(key) & 0xffffffffL; }
            case INT32 -> { return readI32(key); }
            case FLOAT32 -> { need(4, key); float v = segment.get(F32, pos); pos += 4; return v; }
            case BOOL -> { need(1, key); return segment.get(ValueLayout.JAVA_BYTE, pos++) != 0; }
            case STRING -> { return readString(key); }
            case UINT64, INT64 -> { return readI64(key); }
            case FLOAT64 -> { need(8, key); double v = segment.get(F64, pos); pos += 8; return v; }
            case ARRAY -> { return readArray(key, depth); }
        }
        throw new AssertionError(type);
    }

    private Object readArray(String key, int depth) {
        if (depth > 8) throw error("metadata " + key + ": arrays nested too deeply");
        int typeId = readI32(key + " array type");
        GgufValueType et = GgufValueType.byId(typeId);
        if (et == null) throw error("metadata " + key + ": unknown array element type " + typeId);
        long minSize = switch (et) {
            case UINT8, INT8, BOOL -> 1;
            case UINT16, INT16 -> 2;
            case UINT32, INT32, FLOAT32 -> 4;
            case UINT64, INT64, FLOAT64, STRING -> 8;
            case ARRAY -> 12;
        };
        long n = readCount("metadata " + key + " array length", minSize);
        if (n > Integer.MAX_VALUE - 8) throw error("metadata " + key + ": array length " + n + " too large");
        int len = (int) n;
        switch (et) {
            case UINT8, INT8, UINT16, INT16, INT32 -> {
                int[] a = new int[len];
                for (int i = 0; i < len; i++) a[i] = ((Number) readValue(et, key, depth)).intValue();
                return a;
            }
            case UINT32, UINT64, INT64 -> {
                long[] a = new long[len];
                for (int i = 0; i < len; i++) a[i] = ((Number) readValue(et, key, depth)).longValue();
                return a;
            }
            case FLOAT32 -> {
                float[] a = new float[len];
                MemorySegment.copy(segment, F32, pos, a, 0, len);
                pos += 4L * len;
                return a;
            }
            case FLOAT64 -> {
                double[] a = new double[len];
                for (int i = 0; i < len; i++) a[i] = (Double) readValue(et, key, depth);
                return a;
            }
            case BOOL -> {
                boolean[] a = new boolean[len];
                for (int i = 0; i < len; i++) a[i] = (Boolean) readValue(et, key, depth);
                return a;
            }
            case STRING -> {
                String[] a = new String[len];
                for (int i = 0; i < len; i++) a[i] = readString(key, i);
                return a;
            }
            case ARRAY -> {
                Object[] a = new Object[len];
                for (int i = 0; i < len; i++) a[i] = readArray(key + "[" + i + "]", depth + 1);
                return a;
            }
        }
        throw new AssertionError(et);
    }
}
