package dev.jemma.tools.store;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.ModelRef;
import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ModelPullerTest {
    @TempDir
    Path home;
    FakeHub hub;
    byte[] gguf;

    @BeforeEach
    void setUp() throws Exception {
        hub = new FakeHub();
        gguf = new byte[300_000];
        new Random(7).nextBytes(gguf);
        System.arraycopy("GGUF".getBytes(StandardCharsets.US_ASCII), 0, gguf, 0, 4);
        hub.add("org/tiny-GGUF", "tiny-Q8_0.gguf", gguf);
        hub.add("org/tiny-GGUF", "tiny-Q4_0.gguf", java.util.Arrays.copyOf(gguf, 1000));
        hub.add("org/tiny-GGUF", "mmproj-tiny-f16.gguf", java.util.Arrays.copyOf(gguf, 100));
    }

    @AfterEach
    void tearDown() {
        hub.close();
    }

    private HubClient client(String token) {
        return new HubClient(hub.uri(), token);
    }

    @Test
    void pullsVerifiesListsResolvesAndRemoves() throws Exception {
        ModelStore store = new ModelStore(home);
        List<String> statuses = new ArrayList<>();
        StoredModel m = new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), listener(statuses));
        assertThat(m.name()).isEqualTo("hf.co/org/tiny-GGUF:Q8_0");
        assertThat(m.file()).isEqualTo("tiny-Q8_0.gguf");
        assertThat(Files.readAllBytes(m.path())).isEqualTo(gguf);
        assertThat(statuses).contains("pulling manifest", "verifying sha256 digest", "success");
        assertThat(store.resolve("hf.co/org/tiny-GGUF:Q8_0")).isEqualTo(m.path());
        assertThat(store.list()).extracting(StoredModel::name).containsExactly("hf.co/org/tiny-GGUF:Q8_0");
        // The CDN hop never sees the token.
        new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q4_0", client("secret"), PullListener.NONE);
        assertThat(hub.authOnCdn).isEmpty();
        // Pulling again is a no-op (no new download).
        int before = hub.downloads.get();
        new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), PullListener.NONE);
        assertThat(hub.downloads.get()).isEqualTo(before);
        try (var s = Files.list(store.blobs())) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".lock")).toList()).as("a pull's lock file goes with it").isEmpty();
        }
        // one an interrupted pull left (or an older Jemma) goes with the next rm
        Path leftover = Files.createFile(store.blob("0".repeat(64) + ".lock"));
        assertThat(store.remove("hf.co/org/tiny-GGUF:Q8_0")).isTrue();
        assertThat(leftover).doesNotExist();
        assertThat(Files.exists(m.path())).isFalse();
        assertThat(store.remove("hf.co/org/tiny-GGUF:Q8_0")).isFalse();
        assertThat(store.list()).extracting(StoredModel::name).containsExactly("hf.co/org/tiny-GGUF:Q4_0");
        assertThatThrownBy(() -> store.resolve("hf.co/org/tiny-GGUF:Q8_0"))
                .isInstanceOf(JemmaException.class).hasMessageContaining("jemma pull hf.co/org/tiny-GGUF:Q8_0");
    }

    @Test
    void interruptedTransferIsResumedWithRange() throws Exception {
        ModelStore store = new ModelStore(home);
        hub.cutNextAfter = 100_000;
        StoredModel m = new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), PullListener.NONE);
        assertThat(Files.readAllBytes(m.path())).isEqualTo(gguf);
        // the model (cut, then resumed), then the repository's projector
        assertThat(hub.rangeHeaders).hasSize(3);
        assertThat(hub.rangeHeaders.get(0)).isEmpty();
        assertThat(hub.rangeHeaders.get(2)).isEmpty();
        // Whatever arrived before the cut (at most 100 000 bytes) is kept and only the rest is fetched.
        assertThat(hub.rangeHeaders.get(1)).startsWith("bytes=").endsWith("-");
        long resumedAt = Long.parseLong(hub.rangeHeaders.get(1).substring(6, hub.rangeHeaders.get(1).length() - 1));
        assertThat(resumedAt).isGreaterThan(0).isLessThanOrEqualTo(100_000);
    }

    /** A transfer cut at every attempt: each retry is announced with its number, never one past the last. */
    @Test
    void aTransferThatKeepsFailingCountsItsAttemptsUpToTheLast() {
        ModelStore store = new ModelStore(home);
        hub.cutEveryAfter = 10;
        List<String> statuses = new ArrayList<>();
        assertThatThrownBy(() -> new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), listener(statuses)))
                .isInstanceOf(JemmaException.class).hasMessageContaining("download failed after 5 attempts");
        List<String> retries = statuses.stream().filter(s -> s.startsWith("download interrupted")).map(s -> s.substring(s.indexOf("attempt"))).toList();
        assertThat(retries).containsExactly("attempt 2 of 5", "attempt 3 of 5", "attempt 4 of 5", "attempt 5 of 5");
    }

    @Test
    void leftoverPartialFromAnEarlierRunIsResumed() throws Exception {
        ModelStore store = new ModelStore(home);
        String sha = ModelPuller.sha256Hex(gguf);
        Path blobs = home.resolve("models/blobs");
        Files.createDirectories(blobs);
        Files.write(blobs.resolve("sha256-" + sha + ".partial"), java.util.Arrays.copyOf(gguf, 12345));
        StoredModel m = new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), PullListener.NONE);
        assertThat(Files.readAllBytes(m.path())).isEqualTo(gguf);
        assertThat(hub.rangeHeaders).containsExactly("bytes=12345-", "");
        assertThat(Files.exists(blobs.resolve("sha256-" + sha + ".partial"))).isFalse();
    }

    @Test
    void corruptedDownloadIsRejectedAndNeverBecomesAModel() throws Exception {
        byte[] bad = gguf.clone();
        bad[5000] ^= 1;
        hub.add("org/bad-GGUF", "bad-Q8_0.gguf", bad, ModelPuller.sha256Hex(gguf));
        ModelStore store = new ModelStore(home);
        assertThatThrownBy(() -> new ModelPuller(store).pull("hf.co/org/bad-GGUF", client(null), PullListener.NONE))
                .isInstanceOf(JemmaException.class).hasMessageContaining("sha256 mismatch");
        assertThat(store.list()).isEmpty();
        try (var s = Files.list(home.resolve("models/blobs"))) {
            assertThat(s.map(p -> p.getFileName().toString()).toList()).as("no blob, no partial file, no lock file").isEmpty();
        }
    }

    @Test
    void gatedRepositoriesGiveAnActionableMessage() {
        ModelStore store = new ModelStore(home);
        hub.requiredToken = "tok";
        assertThatThrownBy(() -> new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), PullListener.NONE))
                .isInstanceOf(JemmaException.class)
                .hasMessageContaining("401").hasMessageContaining("HF_TOKEN").hasMessageContaining("license");
        assertThatThrownBy(() -> new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client("wrong"), PullListener.NONE))
                .isInstanceOf(JemmaException.class).hasMessageContaining("HF_TOKEN was not accepted");
        assertThat(new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client("tok"), PullListener.NONE).size()).isEqualTo(gguf.length);
        hub.requiredToken = null;
        hub.forbidden = true;
        assertThatThrownBy(() -> new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q4_0", client("tok"), PullListener.NONE))
                .isInstanceOf(JemmaException.class).hasMessageContaining("403").hasMessageContaining("accept its license");
    }

    @Test
    void unknownRepoAndQuantAreReported() {
        ModelStore store = new ModelStore(home);
        assertThatThrownBy(() -> new ModelPuller(store).pull("hf.co/org/missing", client(null), PullListener.NONE))
                .hasMessageContaining("404");
        assertThatThrownBy(() -> new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q5_K_M", client(null), PullListener.NONE))
                .hasMessageContaining("no GGUF file for quantization 'Q5_K_M'").hasMessageContaining("tiny-Q8_0.gguf");
    }

    @Test
    void concurrentPullsOfOneModelDownloadOnce() throws Exception {
        ModelStore store = new ModelStore(home);
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<StoredModel>> fs = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Callable<StoredModel> c = () -> new ModelPuller(new ModelStore(home)).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), PullListener.NONE);
                fs.add(pool.submit(c));
            }
            for (Future<StoredModel> f : fs) assertThat(Files.readAllBytes(f.get().path())).isEqualTo(gguf);
        } finally {
            pool.shutdownNow();
        }
        // each blob once: the model and its projector
        assertThat(hub.downloads.get()).isEqualTo(2);
        assertThat(store.list()).hasSize(1);
        try (var s = Files.list(store.blobs())) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".lock")).toList()).isEmpty();
        }
    }

    @Test
    void traversalAndMalformedNamesAreRejected() {
        ModelStore store = new ModelStore(home);
        for (String bad : List.of("hf.co/../etc", "hf.co/org/..", "hf.co/org/repo:../../x", "hf.co/org/re/po",
                "hf.co/org/repo:a/b", "../../etc/passwd", "hf.co/org\\x/repo", "hf.co/.hidden/repo", "hf.co/org/repo:\u0000",
                "hf.co//repo", "gemma3:../../x", "", "hf.co/org/a..b")) {
            assertThatThrownBy(() -> store.find(bad)).as(bad).isInstanceOf(JemmaException.class);
            assertThatThrownBy(() -> new ModelPuller(store).pull(bad, client(null), PullListener.NONE)).as(bad).isInstanceOf(JemmaException.class);
            assertThatThrownBy(() -> store.remove(bad)).as(bad).isInstanceOf(JemmaException.class);
        }
        assertThat(hub.downloads.get()).isZero();
    }

    @Test
    void defaultFileChoiceSkipsProjectorsAndPrefersQ4() {
        List<HubClient.HubFile> files = List.of(new HubClient.HubFile("m-Q8_0.gguf", 10, null),
                new HubClient.HubFile("m-Q4_K_M.gguf", 5, null), new HubClient.HubFile("mmproj-F16.gguf", 1, null),
                new HubClient.HubFile("m-Q4_K_S.gguf", 5, null));
        assertThat(ModelPuller.chooseFile(ModelRef.parse("hf.co/a/b"), files).path()).isEqualTo("m-Q4_K_M.gguf");
        assertThat(ModelPuller.chooseFile(ModelRef.parse("hf.co/a/b:q4_k_s"), files).path()).isEqualTo("m-Q4_K_S.gguf");
        assertThatThrownBy(() -> ModelPuller.chooseFile(ModelRef.parse("hf.co/a/b:Q4_K"), files)).hasMessageContaining("no GGUF file");
        assertThatThrownBy(() -> ModelPuller.chooseFile(ModelRef.parse("hf.co/a/b"),
                List.of(new HubClient.HubFile("x-Q4_0-00001-of-00002.gguf", 1, null)))).hasMessageContaining("split");
    }

    @Test
    void theProjectorOfARepositoryIsPulledWithTheModelAndFoundFromItsBlob() throws Exception {
        ModelStore store = new ModelStore(home);
        byte[] mmproj = java.util.Arrays.copyOf(gguf, 100);
        StoredModel m = new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q8_0", client(null), PullListener.NONE);
        assertThat(m.projector()).isNotNull();
        assertThat(m.projector().file()).isEqualTo("mmproj-tiny-f16.gguf");
        assertThat(m.projector().sha256()).isEqualTo(ModelPuller.sha256Hex(mmproj));
        assertThat(Files.readAllBytes(m.projector().path())).isEqualTo(mmproj);
        // the manifest keeps it, and an engine loading the model's blob finds it there
        assertThat(store.find("hf.co/org/tiny-GGUF:Q8_0").orElseThrow().projector()).isEqualTo(m.projector());
        assertThat(ModelStore.projectorOf(m.path())).contains(m.projector().path());
        assertThat(dev.jemma.core.vision.ImageEncoder.findBeside(m.path())).isEqualTo(m.projector().path());
        // shared by two names: removing one keeps it, removing the last deletes it
        StoredModel q4 = new ModelPuller(store).pull("hf.co/org/tiny-GGUF:Q4_0", client(null), PullListener.NONE);
        assertThat(q4.projector().path()).isEqualTo(m.projector().path());
        store.remove("hf.co/org/tiny-GGUF:Q8_0");
        assertThat(Files.exists(m.projector().path())).isTrue();
        store.remove("hf.co/org/tiny-GGUF:Q4_0");
        assertThat(Files.exists(m.projector().path())).isFalse();
        // a repository without one: none, and nothing found for its blob
        hub.add("org/text-GGUF", "text-Q8_0.gguf", gguf);
        StoredModel text = new ModelPuller(store).pull("hf.co/org/text-GGUF", client(null), PullListener.NONE);
        assertThat(text.projector()).isNull();
        assertThat(ModelStore.projectorOf(text.path())).isEmpty();
        assertThat(ModelStore.projectorOf(home.resolve("elsewhere.gguf"))).isEmpty();
    }

    @Test
    void aProjectorAddedToTheRepositoryLaterIsPulledOnTheNextPull() throws Exception {
        hub.add("org/late-GGUF", "late-Q8_0.gguf", gguf);
        ModelStore store = new ModelStore(home);
        assertThat(new ModelPuller(store).pull("hf.co/org/late-GGUF", client(null), PullListener.NONE).projector()).isNull();
        byte[] mmproj = java.util.Arrays.copyOf(gguf, 200);
        hub.add("org/late-GGUF", "mmproj-late-F16.gguf", mmproj);
        int before = hub.downloads.get();
        StoredModel m = new ModelPuller(store).pull("hf.co/org/late-GGUF", client(null), PullListener.NONE);
        assertThat(hub.downloads.get() - before).as("only the projector is downloaded").isEqualTo(1);
        assertThat(Files.readAllBytes(m.projector().path())).isEqualTo(mmproj);
    }

    @Test
    void projectorChoicePrefersF16() {
        List<HubClient.HubFile> files = List.of(new HubClient.HubFile("m-Q4_0.gguf", 10, null),
                new HubClient.HubFile("mmproj-m-F32.gguf", 4, null), new HubClient.HubFile("mmproj-m-f16.gguf", 2, null),
                new HubClient.HubFile("mmproj-m-bf16.gguf", 2, null));
        assertThat(ModelPuller.chooseProjector(files).path()).isEqualTo("mmproj-m-f16.gguf");
        assertThat(ModelPuller.chooseProjector(files.subList(0, 2)).path()).isEqualTo("mmproj-m-F32.gguf");
        assertThat(ModelPuller.chooseProjector(files.subList(0, 1))).isNull();
    }

    private static PullListener listener(List<String> statuses) {
        return new PullListener() {
            @Override
            public void status(String status) {
                statuses.add(status);
            }

            @Override
            public void progress(String digest, long completed, long total) {
            }
        };
    }
}
