package dev.jemma.core.gguf;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** Linux {@code madvise(2)} on mapped segments, best effort (a no-op where unavailable). */
final class Madvise {
    static final int MADV_RANDOM = 1;
    static final int MADV_DONTNEED = 4;
    private static final MethodHandle MADVISE = find();

    private Madvise() {
    }

    private static MethodHandle find() {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) return null;
        try {
            Linker l = Linker.nativeLinker();
            return l.defaultLookup().find("madvise").map(a -> l.downcallHandle(a,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT))).orElse(null);
        } catch (RuntimeException | Error e) {
            return null; // e.g. native access not enabled
        }
    }

    /** True when the kernel accepted the advice. {@code seg} must start on a page boundary (mappings do). */
    static boolean advise(MemorySegment seg, int advice) {
        if (MADVISE == null || seg.byteSize() == 0) return false;
        try {
            return (int) MADVISE.invokeExact(seg, seg.byteSize(), advice) == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
