package dev.jemma.core.memory;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.model.Gemma3Model;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.GgmlType;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The memory plan: KV bytes as the cache allocates them, weights per type, and the one-line refusal. */
class MemoryPlanTest {
    private static final Path MODEL = Fixtures.bundled().resolve("gemma3-tiny/gemma3-tiny-Q4_0.gguf");

    private static Path resource(String name) throws java.net.URISyntaxException {
        return Path.of(MemoryPlanTest.class.getResource("/gemma3n/" + name).toURI());
    }

    @AfterEach
    void clear() {
        System.clearProperty("jemma.memory.heap");
        System.clearProperty("jemma.memory.available");
    }

    @Test
    void kvBytesMatchTheCacheTheModelAllocates() {
        try (GgufFile f = GgufFile.open(MODEL)) {
            ModelConfig c = ModelLoader.readConfig(f);
            for (int ctx : new int[]{1, 7, 8, 9, 100, 4096}) {
                MemoryPlan p = ModelLoader.plan(f, c, ctx, 16);
                assertThat(p.kvBytes()).as("ctx " + ctx).isEqualTo(Gemma3Model.cacheBytes(c, ctx));
                assertThat(p.kvBytesAt(ctx)).isEqualTo(p.kvBytes());
            }
            // window 8, 7 sliding + 1 global layer, kv dim 64: rings stop growing at 8 slots
            MemoryPlan p = ModelLoader.plan(f, c, 4096, 16);
            assertThat(p.kvBytes()).isEqualTo(7L * 8 * 64 * 8 + 4096L * 64 * 8);
            assertThat(p.weightBytes()).isEqualTo(f.tensors().values().stream().mapToLong(t -> t.byteSize()).sum());
            assertThat(p.bytesByType().get(GgmlType.Q4_0)[0]).isEqualTo(56);
            assertThat(p.bytesByType().get(GgmlType.Q8_0)[0]).isEqualTo(1);
            assertThat(p.contextLength()).isEqualTo(4096);
            assertThat(ModelLoader.plan(f, c, 0, 16).contextLength()).isEqualTo(MemoryPlan.defaultContext(c.contextLength())).isEqualTo(4096);
            assertThat(p.fits()).isTrue();
        }
    }

    @Test
    void refusesWithNumbersAndAdviceWhenTheHeapIsTooSmall() {
        System.setProperty("jemma.memory.heap", String.valueOf(300L << 20));
        try (GgufFile f = GgufFile.open(MODEL)) {
            ModelConfig c = ModelLoader.readConfig(f);
            // the global layer costs 512 B per position: 1M positions = 512 MB of KV
            MemoryPlan p = ModelLoader.plan(f, c, 1 << 20, 16);
            String msg = p.problem();
            assertThat(msg).isNotNull().doesNotContain("\n").startsWith("gemma3-tiny-Q4_0.gguf: needs ")
                    .contains("Java heap").contains("KV cache").contains("-c ").contains("-Xmx");
            int suggested = Integer.parseInt(msg.replaceAll(".*-c (\\d+).*", "$1"));
            assertThat(ModelLoader.plan(f, c, suggested, 16).fits()).isTrue();
            // never beyond the model's own context (issue 22: "-c 12205824" for a 2048-token model)
            assertThat(suggested).isEqualTo(c.contextLength());
            // a heap too small for the model's own context: the largest context that fits (scratch grows with the
            // context too: the attention rows)
            System.setProperty("jemma.memory.heap", String.valueOf(ModelLoader.plan(f, c, 2048, 16).heapNeeded()));
            String tight = ModelLoader.plan(f, c, 4096, 16).problem();
            int fits = Integer.parseInt(tight.replaceAll(".*-c (\\d+).*", "$1"));
            assertThat(fits).isLessThan(c.contextLength()).isGreaterThanOrEqualTo(1792);
            assertThat(ModelLoader.plan(f, c, fits, 16).fits()).isTrue();
            assertThat(ModelLoader.plan(f, c, fits + 256, 16).fits()).isFalse();
        }
        assertThatThrownBy(() -> ModelLoader.load(MODEL, new ModelLoader.Options(true, 1, 16).withContextLength(1 << 20), null))
                .isInstanceOf(JemmaException.class).hasMessageContaining("-c ");
    }

    /** Issue 22: the advice stays within the model's context and the machine's memory. */
    @Test
    void adviceStaysWithinTheModelAndTheMachine() {
        System.setProperty("jemma.memory.heap", String.valueOf(300L << 20));
        System.setProperty("jemma.memory.available", String.valueOf(2_000_000_000L));
        try (GgufFile f = GgufFile.open(MODEL)) {
            ModelConfig c = ModelLoader.readConfig(f);
            // 200M positions: ~100 GB of KV cache on a "2 GB" machine
            String msg = ModelLoader.plan(f, c, 200_000_000, 16).problem();
            assertThat(msg).contains("-c " + c.contextLength() + ", the model's own").doesNotContain("-Xmx");
            // the model's own context on a heap too small but a machine large enough: a heap the machine has
            System.setProperty("jemma.memory.heap", String.valueOf(1L << 20));
            String heap = ModelLoader.plan(f, c, c.contextLength(), 16).problem();
            assertThat(heap).contains("-Xmx1g");
            long xmx = Long.parseLong(heap.replaceAll(".*-Xmx(\\d+)g.*", "$1"));
            assertThat(xmx << 30).isLessThanOrEqualTo(2_000_000_000L);
            // nothing the machine can hold: no heap advice at all
            System.setProperty("jemma.memory.available", String.valueOf(10_000_000L));
            assertThat(ModelLoader.plan(f, c, c.contextLength(), 16).problem()).doesNotContain("-Xmx").contains("available");
        }
    }

    @Test
    void refusesWhenWeightsExceedAvailableMemory() {
        System.setProperty("jemma.memory.available", "100000");
        try (GgufFile f = GgufFile.open(MODEL)) {
            MemoryPlan p = ModelLoader.plan(f, ModelLoader.readConfig(f), 64, 16);
            assertThat(p.problem()).contains("available").contains("weights").doesNotContain("\n");
            System.setProperty("jemma.memory.check", "false");
            assertThat(p.check()).isSameAs(p);
        } finally {
            System.clearProperty("jemma.memory.check");
        }
    }

    /** Gemma 3n: the PLE table is counted as mapped (not against memory); a MatFormer slice plans the sliced model. */
    @Test
    void gemma3nPlanSeparatesTheMappedTableAndFollowsTheMatformerSlice() throws Exception {
        try (GgufFile e4b = GgufFile.open(resource("e4b-shaped-Q8_0.gguf"));
             GgufFile cut = GgufFile.open(resource("e2b-cut-Q8_0.gguf"))) {
            ModelConfig c4 = ModelLoader.readConfig(e4b);
            MemoryPlan full = ModelLoader.plan(e4b, c4, 64, 16);
            long table = e4b.tensor("per_layer_token_embd.weight").byteSize();
            long all = e4b.tensors().values().stream().mapToLong(t -> t.byteSize()).sum();
            assertThat(full.mappedBytes()).isEqualTo(table).isPositive();
            assertThat(full.fastWeightBytes()).isEqualTo(full.weightBytes() - table);
            // K/V projections of the layers that share K/V are never read
            long sharedKv = 0;
            int shared = e4b.getInt("gemma3n.attention.shared_kv_layers", 0);
            for (int l = c4.layers() - shared; l < c4.layers(); l++) {
                for (String n : new String[]{"attn_k.weight", "attn_v.weight", "attn_k_norm.weight"}) sharedKv += e4b.tensor("blk." + l + "." + n).byteSize();
            }
            assertThat(full.weightBytes()).isEqualTo(all - sharedKv);
            assertThat(full.totalBytes()).isEqualTo(full.fastWeightBytes() + full.heapNeeded());

            // only fast memory counts: room for everything but the table fits, one byte less does not
            System.setProperty("jemma.memory.available", String.valueOf(full.totalBytes()));
            assertThat(ModelLoader.plan(e4b, c4, 64, 16).fits()).isTrue();
            System.setProperty("jemma.memory.available", String.valueOf(full.totalBytes() - 1));
            assertThat(ModelLoader.plan(e4b, c4, 64, 16).problem()).contains("fast memory").contains("mapped");
            System.clearProperty("jemma.memory.available");

            // --matformer e2b on the E4B plans what the independently cut E2B file plans, except that the sliced
            // load keeps the whole per_layer_model_proj (rows of skipped layers included) and the whole table
            MemoryPlan sliced = ModelLoader.plan(e4b, c4, 64, 16, "e2b");
            MemoryPlan cutPlan = ModelLoader.plan(cut, ModelLoader.readConfig(cut), 64, 16);
            assertThat(sliced.weightBytes()).isLessThan(full.weightBytes());
            assertThat(sliced.kvBytes()).isEqualTo(cutPlan.kvBytes()); // E2B skips only layers that share K/V
            assertThat(sliced.scratchBytes()).isEqualTo(cutPlan.scratchBytes());
            assertThat(sliced.mappedBytes()).isEqualTo(table);
            long projDiff = e4b.tensor("per_layer_model_proj.weight").byteSize() - cut.tensor("per_layer_model_proj.weight").byteSize();
            assertThat(sliced.fastWeightBytes() - cutPlan.fastWeightBytes()).isEqualTo(projDiff);
            assertThat(ModelLoader.plan(e4b, new ModelLoader.Options(true, 1, 16, "e2b").withContextLength(64)).weightBytes())
                    .isEqualTo(sliced.weightBytes());
        }
    }
}
