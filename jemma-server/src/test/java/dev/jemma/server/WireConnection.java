package dev.jemma.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One kept-alive HTTP/1.1 connection driven by hand, byte for byte: it sends a request, reads exactly one response
 * (to the end its Content-Length or its chunked encoding declares) and can then check that no further byte arrives
 * before the next request. A real client (the JDK's HttpClient) cannot tell: it drops a pooled connection on which
 * unexpected bytes arrive, silently — unless the next request was already taking it from the pool, and then that
 * request fails ("Data received while in pool"). Keeps the last exchanges, bytes as sent and received, for a failure's
 * message.
 */
final class WireConnection implements AutoCloseable {
    /** Headers the JDK's HttpClient sends on every plain-http request (it offers an h2c upgrade each time). */
    static final Map<String, String> JDK_CLIENT_HEADERS = jdkHeaders();

    private static final int KEEP = 8;
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private final String host;
    /** Received but not yet consumed: bytes beyond the end of the last response land here. */
    private byte[] pending = new byte[0];
    private final Deque<String> log = new ArrayDeque<>();
    private boolean eof;

    /** One response: its status, headers (names lower-case), body (de-chunked) and what it said of the connection. */
    record Response(int status, Map<String, String> headers, byte[] body, List<Integer> interim) {
        boolean closes() {
            return "close".equalsIgnoreCase(headers.getOrDefault("connection", "").strip());
        }

        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    WireConnection(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        socket.setTcpNoDelay(true);
        socket.setSoTimeout(30_000);
        in = socket.getInputStream();
        out = socket.getOutputStream();
        host = "127.0.0.1:" + port;
    }

    /** Sends one request with a Content-Length body (none when {@code body} is null) and reads its response. */
    Response exchange(String method, String path, Map<String, String> headers, byte[] body) throws IOException {
        send(method, path, headers, body);
        return read(method.equals("HEAD"), false);
    }

    /** Writes a request; the body, if any, right after the headers. */
    void send(String method, String path, Map<String, String> headers, byte[] body) throws IOException {
        sendHead(method, path, headers, body == null ? -1 : body.length);
        if (body != null) sendBody(body);
    }

    /** Writes bytes as they are: a malformed request, or several at once. */
    void sendRaw(String request) throws IOException {
        byte[] b = request.getBytes(StandardCharsets.ISO_8859_1);
        note(">>> ", b);
        out.write(b);
        out.flush();
    }

    void sendHead(String method, String path, Map<String, String> headers, long contentLength) throws IOException {
        StringBuilder h = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
        headers.forEach((k, v) -> h.append(k).append(": ").append(v).append("\r\n"));
        if (contentLength >= 0) h.append("Content-Length: ").append(contentLength).append("\r\n");
        h.append("\r\n");
        byte[] b = h.toString().getBytes(StandardCharsets.ISO_8859_1);
        note(">>> ", b);
        out.write(b);
        out.flush();
    }

    void sendBody(byte[] body) throws IOException {
        note(">>> ", body);
        out.write(body);
        out.flush();
    }

    /**
     * Reads one complete response: interim 1xx responses first (listed in {@link Response#interim}), then the final
     * one to the last byte its framing declares (with {@code stopAtInterim}, the first interim response, if one comes
     * first). Bytes that came beyond it stay pending for {@link #stray}.
     */
    Response read(boolean head, boolean stopAtInterim) throws IOException {
        List<Integer> interim = new ArrayList<>();
        while (true) {
            byte[] headBytes = readUntil("\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1));
            String text = new String(headBytes, StandardCharsets.ISO_8859_1);
            String[] lines = text.split("\r\n");
            String[] statusLine = lines[0].split(" ", 3);
            if (statusLine.length < 2 || !statusLine[0].startsWith("HTTP/1.")) throw new IOException("not a status line: " + printable(lines[0].getBytes(StandardCharsets.ISO_8859_1)));
            int status = Integer.parseInt(statusLine[1]);
            Map<String, String> headers = new LinkedHashMap<>();
            for (int i = 1; i < lines.length; i++) {
                int c = lines[i].indexOf(':');
                if (c > 0) headers.merge(lines[i].substring(0, c).strip().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).strip(), (a, b) -> a + ", " + b);
            }
            if (status >= 100 && status < 200 && status != 101) {
                interim.add(status);
                if (stopAtInterim) return new Response(status, headers, new byte[0], interim);
                continue;
            }
            byte[] body;
            if (head || status == 204 || status == 304 || status == 101) {
                body = new byte[0];
            } else if (headers.getOrDefault("transfer-encoding", "").toLowerCase(Locale.ROOT).contains("chunked")) {
                body = readChunked();
            } else if (headers.containsKey("content-length")) {
                body = readExactly(Integer.parseInt(headers.get("content-length")));
            } else {
                body = readToEnd();
            }
            return new Response(status, headers, body, interim);
        }
    }

    /**
     * Whatever arrives within {@code wait} after a complete response: the bytes (empty: nothing came, or the server
     * closed the connection — see {@link #closedByServer}).
     */
    byte[] stray(Duration wait) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        got.writeBytes(pending);
        pending = new byte[0];
        if (eof) return got.toByteArray();
        // what has arrived already, without waiting
        byte[] buf = new byte[8192];
        while (in.available() > 0) {
            int n = in.read(buf, 0, Math.min(buf.length, in.available()));
            if (n <= 0) break;
            note("<<< (after the response) ", Arrays.copyOf(buf, n));
            got.write(buf, 0, n);
        }
        long end = System.nanoTime() + wait.toNanos();
        try {
            while (true) {
                long left = (end - System.nanoTime()) / 1_000_000;
                if (left <= 0) break;
                socket.setSoTimeout((int) Math.max(1, left));
                int n = in.read(buf);
                if (n < 0) {
                    eof = true;
                    note("<<< EOF", new byte[0]);
                    break;
                }
                note("<<< (after the response) ", Arrays.copyOf(buf, n));
                got.write(buf, 0, n);
            }
        } catch (SocketTimeoutException quiet) {
            // nothing more came: what we want
        } finally {
            socket.setSoTimeout(30_000);
        }
        return got.toByteArray();
    }

    /** Whether the server has closed the connection (seen as end of stream). */
    boolean closedByServer() {
        return eof;
    }

    /** The last exchanges on this connection, bytes as sent ({@code >>>}) and received ({@code <<<}), escaped. */
    String transcript() {
        return String.join("\n", log);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    private byte[] readChunked() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = new String(readUntil("\r\n".getBytes(StandardCharsets.ISO_8859_1)), StandardCharsets.ISO_8859_1);
            int semi = sizeLine.indexOf(';');
            int size = Integer.parseInt((semi >= 0 ? sizeLine.substring(0, semi) : sizeLine).strip(), 16);
            if (size == 0) {
                // trailers, then the empty line that ends the message
                while (readUntil("\r\n".getBytes(StandardCharsets.ISO_8859_1)).length > 0) {
                    // a trailer field: ignored
                }
                return body.toByteArray();
            }
            body.writeBytes(readExactly(size));
            byte[] crlf = readExactly(2);
            if (crlf[0] != '\r' || crlf[1] != '\n') throw new IOException("chunk not followed by CRLF");
        }
    }

    /** The bytes up to the delimiter (excluded); the delimiter is consumed. */
    private byte[] readUntil(byte[] delimiter) throws IOException {
        while (true) {
            int at = indexOf(pending, delimiter);
            if (at >= 0) {
                byte[] r = Arrays.copyOf(pending, at);
                pending = Arrays.copyOfRange(pending, at + delimiter.length, pending.length);
                return r;
            }
            if (!fill()) throw new IOException("connection closed before " + printable(delimiter) + " (got " + printable(pending) + ")");
        }
    }

    private byte[] readExactly(int n) throws IOException {
        while (pending.length < n) {
            if (!fill()) throw new IOException("connection closed after " + pending.length + " of " + n + " bytes");
        }
        byte[] r = Arrays.copyOf(pending, n);
        pending = Arrays.copyOfRange(pending, n, pending.length);
        return r;
    }

    private byte[] readToEnd() throws IOException {
        while (fill()) {
            // until the server closes
        }
        byte[] r = pending;
        pending = new byte[0];
        return r;
    }

    private boolean fill() throws IOException {
        if (eof) return false;
        byte[] buf = new byte[8192];
        int n = in.read(buf);
        if (n < 0) {
            eof = true;
            note("<<< EOF", new byte[0]);
            return false;
        }
        note("<<< ", Arrays.copyOf(buf, n));
        byte[] p = Arrays.copyOf(pending, pending.length + n);
        System.arraycopy(buf, 0, p, pending.length, n);
        pending = p;
        return true;
    }

    private void note(String prefix, byte[] bytes) {
        log.addLast(prefix + printable(bytes));
        while (log.size() > 4 * KEEP) log.removeFirst();
    }

    private static int indexOf(byte[] a, byte[] b) {
        outer:
        for (int i = 0; i + b.length <= a.length; i++) {
            for (int j = 0; j < b.length; j++) if (a[i + j] != b[j]) continue outer;
            return i;
        }
        return -1;
    }

    /** Bytes as printable ASCII: CR, LF and anything not printable escaped; long runs shortened in the middle. */
    static String printable(byte[] b) {
        StringBuilder s = new StringBuilder();
        int limit = 2000;
        for (int i = 0; i < b.length; i++) {
            if (b.length > limit && i == limit / 2) {
                s.append("…(").append(b.length - limit).append(" bytes)…");
                i = b.length - limit / 2;
            }
            int c = b[i] & 0xff;
            if (c == '\r') s.append("\\r");
            else if (c == '\n') s.append("\\n");
            else if (c == '\\') s.append("\\\\");
            else if (c >= 0x20 && c < 0x7f) s.append((char) c);
            else s.append(String.format("\\x%02x", c));
        }
        return s.toString();
    }

    private static Map<String, String> jdkHeaders() {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Connection", "Upgrade, HTTP2-Settings");
        h.put("HTTP2-Settings", "AAEAAEAAAAIAAAABAAMAAABkAAQBAAAAAAUAAEAA");
        h.put("Upgrade", "h2c");
        h.put("User-Agent", "Java-http-client/25");
        return java.util.Collections.unmodifiableMap(h);
    }
}
