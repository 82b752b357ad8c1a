package dev.jemma.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A chat request's tokenizing does not hold the model's lock: while one conversation is being tokenized (here held
 * until the test lets it go, standing for a long conversation), a running stream finishes and a new request starts,
 * runs and finishes. Fails with the tokenizing back under {@code synchronized (EngineModel)}: the stream's end
 * ({@code release}) and the new request's start ({@code take}) wait for it, and the timeouts below expire.
 */
class ChatTokenizingTest {
    @TempDir
    Path home;

    @Test
    void aLongTokenizationHoldsNeitherARunningStreamNorANewRequest() throws Exception {
        JemmaServer.Config c = TestServers.config().withLimits(3, 8, Duration.ofSeconds(30));
        try (JemmaServer server = TestServers.start(c, home);
             ModelManager.Lease lease = server.models.acquire(TestServers.MODEL, null)) {
            EngineModel model = (EngineModel) lease.model();
            var tok = model.engine().tokenizer();
            CountDownLatch tokenizing = new CountDownLatch(1), letGo = new CountDownLatch(1);
            model.encodePromptWith(text -> {
                if (text.contains("SLOW")) {
                    tokenizing.countDown();
                    try {
                        letGo.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                return tok.encodePrompt(text);
            });
            String m = "\"model\":\"" + TestServers.MODEL + "\"";
            // a stream running
            HttpResponse<InputStream> stream = TestServers.client(server).send(request(server, "/api/generate", "{" + m
                    + ",\"prompt\":\"Once upon a time\",\"stream\":true,\"options\":{\"num_predict\":12,\"ignore_eos\":true,"
                    + "\"temperature\":0}}"), HttpResponse.BodyHandlers.ofInputStream());
            assertThat(stream.statusCode()).isEqualTo(200);
            BufferedReader lines = new BufferedReader(new InputStreamReader(stream.body(), StandardCharsets.UTF_8));
            assertThat(lines.readLine()).as("the stream's first token").contains("\"done\":false");
            // a chat being tokenized
            CompletableFuture<HttpResponse<String>> slow = TestServers.client(server).sendAsync(request(server, "/api/chat", "{" + m
                    + ",\"messages\":[{\"role\":\"user\",\"content\":\"SLOW to tokenize\"}],\"stream\":false,"
                    + "\"options\":{\"num_predict\":2}}"), HttpResponse.BodyHandlers.ofString());
            assertThat(tokenizing.await(30, TimeUnit.SECONDS)).as("the chat is being tokenized").isTrue();
            try {
                // the running stream ends meanwhile
                CompletableFuture<String> last = CompletableFuture.supplyAsync(() -> {
                    try {
                        String line, end = null;
                        while ((line = lines.readLine()) != null) end = line;
                        return end;
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                assertThat(last.get(30, TimeUnit.SECONDS)).as("the stream's last line").contains("\"done\":true");
                // and a new request starts and ends
                TestServers.Reply other = CompletableFuture.supplyAsync(() -> TestServers.post(server, "/api/generate", "{" + m
                        + ",\"prompt\":\"Hello\",\"stream\":false,\"options\":{\"num_predict\":2}}")).get(30, TimeUnit.SECONDS);
                assertThat(other.status()).as(other.body()).isEqualTo(200);
                assertThat(slow).as("the chat still being tokenized").isNotDone();
            } finally {
                letGo.countDown();
            }
            HttpResponse<String> chat = slow.get(30, TimeUnit.SECONDS);
            assertThat(chat.statusCode()).as(chat.body()).isEqualTo(200);
        }
    }

    private static HttpRequest request(JemmaServer server, String path, String body) {
        return HttpRequest.newBuilder(URI.create(server.uri() + path)).timeout(Duration.ofMinutes(1))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }
}
