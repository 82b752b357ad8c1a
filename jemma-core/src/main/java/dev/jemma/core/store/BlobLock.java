package dev.jemma.core.store;

import dev.jemma.core.JemmaException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.stream.Stream;

/**
 * The lock that lets one thread of one process at a time write a blob: an exclusive lock on the file beside it
 * ({@code sha256-HEX.lock}), behind an in-process lock, since {@code FileChannel.lock} cannot exclude two threads of
 * one JVM (and a second channel on the file, once closed, would drop the first one's POSIX lock).
 *
 * <p>Its holder deletes the file when it lets go, so the store keeps no lock files. A process that opened the file
 * before that and waits for its lock would then get the lock of a file no longer in the store, while another locks a
 * new file of the same name, and both would write the blob. So a holder marks the file (one byte; a live lock file is
 * empty) after deleting it and before letting go, and whoever gets the lock of a marked file, or of a name that is
 * gone, lets go and opens the name again.
 */
public final class BlobLock implements AutoCloseable {
    /** Who holds the lock that {@link #acquire} waits for. */
    public enum Holder { THREAD, PROCESS }

    /** Reopening a marked file more often than this means something else wrote into it: say so rather than spin. */
    private static final int MAX_REOPENS = 1000;
    private static final ConcurrentHashMap<Path, ReentrantLock> LOCAL = new ConcurrentHashMap<>();

    private final Path file;
    private final ReentrantLock local;
    private final FileChannel channel;

    private BlobLock(Path file, ReentrantLock local, FileChannel channel) {
        this.file = file;
        this.local = local;
        this.channel = channel;
    }

    /** Takes the lock of {@code file}, waiting for its holder; {@code onWait} hears once of each kind of holder waited for. */
    public static BlobLock acquire(Path file, Consumer<Holder> onWait) throws IOException {
        Path key = file.toAbsolutePath().normalize();
        ReentrantLock local = LOCAL.computeIfAbsent(key, k -> new ReentrantLock());
        if (!local.tryLock()) {
            onWait.accept(Holder.THREAD);
            local.lock();
        }
        try {
            boolean told = false;
            for (int reopen = 0; reopen < MAX_REOPENS; reopen++) {
                FileChannel ch = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                try {
                    FileLock l = ch.tryLock();
                    if (l == null) {
                        if (!told) onWait.accept(Holder.PROCESS);
                        told = true;
                        ch.lock();
                    }
                    if (ch.size() == 0 && Files.exists(key)) return new BlobLock(key, local, ch);
                } catch (IOException | RuntimeException e) {
                    ch.close();
                    throw e;
                }
                ch.close(); // its last holder retired it: the name is a new file, or none
            }
            throw new JemmaException("cannot lock " + key + ": it holds data, which a lock file never does; delete it if no pull is running");
        } catch (IOException | RuntimeException e) {
            local.unlock();
            throw e;
        }
    }

    /** Deletes the lock files under {@code dir} that nothing holds now (those of interrupted pulls); best effort. */
    public static void deleteUnheld(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> p.getFileName().toString().endsWith(".lock")).forEach(BlobLock::deleteIfUnheld);
        } catch (IOException e) {
            // no such directory, or unreadable: nothing to tidy
        }
    }

    private static void deleteIfUnheld(Path file) {
        Path key = file.toAbsolutePath().normalize();
        ReentrantLock local = LOCAL.computeIfAbsent(key, k -> new ReentrantLock());
        if (!local.tryLock()) return;
        try (FileChannel ch = FileChannel.open(key, StandardOpenOption.WRITE)) {
            if (ch.tryLock() != null && ch.size() == 0) retire(key, ch);
        } catch (NoSuchFileException e) {
            // gone already
        } catch (IOException | java.nio.channels.OverlappingFileLockException e) {
            // best effort: a lock file left behind is harmless, the next pull of its blob takes it
        } finally {
            local.unlock();
        }
    }

    /** Lets go of the lock and deletes its file (unless the file system refuses; then it stays, unmarked and usable). */
    @Override
    public void close() {
        try {
            retire(file, channel);
        } catch (IOException e) {
            // as above: a lock file left behind is harmless
        } finally {
            try {
                channel.close(); // releases the file lock
            } catch (IOException ignored) {
                // the lock goes with the channel either way
            } finally {
                local.unlock();
            }
        }
    }

    /** Deletes a held lock file, then marks it for anyone who opened it before and waits for its lock. */
    private static void retire(Path file, FileChannel held) throws IOException {
        Files.delete(file);
        held.write(ByteBuffer.wrap(new byte[]{'x'}), 0);
    }
}
