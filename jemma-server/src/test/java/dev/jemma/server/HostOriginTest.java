package dev.jemma.server;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Host and Origin checks that keep web pages from driving a loopback server (DNS rebinding, cross-site POSTs):
 * names are parsed and compared whole, so {@code 127.0.0.1.attacker.example} is not loopback (issue 22, finding 1).
 */
class HostOriginTest {
    @TempDir
    static Path home;
    static JemmaServer server;

    @BeforeAll
    static void start() {
        server = TestServers.start(TestServers.config().withModels(java.util.List.of()), home);
    }

    @AfterAll
    static void stop() {
        if (server != null) server.close();
    }

    /** Sends a raw HTTP/1.1 request (java.net.http will not send a foreign Host) and returns the status code. */
    static int status(String method, String path, String host, String origin, String body) throws IOException {
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            s.setSoTimeout(30_000);
            StringBuilder r = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n");
            if (origin != null) r.append("Origin: ").append(origin).append("\r\n");
            if (body != null) {
                r.append("Content-Type: text/plain\r\nContent-Length: ").append(body.getBytes(StandardCharsets.UTF_8).length).append("\r\n");
            }
            r.append("\r\n");
            if (body != null) r.append(body);
            s.getOutputStream().write(r.toString().getBytes(StandardCharsets.UTF_8));
            String line = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII)).readLine();
            assertThat(line).as("status line").startsWith("HTTP/1.1 ");
            return Integer.parseInt(line.split(" ")[1]);
        }
    }

    @Test
    void hostNamesThatOnlyStartLikeLoopbackAreRefused() throws IOException {
        int port = server.port();
        // the reproducer: curl -H 'Host: 127.0.0.1.attacker.example:PORT' 127.0.0.1:PORT/api/tags
        assertThat(status("GET", "/api/tags", "127.0.0.1.attacker.example:" + port, null, null)).isEqualTo(403);
        assertThat(status("GET", "/api/tags", "127.attacker.example", null, null)).isEqualTo(403);
        assertThat(status("GET", "/api/tags", "localhost.attacker.example:" + port, null, null)).isEqualTo(403);
        assertThat(status("GET", "/api/tags", "[::1].attacker.example", null, null)).isIn(400, 403); // Jetty: bad Host
        assertThat(status("GET", "/api/tags", "127.0.0.256:" + port, null, null)).isEqualTo(403);
        // loopback names and literals are served
        for (String ok : new String[]{"127.0.0.1:" + port, "127.0.0.1", "127.1.2.3:" + port, "localhost:" + port,
                "LOCALHOST", "[::1]:" + port, "[0:0:0:0:0:0:0:1]"}) {
            assertThat(status("GET", "/api/version", ok, null, null)).as(ok).isEqualTo(200);
        }
    }

    @Test
    void crossOriginPostFromALookalikeOriginIsRefused() throws IOException {
        String host = "127.0.0.1:" + server.port();
        // the reproducer: a cross-origin POST to /api/pull from http://127.0.0.1.attacker.example
        assertThat(status("POST", "/api/pull", host, "http://127.0.0.1.attacker.example", "{\"model\":\"gemma3:1b\"}")).isEqualTo(403);
        assertThat(status("POST", "/api/pull", host, "http://127.0.0.1.attacker.example:" + server.port(), "{\"model\":\"x\"}")).isEqualTo(403);
        assertThat(status("POST", "/api/pull", host, "http://localhost.attacker.example", "{\"model\":\"x\"}")).isEqualTo(403);
        assertThat(status("POST", "/api/pull", host, "null", "{\"model\":\"x\"}")).isEqualTo(403);
        // the server's own page (same loopback origin) is let through to the endpoint (400: an invalid model name)
        assertThat(status("POST", "/api/pull", host, "http://127.0.0.1:" + server.port(), "{\"model\":\"../x\"}")).isEqualTo(400);
        assertThat(status("POST", "/api/pull", "localhost:" + server.port(), "http://localhost:" + server.port(), "{\"model\":\"../x\"}")).isEqualTo(400);
    }

    @Test
    void loopbackNamesAreParsedNotPrefixMatched() {
        assertThat(JemmaServer.isLoopbackName("127.0.0.1")).isTrue();
        assertThat(JemmaServer.isLoopbackName("127.255.255.254")).isTrue();
        assertThat(JemmaServer.isLoopbackName("[::1]")).isTrue();
        assertThat(JemmaServer.isLoopbackName("::1")).isTrue();
        assertThat(JemmaServer.isLoopbackName("localhost")).isTrue();
        assertThat(JemmaServer.isLoopbackName("127.0.0.1.attacker.example")).isFalse();
        assertThat(JemmaServer.isLoopbackName("127.0.0.1.")).isFalse();
        assertThat(JemmaServer.isLoopbackName("128.0.0.1")).isFalse();
        assertThat(JemmaServer.isLoopbackName("::2")).isFalse();
        assertThat(JemmaServer.isLoopbackName("0.0.0.0")).isFalse();
        assertThat(JemmaServer.isLoopbackName("")).isFalse();
    }

    @Test
    void listeningBeyondLoopbackWithoutAKeyWarnsLoudly() {
        JemmaServer.Config open = JemmaServer.Config.defaults().withHost("0.0.0.0");
        String w = JemmaServer.exposureWarning(open);
        assertThat(w).isNotNull().contains("WARNING").contains("0.0.0.0").contains("--api-key");
        assertThat(w.lines().count()).isGreaterThanOrEqualTo(3);
        assertThat(JemmaServer.exposureWarning(open.withSecurity("k", java.util.List.of()))).isNull();
        assertThat(JemmaServer.exposureWarning(JemmaServer.Config.defaults())).isNull();
        assertThat(JemmaServer.exposureWarning(JemmaServer.Config.defaults().withHost("::1"))).isNull();
        assertThat(JemmaServer.exposureWarning(JemmaServer.Config.defaults().withHost("127.0.0.1.attacker.example"))).isNotNull();
    }
}
