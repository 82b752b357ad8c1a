package dev.jemma.server;

import dev.jemma.core.JemmaException;
import dev.jemma.core.engine.Arrivals;
import dev.jemma.tools.store.HubClient;
import dev.jemma.core.store.ModelRef;
import dev.jemma.core.store.ModelStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Promise;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.ObjLongConsumer;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * {@code jemma serve}: an Ollama-compatible API under {@code /api}, an OpenAI-compatible API under {@code /v1}
 * and a web chat page at {@code /}, on Jetty 12.
 *
 * <p>Generation requests pass a {@link Scheduler} ({@code parallel} at once, {@code queue} waiting, 503 beyond).
 * Binds 127.0.0.1 unless told otherwise; {@code apiKey} demands {@code Authorization: Bearer KEY} on the APIs;
 * CORS headers are only sent for the configured origins.
 */
public final class JemmaServer implements AutoCloseable {
    /**
     * Server settings.
     *
     * @param host        bind address (default 127.0.0.1)
     * @param port        TCP port (11434 like Ollama; 0 picks a free one)
     * @param models      -m arguments: .gguf paths (served under their file stem) or store names
     * @param parallel    generations running at once, and the KV slots each chat model keeps (its KV pool)
     * @param queue       generations allowed to wait for a slot; beyond that 503
     * @param queueWait   longest wait for a slot before 503
     * @param apiKey      required bearer token, or null
     * @param corsOrigins origins allowed by CORS ("*" for any); empty = no CORS headers
     * @param keepAlive   default keep-alive of a loaded model after its last request
     * @param maxBodyBytes largest accepted request body (413 beyond)
     * @param threads     inference threads per model (0 = all cores)
     * @param exact       exact f32 arithmetic (slow; for conformance checks)
     * @param kvBudget    KV positions of a chat model's pool in all, split evenly among the {@code parallel} slots (as
     *                    llama-server's {@code -c}); 0 = each slot the engine's default context
     * @param batchChunk  prompt tokens per model step (chunked prefill; 0 = the engine's default)
     * @param wholePrompt longest prompt joining a step whole beside the running streams (0 = the engine's default,
     *                    negative = chunk every prompt)
     * @param admissionMillis the longest a short prompt reaching a model with no stream running waits for requests the
     *                    server has received and is still preparing (the admission window; 0 = never wait)
     * @param net         connection limits and timeouts
     */
    /**
     * Generations at once (and KV slots per model) unless told otherwise: decoding is bound by reading the weights, so
     * four streams in one batch cost little more than one (llama-server also defaults to 4 slots).
     */
    public static final int DEFAULT_PARALLEL = 4;

    /**
     * The admission window unless told otherwise: the longest a short prompt reaching an idle model waits for requests the
     * server has received and is still preparing (parsing, chat template, tokenizer). It waits only while one is: a lone
     * request starts at once, and a wave sent together (which reached the engine 15–50+ ms apart on the 2-core host, so a
     * fixed 15 ms window caught it only some of the time) starts in one step. The bound only matters when a request
     * takes long to prepare (images being decoded, a loaded host); 200 ms is short against the prompt step it saves
     * (~0.5 s for 128 tokens of the 1B on 2 threads, ~4 s for a wave of eight).
     */
    public static final int DEFAULT_ADMISSION_MILLIS = 200;

    public record Config(String host, int port, List<String> models, int parallel, int queue, Duration queueWait,
                         String apiKey, List<String> corsOrigins, Duration keepAlive, long maxBodyBytes, int threads,
                         boolean exact, int kvBudget, int batchChunk, int wholePrompt, int admissionMillis, Net net,
                         dev.jemma.core.engine.GenerationOptions sampling) {
        public static Config defaults() {
            return new Config("127.0.0.1", 11434, List.of(), DEFAULT_PARALLEL, 16, Duration.ofMinutes(5), null, List.of(),
                    Duration.ofMinutes(5), 8L << 20, 0, false, 0, 0, 0, DEFAULT_ADMISSION_MILLIS, Net.defaults(), null);
        }

        public Config withNet(Net n) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, n, sampling);
        }

        public Config withHost(String h) {
            return new Config(h, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, sampling);
        }

        /** Engine settings; {@code kvBudget} is the KV positions of a model's pool in all (0: the default per slot). */
        public Config withEngine(int threads, boolean exact, int kvBudget) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, sampling);
        }

        /** Prompt tokens per model step (chunked prefill); 0 = the engine's default. */
        public Config withBatchChunk(int chunk) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, chunk, wholePrompt, admissionMillis, net, sampling);
        }

        /**
         * Longest prompt joining a model step whole beside the running streams (llama-server's admission of new prompts);
         * longer ones are chunked. 0 = the engine's default ({@code -Djemma.wholePrompt}, else 256); negative = chunk every
         * prompt.
         */
        public Config withWholePrompt(int tokens) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, tokens, admissionMillis, net, sampling);
        }

        /**
         * The admission window: the longest a short prompt reaching a model with no stream running waits for requests the
         * server is still preparing, so they share its step ({@link dev.jemma.core.engine.EngineOptions#admissionMillis};
         * 0 = never wait).
         */
        public Config withAdmissionWindow(int millis) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, millis, net, sampling);
        }

        public Config withPort(int p) {
            return new Config(host, p, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, sampling);
        }

        public Config withModels(List<String> m) {
            return new Config(host, port, m, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, sampling);
        }

        public Config withLimits(int parallel, int queue, Duration queueWait) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, sampling);
        }

        public Config withSecurity(String apiKey, List<String> corsOrigins) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, sampling);
        }

        /**
         * Every served model's sampling defaults ({@code jemma serve --temp …}, as llama-server's flags): over a GGUF's
         * general.sampling.* recommendations, under each request's own fields; null = none.
         */
        public Config withSampling(dev.jemma.core.engine.GenerationOptions defaults) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, keepAlive, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, defaults);
        }

        public Config withKeepAlive(Duration k) {
            return new Config(host, port, models, parallel, queue, queueWait, apiKey, corsOrigins, k, maxBodyBytes, threads, exact, kvBudget, batchChunk, wholePrompt, admissionMillis, net, sampling);
        }
    }

    /**
     * What a slow or hostile client may hold. A connection that makes no progress for {@code idleTimeout} is closed
     * (a request line and headers that never end, a body that stops half-way, an idle keep-alive connection, a
     * response the client stops reading); computing an answer is not "idle". A request body must arrive whole within
     * {@code bodyTimeout}, and it is read without holding a thread, so stalled uploads cannot starve the server (the
     * health endpoints keep answering). At most {@code maxConnections} connections are open at once (more wait in the
     * accept backlog), at most {@code maxConnectionsPerClient} from one IP address (more are closed at once).
     */
    public record Net(Duration idleTimeout, Duration bodyTimeout, int maxConnections, int maxConnectionsPerClient) {
        public static Net defaults() {
            return new Net(Duration.ofSeconds(30), Duration.ofSeconds(60), 1024, 256);
        }
    }

    static final String VERSION = "0.1.0";

    private final Config config;
    private final Server server;
    private final ServerConnector connector;
    final ModelManager models;
    final Scheduler scheduler;
    final ServerMetrics metrics;
    final ModelStore store;
    private final OllamaApi ollama;
    private final OpenAiApi openai;
    private final EmbeddingApi embeddings;
    private final QueuedThreadPool threads;
    /** Generation requests received and not yet queued in an engine (the admission window waits for them). */
    final Arrivals arrivals;
    /** New connections announced as requests on their way until their first request reaches the router. */
    final ConnectionArrivals connectionArrivals;
    final Supplier<HubClient> hub;
    /** The -m models still loading at start-up: /health answers 503 until none is. */
    private final Readiness readiness;

    private static boolean sameFile(Path a, Path b) {
        try {
            return Files.isSameFile(a, b);
        } catch (java.io.IOException e) {
            return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
        }
    }

    private JemmaServer(Config config, ModelStore store, Function<ModelManager.Entry, ServedModel> loader,
                        Supplier<HubClient> hub) {
        this.config = config;
        this.store = store;
        this.hub = hub;
        Map<String, Path> explicit = new LinkedHashMap<>();
        for (String m : config.models()) {
            Path p = Path.of(m);
            if (Files.isRegularFile(p)) {
                String name = ModelManager.stemOf(p);
                Path taken = explicit.get(name);
                // two files with one name: the second would have hidden the first, which no request could reach
                if (taken != null && !sameFile(taken, p)) {
                    throw new JemmaException(m + ": its name '" + name + "' is already served from " + taken
                            + " (-m serves a file under its name without .gguf; rename one of them)");
                }
                explicit.put(name, p);
            } else if (Files.isDirectory(p)) {
                throw new JemmaException(m + ": is a directory, not a GGUF file");
            } else if (m.toLowerCase(java.util.Locale.ROOT).endsWith(".gguf") || !ModelRef.isValid(m)) {
                throw new JemmaException(m + ": no such model file or model name (see jemma list)");
            } else if (store != null) {
                explicit.put(store.find(m).orElseThrow(() -> new JemmaException(m + ": no such model file or model name "
                        + "in the store (see jemma list)")).name(), store.resolve(m));
            } else {
                throw new JemmaException(m + ": no such model file");
            }
        }
        this.models = new ModelManager(store, explicit, loader, config.keepAlive());
        this.readiness = new Readiness(models.explicitNames());
        // the engines' registry of requests on their way: announced as they are received (see Router)
        this.arrivals = loader instanceof EngineModel.Loader l ? l.arrivals : new Arrivals();
        this.scheduler = new Scheduler(config.parallel(), config.queue());
        this.metrics = new ServerMetrics(this);
        models.onLoad(m -> m.attach(metrics));
        this.ollama = new OllamaApi(this);
        this.openai = new OpenAiApi(this);
        this.embeddings = new EmbeddingApi(this);
        threads = new QueuedThreadPool(Math.max(64, 4 * (config.parallel() + config.queue()) + 16), 4);
        threads.setName("jemma-http");
        server = new Server(threads);
        HttpConfiguration hc = new HttpConfiguration();
        hc.setSendServerVersion(false);
        Net net = config.net();
        // the same limit while a request is handled: a stalled body read or response write fails after it
        hc.setIdleTimeout(net.idleTimeout().toMillis());
        connector = new ServerConnector(server, new HttpConnectionFactory(hc));
        connector.setHost(config.host());
        connector.setPort(config.port());
        connector.setIdleTimeout(net.idleTimeout().toMillis());
        connector.addEventListener(new ClientConnectionLimit(net.maxConnectionsPerClient()));
        // a connection is a request on its way from the moment it is opened: a wave's clients that are still connecting
        // when its first request is queued hold the admission window open too (see ConnectionArrivals)
        connectionArrivals = new ConnectionArrivals(arrivals, config.admissionMillis(), connector::getScheduler);
        connector.addEventListener(connectionArrivals);
        server.addConnector(connector);
        server.addBean(new NetworkConnectionLimit(net.maxConnections(), connector));
        server.setHandler(new Router());
        server.setErrorHandler(new JsonErrorHandler());
    }

    /** Starts a server that loads models with the Jemma engine. */
    public static JemmaServer start(Config config) {
        return start(config, ModelStore.open(), EngineModel.loader(config), HubClient::fromEnvironment);
    }

    static JemmaServer start(Config config, ModelStore store, Function<ModelManager.Entry, ServedModel> loader,
                             Supplier<HubClient> hub) {
        JemmaServer s = listen(config, store, loader, hub);
        s.loadModels();
        return s;
    }

    /**
     * A server that loads models with the Jemma engine, answering on its port with its -m models not loaded yet
     * ({@link #loadModels(ObjLongConsumer)}); /health says 503 until then.
     */
    public static JemmaServer listen(Config config) {
        return listen(config, ModelStore.open(), EngineModel.loader(config), HubClient::fromEnvironment);
    }

    /** A server answering on its port, its -m models not loaded yet ({@link #loadModels}); /health says 503 until then. */
    static JemmaServer listen(Config config, ModelStore store, Function<ModelManager.Entry, ServedModel> loader,
                              Supplier<HubClient> hub) {
        JemmaServer s = new JemmaServer(config, store, loader, hub);
        try {
            s.server.start();
        } catch (Exception e) {
            s.close();
            String why = e instanceof IOException && e.getMessage() != null ? e.getMessage() : e.toString();
            throw new JemmaException("cannot listen on " + config.host() + ":" + config.port() + " (" + why + ")");
        }
        return s;
    }

    /**
     * Loads the -m models, in order: up front, so a bad file fails at start (the server then stops and this throws, naming
     * the model and why) and the first request is fast. /health answers 503 "Loading model" until all are loaded.
     */
    void loadModels() {
        loadModels((name, millis) -> { });
    }

    /**
     * As {@link #loadModels()}, telling {@code loaded} each model's name and the milliseconds its load took (the
     * engine's warm-up included: the JIT compiling the kernels, which is most of it), once /health counts it ready.
     */
    public void loadModels(ObjLongConsumer<String> loaded) {
        try {
            for (String name : models.explicitNames()) {
                long t0 = System.nanoTime();
                models.preload(name, config.keepAlive());
                readiness.loaded(name);
                loaded.accept(name, (System.nanoTime() - t0) / 1_000_000);
            }
        } catch (RuntimeException e) {
            close();
            throw e instanceof HttpError h ? new JemmaException(h.getMessage()) : e;
        }
    }

    public int port() {
        return connector.getLocalPort();
    }

    public URI uri() {
        String h = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
        if (h.equals("0.0.0.0")) h = "127.0.0.1";
        return URI.create("http://" + h + ":" + port());
    }

    /**
     * A loud multi-line warning when the server listens beyond loopback without an API key (anyone who can reach the
     * port can run models, pull files into the store and delete them), else null.
     */
    public String exposureWarning() {
        return exposureWarning(config);
    }

    static String exposureWarning(Config c) {
        if (isLoopbackName(c.host()) || c.apiKey() != null) return null;
        String line = "*".repeat(78);
        return line + "\n"
                + "*  WARNING: jemma is listening on " + c.host() + " WITHOUT an API key.\n"
                + "*  Anyone who can reach port " + c.port() + " can run the models, pull files into the model store\n"
                + "*  and delete them. Set --api-key KEY (or JEMMA_API_KEY), or bind 127.0.0.1.\n"
                + line;
    }

    /** The -m models' names, in the order {@link #loadModels(ObjLongConsumer)} loads them. */
    public List<String> explicitModelNames() {
        return models.explicitNames();
    }

    public List<String> modelNames() {
        return models.available().stream().map(ModelManager.Entry::name).toList();
    }

    Config config() {
        return config;
    }

    /** Blocks until the server stops. */
    public void join() throws InterruptedException {
        server.join();
    }

    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception ignored) {
            // stopping is best effort
        }
        models.close();
    }

    /** Connections the connector holds open now (tests: every client of a wave has been accepted). */
    int openConnections() {
        return connector.getConnectedEndPoints().size();
    }

    /** HTTP threads busy with a request right now (tests check none stays stuck). */
    int busyHttpThreads() {
        return threads.getBusyThreads();
    }

    private final class Router extends Handler.Abstract {
        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            String path = Request.getPathInContext(request);
            boolean openAi = path.startsWith("/v1/");
            Exchange ex = new Exchange(request, response, openAi, config.maxBodyBytes());
            // a generation request is on its way to an engine from now until its prompt is queued there: an idle
            // engine's admission window waits for it rather than start a wave's first prompt alone. A connection's first
            // request was announced when the connection opened: that ticket becomes the request's, or ends here.
            Arrivals.Ticket opened = connectionArrivals.claim(request.getConnectionMetaData().getConnection());
            if (generates(request, path)) {
                ex.arrival = opened != null ? opened : arrivals.announce();
                // as its answer completes, the connection's next request counts as on its way (ConnectionArrivals);
                // before the last bytes go out, since a client sends that request as soon as it has them
                Connection connection = request.getConnectionMetaData().getConnection();
                ex.beforeComplete(() -> connectionArrivals.expectNext(connection));
            } else if (opened != null) {
                opened.close();
            }
            // Computing an answer is not idleness: only a stalled read or write (failed by Jetty itself) ends a request.
            request.addIdleTimeoutListener(t -> false);
            try {
                checkOrigin(ex);
                cors(ex);
                // A browser never sends credentials on a CORS preflight, so OPTIONS answers without the key (it
                // carries no data and runs nothing); the request that follows must have it.
                boolean preflight = request.getMethod().equals("OPTIONS");
                if (!preflight && (path.startsWith("/api/") || path.startsWith("/v1/"))) checkApiKey(ex);
                if (hasBody(request)) {
                    long declared = request.getLength();
                    if (declared > config.maxBodyBytes()) {
                        throw new HttpError(413, "request body too large (" + declared + " bytes; limit " + config.maxBodyBytes() + ")");
                    }
                    // Read without holding a thread: a client that sends half a body and stalls costs a buffer, not a
                    // worker, until the idle or body timeout ends it.
                    CompletableFuture<byte[]> body = new CompletableFuture<>();
                    Content.Source.asByteArrayAsync(request, (int) Math.min(Integer.MAX_VALUE - 8, config.maxBodyBytes() + 1),
                            Promise.Invocable.toPromise(body));
                    body.orTimeout(config.net().bodyTimeout().toMillis(), TimeUnit.MILLISECONDS)
                            .whenComplete((bytes, failure) -> threads.execute(() -> {
                                ex.receivedBody(bytes, failure, config.net().bodyTimeout());
                                process(ex, path, callback);
                            }));
                    return true;
                }
            } catch (HttpError e) {
                // Refused before its body was read: Jetty cannot tell the unread body from a next request, so it
                // closes the connection after the answer. Say so, or a pooling client sends its next request into
                // the closed connection (the JDK's HttpClient then fails it: "header parser received no bytes").
                if (hasBody(request)) response.getHeaders().put(HttpHeader.CONNECTION, "close");
                respondError(ex, callback, e.status, e.getMessage());
                return true;
            }
            process(ex, path, callback);
            return true;
        }

        /** Whether a request generates text (its prompt goes to an engine's scheduler). */
        private static boolean generates(Request request, String path) {
            return request.getMethod().equals("POST") && (path.equals("/api/generate") || path.equals("/api/chat")
                    || path.equals("/v1/chat/completions") || path.equals("/v1/completions"));
        }

                private static boolean hasBody(Request request) {
            return request.getLength() > 0 || (request.getLength() < 0 && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING));
        }

        private void process(Exchange ex, String path, Callback callback) {
            Request request = ex.request;
            // this thread prepares the request: its first work queued in an engine ends the arrival
            if (ex.arrival != null) ex.arrival.bind();
            try {
                if (request.getMethod().equals("OPTIONS")) {
                    if (config.corsOrigins().isEmpty()) {
                        throw new HttpError(403, "CORS is off: no origin may call this server from a web page (jemma serve --cors ORIGIN)");
                    }
                    ex.bytes(204, "text/plain", new byte[0]);
                } else {
                    route(ex, path);
                }
                metrics.onRequest(path, ex.response.getStatus());
                // before the answer completes: a client that sends its next request at once finds this one gone
                if (ex.arrival != null) ex.arrival.close();
                if (ex.finish()) callback.succeeded();
                else callback.failed(new IOException("client disconnected")); // nothing to answer to
            } catch (HttpError e) {
                respondError(ex, callback, e.status, e.getMessage());
            } catch (JemmaException e) {
                respondError(ex, callback, 400, e.getMessage());
            } catch (Throwable t) {
                Logger.getLogger(JemmaServer.class.getName()).log(Level.WARNING, "request " + path + " failed", t);
                respondError(ex, callback, 500, "internal error: " + t);
            } finally {
                // ended without reaching an engine (refused, failed, an empty prompt): no longer on its way
                if (ex.arrival != null) ex.arrival.close();
            }
        }

        private void respondError(Exchange ex, Callback callback, int status, String message) {
            // refused or failed: no longer on its way to an engine, and closed before the answer goes out (see process)
            if (ex.arrival != null) ex.arrival.close();
            metrics.onRequest(Request.getPathInContext(ex.request), ex.committed() ? ex.response.getStatus() : status);
            if (!ex.committed()) {
                // busy: say when to try again, as /health does while loading (OpenAI's and Ollama's clients honour it)
                if (status == 503) ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                ex.error(status, message);
                if (ex.finish()) callback.succeeded();
                else callback.failed(new IOException("client disconnected"));
            } else {
                callback.failed(new IOException(message));
            }
        }
    }

    /**
     * Refuses what a hostile web page could make a local browser send: a request from a foreign Origin (a simple
     * cross-site POST needs no CORS preflight, so the browser would deliver it) and, on a loopback bind, a Host that
     * is not a loopback name (DNS rebinding). Non-browser clients send no Origin and a loopback Host.
     */
    private void checkOrigin(Exchange ex) {
        if (loopbackBind() && !isOwnName(hostName(ex.header("Host")))) {
            throw new HttpError(403, "forbidden Host header (the server listens on " + config.host() + " only)");
        }
        String origin = ex.header("Origin");
        if (origin == null || config.corsOrigins().contains("*") || config.corsOrigins().contains(origin)) return;
        String host;
        try {
            host = URI.create(origin).getHost();
        } catch (IllegalArgumentException e) {
            host = null;
        }
        boolean sameSite = host != null && (isLoopbackName(host) || host.equalsIgnoreCase(hostName(ex.header("Host"))));
        if (!sameSite) throw new HttpError(403, "origin " + origin + " is not allowed (jemma serve --cors ORIGIN)");
    }

    private boolean loopbackBind() {
        return isLoopbackName(config.host());
    }

    /** Whether a Host header's name is this loopback server: a loopback name, or exactly the name it was bound to. */
    private boolean isOwnName(String name) {
        return isLoopbackName(name) || (name != null && bareHost(name).equalsIgnoreCase(bareHost(config.host())));
    }

    /**
     * Whether a host name (as in a Host header or an Origin, IPv6 in brackets or not) certainly means this machine:
     * {@code localhost}, an IPv4 literal in 127.0.0.0/8 or the IPv6 loopback literal. The name is parsed as a literal,
     * never resolved, and compared whole: {@code 127.0.0.1.attacker.example} is a DNS name, not a loopback address.
     */
    static boolean isLoopbackName(String h) {
        if (h == null || h.isEmpty()) return false;
        String x = bareHost(h);
        if (x.equalsIgnoreCase("localhost")) return true;
        // A literal has only hex digits, dots and colons; anything else (a DNS name) is not parsed at all.
        if (!x.matches("[0-9A-Fa-f.:]+")) return false;
        try {
            return java.net.InetAddress.ofLiteral(x).isLoopbackAddress();
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static String bareHost(String h) {
        return h.length() >= 2 && h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
    }

    /** The host name of a Host header ("127.0.0.1:11434" → "127.0.0.1", "[::1]:80" → "[::1]"). */
    private static String hostName(String hostHeader) {
        if (hostHeader == null) return null;
        if (hostHeader.startsWith("[")) {
            int end = hostHeader.indexOf(']');
            return end > 0 ? hostHeader.substring(0, end + 1) : hostHeader;
        }
        int colon = hostHeader.indexOf(':');
        return colon >= 0 ? hostHeader.substring(0, colon) : hostHeader;
    }

    private void cors(Exchange ex) {
        String origin = ex.header("Origin");
        if (origin == null || config.corsOrigins().isEmpty()) return;
        boolean any = config.corsOrigins().contains("*");
        if (!any && !config.corsOrigins().contains(origin)) return;
        var h = ex.response.getHeaders();
        h.put("Access-Control-Allow-Origin", any ? "*" : origin);
        if (!any) h.put(HttpHeader.VARY, "Origin");
        h.put("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        h.put("Access-Control-Allow-Headers", "Authorization, Content-Type");
        h.put("Access-Control-Max-Age", "600");
    }

    private void route(Exchange ex, String path) {
        String m = ex.method();
        if (path.equals("/") || path.startsWith("/static/") || path.equals("/favicon.ico")) {
            if (!m.equals("GET") && !m.equals("HEAD")) throw new HttpError(405, "method " + m + " not allowed on " + path);
            staticFile(ex, path);
            return;
        }
        if (path.equals("/metrics")) {
            // for scrapers; it names the loaded models, so behind the API key when one is set (as llama-server's)
            checkApiKey(ex);
            if (!m.equals("GET") && !m.equals("HEAD")) throw new HttpError(405, "method " + m + " not allowed on " + path);
            ex.bytes(200, ServerMetrics.contentType(), metrics.scrape());
            return;
        }
        if (path.equals("/health")) {
            // for load balancers and probes: no key needed, nothing revealed
            if (!m.equals("GET") && !m.equals("HEAD")) throw new HttpError(405, "method " + m + " not allowed on " + path);
            List<String> loading = readiness.loading();
            if (!loading.isEmpty()) {
                // llama-server's answer while it loads, word for word (probes and scripts match it), and which models
                ex.response.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
                var body = Exchange.JSON.createObjectNode();
                body.putObject("error").put("code", 503).put("message", "Loading model").put("type", "unavailable_error");
                loading.forEach(body.putArray("loading")::add);
                ex.json(503, body);
                return;
            }
            ex.json(200, Exchange.JSON.createObjectNode().put("status", "ok"));
            return;
        }
        if (path.startsWith("/api/") || path.startsWith("/v1/")) {
            checkApiKey(ex);
            if (EmbeddingApi.PATHS.contains(path)) embeddings.route(ex, m, path);
            else if (path.startsWith("/api/")) ollama.route(ex, m, path);
            else openai.route(ex, m, path);
            return;
        }
        throw HttpError.notFound("no such endpoint: " + m + " " + path);
    }

    private void checkApiKey(Exchange ex) {
        if (config.apiKey() == null) return;
        String auth = ex.header("Authorization");
        String given = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) ? auth.substring(7).strip() : null;
        if (given == null) given = ex.header("X-Api-Key");
        // Constant-time comparison so the key cannot be guessed byte by byte from response times.
        if (given == null || !MessageDigest.isEqual(given.getBytes(), config.apiKey().getBytes())) {
            ex.response.getHeaders().put(HttpHeader.WWW_AUTHENTICATE, "Bearer");
            throw new HttpError(401, "missing or wrong API key (send Authorization: Bearer KEY)");
        }
    }

    private static void staticFile(Exchange ex, String path) {
        String name = switch (path) {
            case "/" -> "index.html";
            case "/static/app.js" -> "app.js";
            case "/static/settings.js" -> "settings.js";
            case "/static/style.css" -> "style.css";
            case "/static/vendor/marked.umd.js" -> "vendor/marked.umd.js";
            case "/static/vendor/purify.min.js" -> "vendor/purify.min.js";
            default -> null;
        };
        if (name == null) throw HttpError.notFound("no such file: " + path);
        try (InputStream in = JemmaServer.class.getResourceAsStream("web/" + name)) {
            if (in == null) throw HttpError.notFound("no such file: " + path);
            String type = name.endsWith(".html") ? "text/html; charset=utf-8" : name.endsWith(".js")
                    ? "text/javascript; charset=utf-8" : "text/css; charset=utf-8";
            ex.response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
            ex.response.getHeaders().put("X-Content-Type-Options", "nosniff");
            // The page shows model output: scripts only from this server, no inline ones, so markup that slipped past
            // the page's sanitizer still could not run; images and audio of the conversation are data:/blob: URLs.
            if (name.equals("index.html")) {
                ex.response.getHeaders().put("Content-Security-Policy", "default-src 'self'; img-src 'self' data: blob:;"
                        + " media-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
            }
            ex.bytes(200, type, in.readAllBytes());
        } catch (IOException e) {
            throw new HttpError(500, "cannot read " + name);
        }
    }
}
