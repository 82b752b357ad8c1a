package dev.jemma.tools.store;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback server speaking the two hub endpoints the store uses (tree listing and resolve with Range), with
 * switches to misbehave: cut a transfer short, serve bytes that do not match the advertised sha256, demand a token.
 * Test-only; built on the JDK's own HTTP server.
 */
final class FakeHub implements AutoCloseable {
    /** A served file: advertised sha256 (may differ from the content to simulate corruption). */
    record File(String path, byte[] content, String advertisedSha) {
    }

    final HttpServer server;
    final Map<String, List<File>> repos = new ConcurrentHashMap<>();
    final List<String> rangeHeaders = new CopyOnWriteArrayList<>();
    final AtomicInteger downloads = new AtomicInteger();
    volatile String requiredToken;
    volatile boolean forbidden;
    /** When >= 0, the next download stops after this many body bytes (connection closed). */
    volatile long cutNextAfter = -1;
    /** When >= 0 (and cutNextAfter is not set), every download stops after this many body bytes. */
    volatile long cutEveryAfter = -1;
    /** Also serve content through a redirect to /cdn/… (like the real hub's CDN hop). */
    volatile boolean redirect = true;
    final List<String> authOnCdn = new CopyOnWriteArrayList<>();

    FakeHub() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newFixedThreadPool(4));
        server.start();
    }

    URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    void add(String repo, String path, byte[] content) {
        add(repo, path, content, ModelPuller.sha256Hex(content));
    }

    void add(String repo, String path, byte[] content, String advertisedSha) {
        repos.computeIfAbsent(repo, k -> new CopyOnWriteArrayList<>()).add(new File(path, content, advertisedSha));
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            String p = ex.getRequestURI().getPath();
            if (p.startsWith("/cdn/")) {
                String auth = ex.getRequestHeaders().getFirst("Authorization");
                if (auth != null) authOnCdn.add(auth);
                serveContent(ex, p.substring("/cdn/".length()));
                return;
            }
            if (requiredToken != null && !("Bearer " + requiredToken).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                send(ex, 401, "{\"error\":\"Access to model is restricted\"}");
                return;
            }
            if (forbidden) {
                send(ex, 403, "{\"error\":\"gated\"}");
                return;
            }
            if (p.startsWith("/api/models/") && p.endsWith("/tree/main")) {
                String repo = p.substring("/api/models/".length(), p.length() - "/tree/main".length());
                List<File> files = repos.get(repo);
                if (files == null) {
                    send(ex, 404, "{\"error\":\"Repository not found\"}");
                    return;
                }
                StringBuilder sb = new StringBuilder("[");
                sb.append("{\"type\":\"file\",\"oid\":\"abc\",\"size\":1519,\"path\":\".gitattributes\"}");
                for (File f : files) {
                    sb.append(",{\"type\":\"file\",\"oid\":\"0123\",\"size\":").append(f.content.length)
                            .append(",\"path\":\"").append(f.path).append("\",\"lfs\":{\"oid\":\"").append(f.advertisedSha)
                            .append("\",\"size\":").append(f.content.length).append(",\"pointerSize\":135}}");
                }
                sb.append("]");
                send(ex, 200, sb.toString());
                return;
            }
            int r = p.indexOf("/resolve/main/");
            if (r > 0) {
                if (redirect) {
                    // Another host name for the same loopback server: a different origin, like the real CDN.
                    ex.getResponseHeaders().add("Location", "http://localhost:" + server.getAddress().getPort() + "/cdn/" + p.substring(1));
                    ex.sendResponseHeaders(302, -1);
                } else {
                    serveContent(ex, p.substring(1));
                }
                return;
            }
            send(ex, 404, "{\"error\":\"no route\"}");
        }
    }

    private void serveContent(HttpExchange ex, String repoAndFile) throws IOException {
        int r = repoAndFile.indexOf("/resolve/main/");
        String repo = repoAndFile.substring(0, r);
        String file = repoAndFile.substring(r + "/resolve/main/".length());
        File f = repos.getOrDefault(repo, List.of()).stream().filter(x -> x.path.equals(file)).findFirst().orElse(null);
        if (f == null) {
            send(ex, 404, "{\"error\":\"Entry not found\"}");
            return;
        }
        downloads.incrementAndGet();
        String range = ex.getRequestHeaders().getFirst("Range");
        rangeHeaders.add(range == null ? "" : range);
        long start = 0;
        if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
            start = Long.parseLong(range.substring(6, range.length() - 1));
            if (start >= f.content.length) {
                ex.getResponseHeaders().add("Content-Range", "bytes */" + f.content.length);
                ex.sendResponseHeaders(416, -1);
                return;
            }
            ex.getResponseHeaders().add("Content-Range", "bytes " + start + "-" + (f.content.length - 1) + "/" + f.content.length);
        }
        int len = (int) (f.content.length - start);
        ex.sendResponseHeaders(start > 0 ? 206 : 200, len);
        long cut = cutNextAfter >= 0 ? cutNextAfter : cutEveryAfter;
        cutNextAfter = -1;
        OutputStream os = ex.getResponseBody();
        if (cut >= 0 && cut < len) {
            os.write(f.content, (int) start, (int) cut);
            os.flush();
            // Drop the connection mid-body, as a network failure would.
            throw new IOException("simulated cut");
        }
        os.write(f.content, (int) start, len);
    }

    private static void send(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        ex.getResponseBody().write(b);
    }

    @Override
    public void close() {
        server.stop(0);
        ((java.util.concurrent.ExecutorService) server.getExecutor()).shutdownNow();
    }
}
