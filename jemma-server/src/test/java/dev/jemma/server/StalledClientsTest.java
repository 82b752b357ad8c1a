package dev.jemma.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Slow and stalled clients (issue 22, finding 3: ~90 connections that sent headers and part of a body froze the server
 * for the 10-minute idle timeout, /api/version included).
 */
class StalledClientsTest {
    @TempDir
    static Path home;

    static JemmaServer start(JemmaServer.Net net) {
        return TestServers.start(TestServers.config().withModels(List.of()).withNet(net), home);
    }

    /** Opens a connection that sends the headers of a 1000-byte POST and 10 bytes of its body, then nothing. */
    static Socket stalledPost(JemmaServer s) throws IOException {
        Socket sock = new Socket("127.0.0.1", s.port());
        sock.getOutputStream().write(("POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1:" + s.port() + "\r\nContent-Type: application/json\r\n"
                + "Content-Length: 1000\r\n\r\n{\"model\":").getBytes(StandardCharsets.US_ASCII));
        sock.getOutputStream().flush();
        return sock;
    }

    /** Opens a connection that sends half a request head, then nothing. */
    static Socket stalledHeaders(JemmaServer s) throws IOException {
        Socket sock = new Socket("127.0.0.1", s.port());
        sock.getOutputStream().write(("GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1:" + s.port() + "\r\nX-Slow: ").getBytes(StandardCharsets.US_ASCII));
        sock.getOutputStream().flush();
        return sock;
    }

    static int get(JemmaServer s, String path) throws Exception {
        HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
        try {
            return c.send(HttpRequest.newBuilder(URI.create(s.uri() + path)).timeout(Duration.ofSeconds(10)).GET().build(),
                    HttpResponse.BodyHandlers.discarding()).statusCode();
        } finally {
            c.shutdownNow();
        }
    }

    @Test
    void aHundredStalledConnectionsLeaveTheHealthEndpointsAnswering() throws Exception {
        List<Socket> socks = new ArrayList<>();
        try (JemmaServer s = start(new JemmaServer.Net(Duration.ofSeconds(3), Duration.ofSeconds(4), 1024, 256))) {
            int baseline = s.busyHttpThreads(); // Jetty's selector and acceptor threads
            for (int i = 0; i < 100; i++) socks.add(stalledPost(s));
            for (int i = 0; i < 20; i++) socks.add(stalledHeaders(s));
            Thread.sleep(300); // let the server dispatch them all
            long t0 = System.nanoTime();
            assertThat(get(s, "/api/version")).isEqualTo(200);
            assertThat(get(s, "/health")).isEqualTo(200);
            assertThat(get(s, "/api/tags")).isEqualTo(200);
            assertThat((System.nanoTime() - t0) / 1e9).isLessThan(5);
            // the stalled ones are ended: a stalled body gets 408 (or the connection closes), stalled headers are closed
            long deadline = System.nanoTime() + 30_000_000_000L;
            for (Socket sock : socks) {
                sock.setSoTimeout((int) Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                String head = readAll(sock.getInputStream());
                assertThat(head.isEmpty() || head.startsWith("HTTP/1.1 408") || head.startsWith("HTTP/1.1 400")).as(head).isTrue();
            }
            // and no worker stays stuck on them (a thread may still be finishing its 408 for a moment)
            long until = System.nanoTime() + 10_000_000_000L;
            while (s.busyHttpThreads() > baseline && System.nanoTime() < until) Thread.sleep(50);
            assertThat(s.busyHttpThreads()).isLessThanOrEqualTo(baseline);
        } finally {
            for (Socket sock : socks) sock.close();
        }
    }

    @Test
    void oneClientCannotHoldMoreThanItsShareOfConnections() throws Exception {
        List<Socket> socks = new ArrayList<>();
        try (JemmaServer s = start(new JemmaServer.Net(Duration.ofSeconds(30), Duration.ofSeconds(60), 1024, 8))) {
            for (int i = 0; i < 8; i++) socks.add(stalledPost(s));
            // all eight accepted before the extra one connects (a fixed sleep could end first on a loaded machine: the
            // acceptor may then count the extra one among the eight and close a stalled one, and the extra read times out)
            long accepted = System.nanoTime() + 30_000_000_000L;
            while (s.openConnections() < 8 && System.nanoTime() < accepted) Thread.sleep(10);
            assertThat(s.openConnections()).as("the eight stalled connections accepted").isEqualTo(8);
            try (Socket extra = new Socket("127.0.0.1", s.port())) {
                extra.setSoTimeout(10_000);
                // closed as soon as it opens: end of stream, or a reset
                int r;
                try {
                    r = extra.getInputStream().read();
                } catch (java.net.SocketException reset) {
                    r = -1;
                }
                assertThat(r).isEqualTo(-1);
            }
            for (Socket sock : socks) sock.close();
            socks.clear();
            long deadline = System.nanoTime() + 10_000_000_000L;
            int status = 0;
            Exception last = null;
            while (System.nanoTime() < deadline && status != 200) {
                try {
                    status = get(s, "/api/version");
                } catch (IOException closedWhileTheOthersClose) {
                    last = closedWhileTheOthersClose;
                    Thread.sleep(100);
                }
            }
            assertThat(status).as("last failure: %s", last).isEqualTo(200);
        } finally {
            for (Socket sock : socks) sock.close();
        }
    }

    static String readAll(InputStream in) throws IOException {
        try {
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        } catch (java.net.SocketException reset) {
            return "";
        }
    }
}
