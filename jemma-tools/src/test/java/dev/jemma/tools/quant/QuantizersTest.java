package dev.jemma.tools.quant;

import dev.jemma.core.tensor.GgmlType;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** The simple formats must give exactly gguf-py's blocks (tools/make_quant_reference.py). */
class QuantizersTest {
    @Test
    void simpleFormatsMatchGgufPyBlockForBlock() throws IOException {
        ByteBuffer b;
        try (InputStream in = getClass().getResourceAsStream("/quant/reference.bin")) {
            b = ByteBuffer.wrap(in.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
        }
        assertThat(b.getInt()).isEqualTo(0x4652514a); // "JQRF"
        float[] x = new float[b.getInt()];
        b.asFloatBuffer().get(x);
        b.position(b.position() + 4 * x.length);
        int checked = 0;
        while (b.hasRemaining()) {
            GgmlType t = GgmlType.byId(b.getInt());
            byte[] expected = new byte[b.getInt()];
            b.get(expected);
            byte[] actual = Quantizers.quantize(t, x);
            for (int i = 0; i < expected.length; i += t.typeSize) {
                int blk = i / t.typeSize;
                assertThat(Arrays.copyOfRange(actual, i, i + t.typeSize))
                        .as("%s block %d", t, blk).isEqualTo(Arrays.copyOfRange(expected, i, i + t.typeSize));
            }
            assertThat(actual).isEqualTo(expected);
            checked++;
        }
        assertThat(checked).isEqualTo(7);
    }

    @Test
    void kQuantsReconstructWithinTheirExpectedError() {
        java.util.Random r = new java.util.Random(7);
        float[] x = new float[256 * 16];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        // relative RMSE of ggml's reference K-quants on Gaussian data: Q4_K ≈ 0.10, Q5_K ≈ 0.05, Q6_K ≈ 0.025
        assertThat(relRmse(GgmlType.Q4_K, x)).isBetween(0.05, 0.12);
        assertThat(relRmse(GgmlType.Q5_K, x)).isBetween(0.02, 0.06);
        assertThat(relRmse(GgmlType.Q6_K, x)).isBetween(0.01, 0.03);
    }

    @Test
    void everyWritableTypeRoundTripsThroughJemmasDecoder() {
        java.util.Random r = new java.util.Random(11);
        float[] x = new float[256 * 8];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * (i % 97 == 0 ? 6 : 1));
        // expected relative RMSE bounds of each format on Gaussian data with a few outliers
        java.util.Map<GgmlType, Double> bound = new java.util.EnumMap<>(GgmlType.class);
        bound.put(GgmlType.F32, 0.0);
        bound.put(GgmlType.F16, 1e-3);
        bound.put(GgmlType.BF16, 5e-3);
        bound.put(GgmlType.Q8_0, 0.01);
        bound.put(GgmlType.Q6_K, 0.04);
        bound.put(GgmlType.Q5_0, 0.08);
        bound.put(GgmlType.Q5_1, 0.08);
        bound.put(GgmlType.Q5_K, 0.08);
        bound.put(GgmlType.Q4_0, 0.16);
        bound.put(GgmlType.Q4_1, 0.16);
        bound.put(GgmlType.Q4_K, 0.14);
        for (var e : bound.entrySet()) {
            GgmlType t = e.getKey();
            byte[] q = Quantizers.quantize(t, x);
            float[] y = new float[x.length];
            dev.jemma.core.tensor.Formats.of(t).dequantize(java.lang.foreign.MemorySegment.ofArray(q), 0, y, 0, x.length);
            double err = 0, sig = 0;
            for (int i = 0; i < x.length; i++) {
                err += (x[i] - y[i]) * (double) (x[i] - y[i]);
                sig += x[i] * (double) x[i];
            }
            assertThat(Math.sqrt(err / sig)).as(t.toString()).isLessThanOrEqualTo(e.getValue());
            if (t == GgmlType.Q4_K || t == GgmlType.Q5_K || t == GgmlType.Q6_K) {
                assertThat(y).as(t + " test decoder agrees").containsExactly(KDequant.dequantize(t, q, x.length));
            }
        }
    }

    static double relRmse(GgmlType t, float[] x) {
        float[] y = KDequant.dequantize(t, Quantizers.quantize(t, x), x.length);
        double e = 0, s = 0;
        for (int i = 0; i < x.length; i++) {
            e += (x[i] - y[i]) * (double) (x[i] - y[i]);
            s += x[i] * (double) x[i];
        }
        return Math.sqrt(e / s);
    }
}
