package dev.jemma.cli;

import dev.jemma.core.testing.Fixtures;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.tensor.Formats;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The acceptance check: {@code jemma run MODEL --raw --temp 0 -n 16 --ignore-eos --ids --exact PROMPT}
 * prints exactly the fixture's greedy ids, for every fixture file and prompt (Gemma 3 and Gemma 3n). Files with tensor types the
 * engine does not support yet are skipped (reported as such).
 */
class RunGreedyFixtureTest {
    static Path fixtures() {
        return Fixtures.shared();
    }

    static String unsupported(Path gguf) {
        try (GgufFile f = GgufFile.open(gguf)) {
            for (GgufTensorInfo t : f.tensors().values()) if (!Formats.isSupported(t.type())) return t.type().toString();
        }
        return null;
    }

    @TestFactory
    Stream<DynamicTest> greedyIdsOfEveryGemma3File() throws Exception {
        Path dir = fixtures();
        JsonNode models = new ObjectMapper().readTree(dir.resolve("manifest.json").toFile()).get("models");
        List<DynamicTest> tests = new ArrayList<>();
        for (var m : models.properties()) {
            JsonNode prompts = m.getValue().get("prompts");
            for (var v : m.getValue().get("variants").properties()) {
                Path file = dir.resolve(v.getValue().get("file").asText());
                for (var p : v.getValue().get("prompts").properties()) {
                    String text = prompts.get(p.getKey()).get("text").asText();
                    JsonNode want = p.getValue().get("greedy_ids");
                    tests.add(DynamicTest.dynamicTest(file.getFileName() + " " + p.getKey(), () -> {
                        String missing = unsupported(file);
                        Assumptions.assumeTrue(missing == null, file.getFileName() + ": tensor type " + missing + " not supported yet");
                        var r = CliTestSupport.run(null, "run", file.toString(), "--raw", "--temp", "0", "-n", "16",
                                "--ignore-eos", "--ids", "--exact", "-t", "2", text);
                        assertThat(r.exitCode()).as(r.err()).isZero();
                        assertThat(r.out().strip()).isEqualTo(want.toString().replace(",", ", "));
                    }));
                }
            }
        }
        assertThat(tests).hasSizeGreaterThanOrEqualTo(24);
        return tests.stream();
    }
}
