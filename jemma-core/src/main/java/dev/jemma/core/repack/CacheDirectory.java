package dev.jemma.core.repack;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;

/**
 * The weight cache directory as a whole: which {@link RepackCache} copies it holds, which of them are orphans (their
 * model file gone or rewritten), and their removal. Copies are large (a 27B model's is 17 GB) and named after their
 * model's path, so without this a moved, renamed or deleted model leaves its copy behind for good.
 */
public final class CacheDirectory {
    static final String SUFFIX = ".int8.jpk";
    private static final String PART = SUFFIX + ".part-";

    private CacheDirectory() {
    }

    /** What a removal did: the files removed, the bytes they held, and one line per file that could not be removed. */
    public record Removal(List<CachedCopy> removed, long bytes, List<String> failures) {
        /** Nothing removed. */
        public static final Removal NONE = new Removal(List.of(), 0, List.of());

        /** This removal and {@code other} together. */
        public Removal and(Removal other) {
            List<CachedCopy> r = new ArrayList<>(removed);
            r.addAll(other.removed);
            List<String> f = new ArrayList<>(failures);
            f.addAll(other.failures);
            return new Removal(List.copyOf(r), bytes + other.bytes, List.copyOf(f));
        }
    }

    /** Every cache file and build in progress in {@code dir}, largest first; empty when there is no such directory. */
    public static List<CachedCopy> list(Path dir) {
        List<CachedCopy> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) return out;
        try (var files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                CachedCopy c = inspect(p);
                if (c != null) out.add(c);
            }
        } catch (IOException ignored) {
            // an unreadable directory lists as empty: nothing in it can be judged
        }
        out.sort(Comparator.comparingLong(CachedCopy::bytes).reversed().thenComparing(c -> c.file().getFileName().toString()));
        return out;
    }

    /**
     * Removes the copies whose model file is gone or was rewritten since they were built, and builds that were killed:
     * what a build does before writing a copy. Never a copy whose model file is there unchanged, never a copy of
     * another layout (another Jemma on this machine may use it; {@link #prune} is the explicit way), never the partial
     * file of a live process.
     */
    public static Removal removeOrphans(Path dir) {
        return remove(dir, CachedCopy::orphaned);
    }

    /** Removes everything in {@code dir} this Jemma cannot use: all but the copies in use and builds still running. */
    public static Removal prune(Path dir) {
        return remove(dir, c -> !c.kept());
    }

    /**
     * The copies in {@code dir} built from the model file at {@code model} (its text weights and each part's: a vision
     * tower, an mmproj's), found by the source each records; for a copy of an older layout, which records none, by the
     * name {@link RepackCache} gives copies of that path. Call it while the file still exists: its real path is its key.
     */
    public static List<Path> copiesOf(Path dir, Path model) {
        Path real = RepackCache.realPath(model);
        String main = RepackCache.cacheName(model, null), stem = main.substring(0, main.length() - SUFFIX.length());
        List<Path> out = new ArrayList<>();
        for (CachedCopy c : list(dir)) {
            if (c.state() == CachedCopy.State.BUILDING || c.state() == CachedCopy.State.ABANDONED) continue;
            String f = c.file().getFileName().toString();
            boolean named = f.equals(main) || (f.startsWith(stem + ".") && f.endsWith(SUFFIX)
                    && f.substring(stem.length() + 1, f.length() - SUFFIX.length()).matches("[a-z0-9]+"));
            if (c.source() != null ? c.source().equals(real) : named) out.add(c.file());
        }
        return out;
    }

    /** Deletes {@code copies} (files of a cache directory, e.g. from {@link #copiesOf}). */
    public static Removal delete(List<Path> copies) {
        List<CachedCopy> all = new ArrayList<>();
        for (Path p : copies) {
            CachedCopy c = inspect(p);
            if (c != null) all.add(c);
        }
        return remove(all, c -> true);
    }

    private static Removal remove(Path dir, Predicate<CachedCopy> which) {
        return remove(list(dir), which);
    }

    private static Removal remove(List<CachedCopy> copies, Predicate<CachedCopy> which) {
        List<CachedCopy> removed = new ArrayList<>();
        List<String> failures = new ArrayList<>();
        long bytes = 0;
        for (CachedCopy c : copies) {
            if (!which.test(c)) continue;
            try {
                // unlinking a file another process has mapped is safe on Linux (and any POSIX system): its mapping keeps
                // the inode, and the space, until it is unmapped; where the OS refuses (Windows), the copy stays, reported
                if (Files.deleteIfExists(c.file())) {
                    removed.add(c);
                    bytes += c.bytes();
                }
            } catch (IOException e) {
                failures.add(c.file() + ": " + RepackCache.why(e));
            }
        }
        return new Removal(List.copyOf(removed), bytes, List.copyOf(failures));
    }

    /** What {@code p} is, or null when it is no file of the cache's (another name, a directory, gone meanwhile). */
    static CachedCopy inspect(Path p) {
        String f = p.getFileName().toString();
        int part = f.lastIndexOf(PART);
        if (part < 0 && !f.endsWith(SUFFIX)) return null;
        long bytes;
        try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            if (!a.isRegularFile()) return null;
            bytes = a.size();
        } catch (IOException e) {
            return null;
        }
        if (part >= 0) {
            // NAME.int8.jpk.part-PID-NANOS: a build in progress while its process lives (pids are this host's: the cache
            // directory is local, as ~/.jemma is)
            String[] rest = f.substring(part + PART.length()).split("-");
            try {
                long pid = Long.parseLong(rest[0]);
                boolean alive = ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
                return new CachedCopy(p, bytes, alive ? CachedCopy.State.BUILDING : CachedCopy.State.ABANDONED, null, 0);
            } catch (NumberFormatException e) {
                return null; // not ours to judge
            }
        }
        CacheHeader.Read h;
        try {
            h = CacheHeader.read(p);
        } catch (IOException e) {
            return null;
        }
        if (h == null) return new CachedCopy(p, bytes, CachedCopy.State.DAMAGED, null, 0);
        if (h.version() != CacheHeader.VERSION) return new CachedCopy(p, bytes, CachedCopy.State.OTHER_LAYOUT, null, h.version());
        return new CachedCopy(p, bytes, sourceState(h), h.source(), h.version());
    }

    private static CachedCopy.State sourceState(CacheHeader.Read h) {
        try {
            BasicFileAttributes a = Files.readAttributes(h.source(), BasicFileAttributes.class);
            boolean same = a.isRegularFile() && a.size() == h.sourceSize() && a.lastModifiedTime().toMillis() == h.sourceMtime();
            return same ? CachedCopy.State.IN_USE : CachedCopy.State.STALE;
        } catch (NoSuchFileException e) {
            return CachedCopy.State.SOURCE_GONE;
        } catch (IOException e) {
            // cannot tell (no permission to look, a stale mount): keep it as in use rather than delete a copy still wanted
            return CachedCopy.State.IN_USE;
        }
    }
}
