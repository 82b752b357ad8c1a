package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code jemma show --parallel N} plans the server's KV pool: N caches, {@code -c} their total split among them. */
class ShowKvPoolTest {
    @Test
    void showPlansThePool() throws Exception {
        var one = CliTestSupport.run(null, "show", "--json", "-c", "1024", RunCommandTest.TINY);
        var pool = CliTestSupport.run(null, "show", "--json", "-c", "4096", "--parallel", "4", RunCommandTest.TINY);
        assertThat(pool.exitCode()).as(pool.err()).isZero();
        JsonNode a = new ObjectMapper().readTree(one.out()).path("memory_plan"), p = new ObjectMapper().readTree(pool.out()).path("memory_plan");
        assertThat(p.path("context_length").asInt()).isEqualTo(1024);
        assertThat(p.path("kv_slots").asInt()).isEqualTo(4);
        assertThat(a.path("kv_slots").asInt()).isEqualTo(1);
        assertThat(p.path("kv_bytes_per_slot").asLong()).isEqualTo(a.path("kv_cache_bytes").asLong());
        assertThat(p.path("kv_cache_bytes").asLong()).isEqualTo(4 * a.path("kv_cache_bytes").asLong());
        var text = CliTestSupport.run(null, "show", "-c", "4096", "-np", "4", RunCommandTest.TINY);
        assertThat(text.out()).contains("KV pool: 4 slots × 1024 tokens");
        var bad = CliTestSupport.run(null, "show", "--parallel", "0", RunCommandTest.TINY);
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).isEqualTo("jemma: --parallel must be at least 1, got 0");
    }

    /** The trained context's KV cache is a line of its own only when the plan is for another context (the tiny model's: 4096). */
    @Test
    void fullContextLineOnlyWhenThePlanIsForAnother() {
        var full = CliTestSupport.run(null, "show", "-c", "4096", RunCommandTest.TINY);
        assertThat(full.exitCode()).as(full.err()).isZero();
        assertThat(full.out()).contains("context 4096: ").doesNotContain("full context");
        var part = CliTestSupport.run(null, "show", "-c", "1024", RunCommandTest.TINY);
        assertThat(part.out().split("full context 4096: KV cache ", -1)).hasSize(2);
    }
}
