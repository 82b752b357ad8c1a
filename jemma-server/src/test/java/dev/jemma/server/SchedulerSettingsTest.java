package dev.jemma.server;

import dev.jemma.core.engine.EngineOptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;

/** The scheduler's settings of {@code jemma serve} reach the engine a model is loaded with. */
class SchedulerSettingsTest {
    private static EngineOptions loadedWith(JemmaServer.Config c) throws Exception {
        var path = TestServers.tinyModel();
        var entry = new ModelManager.Entry(TestServers.MODEL, path, "", Files.size(path), Instant.now());
        ServedModel m = EngineModel.loader(c).apply(entry);
        try {
            return ((EngineModel) m).engine().options();
        } finally {
            m.close();
        }
    }

    @Test
    void wholePromptChunkAndAdmissionWindowReachTheEngine() throws Exception {
        JemmaServer.Config base = TestServers.config().withEngine(1, false, 0).withLimits(2, 4, java.time.Duration.ofSeconds(5));
        EngineOptions o = loadedWith(base.withWholePrompt(48).withBatchChunk(12).withAdmissionWindow(7));
        assertThat(o.admissionMillis()).isEqualTo(7);
        assertThat(o.wholePromptOrDefault()).isEqualTo(48);
        assertThat(o.batchChunkOrDefault()).isEqualTo(12);
        assertThat(loadedWith(base.withWholePrompt(-1)).wholePromptOrDefault()).as("-1: chunk every prompt").isZero();
        assertThat(base.wholePrompt()).as("unset").isZero();
        assertThat(loadedWith(base).admissionMillis()).isEqualTo(JemmaServer.DEFAULT_ADMISSION_MILLIS);
    }
}
