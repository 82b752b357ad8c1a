package dev.jemma.tools.store;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.BlobLock;
import dev.jemma.core.store.ModelRef;
import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Pulls models from Hugging Face into a {@link ModelStore}: picks the GGUF file (and the multimodal projector beside
 * it) in the repository, downloads each into its blob with resume and retries under a lock shared by threads and
 * processes ({@link BlobLock}, whose file goes with it), verifies size, sha256 and the GGUF magic, and only then commits the blob and writes the manifest, so a
 * broken download never becomes a model. Only the tools that fetch models (the CLI's pull, the server's /api/pull)
 * need this; the engine reads the store through {@link ModelStore} alone.
 */
public final class ModelPuller {
    private static final int MAX_ATTEMPTS = 5;

    private final ModelStore store;

    public ModelPuller(ModelStore store) {
        this.store = store;
    }

    /** Pulls {@code name} from the hub (or returns it at once when the stored copy is current). */
    public StoredModel pull(String name, HubClient hub, PullListener listener) {
        ModelRef ref = ModelRef.parse(name);
        listener.status("pulling manifest");
        List<HubClient.HubFile> files = hub.tree(ref.repo());
        HubClient.HubFile file = chooseFile(ref, files);
        HubClient.HubFile projFile = chooseProjector(files);
        Optional<StoredModel> existing = store.find(ref.name());
        if (existing.isPresent() && file.sha256() != null && existing.get().sha256().equalsIgnoreCase(file.sha256())
                && Files.isRegularFile(existing.get().path()) && current(existing.get().projector(), projFile)) {
            listener.progress(existing.get().digest(), existing.get().size(), existing.get().size());
            listener.status("success");
            return existing.get();
        }
        try {
            Files.createDirectories(store.blobs());
        } catch (IOException e) {
            throw new JemmaException("cannot create " + store.blobs() + ": " + e.getMessage());
        }
        String sha = fetch(ref, hub, file, listener);
        StoredModel.Projector projector = null;
        if (projFile != null) {
            String psha = fetch(ref, hub, projFile, listener);
            projector = new StoredModel.Projector(projFile.path(), psha, sizeOf(store.blob(psha)), store.blob(psha));
        }
        listener.status("writing manifest");
        StoredModel m = new StoredModel(ref.name(), ref.repo(), file.path(), sha, file.size() >= 0 ? file.size()
                : sizeOf(store.blob(sha)), store.blob(sha), Instant.now(), projector);
        store.writeManifest(ref, m);
        listener.status("success");
        return m;
    }

    /** Whether a stored projector is the hub's current one (or there is none on either side). */
    private static boolean current(StoredModel.Projector stored, HubClient.HubFile hub) {
        if (hub == null) return stored == null;
        return stored != null && hub.sha256() != null && stored.sha256().equalsIgnoreCase(hub.sha256()) && Files.isRegularFile(stored.path());
    }

    /** Downloads one file of the repository into its blob under the blob's lock (once across threads and processes). */
    private String fetch(ModelRef ref, HubClient hub, HubClient.HubFile file, PullListener listener) {
        String key = file.sha256() != null ? file.sha256().toLowerCase(Locale.ROOT)
                : "pending-" + sha256Hex((ref.repo() + "/" + file.path()).getBytes());
        if (file.sha256() != null && !file.sha256().matches("[0-9a-fA-F]{64}")) {
            throw new JemmaException("hf.co/" + ref.repo() + "/" + file.path() + ": the hub's sha256 '"
                    + ModelRef.printable(file.sha256()) + "' is not 64 hex digits");
        }
        Path lockFile = store.blob(key + ".lock");
        BlobLock lock;
        try {
            lock = BlobLock.acquire(lockFile, holder -> listener.status(holder == BlobLock.Holder.THREAD
                    ? "waiting for another pull of " + file.path() : "waiting for another process pulling " + file.path()));
        } catch (IOException e) {
            throw new JemmaException("cannot lock " + lockFile + ": " + e.getMessage());
        }
        // the lock file goes with the lock, whether the download succeeded or not
        try (lock) {
            return download(ref, hub, file, key, listener);
        }
    }

    /** Downloads (resuming) and verifies one blob; returns its sha256. Caller holds the blob's lock. */
    private String download(ModelRef ref, HubClient hub, HubClient.HubFile file, String key, PullListener listener) {
        String where = "hf.co/" + ref.repo() + "/" + file.path();
        if (file.sha256() != null) {
            Path done = store.blob(key);
            if (Files.isRegularFile(done) && (file.size() < 0 || sizeOf(done) == file.size())) {
                // Another pull finished it while we waited for the lock (blobs are only renamed after verification).
                listener.progress("sha256:" + key, sizeOf(done), sizeOf(done));
                return key;
            }
        }
        Path partial = store.blob(key + ".partial");
        String digest = "sha256:" + key;
        listener.status("pulling " + file.path());
        IOException last = null;
        for (int attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
            long have = Files.exists(partial) ? sizeOf(partial) : 0;
            if (file.size() >= 0 && have > file.size()) {
                deleteQuietly(partial);
                have = 0;
            }
            if (file.size() >= 0 && have == file.size()) break;
            try (HubClient.Download d = hub.open(ref.repo(), file.path(), have)) {
                long offset = d.offset();
                long total = file.size() >= 0 ? file.size() : (d.totalLength() >= 0 ? offset + d.totalLength() : -1);
                if (d.status() == 206 && d.totalLength() >= 0) total = d.totalLength();
                try (FileChannel out = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                    // A 200 answer (range ignored) or a range other than asked restarts at the served offset.
                    out.truncate(offset);
                    out.position(offset);
                    OutputStream os = java.nio.channels.Channels.newOutputStream(out);
                    byte[] buf = new byte[1 << 16];
                    long pos = offset;
                    long lastReport = 0;
                    listener.progress(digest, pos, total);
                    InputStream in = d.body();
                    for (int n; (n = in.read(buf)) > 0; ) {
                        os.write(buf, 0, n);
                        pos += n;
                        long now = System.nanoTime();
                        if (now - lastReport > 100_000_000L) {
                            listener.progress(digest, pos, total);
                            lastReport = now;
                        }
                    }
                    os.flush();
                    out.force(false);
                    listener.progress(digest, pos, total);
                    if (total >= 0 && pos < total) {
                        throw new IOException("connection closed at byte " + pos + " of " + total);
                    }
                }
                last = null;
                break;
            } catch (IOException e) {
                last = e;
                // after the last attempt there is no resuming to announce (it said "attempt 6 of 5") nor to wait for
                if (attempt == MAX_ATTEMPTS) break;
                listener.status("download interrupted (" + e.getMessage() + "); resuming, attempt " + (attempt + 1)
                        + " of " + MAX_ATTEMPTS);
                sleepQuietly(Math.min(200L * attempt * attempt, 3000L));
            }
        }
        if (last != null) {
            throw new JemmaException(where + ": download failed after " + MAX_ATTEMPTS + " attempts (" + last.getMessage()
                    + "); run the same pull again to resume");
        }
        listener.status("verifying sha256 digest");
        long size = sizeOf(partial);
        if (file.size() >= 0 && size != file.size()) {
            deleteQuietly(partial);
            throw new JemmaException(where + ": size mismatch: got " + size + " bytes, the hub lists " + file.size()
                    + "; the download was discarded, run pull again");
        }
        String actual = sha256Hex(partial);
        if (file.sha256() != null && !actual.equalsIgnoreCase(file.sha256())) {
            deleteQuietly(partial);
            throw new JemmaException(where + ": sha256 mismatch: expected " + file.sha256().toLowerCase(Locale.ROOT)
                    + ", got " + actual + "; the corrupted download was discarded, run pull again");
        }
        checkGgufMagic(where, partial);
        store.commitBlob(partial, actual);
        return actual;
    }

    private static void checkGgufMagic(String where, Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] magic = in.readNBytes(4);
            if (!new String(magic, java.nio.charset.StandardCharsets.ISO_8859_1).equals("GGUF")) {
                deleteQuietly(p);
                throw new JemmaException(where + ": not a GGUF file (bad magic); the download was discarded");
            }
        } catch (IOException e) {
            throw new JemmaException(where + ": cannot read " + p + ": " + e.getMessage());
        }
    }

    /**
     * Picks the GGUF file for a reference: the one whose name carries the requested quantization tag (as a whole
     * word, case-insensitive), else the only model file, else a preferred default. Projector files (mmproj) and
     * split files are never picked.
     */
    static HubClient.HubFile chooseFile(ModelRef ref, List<HubClient.HubFile> files) {
        List<HubClient.HubFile> ggufs = files.stream()
                .filter(f -> f.path().toLowerCase(Locale.ROOT).endsWith(".gguf"))
                .filter(f -> !f.path().toLowerCase(Locale.ROOT).contains("mmproj"))
                .toList();
        String where = "hf.co/" + ref.repo();
        if (ggufs.isEmpty()) throw new JemmaException(where + ": the repository has no GGUF model file");
        List<HubClient.HubFile> candidates = ggufs;
        if (ref.quant() != null) {
            candidates = ggufs.stream().filter(f -> hasTag(f.path(), ref.quant())).toList();
            if (candidates.isEmpty()) {
                throw new JemmaException(where + ": no GGUF file for quantization '" + ref.quant() + "'; available: "
                        + String.join(", ", ggufs.stream().map(HubClient.HubFile::path).toList()));
            }
        } else if (ggufs.size() > 1) {
            for (String pref : new String[]{"Q4_K_M", "Q4_0", "Q8_0"}) {
                List<HubClient.HubFile> c = ggufs.stream().filter(f -> hasTag(f.path(), pref)).toList();
                if (!c.isEmpty()) {
                    candidates = c;
                    break;
                }
            }
            if (candidates.size() > 1) {
                throw new JemmaException(where + ": several GGUF files, name one as hf.co/" + ref.repo()
                        + ":QUANT; available: " + String.join(", ", ggufs.stream().map(HubClient.HubFile::path).toList()));
            }
        }
        List<HubClient.HubFile> whole = candidates.stream().filter(f -> !f.path().matches("(?i).*-\\d{5}-of-\\d{5}\\.gguf")).toList();
        if (whole.isEmpty()) {
            throw new JemmaException(where + ": only split GGUF files (" + candidates.getFirst().path()
                    + ", …) match; split files are not supported, merge them with llama-gguf-split first");
        }
        // Prefer the shortest name (e.g. model-Q4_0.gguf over model-Q4_0-imat.gguf), then the top-level file.
        return whole.stream().min(Comparator.comparingInt((HubClient.HubFile f) -> f.path().length())
                .thenComparing(HubClient.HubFile::path)).orElseThrow();
    }

    /**
     * The repository's multimodal projector ({@code mmproj*.gguf}, as llama.cpp names them), or null when it has none.
     * Of several precisions the one llama.cpp's converter writes by default (F16) is preferred, then BF16, F32, Q8_0,
     * then the shortest name.
     */
    static HubClient.HubFile chooseProjector(List<HubClient.HubFile> files) {
        List<HubClient.HubFile> mm = files.stream()
                .filter(f -> {
                    String n = f.path().substring(f.path().lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
                    return n.endsWith(".gguf") && n.contains("mmproj") && !n.matches(".*-\\d{5}-of-\\d{5}\\.gguf");
                })
                .sorted(Comparator.comparingInt((HubClient.HubFile f) -> f.path().length()).thenComparing(HubClient.HubFile::path))
                .toList();
        if (mm.size() <= 1) return mm.isEmpty() ? null : mm.getFirst();
        for (String pref : new String[]{"F16", "BF16", "F32", "Q8_0"}) {
            for (HubClient.HubFile f : mm) if (hasTag(f.path(), pref)) return f;
        }
        return mm.getFirst();
    }

    private static boolean hasTag(String path, String tag) {
        String name = path.substring(path.lastIndexOf('/') + 1).toLowerCase(Locale.ROOT);
        name = name.substring(0, name.length() - ".gguf".length());
        String t = tag.toLowerCase(Locale.ROOT);
        int i = name.indexOf(t);
        while (i >= 0) {
            boolean startOk = i == 0 || !Character.isLetterOrDigit(name.charAt(i - 1));
            int end = i + t.length();
            boolean endOk = end == name.length() || !(Character.isLetterOrDigit(name.charAt(end)) || name.charAt(end) == '_');
            if (startOk && endOk) return true;
            i = name.indexOf(t, i + 1);
        }
        return false;
    }

    static String sha256Hex(Path p) {
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha256Hex(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: a leftover partial file is resumed or replaced next time
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new JemmaException("pull interrupted");
        }
    }
}
