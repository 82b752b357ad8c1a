package dev.jemma.server;

import dev.jemma.core.JemmaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code jemma serve -m a/model.gguf -m b/model.gguf} serves both under the name "model": the second file used to hide
 * the first with no word; now the server refuses to start, naming both. The same file given twice is still one model.
 */
class ModelNameClashTest {
    @TempDir
    Path dir;

    @Test
    void twoFilesWithOneNameAreRefused() throws Exception {
        Path a = Files.copy(TestServers.tinyModel(), Files.createDirectory(dir.resolve("a")).resolve("model.gguf"));
        Path b = Files.copy(TestServers.tinyModel(), Files.createDirectory(dir.resolve("b")).resolve("model.gguf"));
        assertThatThrownBy(() -> TestServers.start(TestServers.config().withModels(List.of(a.toString(), b.toString())), dir.resolve("home")))
                .isInstanceOf(JemmaException.class)
                .hasMessage(b + ": its name 'model' is already served from " + a
                        + " (-m serves a file under its name without .gguf; rename one of them)");
    }

    @Test
    void theSameFileTwiceIsOneModel() throws Exception {
        Path a = Files.copy(TestServers.tinyModel(), dir.resolve("model.gguf"));
        JemmaServer s = TestServers.start(TestServers.config().withModels(List.of(a.toString(), dir.resolve(".").resolve("model.gguf").toString())),
                dir.resolve("home"));
        try {
            assertThat(TestServers.get(s, "/v1/models").json().path("data").size()).isEqualTo(1);
        } finally {
            s.close();
        }
    }
}
