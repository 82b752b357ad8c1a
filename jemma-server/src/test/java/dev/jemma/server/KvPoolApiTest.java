package dev.jemma.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The KV pool through the APIs (issue 19): {@code -c} is the total budget split among the {@code --parallel} slots,
 * Ollama's {@code num_ctx} is honoured within one slot and refused with a 400 naming it beyond, and {@code /api/ps}
 * reports the pool.
 */
class KvPoolApiTest {
    @TempDir
    static Path home;
    static JemmaServer server;
    static final String M = TestServers.MODEL;
    /** 3 slots of 128 positions. */
    static final int SLOTS = 3, BUDGET = 384, PER_SLOT = BUDGET / SLOTS;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config().withEngine(1, false, BUDGET).withLimits(SLOTS, 8, Duration.ofSeconds(30)), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    static String generate(String prompt, String options) {
        return "{\"model\":\"" + M + "\",\"prompt\":\"" + prompt + "\",\"raw\":true,\"stream\":false,\"options\":{" + options + "}}";
    }

    @Test
    void numCtxBeyondASlotIsRefusedNamingIt() {
        TestServers.Reply r = TestServers.post(server, "/api/generate", generate("hello", "\"num_ctx\":" + (PER_SLOT + 1)));
        assertThat(r.status()).isEqualTo(400);
        String msg = r.json().path("error").asText();
        assertThat(msg).contains("options.num_ctx").contains(String.valueOf(PER_SLOT + 1)).contains("3 KV slots holds " + PER_SLOT);
        assertThat(TestServers.post(server, "/api/generate", generate("hello", "\"num_ctx\":0")).status()).isEqualTo(400);
        // the slot's own size is fine
        assertThat(TestServers.post(server, "/api/generate", generate("hello", "\"num_ctx\":" + PER_SLOT + ",\"num_predict\":2")).status())
                .isEqualTo(200);
    }

    @Test
    void numCtxWithinASlotLimitsTheRequest() {
        // an answer that would run on stops where num_ctx is full: 40 positions in the cache, plus the last token
        // sampled from the 40th (its keys are never needed)
        JsonNode j = TestServers.post(server, "/api/generate", generate("once upon a time",
                "\"num_ctx\":40,\"num_predict\":1000,\"temperature\":0")).json();
        assertThat(j.path("done_reason").asText()).isEqualTo("length");
        assertThat(j.path("prompt_eval_count").asInt() + j.path("eval_count").asInt()).isEqualTo(40 + 1);
        // without num_ctx the same request runs to the slot's size
        JsonNode whole = TestServers.post(server, "/api/generate", generate("once upon a time",
                "\"num_predict\":1000,\"temperature\":0")).json();
        assertThat(whole.path("prompt_eval_count").asInt() + whole.path("eval_count").asInt()).isEqualTo(PER_SLOT + 1);
        // a prompt longer than num_ctx does not fit it (but would fit the slot)
        TestServers.Reply tooLong = TestServers.post(server, "/api/generate", generate("word ".repeat(30), "\"num_ctx\":16"));
        assertThat(tooLong.status()).isEqualTo(413);
        assertThat(tooLong.json().path("error").asText()).contains("16");
    }

    @Test
    void apiPsReportsThePool() {
        assertThat(TestServers.post(server, "/api/generate", generate("hi", "\"num_predict\":1")).status()).isEqualTo(200);
        JsonNode m = TestServers.get(server, "/api/ps").json().path("models").get(0);
        assertThat(m.path("context_length").asInt()).isEqualTo(PER_SLOT);
        JsonNode pool = m.path("kv_pool");
        assertThat(pool.path("slots").asInt()).isEqualTo(SLOTS);
        assertThat(pool.path("context_per_slot").asInt()).isEqualTo(PER_SLOT);
        assertThat(pool.path("bytes_per_slot").asLong()).isPositive();
        assertThat(pool.path("total_bytes").asLong()).isEqualTo(SLOTS * pool.path("bytes_per_slot").asLong());
        assertThat(pool.path("allocated").asInt()).isBetween(1, SLOTS);
        assertThat(pool.path("busy").asInt()).isZero();
    }

    @Test
    void aBudgetTooSmallForTheSlotsIsRefused() {
        assertThatThrownBy(() -> EngineModel.slotContext(100, 4)).hasMessageContaining("-c 100").hasMessageContaining("--parallel 4")
                .hasMessageContaining("25 tokens per slot");
        assertThat(EngineModel.slotContext(8192, 4)).isEqualTo(2048);
        assertThat(EngineModel.slotContext(0, 4)).isZero();
    }
}
