package dev.jemma.core.testing;

import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordingStream;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The JIT compiles of Jemma methods that a compiler gave up on for size while this is open (JFR's {@code jdk.Compilation}
 * and {@code jdk.CompilationFailure}, joined on the compile id): C1's "out of virtual registers …" and C2's "out of nodes …".
 * Why a test cares (docs/PERFORMANCE.md, "Boxed once in a whole-model step"): a kernel too big for C1's profiled tier
 * fails that compile in every JVM, but only some JVMs then reach C2 — in the others (when the failed compile was the
 * on-stack-replacement one) it stays at C1's counting tier for good and boxes every vector operation. Counting the boxed
 * bytes catches those JVMs only; the bailout shows in every one.
 */
public final class JitSizeBailouts implements AutoCloseable {
    private final RecordingStream stream = new RecordingStream();
    private final Map<Long, String> failures = new ConcurrentHashMap<>();
    private final Map<Long, String> methods = new ConcurrentHashMap<>();

    public JitSizeBailouts() {
        stream.enable("jdk.Compilation").withThreshold(Duration.ZERO);
        stream.enable("jdk.CompilationFailure");
        stream.onEvent("jdk.CompilationFailure", e -> failures.put(e.getLong("compileId"), e.getString("failureMessage")));
        stream.onEvent("jdk.Compilation", e -> {
            RecordedMethod m = e.getValue("method");
            if (m != null && m.getType().getName().startsWith("dev.jemma.")) {
                methods.put(e.getLong("compileId"), m.getType().getName() + "." + m.getName() + " at tier " + e.getValue("compileLevel")
                        + (e.getBoolean("isOsr") ? " (on-stack replacement)" : ""));
            }
        });
        stream.startAsync();
    }

    /**
     * Every size bailout of a Jemma method so far, one line each ("method at tier N: message"), once the JIT has gone
     * quiet (no compile time added for half a second, at most 30 s: the last compiles asked for may still be queued) and
     * JFR has delivered its events.
     */
    public List<String> stop() {
        JitSettled.awaitNoCompileTime(System.nanoTime() + 30_000_000_000L);
        stream.stop();
        List<String> out = new ArrayList<>();
        failures.forEach((id, message) -> {
            String method = methods.get(id);
            if (method != null && message != null && message.startsWith("out of")) out.add(method + ": " + message);
        });
        return out;
    }

    @Override
    public void close() {
        stream.close();
    }
}
