package dev.jemma.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * One HTTP exchange, used from a blocking handler thread: reads a bounded JSON body, writes a whole JSON answer or a
 * stream of events. A failed write (client gone) is remembered and reported as {@code false}, which is how a
 * generation learns it should cancel.
 */
final class Exchange {
    static final ObjectMapper JSON = new ObjectMapper();

    final Request request;
    final Response response;
    final boolean openAiErrors;
    private final long maxBody;
    private OutputStream out;
    private volatile boolean broken;
    private boolean committed;
    /** The body, read before the handler ran (see {@link #receivedBody}); null when there was none. */
    private byte[] body;
    private HttpError bodyError;

    /** When the request arrived ({@link System#nanoTime}): time to first token counts from here. */
    final long received = System.nanoTime();
    /** A generation request's announcement to the engines (null for other requests): see {@link JemmaServer}'s router. */
    dev.jemma.core.engine.Arrivals.Ticket arrival;

    Exchange(Request request, Response response, boolean openAiErrors, long maxBody) {
        this.request = request;
        this.response = response;
        this.openAiErrors = openAiErrors;
        this.maxBody = maxBody;
    }

    String method() {
        return request.getMethod();
    }

    String path() {
        return Request.getPathInContext(request);
    }

    String header(String name) {
        return request.getHeaders().get(name);
    }

    /** The body read asynchronously before the handler ran, or why it could not be read. */
    void receivedBody(byte[] bytes, Throwable failure, java.time.Duration timeout) {
        if (failure == null) {
            body = bytes;
            return;
        }
        Throwable cause = failure instanceof java.util.concurrent.CompletionException && failure.getCause() != null ? failure.getCause() : failure;
        if (cause instanceof java.util.concurrent.TimeoutException) {
            // the client stalled: answer and close rather than wait for the rest
            response.getHeaders().put(HttpHeader.CONNECTION, "close");
            bodyError = new HttpError(408, "request body not received within " + timeout.toSeconds() + " s");
        } else if (cause instanceof IllegalArgumentException || cause instanceof IllegalStateException) {
            bodyError = new HttpError(413, "request body too large (limit " + maxBody + " bytes)");
        } else {
            bodyError = new HttpError(400, "cannot read request body: " + cause.getMessage());
        }
    }

    /** Reads and parses the JSON body: 413 beyond the size limit, 400 when empty or malformed. */
    ObjectNode jsonBody() {
        long declared = request.getLength();
        if (declared > maxBody) throw new HttpError(413, "request body too large (" + declared + " bytes; limit " + maxBody + ")");
        if (bodyError != null) throw bodyError;
        byte[] bytes;
        if (body != null) {
            bytes = body;
        } else {
            try (InputStream in = Content.Source.asInputStream(request)) {
                bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxBody + 1));
            } catch (IOException e) {
                throw new HttpError(400, "cannot read request body: " + e.getMessage());
            }
        }
        if (bytes.length > maxBody) throw new HttpError(413, "request body too large (limit " + maxBody + " bytes)");
        if (bytes.length == 0) throw HttpError.badRequest("missing request body");
        JsonNode n;
        try {
            n = JSON.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw HttpError.badRequest("invalid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw HttpError.badRequest("invalid JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) throw HttpError.badRequest("request body must be a JSON object");
        return (ObjectNode) n;
    }

    /** Writes a complete JSON answer. */
    void json(int status, JsonNode body) {
        byte[] b;
        try {
            b = JSON.writeValueAsBytes(body);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        bytes(status, "application/json; charset=utf-8", b);
    }

    void text(int status, String contentType, String body) {
        bytes(status, contentType, body.getBytes(StandardCharsets.UTF_8));
    }

    /**
     * Run once just before the response can complete (a whole answer's bytes, a stream's end): the client can send its
     * next request on this connection only after that, so what it sets up is in place first (see {@link #beforeComplete}).
     */
    private Runnable beforeComplete;

    /**
     * What to run once just before a 200 response completes (a generation request: its connection's next announced).
     */
    void beforeComplete(Runnable r) {
        beforeComplete = r;
    }

    /** Runs {@link #beforeComplete} once, for an answer of {@code status} 200 only (a refused request announces nothing). */
    private void completing(int status) {
        Runnable r = beforeComplete;
        beforeComplete = null;
        if (r != null && !broken && status == 200) r.run();
    }

    void bytes(int status, String contentType, byte[] b) {
        completing(status);
        response.setStatus(status);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, b.length);
        committed = true;
        try {
            OutputStream os = stream();
            os.write(b);
            os.close();
        } catch (IOException e) {
            broken = true;
        }
    }

    void error(int status, String message) {
        ObjectNode o = JSON.createObjectNode();
        if (openAiErrors) {
            ObjectNode e = o.putObject("error");
            e.put("message", message);
            e.put("type", status == 404 ? "not_found_error" : status == 503 ? "server_busy"
                    : status >= 500 ? "server_error" : "invalid_request_error");
            e.putNull("param");
            e.putNull("code");
        } else {
            o.put("error", message);
        }
        json(status, o);
    }

    boolean committed() {
        return committed;
    }

    /** Starts a streamed answer (NDJSON or SSE). */
    void startStream(String contentType) {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        response.getHeaders().put("X-Accel-Buffering", "no");
        committed = true;
    }

    /** Sends one piece of a stream and flushes it; false once the client has gone. */
    boolean send(String chunk) {
        if (broken) return false;
        try {
            OutputStream os = stream();
            os.write(chunk.getBytes(StandardCharsets.UTF_8));
            os.flush();
            return true;
        } catch (IOException | RuntimeException e) {
            broken = true;
            return false;
        }
    }

    /** Sends one JSON object as an NDJSON line. */
    boolean sendLine(JsonNode n) {
        return send(write(n) + "\n");
    }

    /** Sends one server-sent event carrying JSON. */
    boolean sendEvent(JsonNode n) {
        return send("data: " + write(n) + "\n\n");
    }

    boolean broken() {
        return broken;
    }

    /** Whether the client has gone: a write failed, or the connection is known closed. */
    boolean clientGone() {
        if (broken) return true;
        try {
            return !request.getConnectionMetaData().getConnection().getEndPoint().isOpen();
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Completes the response (last chunk); false when the client has gone. */
    boolean finish() {
        if (broken) return false;
        completing(response.getStatus());
        try {
            if (out != null) out.close();
            return true;
        } catch (IOException | RuntimeException e) {
            broken = true;
            return false;
        }
    }

    static String write(JsonNode n) {
        try {
            return JSON.writeValueAsString(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private OutputStream stream() {
        if (out == null) out = Content.Sink.asOutputStream(response);
        return out;
    }
}
