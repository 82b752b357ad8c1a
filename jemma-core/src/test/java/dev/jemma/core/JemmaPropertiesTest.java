package dev.jemma.core;

import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.model.ModelLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** The -Djemma.* properties are the defaults of options that code can also set directly. */
class JemmaPropertiesTest {
    private static final String[] PROPS = {JemmaProperties.INT8, JemmaProperties.MEMORY_CHECK, JemmaProperties.STORE_HOME, JemmaProperties.CACHE_DIR};
    private final java.util.Map<String, String> saved = new java.util.HashMap<>();

    @org.junit.jupiter.api.BeforeEach
    void save() {
        // the build sets jemma.cache.dir for every test: put back whatever was there
        for (String p : PROPS) {
            saved.put(p, System.getProperty(p));
            System.clearProperty(p);
        }
    }

    @AfterEach
    void restore() {
        for (String p : PROPS) {
            if (saved.get(p) == null) System.clearProperty(p);
            else System.setProperty(p, saved.get(p));
        }
    }

    @Test
    void engineAndLoaderOptionsDefaultToTheProperties() {
        assertThat(EngineOptions.defaults().f32Activations()).isFalse();
        assertThat(EngineOptions.defaults().checkMemory()).isTrue();
        assertThat(new ModelLoader.Options(false, 1, 8).f32Activations()).isFalse();
        assertThat(new ModelLoader.Options(false, 1, 8).checkMemory()).isTrue();
        System.setProperty(JemmaProperties.INT8, "false");
        System.setProperty(JemmaProperties.MEMORY_CHECK, "false");
        assertThat(EngineOptions.defaults().f32Activations()).isTrue();
        assertThat(EngineOptions.defaults().checkMemory()).isFalse();
        assertThat(new ModelLoader.Options(false, 1, 8).f32Activations()).isTrue();
        assertThat(new ModelLoader.Options(false, 1, 8).checkMemory()).isFalse();
        // set in code, the option wins over the property
        assertThat(EngineOptions.builder().f32Activations(false).checkMemory(true).build().checkMemory()).isTrue();
        assertThat(new ModelLoader.Options(false, 1, 8).withF32Activations(false).f32Activations()).isFalse();
    }

    @Test
    void directories() {
        System.setProperty(JemmaProperties.STORE_HOME, "/tmp/jemma-home");
        assertThat(JemmaProperties.home()).isEqualTo(Path.of("/tmp/jemma-home"));
        assertThat(JemmaProperties.cacheDir()).isEqualTo(Path.of("/tmp/jemma-home/cache"));
        System.setProperty(JemmaProperties.CACHE_DIR, "/tmp/elsewhere");
        assertThat(JemmaProperties.cacheDir()).isEqualTo(Path.of("/tmp/elsewhere"));
    }
}
