package dev.jemma.tools.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A minimal client of the Hugging Face hub's public HTTP endpoints, the ones {@code huggingface_hub} uses:
 * {@code GET /api/models/{repo}/tree/main?recursive=true} (file names, sizes and LFS sha256) and
 * {@code GET /{repo}/resolve/main/{file}} (content, honouring {@code Range}).
 *
 * <p>The base URL is {@code HF_ENDPOINT} (default {@code https://huggingface.co}), the token {@code HF_TOKEN}.
 * Redirects are followed by hand so that the token is only sent to the hub's own host, never to the CDN a
 * resolve URL redirects to (which signs its URLs and refuses a second credential).
 */
public final class HubClient {
    /** One file of a repository as the tree endpoint lists it. */
    public record HubFile(String path, long size, String sha256) {
    }

    /** An open download: the status (200 or 206), the first byte offset served, and the body stream. */
    public record Download(int status, long offset, long totalLength, InputStream body) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    private static final Pattern NEXT_LINK = Pattern.compile("<([^>]+)>\\s*;\\s*rel=\"next\"");
    private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final URI endpoint;
    private final String token;
    private final HttpClient http;

    public HubClient(URI endpoint, String token) {
        String e = endpoint.toString();
        this.endpoint = URI.create(e.endsWith("/") ? e.substring(0, e.length() - 1) : e);
        this.token = token == null || token.isBlank() ? null : token.strip();
        this.http = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(20))
                .build();
    }

    /**
     * A client configured from {@code HF_ENDPOINT} (the system property {@code jemma.hf.endpoint} wins, for
     * in-process tests) and {@code HF_TOKEN} (or {@code HUGGING_FACE_HUB_TOKEN}).
     */
    public static HubClient fromEnvironment() {
        String ep = dev.jemma.core.JemmaProperties.hfEndpoint();
        String token = System.getenv("HF_TOKEN");
        if (token == null || token.isBlank()) token = System.getenv("HUGGING_FACE_HUB_TOKEN");
        return new HubClient(URI.create(ep == null || ep.isBlank() ? "https://huggingface.co" : ep.strip()), token);
    }

    public URI endpoint() {
        return endpoint;
    }

    /** Lists every file of the repository's main revision (following the hub's pagination links). */
    public List<HubFile> tree(String repo) {
        List<HubFile> files = new ArrayList<>();
        URI next = URI.create(endpoint + "/api/models/" + repo + "/tree/main?recursive=true");
        int pages = 0;
        while (next != null) {
            if (++pages > 100) throw new JemmaException("hf.co/" + repo + ": the file list has too many pages");
            HttpResponse<byte[]> r = send(repo, next, null, HttpResponse.BodyHandlers.ofByteArray());
            checkStatus(repo, r.statusCode(), null);
            try {
                JsonNode arr = JSON.readTree(r.body());
                if (!arr.isArray()) throw new JemmaException("hf.co/" + repo + ": unexpected file list (not a JSON array)");
                for (JsonNode n : arr) {
                    if (!"file".equals(n.path("type").asText("file"))) continue;
                    String path = n.path("path").asText(null);
                    if (path == null) continue;
                    JsonNode lfs = n.get("lfs");
                    String sha = lfs != null ? lfs.path("oid").asText(null) : null;
                    long size = lfs != null && lfs.has("size") ? lfs.get("size").asLong() : n.path("size").asLong(-1);
                    files.add(new HubFile(path, size, sha));
                }
            } catch (IOException e) {
                throw new JemmaException("hf.co/" + repo + ": unreadable file list from " + endpoint + " (" + e.getMessage() + ")");
            }
            next = r.headers().firstValue("Link").map(l -> {
                Matcher m = NEXT_LINK.matcher(l);
                return m.find() ? next(m.group(1)) : null;
            }).orElse(null);
        }
        return files;
    }

    private URI next(String link) {
        return endpoint.resolve(link);
    }

    /**
     * Opens the content of {@code file} starting at byte {@code offset} (a {@code Range} request when > 0).
     * The server may ignore the range and answer 200 with the whole file; {@link Download#offset()} says which.
     */
    public Download open(String repo, String file, long offset) {
        URI uri = URI.create(endpoint + "/" + repo + "/resolve/main/" + encodePath(file));
        String range = offset > 0 ? "bytes=" + offset + "-" : null;
        HttpResponse<InputStream> r = send(repo, uri, range, HttpResponse.BodyHandlers.ofInputStream());
        int status = r.statusCode();
        if (status == 416 && offset > 0) {
            close(r.body());
            // The partial file is as long as (or longer than) the remote one: start over.
            return open(repo, file, 0);
        }
        if (status != 200 && status != 206) {
            close(r.body());
            checkStatus(repo, status, file);
        }
        long served = 0;
        long total = r.headers().firstValueAsLong("Content-Length").orElse(-1);
        if (status == 206) {
            String cr = r.headers().firstValue("Content-Range").orElse("");
            Matcher m = CONTENT_RANGE.matcher(cr);
            if (!m.find()) {
                close(r.body());
                throw new JemmaException("hf.co/" + repo + "/" + file + ": bad Content-Range '" + cr + "'");
            }
            served = Long.parseLong(m.group(1));
            if (!m.group(3).equals("*")) total = Long.parseLong(m.group(3));
        }
        return new Download(status, served, total, r.body());
    }

    private <T> HttpResponse<T> send(String repo, URI uri, String range, HttpResponse.BodyHandler<T> handler) {
        URI current = uri;
        for (int hop = 0; hop < 10; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(current).GET()
                    .header("User-Agent", "jemma/0.1 (+https://github.com/jemma)");
            if (range != null) b.header("Range", range);
            // Credentials only go to the configured hub host: a redirect target (CDN) gets a signed URL instead.
            if (token != null && sameOrigin(current, endpoint)) b.header("Authorization", "Bearer " + token);
            HttpResponse<T> r;
            try {
                r = http.send(b.build(), handler);
            } catch (IOException e) {
                throw new JemmaException("cannot reach " + current.getHost() + " (" + e.getClass().getSimpleName()
                        + (e.getMessage() == null ? "" : ": " + e.getMessage()) + "); set HF_ENDPOINT for a mirror", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new JemmaException("interrupted while contacting " + current.getHost(), e);
            }
            int s = r.statusCode();
            if (s == 301 || s == 302 || s == 303 || s == 307 || s == 308) {
                String loc = r.headers().firstValue("Location").orElse(null);
                if (r.body() instanceof InputStream in) close(in);
                if (loc == null) throw new JemmaException("hf.co/" + repo + ": redirect without Location from " + current);
                current = current.resolve(loc);
                continue;
            }
            return r;
        }
        throw new JemmaException("hf.co/" + repo + ": too many redirects");
    }

    private void checkStatus(String repo, int status, String file) {
        String what = "hf.co/" + repo + (file == null ? "" : "/" + file);
        String page = "https://huggingface.co/" + repo;
        switch (status) {
            case 200, 206 -> {
            }
            case 401 -> throw new JemmaException(what + ": the hub refused access (401): " + (token == null
                    ? "the repository is gated, private or does not exist; accept its license on " + page
                    + " and set HF_TOKEN to a read token (https://huggingface.co/settings/tokens)"
                    : "HF_TOKEN was not accepted, or the repository does not exist; check the token and the name"));
            case 403 -> throw new JemmaException(what + ": the hub refused access (403): the repository is gated; accept its "
                    + "license on " + page + " with the account that owns HF_TOKEN" + (token == null ? " and set HF_TOKEN" : ""));
            case 404 -> throw new JemmaException(what + ": not found on the hub (404)");
            case 429 -> throw new JemmaException(what + ": the hub is rate-limiting requests (429); try again later"
                    + (token == null ? " or set HF_TOKEN" : ""));
            default -> throw new JemmaException(what + ": the hub answered HTTP " + status);
        }
    }

    private static boolean sameOrigin(URI a, URI b) {
        return Objects.equals(a.getScheme(), b.getScheme()) && Objects.equals(a.getHost(), b.getHost())
                && a.getPort() == b.getPort();
    }

    private static String encodePath(String path) {
        StringBuilder sb = new StringBuilder();
        for (String seg : path.split("/")) {
            if (!sb.isEmpty()) sb.append('/');
            sb.append(URLEncoder.encode(seg, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return sb.toString();
    }

    private static void close(InputStream in) {
        try {
            in.close();
        } catch (IOException ignored) {
            // nothing to do: the response is discarded anyway
        }
    }
}
