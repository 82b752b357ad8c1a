package dev.jemma.core.engine;

import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.tensor.attention.Attention;
import dev.jemma.core.testing.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The memory plan's scratch is what the engine allocates: the model is loaded for the step's budget (a --batch-chunk
 * larger than maxBatch widens it), and however many sessions generate at once the scheduler runs one forward at a time,
 * so the model keeps one set of buffers, which the plan's one-forward scratch covers, attention rows grown over the
 * whole context included. Counted from the arrays the model really holds after the sessions ran.
 */
class ScratchPlanTest {
    static Path model(String which) throws Exception {
        return switch (which) {
            case "gemma3" -> Path.of(ScratchPlanTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI());
            case "gemma3n" -> Fixtures.shared().resolve("gemma3n-tiny/gemma3n-tiny-Q8_0.gguf");
            default -> throw new IllegalArgumentException(which);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"gemma3", "gemma3n"})
    void planCountsTheOneScratchTheScheduledEngineHolds(String which) throws Exception {
        int maxBatch = 8, chunk = 24, threads = 2, ctx = 256, sessions = 3;
        EngineOptions options = EngineOptions.builder().threads(threads).contextLength(ctx).maxBatch(maxBatch).batchChunk(chunk)
                .parallel(sessions).build();
        assertThat(options.modelBatch()).isEqualTo(chunk);
        try (Engine engine = Engine.load(model(which), options)) {
            MemoryPlan plan = engine.memoryPlan();
            assertThat(engine.maxBatch()).as("the model's batch").isEqualTo(chunk);
            assertThat(plan.maxBatch()).as("the plan's batch").isEqualTo(chunk);
            assertThat(plan.sequences()).isEqualTo(sessions);

            // prompts of several chunks each, so steps mix prompt chunks with the other sessions' decode tokens
            StringBuilder text = new StringBuilder();
            for (int i = 0; i < 6; i++) text.append("the quick brown fox jumps over the lazy dog ");
            GenerationOptions gen = GenerationOptions.builder().temperature(0f).maxTokens(12).ignoreEos(true).build();
            ExecutorService ex = Executors.newFixedThreadPool(sessions);
            CountDownLatch start = new CountDownLatch(1);
            FirstTokenMeeting meeting = new FirstTokenMeeting(sessions);
            List<Future<Integer>> futures = new ArrayList<>();
            for (int i = 0; i < sessions; i++) {
                String prompt = i + " " + text;
                futures.add(ex.submit(() -> {
                    try (Session s = engine.newSession(); FirstTokenMeeting.Seat seat = meeting.seat()) {
                        start.await();
                        return s.complete(prompt, gen, seat).tokens().length;
                    }
                }));
            }
            start.countDown();
            for (Future<Integer> f : futures) assertThat(f.get()).isEqualTo(12);
            ex.shutdown();
            long[] stats = engine.batchStatistics();
            assertThat(stats[2]).as("steps that served several sessions").isPositive();

            long held = engine.scratchBytesHeld();
            ModelConfig c = engine.config();
            long logits = 4L * chunk * c.vocabSize();
            long attention = Attention.scratchBytes(threads, c.heads() / c.kvHeads(), Math.max(plan.contextLength(), chunk));
            System.out.printf("%s: scratch planned %d, held %d (logits %d, attention bound %d)%n", which, plan.scratchBytes(),
                    held, logits, attention);
            // covered: the plan is never below what the model holds (a second set of buffers would exceed it) ...
            assertThat(held).as("scratch held").isLessThanOrEqualTo(plan.scratchBytes());
            // ... and counts nothing else: beyond the held buffers, at most the logits a forward returns and the
            // attention rows' room to grow to the whole context
            assertThat(plan.scratchBytes() - held).as("planned but not held").isLessThanOrEqualTo(logits + attention);
        }
    }
}
