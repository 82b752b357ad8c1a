package dev.jemma.core.engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Sessions on one engine share model steps (continuous batching): concurrent greedy generations in exact mode give the
 * same tokens as alone, steps really serve several sequences, and a long prompt is processed in budget-sized chunks
 * while a running stream keeps producing tokens.
 */
class ContinuousBatchingTest {
    static Path model() throws Exception {
        return Path.of(ContinuousBatchingTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI());
    }

    static final GenerationOptions GREEDY24 = GenerationOptions.builder().temperature(0f).maxTokens(24).ignoreEos(true).build();

    @Test
    void concurrentSessionsGiveTheSameTokensAsAloneAndShareSteps() throws Exception {
        JsonNode prompts;
        try (InputStream in = getClass().getResourceAsStream("/models/gemma3-tiny-Q4_0.expected.json")) {
            prompts = new ObjectMapper().readTree(in).get("prompts");
        }
        List<String> texts = new ArrayList<>();
        for (var e : prompts.properties()) texts.add(e.getValue().get("text").asText());
        while (texts.size() < 6) texts.add(texts.get(texts.size() % 2) + " and then");
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(256).maxBatch(16).build())) {
            List<int[]> alone = new ArrayList<>();
            for (String t : texts) {
                try (Session s = engine.newSession()) {
                    alone.add(s.complete(t, GREEDY24, null).tokens());
                }
            }
            long[] before = engine.batchStatistics();
            ExecutorService ex = Executors.newFixedThreadPool(texts.size());
            CountDownLatch start = new CountDownLatch(1);
            List<Future<int[]>> futures = new ArrayList<>();
            for (String t : texts) {
                futures.add(ex.submit(() -> {
                    try (Session s = engine.newSession()) {
                        start.await();
                        return s.complete(t, GREEDY24, null).tokens();
                    }
                }));
            }
            start.countDown();
            for (int i = 0; i < texts.size(); i++) assertThat(futures.get(i).get()).as("prompt %d batched", i).isEqualTo(alone.get(i));
            ex.shutdown();
            long[] after = engine.batchStatistics();
            long steps = after[0] - before[0], rows = after[1] - before[1], shared = after[2] - before[2];
            // alone, 6 sessions × 24 decode steps (+ prompts) would take ≥ 144 steps of one row each
            assertThat(shared).as("steps serving several sequences").isPositive();
            assertThat((double) rows / steps).as("rows per step").isGreaterThan(1.5);
        }
    }

    @Test
    void aLongPromptDoesNotFreezeARunningStream() throws Exception {
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(512).maxBatch(8).build())) {
            AtomicLong promptDone = new AtomicLong(Long.MAX_VALUE);
            AtomicInteger tokensDuringPrompt = new AtomicInteger();
            CountDownLatch streaming = new CountDownLatch(3);
            ExecutorService ex = Executors.newFixedThreadPool(2);
            Future<?> stream = ex.submit(() -> {
                try (Session s = engine.newSession()) {
                    s.complete("In the beginning", GenerationOptions.builder().temperature(0f).maxTokens(200).ignoreEos(true).build(), t -> {
                        streaming.countDown();
                        if (streaming.getCount() == 0 && promptDone.get() == Long.MAX_VALUE) tokensDuringPrompt.incrementAndGet();
                    });
                }
                return null;
            });
            streaming.await();
            // a prompt of ~240 tokens, 8 per step: about 30 steps, each also carrying the stream's next token
            String longPrompt = "the quick brown fox jumps over the lazy dog ".repeat(12);
            try (Session s = engine.newSession()) {
                Generation g = s.complete(longPrompt, GenerationOptions.builder().temperature(0f).maxTokens(1).build(), null);
                promptDone.set(System.nanoTime());
                assertThat(g.promptTokens()).isGreaterThan(100);
            }
            stream.get();
            ex.shutdown();
            assertThat(tokensDuringPrompt.get()).as("stream tokens while the long prompt was processed").isGreaterThan(5);
        }
    }
}
