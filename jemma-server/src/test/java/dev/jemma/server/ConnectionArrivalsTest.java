package dev.jemma.server;

import dev.jemma.core.engine.Engine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A connection counts as a request on its way from the moment the server opens it ({@link ConnectionArrivals}), so a
 * wave's clients that are still connecting when its first request is queued share that request's prompt step; and a
 * connection's announcement always ends: at its first request, at its close, or after the admission window's length.
 * No timing is asserted: the scheduler's step log, and the announcements still pending.
 */
class ConnectionArrivalsTest {
    @TempDir
    Path home;

    private static final Map<String, String> JSON = Map.of("Content-Type", "application/json");

    private static byte[] generate(int i) {
        return ("{\"model\":\"" + TestServers.MODEL + "\",\"prompt\":\"Request number " + i + " says hello\",\"stream\":false,"
                + "\"options\":{\"num_predict\":2,\"temperature\":0}}").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Eight clients connect over ~40 ms; the first sends its request at once and the other seven only once it is queued
     * in the engine (as serve-bench's first C = 8 wave: one pooled connection, seven still being opened): one prompt
     * step of all eight, not one of the first alone and a second of the seven. Fails with the connector's listener
     * removed (2 prompt steps, the first of 1 sequence).
     */
    @Test
    void clientsStillConnectingWhenTheFirstPromptIsQueuedShareItsStep() throws Exception {
        JemmaServer.Config c = TestServers.config().withEngine(1, false, 8 * 128).withLimits(8, 16, Duration.ofSeconds(30))
                .withAdmissionWindow(10_000);
        try (JemmaServer server = TestServers.start(c, home);
             ModelManager.Lease lease = server.models.acquire(TestServers.MODEL, null)) {
            Engine engine = ((EngineModel) lease.model()).engine();
            List<int[]> promptSteps = Collections.synchronizedList(new ArrayList<>());
            engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
                if (promptRows > 0) promptSteps.add(new int[]{promptRows, decodeRows, sequences});
            });
            List<WireConnection> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) {
                    clients.add(new WireConnection(server.port()));
                    Thread.sleep(5);
                }
                // every connection accepted by the server (observed on the connector, not on the announcements)
                await(() -> server.openConnections() == 8, "the server accepted all 8 connections");
                clients.get(0).send("POST", "/api/generate", JSON, generate(0));
                // its prompt queued (waiting in the window) or already run alone
                await(() -> engine.batchStatus().queued() > 0 || !promptSteps.isEmpty(), "the first prompt reached the engine");
                for (int i = 1; i < 8; i++) clients.get(i).send("POST", "/api/generate", JSON, generate(i));
                for (WireConnection w : clients) {
                    WireConnection.Response r = w.read(false, false);
                    assertThat(r.status()).as(r.text()).isEqualTo(200);
                }
            } finally {
                for (WireConnection w : clients) w.close();
            }
            synchronized (promptSteps) {
                assertThat(promptSteps).as("steps with prompt rows (prompt rows, decode rows, sequences)").hasSize(1);
                assertThat(promptSteps.get(0)[2]).as("sequences in the first prompt step").isEqualTo(8);
            }
            assertThat(engine.admissionWaits()).as("steps that waited in the admission window").isEqualTo(1);
            await(() -> server.arrivals.pending() == 0, "no announcement left pending");
            assertThat(server.connectionArrivals.waiting()).isZero();
        }
    }

    /**
     * A later wave over kept-alive connections: eight clients' first requests, sent together, end together (one prompt
     * step, as above); then the first client sends its next request at once and the other seven only once it is queued in
     * the engine (as loadtest's clients, each sending as it reads its answer's end): one prompt step of all eight, since
     * each connection counted as a request on its way from the end of its answer ({@link ConnectionArrivals#expectNext}).
     * Fails without it (2 prompt steps: the first prompt alone, then the seven).
     */
    @Test
    void aLaterWaveOverKeptAliveConnectionsSharesItsStep() throws Exception {
        JemmaServer.Config c = TestServers.config().withEngine(1, false, 8 * 128).withLimits(8, 16, Duration.ofSeconds(30))
                .withAdmissionWindow(10_000);
        try (JemmaServer server = TestServers.start(c, home);
             ModelManager.Lease lease = server.models.acquire(TestServers.MODEL, null)) {
            Engine engine = ((EngineModel) lease.model()).engine();
            List<WireConnection> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 8; i++) clients.add(new WireConnection(server.port()));
                await(() -> server.openConnections() == 8, "the server accepted all 8 connections");
                for (int i = 0; i < 8; i++) clients.get(i).send("POST", "/api/generate", JSON, generate(i));
                for (WireConnection w : clients) assertThat(w.read(false, false).status()).isEqualTo(200);
                await(() -> server.arrivals.pending() == 8, "every kept-alive connection announced after its answer");
                List<int[]> promptSteps = Collections.synchronizedList(new ArrayList<>());
                engine.observeSteps((promptRows, decodeRows, sequences, nanos) -> {
                    if (promptRows > 0) promptSteps.add(new int[]{promptRows, decodeRows, sequences});
                });
                clients.get(0).send("POST", "/api/generate", JSON, generate(10));
                await(() -> engine.batchStatus().queued() > 0 || !promptSteps.isEmpty(), "the first prompt reached the engine");
                for (int i = 1; i < 8; i++) clients.get(i).send("POST", "/api/generate", JSON, generate(10 + i));
                for (WireConnection w : clients) {
                    WireConnection.Response r = w.read(false, false);
                    assertThat(r.status()).as(r.text()).isEqualTo(200);
                }
                synchronized (promptSteps) {
                    assertThat(promptSteps).as("steps with prompt rows of the second wave (prompt rows, decode rows, sequences)").hasSize(1);
                    assertThat(promptSteps.get(0)[2]).as("sequences in its prompt step").isEqualTo(8);
                }
            } finally {
                for (WireConnection w : clients) w.close();
            }
            await(() -> server.arrivals.pending() == 0, "no announcement left pending");
            assertThat(server.connectionArrivals.waiting()).isZero();
        }
    }

    /**
     * A connection's announcement ends when it closes without a request, when its first request is not a generation
     * request (the connection kept alive), and when it opens and stays idle past the window (here 400 ms). Fails without
     * the {@code onClosed} end (the 10 s window's grace outlasts the wait), with a non-generating first request's ticket
     * kept, and without the scheduled end.
     */
    @Test
    void aConnectionsAnnouncementAlwaysEnds() throws Exception {
        JemmaServer.Config c = TestServers.config().withAdmissionWindow(10_000);
        try (JemmaServer server = TestServers.start(c, home)) {
            // opened and closed without a byte sent: ends with the connection, well before its 10 s grace
            try (WireConnection w = new WireConnection(server.port())) {
                await(() -> server.arrivals.pending() == 1, "the new connection announced");
            }
            awaitWithin(5_000, () -> server.arrivals.pending() == 0, "closed connection's announcement ended");
            // a first request that generates nothing: ended by the router, the connection still open
            try (WireConnection w = new WireConnection(server.port())) {
                await(() -> server.arrivals.pending() == 1, "the new connection announced");
                assertThat(w.exchange("GET", "/api/tags", Map.of(), null).status()).isEqualTo(200);
                assertThat(server.arrivals.pending()).as("pending after a GET on a kept-alive connection").isZero();
                assertThat(server.connectionArrivals.waiting()).isZero();
                // its next request, a generation request, is announced by the router and ends as it is answered; the
                // connection is then announced again (its client's next request), until the connection closes
                assertThat(w.exchange("POST", "/api/generate", JSON, generate(0)).status()).isEqualTo(200);
                assertThat(server.arrivals.pending()).as("pending after a generation answer: the connection's next").isEqualTo(1);
                assertThat(w.exchange("GET", "/api/tags", Map.of(), null).status()).isEqualTo(200);
                assertThat(server.arrivals.pending()).as("pending once the next request came").isZero();
                assertThat(w.exchange("POST", "/api/generate", JSON, generate(0)).status()).isEqualTo(200);
            }
            awaitWithin(5_000, () -> server.arrivals.pending() == 0, "a kept-alive connection's announcement ended with it");
        }
        try (JemmaServer server = TestServers.start(TestServers.config().withAdmissionWindow(400), home)) {
            // opened and left idle: counted for the window's length, then no longer, the connection still open
            try (WireConnection w = new WireConnection(server.port())) {
                await(() -> server.openConnections() == 1, "the connection accepted");
                awaitWithin(5_000, () -> server.arrivals.pending() == 0, "an idle connection's announcement ended");
                assertThat(server.openConnections()).as("the idle connection still open").isEqualTo(1);
                assertThat(w.exchange("POST", "/api/generate", JSON, generate(1)).status()).isEqualTo(200);
            }
            await(() -> server.arrivals.pending() == 0, "no announcement left pending");
        }
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        awaitWithin(30_000, condition, what);
    }

    private static void awaitWithin(long millis, BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + millis * 1_000_000L;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) throw new AssertionError("timed out waiting: " + what);
            Thread.sleep(2);
        }
    }
}
