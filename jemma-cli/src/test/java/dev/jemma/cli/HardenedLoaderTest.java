package dev.jemma.cli;

import dev.jemma.core.testing.Fixtures;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.tensor.GgmlType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 22 through the real command line. Finding 5: a corrupt hyper-parameter gives one line naming the file, the
 * key and the value, exit 1, for run, chat, show, bench and logits, and serve refuses the model with the same line.
 * Finding 7: {@code -t} is capped at the cores with a warning; a file's bytes never reach the terminal raw.
 */
class HardenedLoaderTest {
    @TempDir
    Path dir;

    private static Path gemma3nTiny() {
        return Fixtures.shared().resolve("gemma3n-tiny/gemma3n-tiny-Q8_0.gguf");
    }

    private Path edited(Path src, String name, Consumer<GgufWriter> edit) {
        Path out = dir.resolve(name);
        try (GgufFile f = GgufFile.open(src)) {
            GgufWriter w = new GgufWriter().copyMetadata(f);
            edit.accept(w);
            for (GgufTensorInfo t : f.tensors().values()) {
                w.addTensor(t.name(), t.dims(), t.type(), o -> o.write(f.tensorData(t).toArray(ValueLayout.JAVA_BYTE)));
            }
            w.write(out);
        }
        return out;
    }

    /** Every command that reads the model fails with exit 1 and one "jemma: FILE: …" line containing {@code expected}. */
    private void assertRefusedEverywhere(Path file, String... expected) {
        Path ids = dir.resolve("ids.json");
        try {
            Files.writeString(ids, "[2, 5, 7]");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        String f = file.toString();
        String[][] commands = {
                {"run", f, "hello", "-n", "2", "-t", "1"},
                {"show", f},
                {"show", "--json", f},
                {"bench", f, "-p", "4", "-n", "2", "-r", "1", "-t", "1"},
                {"logits", f, "--ids-file", ids.toString(), "-o", dir.resolve("out.f32").toString(), "-t", "1"},
                {"serve", "--port", "0", "-m", f, "-t", "1"}};
        for (String[] cmd : commands) {
            var r = CliTestSupport.run(null, cmd);
            String what = String.join(" ", cmd) + " → " + r.err();
            assertThat(r.exitCode()).as(what).isEqualTo(1);
            assertThat(r.err().lines().toList()).as(what).hasSize(1);
            assertThat(r.err()).as(what).startsWith("jemma: ").contains(file.getFileName() + ": ").doesNotContain("internal error")
                    .doesNotContain("Exception").doesNotContain("out of memory");
            for (String x : expected) assertThat(r.err()).as(what).contains(x);
        }
        var chat = CliTestSupport.run("hi\n/bye\n", "chat", f, "-n", "2", "-t", "1");
        assertThat(chat.exitCode()).as(chat.err()).isEqualTo(1);
        assertThat(chat.err().lines().filter(l -> l.startsWith("jemma: ")).toList()).as(chat.err()).hasSize(1);
        for (String x : expected) assertThat(chat.err()).contains(x);
        assertThat(dir.resolve("out.f32")).doesNotExist();
    }

    @Test
    void gemma3nFeedForwardLengthMismatchingTheTensors() {
        Path f = edited(gemma3nTiny(), "ffn.gguf", w -> {
            int[] ffn = new int[22];
            java.util.Arrays.fill(ffn, 512);
            ffn[5] = 256;
            w.putInts("gemma3n.feed_forward_length", ffn);
        });
        assertRefusedEverywhere(f, "gemma3n.feed_forward_length[5]: value 256");
    }

    @Test
    void rmsEpsilonNaN() {
        Path f = edited(Path.of(RunCommandTest.TINY), "eps.gguf", w -> w.putF32("gemma3.attention.layer_norm_rms_epsilon", Float.NaN));
        assertRefusedEverywhere(f, "gemma3.attention.layer_norm_rms_epsilon: value NaN");
    }

    @Test
    void absurdBlockCount() {
        Path f = edited(Path.of(RunCommandTest.TINY), "blocks.gguf", w -> w.putU32("gemma3.block_count", 1_900_000_000L));
        assertRefusedEverywhere(f, "gemma3.block_count: value 1900000000");
    }

    @Test
    void threadsAreCappedAtTheCores() {
        int cores = Runtime.getRuntime().availableProcessors();
        int asked = cores + 3000;
        var bean = ManagementFactory.getThreadMXBean();
        int before = bean.getThreadCount();
        bean.resetPeakThreadCount();
        var r = CliTestSupport.run(null, "run", RunCommandTest.TINY, "hello", "-n", "2", "-t", String.valueOf(asked));
        assertThat(r.exitCode()).as(r.err()).isZero();
        assertThat(r.err()).contains("jemma: warning: -t " + asked + " is more than the " + cores + " cores");
        assertThat(bean.getPeakThreadCount()).isLessThan(before + cores + 50);
        var b = CliTestSupport.run(null, "bench", RunCommandTest.TINY, "-p", "4", "-n", "2", "-r", "1", "-t", String.valueOf(asked), "--json");
        assertThat(b.exitCode()).as(b.err()).isZero();
        assertThat(b.out()).contains("\"threads\":" + cores + ",");
        assertThat(bean.getPeakThreadCount()).isLessThan(before + cores + 50);
    }

    @Test
    void fileBytesNeverReachTheTerminalRaw() {
        // general.name with the escape codes that clear the screen and home the cursor, and a control-laden type
        Path named = edited(Path.of(RunCommandTest.TINY), "named.gguf", w -> w.putString("general.name", "\u001b[2J\u001b[Hpwned\u0007"));
        var show = CliTestSupport.run(null, "show", named.toString());
        assertThat(show.exitCode()).as(show.err()).isZero();
        assertThat(show.out()).contains("\\x1b[2J\\x1b[Hpwned\\x07").doesNotContain("\u001b").doesNotContain("\u0007");

        // a 4,000-byte tensor name full of control bytes, in a file refused for it (listed twice)
        String name = "\u001b[31m" + "A\r\n".repeat(1333);
        Path longName = dir.resolve("longname.gguf");
        new GgufWriter().putString("general.architecture", "gemma3")
                .addTensor(name, new long[]{32}, GgmlType.F32, o -> o.write(new byte[128]))
                .addTensor(name, new long[]{32}, GgmlType.F32, o -> o.write(new byte[128]))
                .write(longName);
        var r = CliTestSupport.run(null, "show", longName.toString());
        assertThat(r.exitCode()).isEqualTo(1);
        assertThat(r.err().lines().toList()).as(r.err()).hasSize(1);
        assertThat(r.err()).contains("duplicate name").contains("more characters").doesNotContain("\u001b").doesNotContain("\r");
        assertThat(r.err().length()).as(r.err()).isLessThan(300 + longName.toString().length());

        // an unsupported architecture whose name is an escape sequence
        Path arch = edited(Path.of(RunCommandTest.TINY), "arch.gguf", w -> w.put("general.architecture", GgufValueType.STRING, null, "\u001b]0;x\u0007"));
        var a = CliTestSupport.run(null, "run", arch.toString(), "hi");
        assertThat(a.exitCode()).isEqualTo(1);
        assertThat(a.err()).contains("\\x1b]0;x\\x07").doesNotContain("\u001b");
    }
}
