package dev.jemma.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

import java.nio.ByteBuffer;

/**
 * Answers the errors Jetty finds itself, before a request reaches the API (a path that climbs above the root or is
 * ambiguous, a malformed header, headers or a URI too long), as the API answers its own: a JSON {@code error} naming the
 * problem, not Jetty's HTML page. And it says {@code Connection: close}: Jetty ends the connection after such an answer,
 * and without the header a client that keeps connections alive sends its next request on a closed one and fails it
 * ("HTTP/1.1 header parser received no bytes" in the JDK's HttpClient, which does not send a POST again).
 */
final class JsonErrorHandler extends ErrorHandler {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        int code = response.getStatus();
        String message = (String) request.getAttribute(ERROR_MESSAGE);
        if (request.getAttribute(ERROR_EXCEPTION) instanceof HttpException h) {
            code = h.getCode();
            response.setStatus(code);
            if (message == null) message = h.getReason();
        }
        if (message == null || message.isBlank()) message = HttpStatus.getMessage(code);
        response.getHeaders().put(HttpHeader.CONNECTION, "close");
        if (request.getMethod().equals("HEAD") || HttpStatus.hasNoBody(code)) {
            callback.succeeded();
            return true;
        }
        String path;
        try {
            path = request.getHttpURI().getPath();
        } catch (RuntimeException e) {
            path = "";
        }
        String text = HttpStatus.getMessage(code).toLowerCase(java.util.Locale.ROOT) + ": " + dev.jemma.core.Printable.line(message);
        ObjectNode o = Exchange.JSON.createObjectNode();
        if (path != null && path.startsWith("/v1/")) {
            ObjectNode e = o.putObject("error");
            e.put("message", text);
            e.put("type", code >= 500 ? "server_error" : "invalid_request_error");
            e.putNull("param");
            e.putNull("code");
        } else {
            o.put("error", text);
        }
        byte[] body = Exchange.write(o).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json; charset=utf-8");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
        return true;
    }
}
