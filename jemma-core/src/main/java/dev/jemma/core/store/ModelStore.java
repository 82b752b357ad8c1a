package dev.jemma.core.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.JemmaException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.stream.Stream;

/**
 * The local model store under {@code JEMMA_HOME} (default {@code ~/.jemma}), laid out like Ollama's:
 * <pre>
 *   models/blobs/sha256-HEX              verified GGUF content (shared between names)
 *   models/blobs/sha256-HEX.partial      an interrupted download, resumed with an HTTP Range request
 *   models/blobs/sha256-HEX.lock         held while one process downloads that blob
 *   models/manifests/library/gemma3/4b.json            short names
 *   models/manifests/hf.co/ORG/REPO/TAG.json           hub references
 * </pre>
 * A blob only gets its final name after its size and sha256 match the hub's LFS metadata (atomic rename), and a
 * manifest is written (atomically) only after that, so a broken download never becomes a model. A repository with a
 * multimodal projector (an {@code mmproj*.gguf} beside the model, as llama.cpp's Gemma 3 repositories ship the vision
 * tower) has it pulled too, as a blob of its own named in the model's manifest; {@link #projectorOf} finds it from the
 * model's blob, which is how an engine loading a stored model sees images.
 */
public final class ModelStore {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_ATTEMPTS = 5;
    /** In-process twin of the file lock: FileChannel.lock cannot exclude two threads of one JVM. */
    private static final ConcurrentHashMap<Path, ReentrantLock> LOCAL_LOCKS = new ConcurrentHashMap<>();

    private final Path home;
    private final Path blobs;
    private final Path manifests;

    public ModelStore(Path home) {
        this.home = home.toAbsolutePath().normalize();
        this.blobs = this.home.resolve("models").resolve("blobs");
        this.manifests = this.home.resolve("models").resolve("manifests");
    }

    /** The store at {@code -Djemma.store.home}, else {@code $JEMMA_HOME}, else {@code ~/.jemma}. */
    public static ModelStore open() {
        return new ModelStore(defaultHome());
    }

    public static Path defaultHome() {
        return dev.jemma.core.JemmaProperties.home();
    }

    public Path home() {
        return home;
    }

    /** The model stored under {@code name}, if any (the name is validated first). */
    public Optional<StoredModel> find(String name) {
        ModelRef ref = ModelRef.parse(name);
        Path mf = manifestFile(ref);
        if (!Files.isRegularFile(mf)) return Optional.empty();
        return Optional.of(readManifest(mf));
    }

    /** The GGUF path of a stored model, or a one-line error that says how to get it. */
    public Path resolve(String name) {
        StoredModel m = find(name).orElseThrow(() -> new JemmaException("model '" + ModelRef.printable(name)
                + "' is not in the store " + home + " (run: jemma pull " + ModelRef.parse(name).name() + ")"));
        if (!Files.isRegularFile(m.path())) {
            throw new JemmaException("model '" + m.name() + "': its file " + m.path() + " is missing; run: jemma pull " + m.name());
        }
        return m.path();
    }

    /** Every stored model, sorted by name. */
    public List<StoredModel> list() {
        if (!Files.isDirectory(manifests)) return List.of();
        List<StoredModel> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(manifests)) {
            for (Path p : (Iterable<Path>) s.filter(f -> f.toString().endsWith(".json"))::iterator) {
                try {
                    out.add(readManifest(p));
                } catch (JemmaException e) {
                    // A damaged manifest must not hide the others; it is skipped (rm can still delete it by name).
                }
            }
        } catch (IOException e) {
            throw new JemmaException("cannot list " + manifests + ": " + e.getMessage());
        }
        out.sort(Comparator.comparing(StoredModel::name));
        return out;
    }

    /**
     * Removes a model's manifest, and its blob when no other name refers to it.
     *
     * @return false when no such model was stored
     */
    public boolean remove(String name) {
        ModelRef ref = ModelRef.parse(name);
        Path mf = manifestFile(ref);
        if (!Files.isRegularFile(mf)) return false;
        StoredModel m;
        try {
            m = readManifest(mf);
        } catch (JemmaException e) {
            m = null;
        }
        try {
            Files.delete(mf);
            if (m != null) {
                if (!referenced(m.sha256())) Files.deleteIfExists(m.path());
                if (m.projector() != null && !referenced(m.projector().sha256())) Files.deleteIfExists(m.projector().path());
            }
            // Tidy empty directories up to the manifests root.
            for (Path d = mf.getParent(); d != null && d.startsWith(manifests) && !d.equals(manifests); d = d.getParent()) {
                try (Stream<Path> s = Files.list(d)) {
                    if (s.findAny().isPresent()) break;
                }
                Files.delete(d);
            }
        } catch (IOException e) {
            throw new JemmaException("cannot remove " + name + ": " + e.getMessage());
        }
        return true;
    }

    /** Whether a stored model still refers to the blob (as its model or its projector). */
    private boolean referenced(String sha) {
        return list().stream().anyMatch(o -> o.sha256().equals(sha) || (o.projector() != null && o.projector().sha256().equals(sha)));
    }

    /** Pulls {@code name} from the hub (or returns it at once when the stored copy is current). */
    public StoredModel pull(String name, HubClient hub, PullListener listener) {
        ModelRef ref = ModelRef.parse(name);
        listener.status("pulling manifest");
        List<HubClient.HubFile> files = hub.tree(ref.repo());
        HubClient.HubFile file = chooseFile(ref, files);
        HubClient.HubFile projFile = chooseProjector(files);
        Optional<StoredModel> existing = find(ref.name());
        if (existing.isPresent() && file.sha256() != null && existing.get().sha256().equalsIgnoreCase(file.sha256())
                && Files.isRegularFile(existing.get().path()) && current(existing.get().projector(), projFile)) {
            listener.progress(existing.get().digest(), existing.get().size(), existing.get().size());
            listener.status("success");
            return existing.get();
        }
        try {
            Files.createDirectories(blobs);
        } catch (IOException e) {
            throw new JemmaException("cannot create " + blobs + ": " + e.getMessage());
        }
        String sha = fetch(ref, hub, file, listener);
        StoredModel.Projector projector = null;
        if (projFile != null) {
            String psha = fetch(ref, hub, projFile, listener);
            projector = new StoredModel.Projector(projFile.path(), psha, sizeOf(blobs.resolve("sha256-" + psha)), blobs.resolve("sha256-" + psha));
        }
        listener.status("writing manifest");
        StoredModel m = new StoredModel(ref.name(), ref.repo(), file.path(), sha, file.size() >= 0 ? file.size()
                : sizeOf(blobs.resolve("sha256-" + sha)), blobs.resolve("sha256-" + sha), Instant.now(), projector);
        writeManifest(ref, m);
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
        Path lockFile = blobs.resolve("sha256-" + key + ".lock");
        ReentrantLock local = LOCAL_LOCKS.computeIfAbsent(lockFile, k -> new ReentrantLock());
        if (!local.tryLock()) {
            listener.status("waiting for another pull of " + file.path());
            local.lock();
        }
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockBlocking(ch, listener, file.path())) {
            return download(ref, hub, file, key, listener);
        } catch (IOException e) {
            throw new JemmaException("cannot lock " + lockFile + ": " + e.getMessage());
        } finally {
            local.unlock();
        }
    }

    private static FileLock lockBlocking(FileChannel ch, PullListener listener, String file) throws IOException {
        try {
            FileLock l = ch.tryLock();
            if (l != null) return l;
        } catch (OverlappingFileLockException e) {
            // cannot happen with the in-process lock held, but fall through to the blocking call
        }
        listener.status("waiting for another process pulling " + file);
        return ch.lock();
    }

    /** Downloads (resuming) and verifies one blob; returns its sha256. Caller holds the blob's lock. */
    private String download(ModelRef ref, HubClient hub, HubClient.HubFile file, String key, PullListener listener) {
        String where = "hf.co/" + ref.repo() + "/" + file.path();
        if (file.sha256() != null) {
            Path done = blobs.resolve("sha256-" + key);
            if (Files.isRegularFile(done) && (file.size() < 0 || sizeOf(done) == file.size())) {
                // Another pull finished it while we waited for the lock (blobs are only renamed after verification).
                listener.progress("sha256:" + key, sizeOf(done), sizeOf(done));
                return key;
            }
        }
        Path partial = blobs.resolve("sha256-" + key + ".partial");
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
        Path target = blobs.resolve("sha256-" + actual);
        moveAtomically(partial, target);
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

    /**
     * The projector pulled with the model whose blob {@code model} is ({@code …/models/blobs/sha256-HEX} of any store),
     * or empty when it is not a stored model or its repository had none.
     */
    public static Optional<Path> projectorOf(Path model) {
        Path abs = model.toAbsolutePath().normalize();
        Path name = abs.getFileName(), blobDir = abs.getParent();
        if (name == null || !name.toString().matches("sha256-[0-9a-f]{64}")) return Optional.empty();
        if (blobDir == null || !blobDir.getFileName().toString().equals("blobs")) return Optional.empty();
        Path models = blobDir.getParent();
        if (models == null || models.getFileName() == null || !models.getFileName().toString().equals("models") || models.getParent() == null) {
            return Optional.empty();
        }
        String sha = name.toString().substring("sha256-".length());
        for (StoredModel m : new ModelStore(models.getParent()).list()) {
            if (m.sha256().equals(sha) && m.projector() != null && Files.isRegularFile(m.projector().path())) return Optional.of(m.projector().path());
        }
        return Optional.empty();
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

    private Path manifestFile(ModelRef ref) {
        Path p = manifests.resolve(ref.manifestPath()).normalize();
        // ModelRef already refuses '..' and separators; this is the belt to those braces.
        if (!p.startsWith(manifests)) throw new JemmaException("invalid model name '" + ref.name() + "'");
        return p;
    }

    private void writeManifest(ModelRef ref, StoredModel m) {
        Path mf = manifestFile(ref);
        ObjectNode o = JSON.createObjectNode();
        o.put("name", m.name());
        o.put("repo", m.repo());
        o.put("file", m.file());
        o.put("sha256", m.sha256());
        o.put("size", m.size());
        o.put("pulled_at", m.pulledAt().toString());
        if (m.projector() != null) {
            ObjectNode p = o.putObject("projector");
            p.put("file", m.projector().file());
            p.put("sha256", m.projector().sha256());
            p.put("size", m.projector().size());
        }
        try {
            Files.createDirectories(mf.getParent());
            Path tmp = Files.createTempFile(mf.getParent(), mf.getFileName().toString(), ".tmp");
            JSON.writerWithDefaultPrettyPrinter().writeValue(tmp.toFile(), o);
            moveAtomically(tmp, mf);
        } catch (IOException e) {
            throw new JemmaException("cannot write " + mf + ": " + e.getMessage());
        }
    }

    private StoredModel readManifest(Path mf) {
        try {
            JsonNode o = JSON.readTree(mf.toFile());
            String sha = o.path("sha256").asText("");
            if (!sha.matches("[0-9a-f]{64}")) throw new JemmaException(mf + ": bad sha256 field");
            StoredModel.Projector projector = null;
            JsonNode p = o.path("projector");
            if (p.isObject()) {
                String psha = p.path("sha256").asText("");
                if (!psha.matches("[0-9a-f]{64}")) throw new JemmaException(mf + ": bad projector.sha256 field");
                projector = new StoredModel.Projector(p.path("file").asText(), psha, p.path("size").asLong(), blobs.resolve("sha256-" + psha));
            }
            return new StoredModel(o.path("name").asText(), o.path("repo").asText(), o.path("file").asText(), sha,
                    o.path("size").asLong(), blobs.resolve("sha256-" + sha), Instant.parse(o.path("pulled_at").asText(Instant.EPOCH.toString())),
                    projector);
        } catch (IOException | RuntimeException e) {
            if (e instanceof JemmaException je) throw je;
            throw new JemmaException(mf + ": unreadable manifest (" + e.getMessage() + ")");
        }
    }

    private static void moveAtomically(Path from, Path to) {
        try {
            try {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new JemmaException("cannot move " + from + " to " + to + ": " + e.getMessage());
        }
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
