package dev.jemma.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Reproduces the JDK HttpClient's pool race that stopped issue 22's server campaign (docs/RELIABILITY.md): several
 * clients send the fuzz corpus to the fuzz harness's server, with a busy thread beside them so that threads get
 * descheduled, and the run counts requests that fail with "Data received while in pool" — against a server that
 * {@link KeepAliveWireTest} shows writes nothing after a complete answer. Not a build test (it takes minutes and may
 * find nothing): {@code mvn test -pl jemma-server -am -Djemma.poolRaceSeconds=120 -Dtest=JdkClientPoolRaceTest}.
 */
@EnabledIfSystemProperty(named = "jemma.poolRaceSeconds", matches = "\\d+")
class JdkClientPoolRaceTest {
    @TempDir
    Path home;

    @Test
    void poolRaceAgainstAWireCleanServer() throws Exception {
        KeepAliveWireTest.home = home;
        List<byte[]> inputs = new ArrayList<>();
        Path dir = Path.of(RequestFuzzTest.class.getResource("RequestFuzzTestInputs/requestBodies").toURI());
        try (var files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                byte[] b = Files.readAllBytes(f);
                if (b.length > 0) inputs.add(b);
            }
        }
        AtomicLong requests = new AtomicLong(), races = new AtomicLong(), other = new AtomicLong();
        AtomicBoolean stop = new AtomicBoolean();
        try (JemmaServer s = KeepAliveWireTest.standInServer(e -> new StandInModel())) {
            long end = System.nanoTime() + Duration.ofSeconds(Long.getLong("jemma.poolRaceSeconds")).toNanos();
            Thread busy = Thread.ofPlatform().daemon().start(() -> {
                long x = 0;
                while (!stop.get()) x += System.nanoTime() & 7;
                if (x == 42) System.out.print("");
            });
            List<Thread> lanes = new ArrayList<>();
            for (int lane = 0; lane < 4; lane++) {
                int first = lane;
                lanes.add(Thread.ofPlatform().start(() -> {
                    HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
                    for (int i = first; System.nanoTime() < end; i++) {
                        byte[] input = inputs.get(i % inputs.size());
                        String path = RequestFuzzTest.PATHS[(input[0] & 0xff) % RequestFuzzTest.PATHS.length];
                        HttpRequest r = HttpRequest.newBuilder(URI.create(s.uri() + path))
                                .POST(HttpRequest.BodyPublishers.ofByteArray(Arrays.copyOfRange(input, 1, input.length)))
                                .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60)).build();
                        try {
                            client.send(r, HttpResponse.BodyHandlers.ofString());
                        } catch (Exception e) {
                            (RequestFuzzTest.poolRace(e) ? races : other).incrementAndGet();
                            StringBuilder chain = new StringBuilder();
                            for (Throwable t = e; t != null; t = t.getCause()) chain.append(" <- ").append(t);
                            System.err.println("failed" + chain);
                        }
                        requests.incrementAndGet();
                    }
                }));
            }
            for (Thread t : lanes) t.join();
            stop.set(true);
            busy.join();
        }
        System.err.println("JDK client pool race: " + requests + " requests, " + races + " pool races, " + other + " other failures");
        assertThat(other.get()).as("failures other than the pool race").isZero();
    }
}
