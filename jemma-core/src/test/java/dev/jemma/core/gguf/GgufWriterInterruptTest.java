package dev.jemma.core.gguf;

import dev.jemma.core.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A write ended by a signal (Ctrl-C, kill) leaves neither the model nor its temporary {@code .part} file: an
 * interrupted {@code jemma quantize} used to leave gigabytes of OUT.gguf.part behind. The write runs in a child JVM,
 * stopped with SIGTERM (Process.destroy), which runs the JVM's shutdown sequence as SIGINT does.
 */
@EnabledOnOs({OS.LINUX, OS.MAC})
class GgufWriterInterruptTest {
    @TempDir
    Path dir;

    /** The child: writes a GGUF whose one tensor never finishes, after saying it has started. */
    public static final class StalledWrite {
        public static void main(String[] args) {
            new GgufWriter().putString("general.architecture", "stalled")
                    .addTensor("t", new long[]{1 << 20}, GgmlType.F32, out -> {
                        out.write(new byte[1 << 16]);
                        out.flush();
                        System.out.println("writing");
                        System.out.flush();
                        try {
                            Thread.sleep(Long.MAX_VALUE);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }).write(Path.of(args[0]));
        }
    }

    @Test
    void aSignalMidWriteLeavesNoPartFile() throws Exception {
        Path out = dir.resolve("model.gguf"), part = dir.resolve("model.gguf.part");
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), StalledWrite.class.getName(), out.toString()))
                .redirectErrorStream(true).start();
        try {
            String first = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)).readLine();
            assertThat(first).isEqualTo("writing");
            assertThat(part).exists();
            p.destroy();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        assertThat(part).doesNotExist();
        assertThat(out).doesNotExist();
        assertThat(Files.list(dir).toList()).isEmpty();
    }
}
