package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufFormatException;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Issue 22, finding 5: a hyper-parameter that is out of range or disagrees with the tensors is refused by the config
 * reader — one line naming the file, the key and the value — before anything is sized from it (no NullPointerException
 * deep in a model constructor, no NaN flowing into the forward pass, no OutOfMemoryError for an absurd layer count).
 */
class HyperParameterValidationTest {
    @TempDir
    static Path dir;
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(1);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    static Path gemma3() {
        return Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q8_0.gguf");
    }

    static Path gemma3n() {
        try {
            return Path.of(HyperParameterValidationTest.class.getResource("/gemma3n/e2b-cut-Q8_0.gguf").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A copy of {@code src} with its metadata edited (tensors unchanged). */
    static Path edited(Path src, String name, Consumer<GgufWriter> edit) {
        Path out = dir.resolve(name);
        try (GgufFile f = GgufFile.open(src)) {
            GgufWriter w = new GgufWriter().copyMetadata(f);
            edit.accept(w);
            for (GgufTensorInfo t : f.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(out);
        }
        return out;
    }

    /** Loading {@code file} fails with a one-line GGUF error containing the file name and every {@code expected}. */
    private static void assertRefused(Path file, String... expected) {
        for (int attempt = 0; attempt < 2; attempt++) {
            assertThatThrownBy(() -> {
                try (GgufFile f = GgufFile.open(file)) {
                    ModelLoader.readConfig(f);
                }
            }).isInstanceOf(GgufFormatException.class).hasMessageContaining(file.getFileName().toString())
                    .hasMessageContainingAll(expected).satisfies(e -> assertThat(e.getMessage()).doesNotContain("\n"));
            assertThatThrownBy(() -> ModelLoader.load(file, new ModelLoader.Options(false, 1, 8), pool).close())
                    .isInstanceOf(GgufFormatException.class).hasMessageContainingAll(expected);
        }
    }

    @Test
    void gemma3nFeedForwardLengthThatDisagreesWithTheTensors() {
        // the tensors are 32 wide; 16 used to pass the gate/up check (a MatFormer prefix) and crash in ffnDown
        Path f = edited(gemma3n(), "ffn.gguf", w -> {
            long[] ffn = new long[30];
            java.util.Arrays.fill(ffn, 32);
            ffn[3] = 16;
            w.put("gemma3n.feed_forward_length", GgufValueType.ARRAY, GgufValueType.UINT32, ffn);
        });
        assertRefused(f, "gemma3n.feed_forward_length[3]: value 16", "blk.3.ffn_");
        // wider than the tensors
        Path g = edited(gemma3n(), "ffn-wide.gguf", w -> {
            long[] ffn = new long[30];
            java.util.Arrays.fill(ffn, 32);
            ffn[29] = 64;
            w.put("gemma3n.feed_forward_length", GgufValueType.ARRAY, GgufValueType.UINT32, ffn);
        });
        assertRefused(g, "gemma3n.feed_forward_length[29]: value 64");
    }

    @Test
    void gemma3FeedForwardLengthThatDisagreesWithTheTensors() {
        assertRefused(edited(gemma3(), "ffn3.gguf", w -> w.putU32("gemma3.feed_forward_length", 2_000_000_000L)),
                "gemma3.feed_forward_length: value 2000000000", "out of range");
        assertRefused(edited(gemma3(), "ffn3b.gguf", w -> w.putU32("gemma3.feed_forward_length", 64)), "ffn_gate.weight", "expected [64, 64]");
    }

    @Test
    void rmsEpsilonThatIsNotANumber() {
        for (float eps : new float[]{Float.NaN, Float.POSITIVE_INFINITY, -1e-6f, 5f}) {
            Path f = edited(gemma3(), "eps.gguf", w -> w.putF32("gemma3.attention.layer_norm_rms_epsilon", eps));
            assertRefused(f, "gemma3.attention.layer_norm_rms_epsilon: value " + (double) eps);
        }
    }

    @Test
    void absurdBlockCount() {
        // 1.9e9 layers: the per-layer arrays alone were 7.6 GB each ("out of memory … try -c")
        Path f = edited(gemma3(), "blocks.gguf", w -> w.putU32("gemma3.block_count", 1_900_000_000L));
        assertRefused(f, "gemma3.block_count: value 1900000000", "out of range");
        // in range, but not what the tensors are for
        Path g = edited(gemma3(), "blocks2.gguf", w -> w.putU32("gemma3.block_count", 7));
        assertRefused(g, "gemma3.block_count: value 7", "blocks");
    }

    @Test
    void otherValuesOutOfRange() {
        assertRefused(edited(gemma3(), "rope.gguf", w -> w.putF32("gemma3.rope.freq_base_swa", Float.NaN)), "gemma3.rope.freq_base_swa: value NaN");
        assertRefused(edited(gemma3(), "rope2.gguf", w -> w.putF32("gemma3.rope.freq_base", Float.POSITIVE_INFINITY)), "gemma3.rope.freq_base: value Infinity");
        assertRefused(edited(gemma3(), "scale.gguf", w -> w.putF32("gemma3.rope.scaling.factor", Float.POSITIVE_INFINITY)), "gemma3.rope.scaling.factor");
        assertRefused(edited(gemma3(), "ctx.gguf", w -> w.putU32("gemma3.context_length", 2_000_000_000L)), "gemma3.context_length: value 2000000000");
        assertRefused(edited(gemma3(), "cap.gguf", w -> w.putF32("gemma3.final_logit_softcapping", Float.NaN)), "gemma3.final_logit_softcapping: value NaN");
        assertRefused(edited(gemma3(), "attn.gguf", w -> w.putF32("gemma3.attention.scale", -1f)), "gemma3.attention.scale: value -1");
        assertRefused(edited(gemma3(), "heads.gguf", w -> w.putU32("gemma3.attention.head_count", 1_000_000)), "gemma3.attention.head_count: value 1000000");
        assertRefused(edited(gemma3(), "win.gguf", w -> w.putU32("gemma3.attention.sliding_window", 3_000_000_000L)), "gemma3.attention.sliding_window");
        assertRefused(edited(gemma3n(), "altup.gguf", w -> w.putU32("gemma3n.altup.num_inputs", 1_000_000)), "gemma3n.altup.num_inputs: value 1000000");
        assertRefused(edited(gemma3n(), "ple.gguf", w -> w.putU32("gemma3n.embedding_length_per_layer_input", 16)),
                "gemma3n.embedding_length_per_layer_input: value 16");
    }

    /** Found by GgufFuzzTest#hyperParameters: a 64-bit array element beyond int range was an ArithmeticException. */
    @Test
    void sixtyFourBitArrayElements() {
        long[] pattern = {1, 1, 1, 1, 1, 1, 1, 0};
        pattern[2] = 1L << 40;
        Path f = edited(gemma3(), "pattern64.gguf", w -> w.put("gemma3.attention.sliding_window_pattern", GgufValueType.ARRAY, GgufValueType.INT64, pattern));
        try (GgufFile g = GgufFile.open(f)) {
            assertThat(ModelLoader.readConfig(g).sliding()).containsExactly(true, true, true, true, true, true, true, false);
            assertThatThrownBy(() -> g.getIntArray("gemma3.attention.sliding_window_pattern")).isInstanceOf(GgufFormatException.class)
                    .hasMessageContaining("gemma3.attention.sliding_window_pattern[2]: value 1099511627776 is out of range");
        }
        Path t = edited(gemma3(), "types64.gguf", w -> {
            long[] types = new long[1000];
            java.util.Arrays.fill(types, 1);
            types[7] = -1L << 35;
            w.put("tokenizer.ggml.token_type", GgufValueType.ARRAY, GgufValueType.INT64, types);
        });
        assertThatThrownBy(() -> {
            try (GgufFile g = GgufFile.open(t)) {
                dev.jemma.core.tokenizer.Tokenizer.fromGguf(g);
            }
        }).isInstanceOf(GgufFormatException.class).hasMessageContaining("tokenizer.ggml.token_type[7]");
    }

    @Test
    void goodFilesStillLoad() {
        try (GgufFile f = GgufFile.open(gemma3())) {
            assertThat(ModelLoader.readConfig(f).rmsEps()).isEqualTo(1e-6f);
        }
        ModelLoader.load(gemma3n(), new ModelLoader.Options(false, 1, 8), pool).close();
        ModelLoader.load(gemma3n(), new ModelLoader.Options(false, 1, 8, "ffn=32;skip=29"), pool).close();
    }
}
