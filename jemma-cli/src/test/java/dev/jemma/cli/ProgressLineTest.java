package dev.jemma.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The progress bar of quantize / convert / perplexity on a terminal: a job stopped by Ctrl-C ends the bar's line, so
 * the shell's prompt starts on its own (it followed the bar, "…blk.12.ffn_norm.weight^C$ ").
 */
class ProgressLineTest {
    /** The child: draws a bar as on a terminal, then waits to be stopped. */
    public static final class StoppedJob {
        public static void main(String[] args) throws InterruptedException {
            new ProgressLine(System.out, "quantize", true).update(3, 10, "blk.0.ffn_up.weight");
            System.out.flush();
            Thread.sleep(Long.MAX_VALUE);
        }
    }

    @Test
    @EnabledOnOs({OS.LINUX, OS.MAC})
    void aSignalEndsTheDrawnLine(@TempDir Path dir) throws Exception {
        Path log = dir.resolve("stdout");
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), StoppedJob.class.getName())).redirectOutput(log.toFile()).start();
        try {
            // wait until the bar is drawn (it ends with the erase-line sequence), then stop the job as Ctrl-C would
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(log, StandardCharsets.UTF_8).endsWith("\u001b[K")) {
                assertThat(p.isAlive()).as("the child ended before drawing: %s", Files.readString(log, StandardCharsets.UTF_8)).isTrue();
                assertThat(System.nanoTime()).as("no bar within 60 s").isLessThan(deadline);
                Thread.sleep(20);
            }
            p.destroy();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        } finally {
            p.destroyForcibly();
        }
        assertThat(Files.readString(log, StandardCharsets.UTF_8)).startsWith("\rquantize  30% [")
                .endsWith("blk.0.ffn_up.weight\u001b[K" + System.lineSeparator());
    }

    @Test
    void finishingTwiceEndsTheLineOnce() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ProgressLine line = new ProgressLine(new PrintStream(out, true, StandardCharsets.UTF_8), "convert", true);
        line.update(10, 10, "done");
        line.finish();
        line.finish();
        assertThat(out.toString(StandardCharsets.UTF_8)).endsWith("done\u001b[K" + System.lineSeparator())
                .doesNotEndWith(System.lineSeparator() + System.lineSeparator());
    }
}
