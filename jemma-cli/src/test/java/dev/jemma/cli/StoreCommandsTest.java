package dev.jemma.cli;

import dev.jemma.core.testing.MultimodalFixtures;
import com.sun.net.httpserver.HttpServer;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.store.ModelStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/** jemma pull / list / rm through the real command line against a loopback hub, then the pulled model runs and is removed with its weight cache. */
class StoreCommandsTest {
    @TempDir
    Path home;
    HttpServer hub;

    @BeforeEach
    void setUp() throws Exception {
        hub = hub("org/tiny-GGUF", Map.of("tiny-Q4_0.gguf", Files.readAllBytes(Path.of(RunCommandTest.TINY))));
        System.setProperty("jemma.hf.endpoint", "http://127.0.0.1:" + hub.getAddress().getPort());
        System.setProperty("jemma.store.home", home.toString());
    }

    @AfterEach
    void tearDown() {
        System.clearProperty("jemma.hf.endpoint");
        System.clearProperty("jemma.store.home");
        hub.stop(0);
    }

    @Test
    void pullListRunRemove() {
        var pull = CliTestSupport.run(null, "pull", "hf.co/org/tiny-GGUF");
        assertThat(pull.exitCode()).as(pull.err()).isZero();
        assertThat(pull.out()).contains("hf.co/org/tiny-GGUF:latest");
        assertThat(pull.err()).contains("pulling manifest", "verifying sha256 digest");

        var list = CliTestSupport.run(null, "list");
        assertThat(list.out()).contains("NAME", "hf.co/org/tiny-GGUF:latest");

        // Every command resolves store names through ModelPaths.
        var run = CliTestSupport.run(null, "run", "hf.co/org/tiny-GGUF", "Hello", "-n", "3", "--ids");
        assertThat(run.exitCode()).as(run.err()).isZero();
        assertThat(run.out().strip()).startsWith("[").endsWith("]");

        // the run built the model's interleaved weight cache; rm removes it with the blob
        Path blob = ModelStore.open().find("hf.co/org/tiny-GGUF").orElseThrow().path();
        Path cache = RepackCache.cacheFileFor(blob);
        assertThat(cache).exists();

        var rm = CliTestSupport.run(null, "rm", "hf.co/org/tiny-GGUF");
        assertThat(rm.exitCode()).isZero();
        assertThat(rm.out()).contains("deleted 'hf.co/org/tiny-GGUF' and its weight cache (");
        assertThat(cache).doesNotExist();
        assertThat(CliTestSupport.run(null, "list").out()).doesNotContain("tiny-GGUF");
        var again = CliTestSupport.run(null, "rm", "hf.co/org/tiny-GGUF");
        assertThat(again.exitCode()).isEqualTo(1);
        assertThat(again.err().strip()).startsWith("jemma: ").contains("not in the store").doesNotContain("\n");
    }

    @Test
    void pullErrorsAreOneLine() {
        var gated = CliTestSupport.run(null, "pull", "hf.co/org/gated-GGUF");
        assertThat(gated.exitCode()).isEqualTo(1);
        assertThat(gated.err().lines().filter(l -> l.startsWith("jemma: ")).findFirst().orElse(""))
                .contains("401", "HF_TOKEN");
        var traversal = CliTestSupport.run(null, "pull", "hf.co/../../etc");
        assertThat(traversal.exitCode()).isEqualTo(1);
        assertThat(traversal.err().strip()).startsWith("jemma: invalid model name").doesNotContain("\n");
        var missing = CliTestSupport.run(null, "run", "gemma3:1b", "hi");
        assertThat(missing.exitCode()).isEqualTo(1);
        assertThat(missing.err()).contains("jemma pull gemma3:1b");
    }

    /** A vision repository (model + mmproj, as llama.cpp's Gemma 3 repositories are laid out): pull fetches both and run sees images. */
    @Test
    void pullFetchesTheProjectorAndRunSeesImages() throws Exception {
        Path dir = MultimodalFixtures.root().resolve("gemma3-vision-tiny");
        byte[] model = Files.readAllBytes(dir.resolve("gemma3-vision-tiny-Q8_0.gguf"));
        byte[] mmproj = Files.readAllBytes(dir.resolve("mmproj-gemma3-vision-tiny-F16.gguf"));
        HttpServer vision = hub("org/vision-GGUF", orderedFiles("vision-Q8_0.gguf", model, "mmproj-vision-F16.gguf", mmproj));
        try {
            System.setProperty("jemma.hf.endpoint", "http://127.0.0.1:" + vision.getAddress().getPort());
            var pull = CliTestSupport.run(null, "pull", "hf.co/org/vision-GGUF");
            assertThat(pull.exitCode()).as(pull.err()).isZero();
            assertThat(pull.out()).contains("hf.co/org/vision-GGUF:latest").contains("+ projector").contains("mmproj-vision-F16.gguf");
            assertThat(pull.err()).contains("pulling vision-Q8_0.gguf", "pulling mmproj-vision-F16.gguf");
            var run = CliTestSupport.run(null, "run", "hf.co/org/vision-GGUF", "--image", dir.resolve("media/square-224x224.png").toString(),
                    "-n", "3", "-t", "2", "--temp", "0", "--ids", "Describe this picture in one short sentence.");
            assertThat(run.exitCode()).as(run.err()).isZero();
            assertThat(run.out().strip()).startsWith("[").endsWith("]");
            var show = CliTestSupport.run(null, "show", "hf.co/org/vision-GGUF");
            assertThat(show.exitCode()).as(show.err()).isZero();
            assertThat(show.out()).contains("SigLIP 3 layers");
            var rm = CliTestSupport.run(null, "rm", "hf.co/org/vision-GGUF");
            assertThat(rm.exitCode()).isZero();
            try (var blobs = Files.list(home.resolve("models/blobs"))) {
                assertThat(blobs.map(b -> b.getFileName().toString()).toList())
                        .as("model and projector blobs removed, and no lock file left").isEmpty();
            }
        } finally {
            vision.stop(0);
        }
    }

    /**
     * A Gemma 3n repository (model + mmproj): the default mode repacks the mmproj's vision tower into a weight cache of
     * its own, named after the projector's blob; rm removes it with the model's.
     */
    @Test
    void rmRemovesTheProjectorsWeightCacheToo(@TempDir Path out) throws Exception {
        Path dir = MultimodalFixtures.root().resolve("gemma3n-mm-tiny");
        byte[] model = Files.readAllBytes(dir.resolve("gemma3n-mm-tiny-F16.gguf"));
        byte[] mmproj = Files.readAllBytes(dir.resolve("mmproj-gemma3n-mm-tiny-F16.gguf"));
        HttpServer hub3n = hub("org/e2b-GGUF", orderedFiles("e2b-F16.gguf", model, "mmproj-e2b-F16.gguf", mmproj));
        try {
            System.setProperty("jemma.hf.endpoint", "http://127.0.0.1:" + hub3n.getAddress().getPort());
            var pull = CliTestSupport.run(null, "pull", "hf.co/org/e2b-GGUF");
            assertThat(pull.exitCode()).as(pull.err()).isZero();
            var stored = ModelStore.open().find("hf.co/org/e2b-GGUF").orElseThrow();
            assertThat(stored.projector()).isNotNull();
            var embed = CliTestSupport.run(null, "embed-image", "hf.co/org/e2b-GGUF", dir.resolve("media/square-224x224.png").toString(),
                    "-o", out.resolve("e.f32").toString(), "-t", "2");
            assertThat(embed.exitCode()).as(embed.err()).isZero();
            var caches = RepackCache.cacheFilesFor(stored.projector().path());
            assertThat(caches).as("the vision tower's weight cache").isNotEmpty().allMatch(Files::exists);
            var rm = CliTestSupport.run(null, "rm", "hf.co/org/e2b-GGUF");
            assertThat(rm.exitCode()).as(rm.err()).isZero();
            assertThat(caches).noneMatch(Files::exists);
            assertThat(stored.projector().path()).doesNotExist();
        } finally {
            hub3n.stop(0);
        }
    }

    /**
     * A loopback stand-in for the Hugging Face hub holding one repository: its file tree (with LFS sizes and SHA-256s, as
     * the hub lists them) and each file's download; a gated repository answers 401, anything else 404.
     */
    private static HttpServer hub(String repo, Map<String, byte[]> files) throws IOException {
        HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        String tree = files.entrySet().stream().map(f -> entry(f.getKey(), f.getValue())).collect(Collectors.joining(",", "[", "]"));
        server.createContext("/", ex -> {
            try (ex) {
                String p = ex.getRequestURI().getPath();
                String prefix = "/" + repo + "/resolve/main/";
                byte[] body = p.equals("/api/models/" + repo + "/tree/main") ? tree.getBytes(StandardCharsets.UTF_8)
                        : p.startsWith(prefix) ? files.get(p.substring(prefix.length())) : null;
                if (body == null) {
                    ex.sendResponseHeaders(p.startsWith("/api/models/org/gated") ? 401 : 404, -1);
                    return;
                }
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body);
            }
        });
        server.start();
        return server;
    }

    private static Map<String, byte[]> orderedFiles(String name1, byte[] file1, String name2, byte[] file2) {
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put(name1, file1);
        files.put(name2, file2);
        return files;
    }

    private static String entry(String path, byte[] content) {
        String sha;
        try {
            sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return "{\"type\":\"file\",\"path\":\"" + path + "\",\"size\":" + content.length + ",\"lfs\":{\"oid\":\"" + sha
                + "\",\"size\":" + content.length + "}}";
    }
}
