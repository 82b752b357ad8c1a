package dev.jemma.core.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

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
        try {
            return Path.of(Fixtures.class.getResource("/fixtures/manifest-lite.json").toURI()).getParent();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The shared fixtures when present, otherwise the bundled core. */
    public static Path any() {
        return sharedAvailable() ? Path.of(System.getProperty("jemma.fixtures")) : bundled();
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
