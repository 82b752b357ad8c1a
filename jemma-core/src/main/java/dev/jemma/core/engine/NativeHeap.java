package dev.jemma.core.engine;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Gives the C heap's free memory back to the OS: glibc's {@code malloc_trim(0)}, best effort (a no-op where it is not
 * there: musl, macOS, Windows, or native access not enabled).
 *
 * <p>Why: C2 compiles the Vector API kernels in arenas it mallocs and frees per compilation; one compilation of a serving
 * step's kernels peaked at ~200 MB (NMT "Arena Chunk" peak 206 MB, {@code jemma serve --parallel 8}, 1B Q4_0), and glibc
 * keeps what was freed in its own heap, so after {@link Engine#warmUp} the process still held ~150 MB of it beside the
 * Java heap — the part of the peak RSS above the KV pool's plan (docs/PERFORMANCE.md "Eight streams: prompts, TTFT and
 * peak RSS"). The JVM trims only when asked ({@code -XX:TrimNativeHeapInterval}, off by default).
 */
final class NativeHeap {
    private static final MethodHandle MALLOC_TRIM = find();

    private NativeHeap() {
    }

    private static MethodHandle find() {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) return null;
        try {
            Linker l = Linker.nativeLinker();
            return l.defaultLookup().find("malloc_trim").map(a -> l.downcallHandle(a,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG))).orElse(null);
        } catch (RuntimeException | Error e) {
            return null; // e.g. native access not enabled
        }
    }

    /** True when glibc returned memory to the OS (malloc_trim's own answer); false when it could not or had none to give. */
    static boolean trim() {
        if (MALLOC_TRIM == null) return false;
        try {
            return (int) MALLOC_TRIM.invokeExact(0L) == 1;
        } catch (Throwable t) {
            return false;
        }
    }
}
