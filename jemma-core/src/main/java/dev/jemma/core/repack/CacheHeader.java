package dev.jemma.core.repack;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The header of a {@link RepackCache} file, little-endian:
 * <pre>
 *   0  u64 magic "JEMMAPK1"        24  i64 source modification time (ms)
 *   8  i32 layout version          32  i64 source fingerprint (CRC-32C)
 *  12  i32 tensor table bytes      40  i32 source path bytes (from version 6)
 *  16  i64 source size             44  i32 0
 *  48  source's absolute real path (UTF-8), then the tensor table (UTF-8, one "name type rows cols offset" a line)
 * </pre>
 * The source path is what lets Jemma tell a copy whose model file is gone from one still in use without knowing how
 * the file name was made ({@link CacheDirectory}); a load compares the whole header byte for byte.
 */
final class CacheHeader {
    static final long MAGIC = 0x314B50414D4D454AL; // "JEMMAPK1"
    /**
     * 2: Q5_0 5-bit triples; 3: K-quant headers in f32; 4: Q6_K packed six-bit values; 5: Q5_K; 6: the source's path in
     * the header (every copy is rebuilt once, on its model's next load).
     */
    static final int VERSION = 6;
    static final int FIXED = 48;
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Longer source paths than this are not believed when reading (PATH_MAX is 4096 on Linux). */
    private static final int MAX_SOURCE = 1 << 16;

    private CacheHeader() {
    }

    /** What a cache file's header says about it; {@code source} is null before version 6. */
    record Read(int version, Path source, long sourceSize, long sourceMtime) {
    }

    static byte[] encode(Path source, long size, long mtime, long fingerprint, String table) {
        byte[] src = source.toString().getBytes(StandardCharsets.UTF_8);
        byte[] tab = table.getBytes(StandardCharsets.UTF_8);
        byte[] out = new byte[FIXED + src.length + tab.length];
        MemorySegment h = MemorySegment.ofArray(out);
        h.set(I64, 0, MAGIC);
        h.set(I32, 8, VERSION);
        h.set(I32, 12, tab.length);
        h.set(I64, 16, size);
        h.set(I64, 24, mtime);
        h.set(I64, 32, fingerprint);
        h.set(I32, 40, src.length);
        MemorySegment.copy(src, 0, h, ValueLayout.JAVA_BYTE, FIXED, src.length);
        MemorySegment.copy(tab, 0, h, ValueLayout.JAVA_BYTE, FIXED + src.length, tab.length);
        return out;
    }

    /**
     * The header of {@code file}, or null when it is not a cache file at all (too short, another magic, or a
     * current-version header that does not parse: a damaged file).
     */
    static Read read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer fixed = readFully(ch, 0, FIXED);
            if (fixed == null) return null;
            MemorySegment h = MemorySegment.ofBuffer(fixed);
            if (h.get(I64, 0) != MAGIC) return null;
            int version = h.get(I32, 8);
            if (version != VERSION) return new Read(version, null, -1, -1);
            int srcLen = h.get(I32, 40);
            if (srcLen <= 0 || srcLen > MAX_SOURCE) return null;
            ByteBuffer src = readFully(ch, FIXED, srcLen);
            if (src == null) return null;
            String path = StandardCharsets.UTF_8.decode(src).toString();
            try {
                return new Read(version, Path.of(path), h.get(I64, 16), h.get(I64, 24));
            } catch (java.nio.file.InvalidPathException e) {
                return null;
            }
        }
    }

    private static ByteBuffer readFully(FileChannel ch, long at, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) return null;
        }
        return b.flip();
    }
}
