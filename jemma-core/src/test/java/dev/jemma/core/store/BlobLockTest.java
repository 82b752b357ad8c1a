package dev.jemma.core.store;

import dev.jemma.core.JemmaException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A blob's lock leaves no file behind, yet two pulls never both hold it: whoever opened the file before its holder
 * deleted it finds it marked when it gets its lock (it then opens the name again), and only unheld files are tidied.
 */
class BlobLockTest {
    @TempDir
    Path dir;

    @Test
    void theLockFileGoesWithTheLock() throws Exception {
        Path f = dir.resolve("sha256-ab.lock");
        try (BlobLock ignored = BlobLock.acquire(f, h -> { })) {
            assertThat(f).exists();
        }
        assertThat(f).doesNotExist();
    }

    /** What another process sees that opened the file and waited while the holder retired it. */
    @Test
    void aLateWaiterFindsTheRetiredFileMarked() throws Exception {
        Path f = dir.resolve("sha256-ab.lock");
        BlobLock held = BlobLock.acquire(f, h -> { });
        try (FileChannel late = FileChannel.open(f, StandardOpenOption.WRITE)) {
            held.close();
            try (FileLock l = late.tryLock()) {
                assertThat(l).as("the holder let go").isNotNull();
                assertThat(late.size()).as("marked: the waiter must open the name again").isPositive();
            }
        }
        try (BlobLock again = BlobLock.acquire(f, h -> { })) {
            assertThat(f).exists().isEmptyFile();
        }
    }

    /** A marked file at the name would be reopened for ever: acquire says what is wrong instead. */
    @Test
    void aLockFileWithDataIsNotTaken() throws Exception {
        Path f = Files.writeString(dir.resolve("sha256-ab.lock"), "x");
        assertThatThrownBy(() -> BlobLock.acquire(f, h -> { }).close())
                .isInstanceOf(JemmaException.class).hasMessageContaining("it holds data");
    }

    @Test
    void aSecondThreadWaitsAndIsTold() throws Exception {
        Path f = dir.resolve("sha256-ab.lock");
        List<BlobLock.Holder> told = new ArrayList<>();
        CountDownLatch waiting = new CountDownLatch(1), got = new CountDownLatch(1);
        BlobLock first = BlobLock.acquire(f, h -> { });
        Thread t = Thread.ofPlatform().start(() -> {
            try (BlobLock second = BlobLock.acquire(f, h -> {
                told.add(h);
                waiting.countDown();
            })) {
                got.countDown();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        assertThat(waiting.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(got.getCount()).as("not while the first holds it").isEqualTo(1);
        first.close();
        assertThat(got.await(10, TimeUnit.SECONDS)).isTrue();
        t.join();
        assertThat(told).containsExactly(BlobLock.Holder.THREAD);
        assertThat(f).doesNotExist();
    }

    @Test
    void onlyUnheldLockFilesAreTidied() throws Exception {
        Path held = dir.resolve("sha256-aa.lock"), left = Files.createFile(dir.resolve("sha256-bb.lock"));
        Path partial = Files.createFile(dir.resolve("sha256-cc.partial"));
        try (BlobLock ignored = BlobLock.acquire(held, h -> { })) {
            BlobLock.deleteUnheld(dir);
            assertThat(held).as("a pull holds it").exists();
            assertThat(left).as("an interrupted pull's").doesNotExist();
            assertThat(partial).as("resumed by the next pull").exists();
        }
        BlobLock.deleteUnheld(dir.resolve("no-such-dir"));
    }
}
