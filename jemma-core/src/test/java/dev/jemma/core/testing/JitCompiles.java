package dev.jemma.core.testing;

import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordingStream;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Every JIT compile of a Jemma method while this is open, failed ones with the compiler's reason (JFR's
 * {@code jdk.Compilation} and {@code jdk.CompilationFailure}, joined on the compile id). {@link JitSizeBailouts} keeps
 * only the size bailouts; the C1 scan ({@code C1Scan}) needs every compile too, to show which methods its driver reached.
 */
public final class JitCompiles implements AutoCloseable {
    /**
     * One compile: the method as {@code class.name}, its descriptor, the tier, whether on-stack replacement, and the
     * failure message (null: it succeeded).
     */
    public record Compile(String method, String descriptor, int level, boolean osr, String failure) {
    }

    private final RecordingStream stream = new RecordingStream();
    private final Map<Long, String> failures = new ConcurrentHashMap<>();
    private final Map<Long, Compile> compiles = new ConcurrentHashMap<>();

    public JitCompiles() {
        stream.enable("jdk.Compilation").withThreshold(Duration.ZERO);
        stream.enable("jdk.CompilationFailure");
        stream.onEvent("jdk.CompilationFailure", e -> failures.put(e.getLong("compileId"), e.getString("failureMessage")));
        stream.onEvent("jdk.Compilation", e -> {
            RecordedMethod m = e.getValue("method");
            if (m != null && m.getType().getName().startsWith("dev.jemma.")) {
                compiles.put(e.getLong("compileId"), new Compile(m.getType().getName() + "." + m.getName(), m.getDescriptor(),
                        e.getShort("compileLevel"), e.getBoolean("isOsr"), null));
            }
        });
        stream.startAsync();
    }

    /**
     * Every compile of a Jemma method so far, once the JIT has gone quiet (no Jemma method queued or being compiled, and
     * no compile time added for half a second; at most 60 s, or the budget given) and JFR has delivered its events. The queue matters: one
     * large kernel's C1 compile on a loaded machine can take longer than the half second, adding no compile time until
     * it ends.
     */
    public List<Compile> stop() {
        return stop(Duration.ofSeconds(60));
    }

    /** {@link #stop()} waiting at most {@code budget} for the JIT to go quiet. */
    public List<Compile> stop(Duration budget) {
        long deadline = System.nanoTime() + budget.toNanos();
        while (JitSettled.dcmd("compilerQueue").contains("dev.jemma.") && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        JitSettled.awaitNoCompileTime(deadline);
        stream.stop();
        List<Compile> out = new ArrayList<>();
        compiles.forEach((id, c) -> {
            String failure = failures.get(id);
            out.add(failure == null ? c : new Compile(c.method(), c.descriptor(), c.level(), c.osr(), failure));
        });
        return out;
    }

    @Override
    public void close() {
        stream.close();
    }
}
