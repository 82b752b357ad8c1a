package dev.jemma.core.store;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Model names: short names from the catalog, hub references, and where their manifests live in the store. */
class ModelRefTest {
    @Test
    void shortNamesMapToTheCatalog() {
        assertThat(ModelRef.parse("gemma3:4b").repo()).isEqualTo("google/gemma-3-4b-it-qat-q4_0-gguf");
        assertThat(ModelRef.parse("gemma3").name()).isEqualTo("gemma3:4b");
        assertThat(ModelRef.parse("gemma3:270m").repo()).isEqualTo("google/gemma-3-270m-it-qat-q4_0-gguf");
        assertThat(ModelRef.parse("gemma3:27b").quant()).isEqualTo("Q4_0");
        assertThat(ModelRef.parse("gemma3n:e4b").repo()).isEqualTo("unsloth/gemma-3n-E4B-it-GGUF");
        assertThat(ModelRef.parse("hf.co/org/repo").name()).isEqualTo("hf.co/org/repo:latest");
        assertThat(ModelRef.parse("https://huggingface.co/org/repo:q8_0").name()).isEqualTo("hf.co/org/repo:q8_0");
        assertThat(ModelRef.parse("gemma3:4b").manifestPath()).isEqualTo("library/gemma3/4b.json");
    }
}
