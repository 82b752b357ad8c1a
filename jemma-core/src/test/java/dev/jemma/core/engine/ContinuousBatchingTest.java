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
 * same tokens as alone, steps really serve several sequences, a short prompt joins the streams' step whole, and a long
 * prompt is processed in budget-sized chunks while a running stream keeps producing tokens.
 */
class ContinuousBatchingTest {
    static Path model() throws Exception {
        return Path.of(ContinuousBatchingTest.class.getResource("/models/gemma3-tiny-Q4_0.gguf").toURI());
    }

    static final GenerationOptions GREEDY24 = GenerationOptions.builder().temperature(0f).maxTokens(24).ignoreEos(true).build();

    /**
     * Called from a stream's listener once the test has seen the tokens it waits for: holds the stream, still open, while
     * nothing else is queued and the test is not done with it. Why: a stream left to run ends its 100–300 tokens within
     * a second or two, and a test thread that took longer to send its next request (descheduled on a loaded 2-core
     * machine) found no stream open and failed — a 1 s pause failed aLongPromptDoesNotFreezeARunningStream, 3 s
     * aCancelStopsAPromptBetweenChunksAndFreesItsSlot. Any queued work (the test's prompt, another stream's token)
     * releases it within a millisecond, so it holds no step; once all streams of a test wait here, only the test's next
     * request can release them.
     */
    static void holdWhileIdle(Engine engine, java.util.function.BooleanSupplier done) {
        long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
        while (engine.batchStatus().queued() == 0 && !done.getAsBoolean() && System.nanoTime() - until < 0) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

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
            FirstTokenMeeting meeting = new FirstTokenMeeting(texts.size());
            List<Future<int[]>> futures = new ArrayList<>();
            for (String t : texts) {
                futures.add(ex.submit(() -> {
                    try (Session s = engine.newSession(); FirstTokenMeeting.Seat seat = meeting.seat()) {
                        start.await();
                        return s.complete(t, GREEDY24, seat).tokens();
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

    /**
     * Streams in lockstep wake only the step's leader when they queue their next tokens: a stream waiting for its own
     * token is woken when the step that ran it ends, not by every other stream's token (which, with one condition for
     * both, made C − 2 wake-ups a step that found nothing to do, each competing for the lock and the cores).
     */
    @Test
    void aQueuedTokenWakesOnlyTheLeader() throws Exception {
        int c = 4;
        GenerationOptions greedy = GenerationOptions.builder().temperature(0f).maxTokens(40).ignoreEos(true).build();
        try (Engine engine = Engine.load(model(), EngineOptions.builder().threads(2).contextLength(256).parallel(c).build())) {
            ExecutorService ex = Executors.newFixedThreadPool(c);
            FirstTokenMeeting meeting = new FirstTokenMeeting(c);
            CountDownLatch start = new CountDownLatch(1);
            List<Future<?>> futures = new ArrayList<>();
            for (int i = 0; i < c; i++) {
                String text = "Stream " + i + " says";
                futures.add(ex.submit(() -> {
                    try (Session s = engine.newSession(); FirstTokenMeeting.Seat seat = meeting.seat()) {
                        start.await();
                        s.complete(text, greedy, seat);
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : futures) f.get();
            ex.shutdown();
            long[] s = engine.batchStatistics();
            // 40 lockstep steps of 4 streams: with every token waking every waiting stream ~2 a step (80+) were idle
            assertThat(s[4]).as("idle wake-ups in %d steps", s[0]).isLessThan(s[0] / 4);
        }
    }

    /**
     * {@link Engine#warmUp} runs its steps on caches of its own and leaves nothing behind but the KV pool, allocated in
     * full: generations afterwards give the tokens they give on an engine that was not warmed up, and use the pool's
     * caches (no more are made).
     */
    @Test
    void aWarmUpAllocatesThePoolAndChangesNoResult() throws Exception {
        String text = "In the beginning";
        int[] cold;
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(128).maxBatch(32).parallel(3).build());
             Session s = engine.newSession()) {
            assertThat(engine.kvPool().allocated()).isZero();
            cold = s.complete(text, GREEDY24, null).tokens();
        }
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(128).maxBatch(32).parallel(3).build())) {
            assertThat(engine.warmUp()).as("rounds").isPositive();
            assertThat(engine.kvPool().allocated()).as("caches allocated by the warm-up").isEqualTo(3);
            try (Session s = engine.newSession()) {
                assertThat(s.complete(text, GREEDY24, null).tokens()).isEqualTo(cold);
            }
            assertThat(engine.kvPool().allocated()).as("caches after a generation").isEqualTo(3);
        }
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(1).contextLength(128).build())) {
            assertThat(engine.warmUp()).as("rounds without a KV pool").isZero();
        }
    }

    /**
     * The chunk caps a prompt only while streams decode beside it: a prompt with no stream running takes the model's
     * whole batch per step (a lone prefill is as fast as without the scheduler), counted in steps.
     */
    @Test
    void aPromptAloneIsNotChunked() throws Exception {
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(1).contextLength(256).maxBatch(16).batchChunk(4)
                .wholePrompt(-1).build())) {
            int[] prompt = engine.tokenizer().encode("the quick brown fox jumps over the lazy dog ".repeat(5));
            assertThat(prompt.length).isGreaterThan(40);
            long[] before = engine.batchStatistics();
            try (Session s = engine.newSession()) {
                s.generate(prompt, GenerationOptions.builder().temperature(0f).maxTokens(1).build(), null);
            }
            long steps = engine.batchStatistics()[0] - before[0];
            assertThat(steps).as("steps for a %d-token prompt alone (batch 16, chunk 4)", prompt.length).isEqualTo((prompt.length + 15) / 16);
        }
        // with whole prompts on (the default: up to 256 tokens), the same prompt is one step, which the model runs in parts
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(1).contextLength(256).maxBatch(16).batchChunk(4).build())) {
            int[] prompt = engine.tokenizer().encode("the quick brown fox jumps over the lazy dog ".repeat(5));
            long[] before = engine.batchStatistics();
            try (Session s = engine.newSession()) {
                s.generate(prompt, GenerationOptions.builder().temperature(0f).maxTokens(1).build(), null);
            }
            assertThat(engine.batchStatistics()[0] - before[0]).as("steps for a %d-token prompt, whole", prompt.length).isEqualTo(1);
        }
    }

    /**
     * The admission window ({@link EngineOptions#admissionMillis}) waits for requests on their way ({@link Arrivals}):
     * three requests announced together, the first queued at once and the other two still being prepared (here: held
     * until the first is queued, then 300 ms more — longer than any fixed window the server had), share one step — the
     * window (10 s here, so only the scheduler decides) closes as soon as every announced request is queued — and give
     * the tokens they give alone; a lone request does not wait at all; a prompt arriving beside a running stream does not
     * wait either. The first request is a prompt of one row (as a request whose prefix its session had cached sends): it
     * waits like any. No timing is asserted: the step log and the scheduler's count of steps that waited decide.
     */
    @Test
    void promptsArrivingTogetherAtAnIdleEngineShareOneStep() throws Exception {
        String[] texts = {"In the beginning", "Once upon a time there was", "The quick brown fox"};
        GenerationOptions four = GenerationOptions.builder().temperature(0f).maxTokens(4).ignoreEos(true).build();
        List<int[]> together = new ArrayList<>();
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(256).maxBatch(16)
                .wholePrompt(64).admissionMillis(10_000).parallel(4).build())) {
            List<int[]> promptSteps = java.util.Collections.synchronizedList(new ArrayList<>());
            engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
                if (promptRows > 0) promptSteps.add(new int[]{promptRows, decodeRows, sequences});
            });
            ExecutorService ex = Executors.newFixedThreadPool(3);
            CountDownLatch announced = new CountDownLatch(texts.length);
            List<Future<int[]>> futures = new ArrayList<>();
            for (int i = 0; i < texts.length; i++) {
                String t = texts[i];
                boolean first = i == 0;
                futures.add(ex.submit(() -> {
                    // as the server does when a request is received, before it is parsed and tokenized
                    try (Arrivals.Ticket ticket = engine.arrivals().arrive(); Session s = engine.newSession()) {
                        announced.countDown();
                        announced.await();
                        if (!first) {
                            // still preparing while the first one's prompt waits in the scheduler
                            while (engine.batchStatus().queued() == 0) Thread.sleep(1);
                            Thread.sleep(300);
                        }
                        return first ? s.generate(new int[]{engine.tokenizer().bosId()}, four, null).tokens()
                                : s.complete(t, four, null).tokens();
                    }
                }));
            }
            for (Future<int[]> f : futures) together.add(f.get());
            synchronized (promptSteps) {
                assertThat(promptSteps).as("steps with prompt rows").hasSize(1);
                assertThat(promptSteps.get(0)[2]).as("sequences in it").isEqualTo(3);
                assertThat(promptSteps.get(0)[1]).as("decode rows in it").isZero();
                assertThat(engine.batchStatistics()[3]).as("steps that waited in the admission window").isEqualTo(1);
            }
            engine.observeSteps(null);
            // beside a running stream a prompt does not wait for company: the stream's steps carry it at once (the stream's
            // own prompt is longer than a whole one, so it does not wait either)
            CountDownLatch streaming = new CountDownLatch(2);
            java.util.concurrent.atomic.AtomicBoolean enough = new java.util.concurrent.atomic.AtomicBoolean();
            int[] longPrompt = engine.tokenizer().encode("the quick brown fox jumps over the lazy dog ".repeat(4));
            assertThat(longPrompt.length).as("longer than a prompt taken whole").isBetween(65, 120);
            Future<?> stream = ex.submit(() -> {
                try (Session s = engine.newSession()) {
                    s.generate(longPrompt, GenerationOptions.builder().temperature(0f).maxTokens(100).ignoreEos(true).build(), t -> {
                        streaming.countDown();
                        if (streaming.getCount() == 0) holdWhileIdle(engine, enough::get);
                        if (enough.get()) throw new java.util.concurrent.CancellationException("enough");
                    });
                } catch (RuntimeException ignored) {
                    // the listener's exception ends the stream
                }
                return null;
            });
            streaming.await();
            long waitedBefore = engine.batchStatistics()[3];
            // another request on its way the whole time: beside a stream the window still does not wait for it
            try (Arrivals.Ticket elsewhere = engine.arrivals().announce(); Session s = engine.newSession()) {
                assertThat(s.complete(texts[1], four, null).tokens()).isEqualTo(together.get(1));
            }
            assertThat(engine.batchStatistics()[3]).as("steps that waited in the window beside a stream").isEqualTo(waitedBefore);
            enough.set(true);
            stream.get();
            ex.shutdown();
        }
        // alone, one at a time, each announced: nothing else is on its way, so none waits in the (10 s) window, and each
        // gives what it gave in the shared step
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(256).maxBatch(16)
                .wholePrompt(64).admissionMillis(10_000).parallel(3).build())) {
            for (int i = 0; i < texts.length; i++) {
                try (Arrivals.Ticket ticket = engine.arrivals().arrive(); Session s = engine.newSession()) {
                    int[] alone = i == 0 ? s.generate(new int[]{engine.tokenizer().bosId()}, four, null).tokens()
                            : s.complete(texts[i], four, null).tokens();
                    assertThat(alone).as("prompt %d alone", i).isEqualTo(together.get(i));
                }
            }
            assertThat(engine.batchStatistics()[3]).as("steps that waited in the admission window").isZero();
            assertThat(engine.arrivals().pending()).as("requests still on their way").isZero();
        }
    }

    /**
     * A request announced but ended before it reached the engine (refused, failed, its client gone) no longer holds the
     * window open: a prompt waiting for it then runs. And the window waits for announced requests only: without one, a
     * prompt queued beside another queued prompt runs at once.
     */
    @Test
    void aRequestThatNeverArrivesReleasesTheAdmissionWindow() throws Exception {
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(256).maxBatch(16)
                .wholePrompt(64).admissionMillis(10_000).parallel(4).build())) {
            GenerationOptions two = GenerationOptions.builder().temperature(0f).maxTokens(2).ignoreEos(true).build();
            ExecutorService ex = Executors.newFixedThreadPool(1);
            Arrivals.Ticket other = engine.arrivals().arrive();
            Future<int[]> lone;
            try {
                lone = ex.submit(() -> {
                    try (Arrivals.Ticket ticket = engine.arrivals().arrive(); Session s = engine.newSession()) {
                        return s.complete("In the beginning", two, null).tokens();
                    }
                });
                // the prompt waits in the window for the other request (10 s at most)
                while (engine.batchStatus().queued() == 0) Thread.sleep(1);
                Thread.sleep(50);
                assertThat(lone.isDone()).as("done while another request is on its way").isFalse();
            } finally {
                other.close();
            }
            assertThat(lone.get()).hasSize(2);
            ex.shutdown();
            assertThat(engine.batchStatistics()[3]).as("steps that waited in the admission window").isEqualTo(1);
            assertThat(engine.arrivals().pending()).as("requests still on their way").isZero();
            // not announced: nothing to wait for
            try (Session s = engine.newSession()) {
                assertThat(s.complete("Once upon a time", two, null).tokens()).hasSize(2);
            }
            assertThat(engine.batchStatistics()[3]).as("steps that waited in the admission window").isEqualTo(1);
        }
    }

    /**
     * A prompt of at most {@link EngineOptions#wholePrompt} tokens joins the next step whole beside the decoding streams
     * (one step, though it is longer than the chunk and than the model's batch, which then runs the step in parts), and
     * gives the tokens it gives alone.
     */
    @Test
    void aShortPromptJoinsTheStreamsWholeAndGivesWhatItGivesAlone() throws Exception {
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(256).maxBatch(16).batchChunk(8)
                .wholePrompt(80).parallel(3).build())) {
            engine.streamGraceNanos(java.util.concurrent.TimeUnit.MINUTES.toNanos(2));
            int[] prompt = engine.tokenizer().encode("the quick brown fox jumps over the lazy dog ".repeat(3));
            assertThat(prompt.length).as("longer than the chunk and the batch, within wholePrompt").isBetween(17, 80);
            GenerationOptions six = GenerationOptions.builder().temperature(0f).maxTokens(6).ignoreEos(true).build();
            int[] alone;
            try (Session s = engine.newSession()) {
                alone = s.generate(prompt, six, null).tokens();
            }
            CountDownLatch[] streaming = {new CountDownLatch(3), new CountDownLatch(3)};
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            ExecutorService ex = Executors.newFixedThreadPool(2);
            List<Future<?>> streams = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                String opening = "Stream " + i + " says";
                CountDownLatch mine = streaming[i];
                streams.add(ex.submit(() -> {
                    try (Session s = engine.newSession()) {
                        s.complete(opening, GenerationOptions.builder().temperature(0f).maxTokens(200).ignoreEos(true).build(), t -> {
                            mine.countDown();
                            if (mine.getCount() == 0) holdWhileIdle(engine, done::get);
                            if (done.get()) throw new java.util.concurrent.CancellationException("enough");
                        });
                    } catch (RuntimeException ignored) {
                        // the listener's exception ends the stream once the prompt below is done
                    }
                    return null;
                }));
            }
            for (CountDownLatch l : streaming) l.await();
            List<int[]> promptSteps = java.util.Collections.synchronizedList(new ArrayList<>());
            engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
                if (promptRows > 0) promptSteps.add(new int[]{promptRows, decodeRows});
            });
            int[] batched;
            try (Session s = engine.newSession()) {
                batched = s.generate(prompt, six, null).tokens();
            }
            engine.observeSteps(null);
            done.set(true);
            for (Future<?> f : streams) f.get();
            ex.shutdown();
            assertThat(batched).as("greedy tokens beside two streams").isEqualTo(alone);
            synchronized (promptSteps) {
                assertThat(promptSteps).as("steps with prompt rows").hasSize(1);
                assertThat(promptSteps.get(0)).as("the prompt's rows beside both streams' decode rows").containsExactly(prompt.length, 2);
            }
        }
    }

    /**
     * Chunked prefill and fairness, counted rather than timed: while a 240-token prompt is processed in steps of 8 rows
     * (a chunk of 16, but one stream caps a step at {@link StepScheduler#ROWS_PER_STREAM} rows, its own included: 7
     * prompt tokens beside it), a running stream gets one token in every one of those steps (the step waits for its next
     * token; with a grace of minutes here nothing but the scheduler decides), so it produces at least as many tokens as
     * the prompt has chunks, less one for where the count starts.
     */
    @Test
    void aLongPromptDoesNotFreezeARunningStream() throws Exception {
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(512).maxBatch(16).batchChunk(16)
                .wholePrompt(64).build())) {
            engine.streamGraceNanos(java.util.concurrent.TimeUnit.MINUTES.toNanos(2));
            java.util.concurrent.atomic.AtomicBoolean inPrefill = new java.util.concurrent.atomic.AtomicBoolean();
            AtomicInteger tokensDuringPrompt = new AtomicInteger();
            CountDownLatch streaming = new CountDownLatch(3);
            java.util.concurrent.atomic.AtomicBoolean measured = new java.util.concurrent.atomic.AtomicBoolean();
            ExecutorService ex = Executors.newFixedThreadPool(2);
            Future<?> stream = ex.submit(() -> {
                try (Session s = engine.newSession()) {
                    s.complete("In the beginning", GenerationOptions.builder().temperature(0f).maxTokens(300).ignoreEos(true).build(), t -> {
                        streaming.countDown();
                        if (streaming.getCount() == 0) holdWhileIdle(engine, measured::get);
                        if (inPrefill.get()) tokensDuringPrompt.incrementAndGet();
                    });
                }
                return null;
            });
            streaming.await();
            int[] longPrompt = engine.tokenizer().encode("the quick brown fox jumps over the lazy dog ".repeat(12));
            int chunks = (longPrompt.length + 6) / 7;
            assertThat(chunks).isGreaterThan(20);
            assertThat(longPrompt.length).as("longer than a prompt taken whole").isGreaterThan(64);
            java.util.List<int[]> sharedSteps = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
                if (promptRows > 0 && decodeRows > 0) sharedSteps.add(new int[]{promptRows, decodeRows});
            });
            long[] before = engine.batchStatistics();
            try (Session s = engine.newSession()) {
                inPrefill.set(true);
                Generation g = s.generate(longPrompt, GenerationOptions.builder().temperature(0f).maxTokens(1).build(), t -> inPrefill.set(false));
                inPrefill.set(false);
                assertThat(g.promptTokens()).isEqualTo(longPrompt.length);
            }
            long[] after = engine.batchStatistics();
            measured.set(true);
            stream.get();
            ex.shutdown();
            assertThat(tokensDuringPrompt.get()).as("stream tokens while the %d-chunk prompt was processed", chunks).isGreaterThanOrEqualTo(chunks - 1);
            assertThat(after[2] - before[2]).as("steps shared by the prompt and the stream").isGreaterThanOrEqualTo(chunks - 1);
            engine.observeSteps(null);
            synchronized (sharedSteps) {
                assertThat(sharedSteps).as("steps with prompt rows beside the stream's").hasSizeGreaterThanOrEqualTo(chunks - 1);
                for (int[] step : sharedSteps) assertThat(step[0] + step[1]).as("rows of a shared step (one stream)").isLessThanOrEqualTo(8);
                assertThat(sharedSteps.stream().filter(st -> st[0] == 7 && st[1] == 1).count())
                        .as("steps of 7 prompt rows beside the stream's one").isGreaterThanOrEqualTo(chunks - 2);
            }
        }
    }

    /**
     * A step's prompt rows beside d decoding streams: the rest of the chunk, but one stream's steps stay within
     * {@link StepScheduler#ROWS_PER_STREAM} rows (a lone stream's step is cheap: the same chunk would cost it 3.8× its own
     * step, measured), and at least {@link StepScheduler#MIN_PROMPT_ROWS} however many streams there are.
     */
    @Test
    void promptRowsBesideTheStreams() {
        int[] expected16 = {8, 7, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 4, 4};   // chunk 16, d = 0 (streams open, none queued) .. 14
        for (int d = 0; d < expected16.length; d++) {
            assertThat(StepScheduler.promptRows(16, d)).as("prompt rows beside %d streams, chunk 16", d).isEqualTo(expected16[d]);
        }
        assertThat(StepScheduler.promptRows(8, 1)).isEqualTo(7);
        assertThat(StepScheduler.promptRows(64, 1)).as("one stream, a large chunk").isEqualTo(7);
        assertThat(StepScheduler.promptRows(64, 3)).as("three streams, a large chunk").isEqualTo(21);
        assertThat(StepScheduler.promptRows(5, 3)).as("the floor").isEqualTo(4);
        assertThat(StepScheduler.promptRows(2, 3)).as("a chunk below the floor").isEqualTo(2);
    }

    /**
     * Rows of whole prompts a step takes beside d decoding streams: what costs twice their decode step by the measured
     * step costs (so the step costs at most 3× theirs), none with the cap at 1×.
     */
    @Test
    void wholePromptRowsBesideTheStreams() {
        int cost = StepScheduler.WHOLE_STEP_COST;
        assertThat(cost).isEqualTo(3);
        assertThat(StepScheduler.wholeRowsBeside(cost, 1)).as("beside one stream").isEqualTo(8);
        assertThat(StepScheduler.wholeRowsBeside(cost, 0)).as("streams open, none queued: counted as one").isEqualTo(8);
        assertThat(StepScheduler.wholeRowsBeside(cost, 3)).as("beside three streams").isEqualTo(13);
        assertThat(StepScheduler.wholeRowsBeside(cost, 8)).as("beside eight streams").isEqualTo(27);
        assertThat(StepScheduler.wholeRowsBeside(1, 8)).as("a cap of one decode step").isZero();
    }

    /**
     * A split wave: short prompts queued together while a stream decodes join its steps whole, but a step takes only
     * {@link StepScheduler#wholeRowsBeside} rows of them (8 beside one stream) — the first always, however long, the others
     * while they fit, and from the first that does not fit the rest wait for the next step in arrival order (none
     * overtakes, none is chunked) — and the stream gets its token in every one of those steps. Before, the five prompts
     * (47 rows) joined one step: a wave's 643 rows stalled three streams 7.6 s. Counted, not timed: the stream's listener
     * holds it until all five are queued, and the steps wait minutes for its next token.
     */
    @Test
    void aSplitWavesPromptsJoinTheStreamsStepsWithinABudgetInArrivalOrder() throws Exception {
        assertThat(StepScheduler.wholeRowsBeside(StepScheduler.WHOLE_STEP_COST, 1)).as("the budget laid out below").isEqualTo(8);
        // the cap is off by default: on for this engine (the scheduler reads the property when it is built)
        int[] lengths = {5, 4, 2, 30, 6};
        Engine capped;
        System.setProperty("jemma.wholeStepCost", String.valueOf(StepScheduler.WHOLE_STEP_COST));
        try {
            capped = Engine.load(model(), EngineOptions.builder().exact(true).threads(1).contextLength(256).maxBatch(16)
                    .batchChunk(8).wholePrompt(40).parallel(lengths.length + 1).build());
        } finally {
            System.clearProperty("jemma.wholeStepCost"); // the other tests' engines keep the default
        }
        try (Engine engine = capped) {
            engine.streamGraceNanos(java.util.concurrent.TimeUnit.MINUTES.toNanos(2));
            CountDownLatch held = new CountDownLatch(1), release = new CountDownLatch(1);
            AtomicInteger streamed = new AtomicInteger();
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            ExecutorService ex = Executors.newFixedThreadPool(lengths.length + 1);
            Future<?> stream = ex.submit(() -> {
                try (Session s = engine.newSession()) {
                    s.complete("Stream says", GenerationOptions.builder().temperature(0f).maxTokens(200).ignoreEos(true).build(), t -> {
                        if (streamed.incrementAndGet() == 3) {
                            held.countDown();
                            try {
                                release.await();
                            } catch (InterruptedException e) {
                                throw new java.util.concurrent.CancellationException("interrupted");
                            }
                        }
                        if (done.get()) throw new java.util.concurrent.CancellationException("enough");
                    });
                } catch (RuntimeException ignored) {
                    // the listener's exception ends the stream once the prompts are done
                }
                return null;
            });
            held.await();
            List<int[]> promptSteps = java.util.Collections.synchronizedList(new ArrayList<>());
            engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
                if (promptRows > 0) promptSteps.add(new int[]{promptRows, decodeRows});
            });
            List<Future<?>> prompts = new ArrayList<>();
            for (int i = 0; i < lengths.length; i++) {
                // distinct texts: each session starts empty, so every row of its prompt runs
                int[] prompt = java.util.Arrays.copyOf(engine.tokenizer().encode("Prompt " + i + " is the quick brown fox jumps over the lazy dog ".repeat(4)), lengths[i]);
                prompts.add(ex.submit(() -> {
                    try (Session s = engine.newSession()) {
                        return s.generate(prompt, GenerationOptions.builder().temperature(0f).maxTokens(1).build(), null);
                    }
                }));
                long until = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
                while (engine.batchStatus().queued() < i + 1) {
                    assertThat(System.nanoTime() - until).as("prompt %d queued", i).isNegative();
                    Thread.sleep(2);
                }
            }
            release.countDown();
            for (Future<?> f : prompts) f.get(2, java.util.concurrent.TimeUnit.MINUTES);
            engine.observeSteps(null);
            done.set(true);
            stream.get();
            ex.shutdown();
            synchronized (promptSteps) {
                // 5 (the first; 4 does not fit the 3 left, so 2 waits behind it), 4 + 2, 30 (longer than the budget: alone), 6
                assertThat(promptSteps).as("prompt and decode rows of the steps with prompt rows")
                        .containsExactly(new int[]{5, 1}, new int[]{6, 1}, new int[]{30, 1}, new int[]{6, 1});
            }
        }
    }

    /**
     * Beside more streams than the chunk leaves room for, a prompt still takes {@link StepScheduler#MIN_PROMPT_ROWS} rows
     * per step (it must move on), and a chunk smaller than that is taken as it is.
     */
    @Test
    void aPromptBesideManyStreamsStillMovesOn() throws Exception {
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(1).contextLength(256).maxBatch(16)
                .batchChunk(5).wholePrompt(16).parallel(4).build())) {
            engine.streamGraceNanos(java.util.concurrent.TimeUnit.MINUTES.toNanos(2));
            // three tokens from each stream before the prompt comes (one latch per stream: on a loaded machine one stream can
            // produce all nine tokens of a shared count before another is admitted, and then no step has three decode rows)
            CountDownLatch[] streaming = {new CountDownLatch(3), new CountDownLatch(3), new CountDownLatch(3)};
            java.util.concurrent.atomic.AtomicBoolean done = new java.util.concurrent.atomic.AtomicBoolean();
            ExecutorService ex = Executors.newFixedThreadPool(3);
            java.util.List<Future<?>> streams = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String opening = "Stream " + i + " says";
                CountDownLatch mine = streaming[i];
                streams.add(ex.submit(() -> {
                    try (Session s = engine.newSession()) {
                        s.complete(opening, GenerationOptions.builder().temperature(0f).maxTokens(120).ignoreEos(true).build(), t -> {
                            mine.countDown();
                            if (mine.getCount() == 0) holdWhileIdle(engine, done::get);
                            if (done.get()) throw new java.util.concurrent.CancellationException("enough");
                        });
                    } catch (RuntimeException ignored) {
                        // the listener's exception ends the stream once the prompt below is done
                    }
                    return null;
                }));
            }
            for (CountDownLatch l : streaming) l.await();
            java.util.List<int[]> sharedSteps = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
                if (promptRows > 0 && decodeRows > 0) sharedSteps.add(new int[]{promptRows, decodeRows});
            });
            int[] prompt = engine.tokenizer().encode("the quick brown fox jumps over the lazy dog ".repeat(4));
            assertThat(prompt.length).as("longer than a prompt taken whole").isGreaterThan(16);
            try (Session s = engine.newSession()) {
                s.generate(prompt, GenerationOptions.builder().temperature(0f).maxTokens(1).build(), t -> { });
            }
            engine.observeSteps(null);
            done.set(true);
            for (Future<?> f : streams) f.get();
            ex.shutdown();
            synchronized (sharedSteps) {
                // three streams and a chunk of 5: 5 - 3 = 2 rows would be left, the floor gives 4
                assertThat(sharedSteps.stream().filter(st -> st[1] == 3 && st[0] == 4).count())
                        .as("steps of 4 prompt rows beside three streams").isGreaterThanOrEqualTo(prompt.length / 4 - 2);
                for (int[] step : sharedSteps) assertThat(step[0]).as("prompt rows of a shared step").isLessThanOrEqualTo(4);
            }
        }
    }

    /**
     * Cancelling a session in the middle of its prompt drops the rest at the next step: it returns CANCELLED with part of
     * the prompt in its cache, and its KV slot is free for the next generation at once.
     */
    @Test
    void aCancelStopsAPromptBetweenChunksAndFreesItsSlot() throws Exception {
        try (Engine engine = Engine.load(model(), EngineOptions.builder().exact(true).threads(2).contextLength(512).maxBatch(16).batchChunk(8)
                .wholePrompt(64).parallel(2).build())) {
            engine.streamGraceNanos(java.util.concurrent.TimeUnit.MINUTES.toNanos(2));
            int[] longPrompt = engine.tokenizer().encode("the quick brown fox jumps over the lazy dog ".repeat(12));
            Session victim = engine.newSession();
            java.util.concurrent.atomic.AtomicBoolean inPrefill = new java.util.concurrent.atomic.AtomicBoolean();
            AtomicInteger during = new AtomicInteger();
            CountDownLatch streaming = new CountDownLatch(1);
            java.util.concurrent.atomic.AtomicBoolean finished = new java.util.concurrent.atomic.AtomicBoolean();
            ExecutorService ex = Executors.newFixedThreadPool(2);
            Future<?> stream = ex.submit(() -> {
                try (Session s = engine.newSession()) {
                    s.complete("In the beginning", GenerationOptions.builder().temperature(0f).maxTokens(200).ignoreEos(true).build(), t -> {
                        streaming.countDown();
                        // two steps after the long prompt's first chunk ran, cancel it (counting from the victim's
                        // admission, not from generate()'s call: on a loaded machine the stream can run ahead)
                        if (inPrefill.get() && victim.cachedTokens() > 0 && during.incrementAndGet() == 2) victim.cancel();
                        holdWhileIdle(engine, finished::get);
                    });
                }
                return null;
            });
            streaming.await();
            inPrefill.set(true);
            Generation g = victim.generate(longPrompt, GenerationOptions.builder().maxTokens(1).build(), null);
            inPrefill.set(false);
            assertThat(g.stopReason()).isEqualTo(StopReason.CANCELLED);
            assertThat(victim.cachedTokens()).as("prompt tokens processed before the cancel").isBetween(8, 8 * 5);
            assertThat(engine.kvPool().busy()).as("slots in a generation: the stream's only").isEqualTo(1);
            // the cancelled session's slot serves the next request, which reuses the part that ran
            Generation next = victim.generate(longPrompt, GenerationOptions.builder().temperature(0f).maxTokens(1).build(), null);
            assertThat(next.stopReason()).isEqualTo(StopReason.MAX_TOKENS);
            assertThat(next.reusedTokens()).isBetween(8, 8 * 5);
            victim.close();
            finished.set(true);
            stream.get();
            ex.shutdown();
        }
    }
}
