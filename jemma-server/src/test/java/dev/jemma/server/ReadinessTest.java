package dev.jemma.server;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.ModelStore;
import dev.jemma.tools.store.HubClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ConnectException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * /health tells a load balancer (or {@code jemma loadtest}) when the server is ready: 503 with llama-server's
 * "Loading model" body (and the models still loading) while a {@code -m} model loads, 200 once it is; /api/version
 * answers throughout, as Ollama's does. A model that fails to load stops the server with an error naming it.
 */
class ReadinessTest {
    @TempDir
    Path home;

    private JemmaServer listen(java.util.function.Function<ModelManager.Entry, ServedModel> loader) throws Exception {
        JemmaServer.Config c = JemmaServer.Config.defaults().withPort(0).withModels(List.of(TestServers.tinyModel().toString()))
                .withEngine(1, false, 0).withLimits(2, 16, Duration.ofSeconds(30));
        return JemmaServer.listen(c, new ModelStore(Files.createTempDirectory(home, "store")), loader, HubClient::fromEnvironment);
    }

    @Test
    void healthIs503WhileAModelLoadsAndOkAfter() throws Exception {
        CountDownLatch loading = new CountDownLatch(1), release = new CountDownLatch(1);
        try (JemmaServer s = listen(e -> {
            loading.countDown();
            try {
                release.await();
            } catch (InterruptedException ex) {
                throw new IllegalStateException(ex);
            }
            return new StandInModel();
        })) {
            CompletableFuture<Void> load = CompletableFuture.runAsync(s::loadModels);
            assertThat(loading.await(30, TimeUnit.SECONDS)).as("the load began").isTrue();
            TestServers.Reply h = TestServers.get(s, "/health");
            assertThat(h.status()).as("/health while loading: %s", h.body()).isEqualTo(503);
            assertThat(h.json().path("error").path("code").asInt()).isEqualTo(503);
            assertThat(h.json().path("error").path("message").asText()).isEqualTo("Loading model");
            assertThat(h.json().path("loading").toString()).isEqualTo("[\"" + TestServers.MODEL + "\"]");
            assertThat(h.headers().firstValue("Retry-After")).hasValue("1");
            assertThat(TestServers.get(s, "/api/version").status()).as("/api/version while loading").isEqualTo(200);
            release.countDown();
            load.get(30, TimeUnit.SECONDS);
            TestServers.Reply ok = TestServers.get(s, "/health");
            assertThat(ok.status()).as("/health once loaded: %s", ok.body()).isEqualTo(200);
            assertThat(ok.json().path("status").asText()).isEqualTo("ok");
        }
    }

    @Test
    void aModelThatFailsToLoadStopsTheServerNamingIt() throws Exception {
        JemmaServer s = listen(e -> {
            throw new JemmaException("not a GGUF file");
        });
        int port = s.port();
        assertThatThrownBy(s::loadModels).isInstanceOf(JemmaException.class)
                .hasMessage("cannot load model '" + TestServers.MODEL + "': not a GGUF file");
        assertThatThrownBy(() -> new Socket("127.0.0.1", port).close()).as("nothing listens after a failed load")
                .isInstanceOf(ConnectException.class);
    }

    /** What {@code jemma serve} prints as each -m model becomes ready: its name and how long its load (and warm-up) took. */
    @Test
    void eachModelIsToldWhenReadyWithItsLoadTime() throws Exception {
        try (JemmaServer s = listen(e -> {
            try {
                Thread.sleep(50);
            } catch (InterruptedException ex) {
                throw new IllegalStateException(ex);
            }
            return new StandInModel();
        })) {
            assertThat(s.explicitModelNames()).containsExactly(TestServers.MODEL);
            List<String> told = new java.util.ArrayList<>();
            s.loadModels((name, millis) -> {
                assertThat(TestServers.get(s, "/health").status()).as("/health when %s is told ready", name).isEqualTo(200);
                told.add(name + " " + (millis >= 50));
            });
            assertThat(told).containsExactly(TestServers.MODEL + " true");
        }
    }
}
