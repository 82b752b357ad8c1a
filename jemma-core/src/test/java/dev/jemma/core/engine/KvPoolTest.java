package dev.jemma.core.engine;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.model.ModelLoader;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The engine's KV pool ({@link EngineOptions#parallel()}): at most {@code parallel} caches exist however many sessions
 * there are, an idle session keeps its cache (and prefix) until another needs it, a generation waits while every
 * cache is busy and a cancel ends that wait, and a request's own context ({@link GenerationOptions#contextLength()})
 * is honoured within a cache or refused.
 */
class KvPoolTest {
    static final GenerationOptions GREEDY8 = GenerationOptions.builder().temperature(0f).maxTokens(8).ignoreEos(true).build();

    static Engine engine(int parallel) throws Exception {
        return Engine.load(ContinuousBatchingTest.model(), EngineOptions.builder().exact(true).threads(1).contextLength(128).parallel(parallel).build());
    }

    @Test
    void sessionsShareAFixedNumberOfCaches() throws Exception {
        try (Engine engine = engine(2)) {
            int[] alone;
            try (Session s = engine.newSession()) {
                alone = s.complete("In the beginning", GREEDY8, null).tokens();
            }
            assertThat(engine.kvPool().allocated()).isEqualTo(1);
            Session a = engine.newSession(), b = engine.newSession(), c = engine.newSession();
            assertThat(a.complete("In the beginning", GREEDY8, null).tokens()).isEqualTo(alone);
            b.complete("And God said", GREEDY8, null);
            assertThat(a.cachedTokens()).isPositive();
            // a third session takes the least recently used idle cache: a's
            c.complete("Let there be light", GREEDY8, null);
            assertThat(a.cachedTokens()).isZero();
            assertThat(b.cachedTokens()).isPositive();
            KvPoolStatus p = engine.kvPool();
            assertThat(p.slots()).isEqualTo(2);
            assertThat(p.allocated()).isEqualTo(2);
            assertThat(p.busy()).isZero();
            assertThat(p.idle()).isEqualTo(2);
            // a, evicted, starts over and still answers the same; its prefix is reused on the next call
            Generation again = a.complete("In the beginning", GREEDY8, null);
            assertThat(again.tokens()).isEqualTo(alone);
            assertThat(again.reusedTokens()).isZero();
            int[] prompt = engine.tokenizer().encode("In the beginning");
            int[] next = java.util.Arrays.copyOf(prompt, prompt.length + again.tokens().length);
            System.arraycopy(again.tokens(), 0, next, prompt.length, again.tokens().length);
            // the cache holds the prompt and all but the last answer token
            assertThat(a.generate(next, GREEDY8, null).reusedTokens()).isEqualTo(next.length - 1);
            // closing gives the cache back
            a.close();
            b.close();
            c.close();
            assertThat(engine.kvPool().idle()).isZero();
            assertThat(engine.kvPool().allocated()).isEqualTo(2);
        }
    }

    @Test
    void aGenerationWaitsForABusyPoolAndACancelEndsTheWait() throws Exception {
        try (Engine engine = engine(1)) {
            ExecutorService ex = Executors.newFixedThreadPool(2);
            CountDownLatch holding = new CountDownLatch(1), letGo = new CountDownLatch(1);
            try (Session first = engine.newSession(); Session second = engine.newSession()) {
                Future<Generation> f1 = ex.submit(() -> first.complete("In the beginning", GREEDY8, t -> {
                    holding.countDown();
                    try {
                        letGo.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }));
                assertThat(holding.await(30, TimeUnit.SECONDS)).isTrue();
                Future<Generation> f2 = ex.submit(() -> second.complete("And God said", GREEDY8, null));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (engine.kvPool().waiting() == 0 && System.nanoTime() < deadline) Thread.sleep(5);
                assertThat(engine.kvPool().waiting()).isEqualTo(1);
                assertThat(engine.kvPool().busy()).isEqualTo(1);
                second.cancel();
                Generation cancelled = f2.get(30, TimeUnit.SECONDS);
                assertThat(cancelled.stopReason()).isEqualTo(StopReason.CANCELLED);
                assertThat(cancelled.tokens()).isEmpty();
                assertThat(engine.kvPool().waiting()).isZero();

                // a waiting generation runs once the cache is released
                Future<Generation> f3 = ex.submit(() -> second.complete("And God said", GREEDY8, null));
                while (engine.kvPool().waiting() == 0 && System.nanoTime() < deadline) Thread.sleep(5);
                letGo.countDown();
                assertThat(f1.get(30, TimeUnit.SECONDS).tokens()).hasSize(8);
                assertThat(f3.get(30, TimeUnit.SECONDS).tokens()).hasSize(8);
                assertThat(engine.kvPool().allocated()).isEqualTo(1);
            } finally {
                letGo.countDown();
                ex.shutdownNow();
            }
        }
    }

    @Test
    void aRequestContextIsHonouredWithinTheEngineContext() throws Exception {
        try (Engine engine = engine(1); Session s = engine.newSession()) {
            GenerationOptions within = GenerationOptions.builder().temperature(0f).ignoreEos(true).maxTokens(1000).contextLength(24).build();
            Generation g = s.complete("In the beginning", within, null);
            assertThat(g.stopReason()).isEqualTo(StopReason.CONTEXT_FULL);
            // 24 positions cached, plus the last token sampled from the 24th
            assertThat(g.promptTokens() + g.tokens().length).isEqualTo(24 + 1);
            assertThatThrownBy(() -> s.complete("word ".repeat(30), within, null)).isInstanceOf(JemmaException.class)
                    .hasMessageContaining("context holds 24");
            GenerationOptions beyond = GenerationOptions.builder().contextLength(129).build();
            assertThatThrownBy(() -> s.complete("hi", beyond, null)).isInstanceOf(JemmaException.class)
                    .hasMessageContaining("129").hasMessageContaining("at most 128");
        }
    }

    @Test
    void theMemoryPlanCountsEveryCacheOfThePool() throws Exception {
        try (GgufFile f = GgufFile.open(ContinuousBatchingTest.model())) {
            MemoryPlan one = ModelLoader.plan(f, ModelLoader.readConfig(f), 512, 64);
            MemoryPlan four = one.withSequences(4);
            assertThat(four.kvBytes()).isEqualTo(4 * one.kvBytes());
            assertThat(four.kvBytesPerSequence()).isEqualTo(one.kvBytes());
            // per slot its KV cache and its running generation's two logits rows (the step's row and the sampler's copy)
            long rows = MemoryPlan.sequenceWorkBytes(ModelLoader.readConfig(f).vocabSize());
            assertThat(rows).isEqualTo(2L * 4 * ModelLoader.readConfig(f).vocabSize());
            assertThat(four.sequenceBytes()).isEqualTo(4 * (one.kvBytes() + rows));
            assertThat(four.heapNeeded() - one.heapNeeded()).isEqualTo(3 * (one.kvBytes() + rows));
        }
        try (Engine engine = engine(3)) {
            KvPoolStatus p = engine.kvPool();
            assertThat(p.slots()).isEqualTo(3);
            assertThat(p.contextLength()).isEqualTo(128);
            assertThat(p.allocated()).isZero(); // allocated on first use
            try (GgufFile f = GgufFile.open(ContinuousBatchingTest.model())) {
                assertThat(p.bytesPerSlot()).isEqualTo(ModelLoader.plan(f, ModelLoader.readConfig(f), 128, 64).kvBytes());
            }
        }
    }
}
