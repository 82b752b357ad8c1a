package dev.jemma.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** Models unload after their keep-alive and load again on the next request. */
class KeepAliveTest {
    @TempDir
    Path home;

    @Test
    void idleModelUnloadsAfterKeepAliveAndReloadsOnDemand() throws Exception {
        try (JemmaServer server = TestServers.start(TestServers.config().withKeepAlive(Duration.ofMinutes(5)), home)) {
            String req = "{\"model\":\"" + TestServers.MODEL + "\",\"prompt\":\"hi\",\"stream\":false,\"keep_alive\":\"3s\","
                    + "\"options\":{\"num_predict\":2}}";
            assertThat(TestServers.post(server, "/api/generate", req).status()).isEqualTo(200);
            // listed while its keep-alive runs: 3 s, not 1 s, so that a loaded machine's pause between the answer and
            // this request (a GC, a descheduled thread) cannot unload it first
            assertThat(TestServers.get(server, "/api/ps").json().path("models").size()).isEqualTo(1);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (TestServers.get(server, "/api/ps").json().path("models").size() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(TestServers.get(server, "/api/ps").json().path("models").size()).isZero();
            // Still listed (it is servable), and the next request loads it again with the default keep-alive.
            assertThat(TestServers.get(server, "/api/tags").json().path("models").size()).isEqualTo(1);
            assertThat(TestServers.post(server, "/api/generate", req.replace("\"keep_alive\":\"3s\",", "")).status()).isEqualTo(200);
            var ps = TestServers.get(server, "/api/ps").json().path("models");
            assertThat(ps.size()).isEqualTo(1);
            assertThat(java.time.Instant.parse(ps.get(0).path("expires_at").asText())).isAfter(java.time.Instant.now().plusSeconds(60));
        }
    }
}
