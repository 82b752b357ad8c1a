package dev.jemma.core.model;

import dev.jemma.core.gguf.GgufFile;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** The registry of supported architectures, by {@code general.architecture}. */
public final class Architectures {
    private static final Map<String, Architecture> BY_NAME = new LinkedHashMap<>();

    static {
        // one line per architecture
        register(new Gemma3Architecture());
        register(new Gemma3nArchitecture());
        register(new GemmaEmbeddingArchitecture());
    }

    private Architectures() {
    }

    private static void register(Architecture a) {
        BY_NAME.put(a.name(), a);
    }

    /** The supported {@code general.architecture} values, in registration order. */
    public static List<String> names() {
        return List.copyOf(BY_NAME.keySet());
    }

    /** The architecture called {@code name}, or null. */
    public static Architecture byName(String name) {
        return BY_NAME.get(name);
    }

    /** The architecture of {@code file}; refuses a missing or unsupported {@code general.architecture}. */
    public static Architecture of(GgufFile file) {
        String arch = ConfigReader.architecture(file);
        Architecture a = BY_NAME.get(arch);
        if (a == null) {
            throw file.error("general.architecture: '" + dev.jemma.core.Printable.of(arch) + "' is not supported (supported: "
                    + BY_NAME.keySet().stream().collect(Collectors.joining(", ")) + ")");
        }
        return a;
    }
}
