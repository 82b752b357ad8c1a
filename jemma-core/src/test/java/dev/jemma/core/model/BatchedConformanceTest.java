package dev.jemma.core.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.tensor.Formats;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.testing.LogitStats;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Continuous batching is exact (issue 19): every fixture GGUF — every type of Gemma 3 and Gemma 3n — run as three
 * sequences sharing model steps the way the engine's scheduler shares them (prompts in chunks of different sizes that
 * start at different steps, beside other sequences' decode tokens) gives every sequence the reference logits at every
 * prompt position within the conformance tolerance of exact mode, and the reference greedy continuation.
 */
class BatchedConformanceTest {
    private static ThreadPool pool;

    @BeforeAll
    static void start() {
        pool = new ThreadPool(2);
    }

    @AfterAll
    static void stop() {
        pool.close();
    }

    static Stream<Arguments> files() {
        JsonNode models = Fixtures.manifest().get("models");
        List<Arguments> out = new ArrayList<>();
        for (String model : List.of("gemma3-tiny", "gemma3-small-k", "gemma3n-tiny")) {
            JsonNode m = models.get(model);
            for (Iterator<Map.Entry<String, JsonNode>> it = m.get("variants").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> v = it.next();
                out.add(Arguments.of(model + "/" + v.getKey(), m, v.getValue()));
            }
        }
        return out.stream();
    }

    /** One sequence of the batch: its prompt fed in chunks from step {@code start}, then 16 greedy tokens. */
    private static final class Sequence {
        final String name;
        final int[] prompt;
        final int chunk, start;
        final float[] ref;
        final int[] refGreedy;
        final KvCache cache;
        float[] promptLogits;
        final int[] greedy = new int[16];
        int fed, generated, taken;

        Sequence(String name, int[] prompt, int chunk, int start, float[] ref, int[] refGreedy, LanguageModel m) {
            this.name = name;
            this.prompt = prompt;
            this.chunk = chunk;
            this.start = start;
            this.ref = ref;
            this.refGreedy = refGreedy;
            this.cache = m.newCache(prompt.length + greedy.length);
            this.promptLogits = new float[ref.length];
        }

        boolean prefilling(int step) {
            return step >= start && fed < prompt.length;
        }

        boolean decoding() {
            return fed == prompt.length && generated > 0 && generated < greedy.length;
        }
    }

    private static Path locate(String rel) {
        Path p = Fixtures.any().resolve(rel);
        if (!Files.exists(p)) {
            if (Fixtures.any().equals(Fixtures.bundled())) Assumptions.abort(rel + " is not in the bundled core fixtures");
            throw new AssertionError("fixture missing: " + p);
        }
        return p;
    }

    @ParameterizedTest(name = "{0} batched, exact")
    @MethodSource("files")
    void mixedSequencesInSharedStepsMatchTheReference(String label, JsonNode model, JsonNode variant) {
        Path gguf = locate(variant.get("file").asText());
        try (GgufFile f = GgufFile.open(gguf)) {
            for (var t : f.tensors().values()) Assumptions.assumeTrue(Formats.isSupported(t.type()), "tensor type " + t.type() + " not supported yet");
        }
        boolean gemma3n = label.startsWith("gemma3n");
        // fixtures/README.md: exact_f32_mode, and gemma3n_exact_f32_mode for Gemma 3n
        double maxTol = gemma3n ? 1e-2 : 1e-3, meanTol = gemma3n ? 1e-3 : 1e-4;
        try (LanguageModel m = ModelLoader.load(gguf, new ModelLoader.Options(true, 2, 16), pool)) {
            int vocab = m.config().vocabSize();
            List<Sequence> seqs = new ArrayList<>();
            for (String[] s : new String[][]{{"short", "4", "0"}, {"long", "7", "0"}, {"short", "5", "3"}}) {
                JsonNode p = variant.get("prompts").get(s[0]);
                seqs.add(new Sequence(s[0] + " from step " + s[2], Fixtures.ints(model.get("prompts").get(s[0]).get("ids")),
                        Integer.parseInt(s[1]), Integer.parseInt(s[2]), Fixtures.readF32(locate(p.get("logits_file").asText())),
                        Fixtures.ints(p.get("greedy_ids")), m));
            }
            int shared = 0;
            for (int step = 0; seqs.stream().anyMatch(q -> q.generated < q.greedy.length); step++) {
                // as the scheduler: decode tokens first, then prompt chunks
                Batch.Builder b = Batch.builder();
                List<Sequence> order = new ArrayList<>();
                for (Sequence q : seqs) {
                    if (q.decoding()) {
                        b.token(q.cache, q.greedy[q.generated - 1], true);
                        q.taken = 1;
                        order.add(q);
                    }
                }
                for (Sequence q : seqs) {
                    if (q.prefilling(step)) {
                        q.taken = Math.min(q.chunk, q.prompt.length - q.fed);
                        b.tokens(q.cache, q.prompt, q.fed, q.taken, true);
                        order.add(q);
                    }
                }
                if (order.isEmpty()) continue;
                if (order.size() > 1) shared++;
                float[] logits = m.forward(b.build());
                int row = 0;
                for (Sequence q : order) {
                    if (q.fed < q.prompt.length) {
                        System.arraycopy(logits, row * vocab, q.promptLogits, q.fed * vocab, q.taken * vocab);
                        q.fed += q.taken;
                        if (q.fed == q.prompt.length) q.greedy[q.generated++] = LogitStats.argmax(logits, (row + q.taken - 1) * vocab, vocab);
                    } else {
                        q.greedy[q.generated++] = LogitStats.argmax(logits, row * vocab, vocab);
                    }
                    row += q.taken;
                }
                assertThat(row * vocab).isEqualTo(logits.length);
            }
            assertThat(shared).as("steps shared by several sequences").isGreaterThan(10);
            for (Sequence q : seqs) {
                LogitStats s = LogitStats.compare(q.ref, q.promptLogits, vocab);
                System.out.println(label + " " + q.name + " batched exact: " + s);
                assertThat(s.maxAbs()).as(label + " " + q.name + " max|d|").isLessThanOrEqualTo(maxTol);
                assertThat(s.meanAbs()).as(label + " " + q.name + " mean|d|").isLessThanOrEqualTo(meanTol);
                assertThat(q.greedy).as(label + " " + q.name + " greedy ids").containsExactly(q.refGreedy);
            }
        }
    }
}
