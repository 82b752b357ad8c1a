package dev.jemma.core.repack;

import java.nio.file.Path;

/**
 * One file in the weight cache directory and what it is worth: a {@link RepackCache} copy (with the model file it was
 * built from, where its layout records one) or a build in progress.
 *
 * @param file    the file in the cache directory
 * @param bytes   its size
 * @param state   whether this Jemma can use it
 * @param source  the model file it was built from (its absolute real path), null where the header does not say
 * @param version the layout version in its header (0 for a build in progress or a damaged file)
 */
public record CachedCopy(Path file, long bytes, State state, Path source, int version) {
    /** What a cache file is, as far as this Jemma can tell without opening its model. */
    public enum State {
        /** Its model file is there, with the size and modification time the copy was built from. */
        IN_USE("in use"),
        /** Its model file is gone (deleted, moved, renamed, or its directory removed). */
        SOURCE_GONE("source gone"),
        /** Its model file was rewritten since (another size or modification time): the next load rebuilds it. */
        STALE("stale"),
        /** Another layout version than this Jemma's (an older, or newer, Jemma built it): never read by this one. */
        OTHER_LAYOUT("older layout"),
        /** Not a whole cache file (a header that does not parse). */
        DAMAGED("damaged"),
        /** A copy a running process is writing now. */
        BUILDING("being built"),
        /** What a build killed before it finished left behind. */
        ABANDONED("abandoned build");

        private final String words;

        State(String words) {
            this.words = words;
        }

        public String words() {
            return words;
        }
    }

    /** The state in words, with the layout version where it is another one ("older layout (v5)", "newer layout (v7)"). */
    public String describe() {
        if (state != State.OTHER_LAYOUT) return state.words();
        return (version > CacheHeader.VERSION ? "newer" : "older") + " layout (v" + version + ")";
    }

    /** Whether {@code jemma cache prune} keeps it: a usable copy, or a build still running. */
    public boolean kept() {
        return state == State.IN_USE || state == State.BUILDING;
    }

    /** Whether a build removes it by itself: a copy whose source is gone or rewritten, or an abandoned build. */
    public boolean orphaned() {
        return state == State.SOURCE_GONE || state == State.STALE || state == State.ABANDONED;
    }
}
