package dev.jemma.core.media3n;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.ModelRef;
import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Where Gemma 3n's media look for their mmproj: given, pulled with a stored model, or beside the model file. */
class Gemma3nMmprojFindTest {
    @TempDir
    Path home;

    @Test
    void aStoredModelUsesTheProjectorPulledWithIt() throws Exception {
        ModelStore store = new ModelStore(home);
        String modelSha = "a".repeat(64), projSha = "b".repeat(64);
        Files.createDirectories(store.blobs());
        Path model = store.commitBlob(Files.writeString(home.resolve("m.part"), "model"), modelSha);
        Path proj = store.commitBlob(Files.writeString(home.resolve("p.part"), "mmproj"), projSha);
        // a stray mmproj*.gguf among the blobs must not be what is found
        Files.writeString(store.blobs().resolve("mmproj-other.gguf"), "x");
        ModelRef ref = ModelRef.parse("hf.co/org/gemma-3n-E2B-it-GGUF:Q4_0");
        store.writeManifest(ref, new StoredModel(ref.name(), "org/gemma-3n-E2B-it-GGUF", "gemma-3n-E2B-it-Q4_0.gguf", modelSha, 5, model,
                Instant.parse("2026-12-05T00:00:00Z"), new StoredModel.Projector("mmproj-F16.gguf", projSha, 6, proj)));
        assertThat(Gemma3nMmproj.find(model, null)).isEqualTo(proj);
        // an explicit --mmproj wins; a missing one is one line
        Path other = Files.writeString(home.resolve("mine.gguf"), "y");
        assertThat(Gemma3nMmproj.find(model, other)).isEqualTo(other);
        assertThatThrownBy(() -> Gemma3nMmproj.find(model, home.resolve("nope.gguf"))).isInstanceOf(JemmaException.class)
                .hasMessageEndingWith("nope.gguf: no such mmproj file");
    }

    @Test
    void aModelFileOutsideTheStoreUsesTheMmprojBesideIt() throws Exception {
        Path dir = Files.createDirectories(home.resolve("models-here"));
        Path model = Files.writeString(dir.resolve("gemma-3n-E2B-it-Q4_0.gguf"), "model");
        assertThat(Gemma3nMmproj.find(model, null)).isNull();
        Path proj = Files.writeString(dir.resolve("mmproj-gemma-3n-E2B-it-F16.gguf"), "mmproj");
        assertThat(Gemma3nMmproj.find(model, null)).isEqualTo(proj);
    }
}
