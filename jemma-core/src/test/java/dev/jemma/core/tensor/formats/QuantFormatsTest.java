package dev.jemma.core.tensor.formats;

import dev.jemma.core.tensor.BlockFormat;
import dev.jemma.core.tensor.Formats;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.tensor.VectorOps;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Checks every storage format against reference blocks written by tools/gen_quant_refs.py: {@code dequantize}
 * must reproduce gguf-py's (= ggml's) floats bit for bit, and the fused {@code dot} must agree with the scalar
 * dequantize-then-dot twin to 1e-5 relative to Σ|w·x| (only the summation order may differ).
 */
class QuantFormatsTest {
    /** A reference file: raw rows and gguf-py's dequantization of them. */
    record Ref(GgmlType type, int rows, int cols, int rowBytes, boolean[] finite, byte[] raw, float[] deq) {
        static Ref load(GgmlType t) throws IOException {
            String res = "/quant/" + t.name() + ".bin";
            byte[] all;
            try (InputStream in = QuantFormatsTest.class.getResourceAsStream(res)) {
                if (in == null) throw new IOException("missing test resource " + res + " (run tools/gen_quant_refs.py)");
                all = in.readAllBytes();
            }
            ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0x3152514a, bb.getInt(), res + ": magic");
            int id = bb.getInt(), rows = bb.getInt(), cols = bb.getInt(), rowBytes = bb.getInt();
            assertEquals(t.id, id, res + ": type id");
            assertEquals(t.bytesFor(cols), rowBytes, res + ": bytes per row");
            boolean[] finite = new boolean[rows];
            for (int r = 0; r < rows; r++) finite[r] = bb.get() != 0;
            byte[] raw = new byte[rows * rowBytes];
            bb.get(raw);
            float[] deq = new float[rows * cols];
            bb.asFloatBuffer().get(deq);
            assertEquals(all.length, bb.position() + 4L * deq.length, res + ": size");
            return new Ref(t, rows, cols, rowBytes, finite, raw, deq);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void dequantizeIsBitExactWithGgufPy(GgmlType t) throws IOException {
        Ref ref = Ref.load(t);
        BlockFormat f = Formats.of(t);
        MemorySegment seg = MemorySegment.ofArray(ref.raw());
        float[] out = new float[ref.cols() + 3];
        for (int r = 0; r < ref.rows(); r++) {
            f.dequantize(seg, (long) r * ref.rowBytes(), out, 3, ref.cols());
            for (int c = 0; c < ref.cols(); c++) {
                int want = Float.floatToRawIntBits(ref.deq()[r * ref.cols() + c]);
                int got = Float.floatToRawIntBits(out[3 + c]);
                if (want != got) {
                    fail(t + " row " + r + " col " + c + ": gguf-py " + Float.intBitsToFloat(want) + " (0x"
                            + Integer.toHexString(want) + "), jemma " + out[3 + c] + " (0x" + Integer.toHexString(got) + ")");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void fusedDotMatchesScalarTwin(GgmlType t) throws IOException {
        Ref ref = Ref.load(t);
        BlockFormat f = Formats.of(t);
        int cols = ref.cols(), block = Math.max(t.blockSize, 32);
        Random rnd = new Random(42 + t.id);
        float[] x = new float[cols + 7];
        for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        float[] scratch = new float[cols];
        float[] w = new float[cols];
        try (Arena arena = Arena.ofConfined()) {
            // a native copy one byte off alignment, like a tensor at an odd offset of an mmapped file
            MemorySegment nat = arena.allocate(ref.raw().length + 1).asSlice(1);
            MemorySegment.copy(ref.raw(), 0, nat, ValueLayout.JAVA_BYTE, 0, ref.raw().length);
            MemorySegment heap = MemorySegment.ofArray(ref.raw());
            int checked = 0;
            for (int r = 0; r < ref.rows(); r++) {
                long ro = (long) r * ref.rowBytes();
                if (!ref.finite()[r]) {
                    // Inf/NaN weights (F16/BF16 only): the fused dot must give what the twin gives
                    f.dequantize(heap, ro, w, 0, cols);
                    float twin = VectorOps.dot(w, 0, x, 0, cols);
                    assertEquals(twin, f.dot(nat, ro, x, 0, cols, scratch), 0f, t + " row " + r + " (non-finite)");
                    continue;
                }
                // whole row, then a sub-range starting at the second block (or element), with shifted x
                int[][] cases = {{0, cols, 0}, {block, cols - 2 * block, 5}, {0, block, 7}};
                for (int[] c : cases) {
                    int c0 = c[0], n = c[1], xo = c[2];
                    long off = ro + t.bytesFor(c0);
                    f.dequantize(heap, off, w, 0, n);
                    float twin = VectorOps.dot(w, 0, x, xo, n);
                    double exact = 0, mag = 0;
                    for (int i = 0; i < n; i++) {
                        exact += (double) w[i] * x[xo + i];
                        mag += Math.abs((double) w[i] * x[xo + i]);
                    }
                    double tol = 1e-5 * mag + 1e-30;
                    for (MemorySegment seg : new MemorySegment[]{heap, nat}) {
                        float got = f.dot(seg, off, x, xo, n, scratch);
                        String what = t + " row " + r + " [" + c0 + "+" + n + "] x@" + xo + (seg.isNative() ? " native" : " heap");
                        assertTrue(Math.abs(got - twin) <= tol, what + ": fused " + got + " vs twin " + twin + " (tol " + tol + ")");
                        assertTrue(Math.abs(got - exact) <= tol, what + ": fused " + got + " vs f64 " + exact);
                    }
                    checked++;
                }
            }
            assertThat(checked).isGreaterThan(12);
        }
    }

    @ParameterizedTest
    @EnumSource(names = {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    void everyFormatHasAFusedDot(GgmlType t) throws NoSuchMethodException {
        Class<?> c = Formats.of(t).getClass().getMethod("dot", MemorySegment.class, long.class, float[].class,
                int.class, int.class, float[].class).getDeclaringClass();
        assertThat(c).as(t + " overrides BlockFormat.dot").isNotEqualTo(BlockFormat.class);
    }

    @org.junit.jupiter.api.Test
    void f16WideningIsExactForEveryFiniteHalf() {
        int lanes = VDot.F.length();
        short[] halves = new short[lanes];
        MemorySegment seg = MemorySegment.ofArray(halves);
        for (int base = 0; base < 65536; base += lanes) {
            for (int k = 0; k < lanes; k++) halves[k] = (short) (base + k);
            float[] got = F16Format.widen(F16Format.load(seg, 0)).toArray();
            for (int k = 0; k < lanes; k++) {
                short h = (short) (base + k);
                if ((h & 0x7c00) == 0x7c00) continue; // Inf/NaN: dot falls back to the scalar twin
                assertEquals(Float.floatToRawIntBits(Float.float16ToFloat(h)), Float.floatToRawIntBits(got[k]),
                        "half 0x" + Integer.toHexString(h & 0xffff));
            }
        }
    }

    /**
     * Real blocks as llama-quantize wrote them (Q5_0 in gemma3-tiny-Q4_K_M, Q4_K/Q6_K in gemma3-small-k, …): the
     * fused dot of every row of every 2-D tensor of every fixture agrees with the scalar twin.
     */
    @org.junit.jupiter.api.Test
    void fusedDotOnEveryFixtureTensor() throws IOException {
        java.nio.file.Path root = dev.jemma.core.testing.Fixtures.shared();
        java.util.List<java.nio.file.Path> files;
        try (var s = java.nio.file.Files.walk(root, 2)) {
            files = s.filter(p -> p.toString().endsWith(".gguf") && p.getFileName().toString().startsWith("gemma3-")).sorted().toList();
        }
        java.util.Set<GgmlType> seen = java.util.EnumSet.noneOf(GgmlType.class);
        Random rnd = new Random(7);
        for (java.nio.file.Path file : files) {
            try (dev.jemma.core.gguf.GgufFile g = dev.jemma.core.gguf.GgufFile.open(file)) {
                for (var ti : g.tensors().values()) {
                    if (ti.dims().length != 2 || ti.type() == GgmlType.F32) continue;
                    dev.jemma.core.tensor.WeightMatrix w = g.matrix(ti);
                    int cols = w.cols();
                    float[] x = new float[cols], row = new float[cols], scratch = new float[cols];
                    for (int i = 0; i < cols; i++) x[i] = (float) rnd.nextGaussian();
                    // up to 32 rows spread over the tensor keep this test to a few seconds
                    for (int r = 0; r < w.rows(); r += Math.max(1, w.rows() / 32)) {
                        w.dequantizeRow(r, row, 0);
                        float twin = VectorOps.dot(row, 0, x, 0, cols);
                        double mag = 0;
                        for (int i = 0; i < cols; i++) mag += Math.abs((double) row[i] * x[i]);
                        float got = w.format().dot(w.data(), w.rowOffset(r), x, 0, cols, scratch);
                        if (!(Math.abs(got - twin) <= 1e-5 * mag + 1e-30)) {
                            fail(file.getFileName() + " " + ti.name() + " row " + r + ": fused " + got + " vs twin " + twin);
                        }
                    }
                    seen.add(ti.type());
                }
            }
        }
        assertThat(seen).contains(GgmlType.Q5_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q8_0, GgmlType.Q4_0);
    }
}
