package dev.jemma.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The server announces every generation request to its engines as it is received ({@link dev.jemma.core.engine.Arrivals}),
 * so an idle engine's admission window waits for the requests still being prepared and for nothing else; each
 * announcement ends when the request's prompt is queued or the request ends another way (answered, refused, failed) —
 * one left open would hold every later lone request's first token for the whole window.
 */
class AdmissionArrivalsTest {
    @TempDir
    Path home;

    @Test
    void everyGenerationRequestIsAnnouncedAndNoneStaysOnItsWay() throws Exception {
        // a 10 s window: a leaked announcement would show as a lone request waiting in it
        JemmaServer.Config c = TestServers.config().withEngine(1, false, 512).withLimits(2, 8, Duration.ofSeconds(30))
                .withAdmissionWindow(10_000);
        try (JemmaServer server = TestServers.start(c, home)) {
            String model = "\"model\":\"" + TestServers.MODEL + "\"";
            assertThat(TestServers.post(server, "/api/generate", "{" + model + ",\"prompt\":\"Hi\",\"stream\":false,"
                    + "\"options\":{\"num_predict\":2}}").status()).isEqualTo(200);
            assertThat(TestServers.post(server, "/api/chat", "{" + model + ",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],"
                    + "\"stream\":true,\"options\":{\"num_predict\":2}}").status()).isEqualTo(200);
            assertThat(TestServers.post(server, "/v1/chat/completions", "{" + model + ",\"messages\":[{\"role\":\"user\","
                    + "\"content\":\"Hi\"}],\"max_tokens\":2}").status()).isEqualTo(200);
            assertThat(TestServers.post(server, "/v1/completions", "{" + model + ",\"prompt\":\"Hi\",\"max_tokens\":2}").status())
                    .isEqualTo(200);
            // refused before the engine: bad JSON, a bad field, an unknown model, a prompt longer than the context
            assertThat(TestServers.post(server, "/api/generate", "{not json").status()).isEqualTo(400);
            assertThat(TestServers.post(server, "/api/chat", "{" + model + ",\"messages\":7}").status()).isEqualTo(400);
            assertThat(TestServers.post(server, "/api/generate", "{\"model\":\"nope\",\"prompt\":\"Hi\"}").status()).isEqualTo(404);
            assertThat(TestServers.post(server, "/api/generate", "{" + model + ",\"prompt\":\"" + "word ".repeat(2000)
                    + "\",\"stream\":false}").status()).isEqualTo(413);
            assertThat(server.arrivals.pending()).as("generation requests still on their way").isZero();
            try (ModelManager.Lease lease = server.models.acquire(TestServers.MODEL, null)) {
                var engine = ((EngineModel) lease.model()).engine();
                assertThat(engine.arrivals()).as("the engine waits for the server's requests").isSameAs(server.arrivals);
                assertThat(engine.admissionWaits()).as("steps that waited in the admission window (every request came alone)").isZero();
            }
        }
    }
}
