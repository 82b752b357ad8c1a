package dev.jemma.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class BenchCommandTest {
    @Test
    void jsonHasTheContractKeys() throws Exception {
        var r = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "9", "-n", "3", "-r", "2", "-t", "2", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("pp_tokens_per_s").asDouble()).isPositive();
        assertThat(o.get("tg_tokens_per_s").asDouble()).isPositive();
        assertThat(o.get("load_seconds").asDouble()).isPositive();
        assertThat(o.get("peak_rss_bytes").asLong()).isGreaterThan(o.get("file_bytes").asLong());
        assertThat(o.get("pp_tokens").asInt()).isEqualTo(9);
        assertThat(o.get("tg_tokens").asInt()).isEqualTo(3);
        assertThat(o.get("pp_warmup_runs").asInt()).isBetween(1, BenchCommand.WARM_UP_MAX_RUNS);
        assertThat(o.get("tg_warmup_runs").asInt()).isBetween(1, BenchCommand.WARM_UP_MAX_RUNS);
    }

    @Test
    void embedJsonHasOneRowPerCaseAfterAWarmUpOfWholeWindows() throws Exception {
        String model = dev.jemma.core.testing.Fixtures.shared().resolve("embedding/embgemma-tiny/embgemma-tiny-Q8_0.gguf").toString();
        var r = CliTestSupport.run(null, "bench", "--embed", model, "-t", "2", "-r", "2", "--embed-texts", "1,3",
                "--embed-tokens", "8", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        JsonNode rows = new ObjectMapper().readTree(r.out()).get("embed");
        assertThat(rows).hasSize(2);
        for (JsonNode row : rows) {
            assertThat(row.get("tokens_per_s").asDouble()).isPositive();
            // a tiny model's call takes well under a millisecond: a one-second window is many calls
            assertThat(row.get("warmup_runs").asInt()).isGreaterThan(BenchCommand.WARM_UP_MAX_RUNS);
        }
        assertThat(rows.get(1).get("texts").asInt()).isEqualTo(3);
    }

    @Test
    void tableNamesBothTests() {
        var r = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "4", "-n", "2", "-r", "1", "--exact");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).contains("| pp4 |").contains("| tg2 |").contains("exact").contains("peak RSS");
    }

    @Test
    void skipsATestWithZeroTokensAndRejectsBadFlags() {
        var r = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "0", "-n", "2", "-r", "1", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.out()).doesNotContain("pp_tokens_per_s").contains("tg_tokens_per_s");
        var bad = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-r", "0");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err()).startsWith("jemma: ");
        var missing = CliTestSupport.run(null, "bench", "/nonexistent/model.gguf");
        assertThat(missing.exitCode()).isNotZero();
        assertThat(missing.err()).startsWith("jemma: ");
    }

    /** --grammar runs tg sampled with and without the constraint and reports the mask cost (no timing asserted). */
    @Test
    void grammarReportsMaskCost() throws Exception {
        var r = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "0", "-n", "8", "-r", "1", "-t", "1", "--grammar", "json", "--json");
        assertThat(r.exitCode()).as(r.err()).isZero();
        var o = new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.out());
        assertThat(o.get("grammar").asText()).isEqualTo("json");
        assertThat(o.get("tg_grammar_tokens_per_s").asDouble()).isPositive();
        assertThat(o.get("sample_ms_per_token").asDouble()).isPositive();
        assertThat(o.get("grammar_sample_ms_per_token").asDouble()).isPositive();
        // the difference: may be negative where sampling among a few allowed tokens beats sampling the vocabulary
        assertThat(o.get("grammar_mask_ms_per_token").asDouble()).isEqualTo(
                o.get("grammar_sample_ms_per_token").asDouble() - o.get("sample_ms_per_token").asDouble(), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(o.get("grammar_trie_nodes").asInt()).isPositive();
        assertThat(o.get("grammar_top_k").asInt()).isEqualTo(64);
        // the prepared measurement's cases: a schema with maxLength strings, sampled over the whole vocabulary
        var k0 = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "0", "-n", "8", "-r", "1", "-t", "1", "--grammar",
                "../tools/bench/schema-maxlength.json", "--top-k", "0", "--json");
        assertThat(k0.exitCode()).as(k0.err()).isZero();
        var o0 = new com.fasterxml.jackson.databind.ObjectMapper().readTree(k0.out());
        assertThat(o0.get("grammar_top_k").asInt()).isZero();
        assertThat(o0.get("tg_grammar_tokens_per_s").asDouble()).isPositive();
        var bad = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "0", "-n", "2", "--grammar", "/no/such.gbnf");
        assertThat(bad.exitCode()).isNotZero();
        assertThat(bad.err().strip()).isEqualTo("jemma: --grammar /no/such.gbnf: cannot read (no such file)");
    }
}
