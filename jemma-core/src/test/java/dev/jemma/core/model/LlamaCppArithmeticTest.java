package dev.jemma.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.LogitStats;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The emulation {@link FidelityProbe} counts cases with: its roundings follow ggml's rules, and with no rounding it is
 * an exact-mode engine (the fixtures' 1e-3), so a count it gives is about the rounding and not about the emulator.
 */
class LlamaCppArithmeticTest {
    private static float[] gaussian(int n, long seed, float scale) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian() * scale;
        return x;
    }

    @Test
    void q8kRoundsEach256BlockToItsSignedMaximum() {
        float[] x = gaussian(512, 1, 3f);
        x[17] = -20f; // block 0's largest magnitude is negative: it must come back exactly, as −127 · (max / −127)
        x[300] = 11f;
        float[] y = new float[512];
        LlamaCppArithmetic.fake(LlamaCppArithmetic.Act.Q8_K, x, 0, y, 0, 512);
        assertEquals(-20f, y[17], 1e-5f);
        assertEquals(11f, y[300], 1e-5f);
        for (int b = 0; b < 2; b++) {
            float max = b == 0 ? -20f : 11f, d = 1 / (-127f / max);
            for (int i = 256 * b; i < 256 * b + 256; i++) {
                float q = y[i] / d;
                assertEquals(Math.rint(q), q, 1e-3, "integer at " + i);
                assertTrue(Math.abs(q) <= 127.001f, "|q| <= 127 at " + i);
                assertTrue(Math.abs(y[i] - x[i]) <= Math.abs(d) / 2 * 1.0001f, "nearest at " + i);
            }
        }
        float[] zeros = new float[256], z = new float[256];
        java.util.Arrays.fill(z, 1f);
        LlamaCppArithmetic.fake(LlamaCppArithmetic.Act.Q8_K, zeros, 0, z, 0, 256);
        for (float v : z) assertEquals(0f, v);
    }

    @Test
    void q8_0WithF16ScaleKeepsJemmasIntegersAndRoundsTheScale() {
        float[] x = gaussian(64, 2, 0.7f);
        float[] jemma = new float[64], llama = new float[64];
        LlamaCppArithmetic.fake(LlamaCppArithmetic.Act.Q8_0, x, 0, jemma, 0, 64);
        LlamaCppArithmetic.fake(LlamaCppArithmetic.Act.Q8_0_F16SCALE, x, 0, llama, 0, 64);
        boolean differs = false;
        for (int b = 0; b < 64; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) amax = Math.max(amax, Math.abs(x[i]));
            float d = amax / 127f, d16 = LlamaCppArithmetic.f16(d);
            for (int i = b; i < b + 32; i++) {
                float q = (float) Math.rint(x[i] * (127f / amax));
                assertEquals(d * q, jemma[i]);
                assertEquals(d16 * q, llama[i]);
                differs |= jemma[i] != llama[i];
            }
        }
        assertTrue(differs, "an f16 scale changes some value");
    }

    @Test
    void geluTableIsGgmlsF16Table() {
        assertEquals(0f, LlamaCppArithmetic.geluTable(-10f));
        assertEquals(12.5f, LlamaCppArithmetic.geluTable(12.5f));
        for (float x = -9.9f; x < 9.9f; x += 0.173f) {
            float h = LlamaCppArithmetic.f16(x);
            float g = LlamaCppArithmetic.geluTable(x);
            assertEquals(LlamaCppArithmetic.f16(g), g, "an f16 value at " + x);
            assertEquals(Ops.geluTanh(h), g, Math.abs(Ops.geluTanh(h)) * 0x1p-10f + 1e-7f, "gelu(f16(x)) at " + x);
        }
    }

    /** With every rounding off the emulation meets the exact-mode tolerance on the bundled tiny Q8_0 file. */
    @Test
    void withoutRoundingItIsExact() throws IOException {
        Path root = Fixtures.bundled();
        JsonNode md = new ObjectMapper().readTree(root.resolve("manifest-lite.json").toFile()).get("models").get("gemma3-tiny");
        JsonNode v = md.get("variants").get("Q8_0");
        int[] ids = Fixtures.ints(md.get("prompts").get("long").get("ids"));
        float[] ref = Fixtures.readF32(root.resolve(v.get("prompts").get("long").get("logits_file").asText()));
        try (ThreadPool pool = new ThreadPool(2);
             LanguageModel m = FidelityProbe.emulated(root.resolve(v.get("file").asText()),
                     LlamaCppArithmetic.Switches.parse("where=none,gelu=exact"), pool)) {
            int vocab = m.config().vocabSize();
            KvCache cache = m.newCache(ids.length);
            float[] got = m.forward(ids, 0, ids.length, cache, true);
            LogitStats s = LogitStats.compare(ref, java.util.Arrays.copyOf(got, ids.length * vocab), vocab);
            assertTrue(s.maxAbs() <= 1e-3, "max |d| " + s.maxAbs());
        }
    }
}
