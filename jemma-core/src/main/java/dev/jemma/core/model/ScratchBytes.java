package dev.jemma.core.model;

import dev.jemma.core.tensor.attention.Attention;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;

/** Counts the bytes of a forward's scratch buffers, each array once however many views of it a model keeps. */
final class ScratchBytes {
    private final Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
    private long bytes;

    /** Adds float arrays, arrays of them (nested to any depth; null entries skipped) and attention worker scratch. */
    ScratchBytes add(Object... parts) {
        for (Object o : parts) {
            if (o == null || !seen.add(o)) continue;
            switch (o) {
                case float[] f -> bytes += 4L * f.length;
                case Attention.Scratch a -> bytes += a.bytes();
                case Object[] nested -> add(nested);
                default -> throw new IllegalArgumentException("not a scratch buffer: " + o.getClass());
            }
        }
        return this;
    }

    long bytes() {
        return bytes;
    }
}
