package dev.jemma.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Locates reference fixtures: the full set in ../shared/fixtures (system property {@code jemma.fixtures}), or the
 * small core copied into test resources. Tests needing the full set skip when it is absent, except under CI
 * ({@code JEMMA_REQUIRE_FIXTURES=1}) where that is a failure.
 */
public final class Fixtures {
    private Fixtures() {
    }

    /** The shared fixture directory; skips (or fails under CI) when missing. */
    public static Path shared() {
        String p = System.getProperty("jemma.fixtures");
        Path dir = p == null ? null : Path.of(p);
        if (dir == null || !Files.isDirectory(dir)) {
            if ("1".equals(System.getenv("JEMMA_REQUIRE_FIXTURES"))) {
                throw new AssertionError("shared fixtures missing at " + p + " (JEMMA_REQUIRE_FIXTURES=1)");
            }
            Assumptions.abort("shared fixtures not found at " + p + "; only the bundled core fixtures are tested");
        }
        return dir;
    }

    public static boolean sharedAvailable() {
        String p = System.getProperty("jemma.fixtures");
        return p != null && Files.isDirectory(Path.of(p));
    }

    /** The bundled core fixtures (test resources/fixtures). */
    public static Path bundled() {
        return coreResource("fixtures");
    }

    /**
     * A file or folder of jemma-core's test resources as a path, for the tests of every module: in jemma-core and
     * wherever its test classes are a folder that is the resource itself; where they arrive as jemma-core's test-jar
     * (another module's tests in a packaging build) it is copied out of the jar once per JVM, because the engine maps
     * model files and cannot read them inside a jar.
     */
    public static synchronized Path coreResource(String name) {
        URL url = Fixtures.class.getResource("/" + name);
        if (url == null) throw new IllegalStateException("no test resource /" + name + " in jemma-core's test classes");
        try {
            if (url.getProtocol().equals("file")) return Path.of(url.toURI());
            if (extracted == null) {
                extracted = Files.createTempDirectory("jemma-core-tests");
                Path dir = extracted;
                Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(dir)));
            }
            Path target = extracted.resolve(name);
            if (Files.exists(target)) return target;
            String jar = url.toString().substring(0, url.toString().indexOf("!/"));
            try (FileSystem fs = FileSystems.newFileSystem(URI.create(jar), Map.of())) {
                Path source = fs.getPath("/" + name);
                try (Stream<Path> files = Files.walk(source)) {
                    for (Path f : (Iterable<Path>) files::iterator) {
                        Path to = target.resolve(source.relativize(f).toString());
                        if (Files.isDirectory(f)) Files.createDirectories(to);
                        else Files.copy(f, Files.createDirectories(to.getParent()).resolve(to.getFileName()));
                    }
                }
            }
            return target;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path extracted;

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // a temp folder left behind is harmless
        }
    }

    /**
     * The repository's demo chat model ({@code models/jemma-demo.gguf}, what {@code jemma run} uses without a model):
     * every module's tests run in the module's folder, beside {@code models/}.
     */
    public static Path demoModel() {
        return Path.of("../models/jemma-demo.gguf").toAbsolutePath().normalize();
    }

    /** The shared fixtures when present, otherwise the bundled core. */
    public static Path any() {
        return sharedAvailable() ? Path.of(System.getProperty("jemma.fixtures")) : bundled();
    }

    /**
     * The GGUF of a fixture model's variant (e.g. gemma3-small-k, Q4_K_M); the test is skipped (JUnit's abort, called
     * only then, so that mains without JUnit on the class path can use this) where the fixtures here lack it.
     */
    public static Path variant(String model, String variant) {
        JsonNode m = manifest().path("models").path(model);
        Path p = any().resolve(m.path("variants").path(variant).path("file").asText());
        if (m.isMissingNode() || !Files.isRegularFile(p)) {
            Assumptions.abort(model + " " + variant + " is not in the fixtures here");
        }
        return p;
    }

    public static JsonNode manifest() {
        try {
            return new ObjectMapper().readTree(bundled().resolve("manifest-lite.json").toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] ints(JsonNode array) {
        int[] r = new int[array.size()];
        for (int i = 0; i < r.length; i++) r[i] = array.get(i).asInt();
        return r;
    }

    public static float[] readF32(Path file) {
        try {
            byte[] b = Files.readAllBytes(file);
            float[] f = new float[b.length / 4];
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
            return f;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
