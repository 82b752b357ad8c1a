package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What a serving engine's warm-up runs ({@link LanguageModel#warmUpForward}): one Gemma 3 layer of each kind, so that a
 * 48-layer 12B warms its kernels up at the cost of two layers. The kinds are checked against the file itself (its
 * tensors' types and its config's local / global pattern), not against the model's own notion of a kind.
 */
class WarmUpLayersTest {
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    private static Path file(String model, String variant) {
        return Fixtures.variant(model, variant);
    }

    /** Per layer: local or global attention (the file's config), and the type of each of its seven matrices. */
    private static List<String> kindsInFile(Path path, ModelConfig c) {
        List<String> kinds = new ArrayList<>();
        try (GgufFile f = GgufFile.open(path)) {
            for (int l = 0; l < c.layers(); l++) {
                StringBuilder k = new StringBuilder(c.sliding()[l] ? "local" : "global");
                for (String m : new String[]{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}) {
                    k.append(' ').append(f.tensor("blk." + l + "." + m + ".weight").type());
                }
                kinds.add(k.toString());
            }
        }
        return kinds;
    }

    /** The first layer of each kind, in order. */
    private static int[] firstOfEach(List<String> kinds) {
        Set<String> seen = new LinkedHashSet<>();
        List<Integer> firsts = new ArrayList<>();
        for (int l = 0; l < kinds.size(); l++) if (seen.add(kinds.get(l))) firsts.add(l);
        return firsts.stream().mapToInt(Integer::intValue).toArray();
    }

    /** The model's warm-up layers for a file: one of each kind the file has, the first of each, in order; returns the kinds. */
    private static List<String> assertOneOfEachKind(String model, String variant) {
        Path path = file(model, variant);
        try (LanguageModel lm = ModelLoader.load(path, new ModelLoader.Options(false, 2, 32), pool)) {
            List<String> kinds = kindsInFile(path, lm.config());
            int[] chosen = ((Gemma3Model) lm).warmUpLayers();
            assertThat(chosen).as("%s %s: the first layer of each kind of %s", model, variant, kinds).containsExactly(firstOfEach(kinds));
            return kinds;
        }
    }

    @Test
    void aFileWithOneMatrixTypeRunsOneLocalAndOneGlobalLayer() {
        // gemma3-tiny: 8 layers, layer 5 global
        assertThat(firstOfEach(assertOneOfEachKind("gemma3-tiny", "Q4_0"))).containsExactly(0, 5);
    }

    @Test
    void aQ4KMFileRunsALayerOfEachTypeMix() {
        // llama.cpp's Q4_K_M gives some layers' attn_v / ffn_down Q6_K: each mix is a kind of its own
        List<String> kinds = assertOneOfEachKind("gemma3-small-k", "Q4_K_M");
        assertThat(new LinkedHashSet<>(kinds)).as("the fixture mixes types (else this test shows nothing)").hasSizeGreaterThan(2);
    }

    /**
     * gemma3n-tiny (22 layers: every fifth global, activation sparsity on 0–9, the last two sharing layer 18's K/V):
     * sparse local 0, sparse global 4, dense local 10, dense global 14, local 18 whose K/V later layers read, and
     * KV-shared local 20 — read off the file's config by hand.
     */
    @Test
    void gemma3nRunsALayerOfEachRole() {
        try (LanguageModel lm = ModelLoader.load(file("gemma3n-tiny", "F32"), new ModelLoader.Options(false, 2, 32), pool)) {
            assertThat(((Gemma3nModel) lm).warmUpLayers()).containsExactly(0, 4, 10, 14, 18, 20);
            assertThat(lm.warmsUpFewerLayers()).isTrue();
            assertThat(writtenLayers(lm)).as("layers whose own keys the warm-up forward wrote").containsExactly(0, 4, 10, 14, 18);
        }
    }

    /** Layers owning their cache storage that a warm-up forward of 4 tokens wrote keys to. */
    private static Set<Integer> writtenLayers(LanguageModel lm) {
        KvCache cache = lm.newCache(16);
        int[] tokens = {2, 100, 200, 300};
        float[] logits = lm.warmUpForward(Batch.builder().tokens(cache, tokens, 0, tokens.length, true).build(), null);
        assertThat(logits).hasSize(tokens.length * lm.config().vocabSize());
        Set<Integer> ran = new LinkedHashSet<>();
        for (int l = 0; l < cache.layers(); l++) {
            if (!cache.ownsStorage(l)) continue;
            float[] keys = cache.keys(l);
            int from = cache.offset(l, 0), to = cache.offset(l, tokens.length - 1) + lm.config().kvDim();
            for (int i = from; i < to; i++) {
                if (keys[i] != 0) {
                    ran.add(l);
                    break;
                }
            }
        }
        return ran;
    }

    /** The warm-up forward writes the chosen layers' keys and no other layer's: it ran those layers only. */
    @Test
    void theWarmUpForwardRunsOnlyTheChosenLayers() {
        try (LanguageModel lm = ModelLoader.load(file("gemma3-tiny", "Q4_0"), new ModelLoader.Options(false, 2, 32), pool)) {
            int[] chosen = ((Gemma3Model) lm).warmUpLayers();
            Set<Integer> ran = writtenLayers(lm);
            assertThat(ran).containsExactly(java.util.Arrays.stream(chosen).boxed().toArray(Integer[]::new));
        }
    }
}
