package dev.jemma.core.store;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.repack.CacheDirectory;
import dev.jemma.core.repack.RepackCache;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * The local model store under {@code JEMMA_HOME} (default {@code ~/.jemma}), laid out like Ollama's:
 * <pre>
 *   models/blobs/sha256-HEX              verified GGUF content (shared between names)
 *   models/blobs/sha256-HEX.partial      an interrupted download, resumed with an HTTP Range request
 *   models/blobs/sha256-HEX.lock         held while one process downloads that blob ({@link BlobLock}; deleted after)
 *   models/manifests/library/gemma3/4b.json            short names
 *   models/manifests/hf.co/ORG/REPO/TAG.json           hub references
 * </pre>
 * A blob only gets its final name after its size and sha256 match the hub's LFS metadata (atomic rename), and a
 * manifest is written (atomically) only after that, so a broken download never becomes a model. A repository with a
 * multimodal projector (an {@code mmproj*.gguf} beside the model, as llama.cpp's Gemma 3 repositories ship the vision
 * tower) has it pulled too, as a blob of its own named in the model's manifest; {@link #projectorOf} finds it from the
 * model's blob, which is how an engine loading a stored model sees images.
 *
 * <p>This is the store's layout and lookup, which the engine needs at run time (a stored model's projector); pulling
 * from Hugging Face is jemma-tools' {@code ModelPuller}, which writes blobs and manifests through this class.
 */
public final class ModelStore {
    private static final ObjectMapper JSON = new ObjectMapper();

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

    /** The folder of the content blobs ({@code models/blobs}); a puller downloads into it. */
    public Path blobs() {
        return blobs;
    }

    /** The blob of the content whose sha256 is {@code sha} (hex). */
    public Path blob(String sha) {
        return blobs.resolve("sha256-" + sha);
    }

    /**
     * Gives a verified download its final blob name (an atomic rename where the file system has one), so a blob under
     * its final name is always complete.
     */
    public Path commitBlob(Path verified, String sha) {
        Path target = blob(sha);
        moveAtomically(verified, target);
        return target;
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
     * Removes a model's manifest, and its blob when no other name refers to it (with the blob's weight cache copies),
     * and the blobs' lock files no pull holds.
     *
     * @return false when no such model was stored
     */
    public boolean remove(String name) {
        return delete(name).isPresent();
    }

    /**
     * What {@link #delete} freed besides the model's files: its weight cache copies, in bytes, and a "FILE: why" line for
     * each copy that could not be deleted.
     */
    public record Deleted(long weightCacheBytes, List<String> weightCacheFailures) {
    }

    /**
     * As {@link #remove}, and the weight cache copies of each blob deleted (its text weights', every part's, and its
     * projector's): a deleted model's copies are no use to anyone, and as large as the model.
     *
     * @return empty when no such model was stored
     */
    public Optional<Deleted> delete(String name) {
        ModelRef ref = ModelRef.parse(name);
        Path mf = manifestFile(ref);
        if (!Files.isRegularFile(mf)) return Optional.empty();
        StoredModel m;
        try {
            m = readManifest(mf);
        } catch (JemmaException e) {
            m = null;
        }
        CacheDirectory.Removal cache = CacheDirectory.Removal.NONE;
        try {
            Files.delete(mf);
            if (m != null) {
                if (!referenced(m.sha256())) cache = cache.and(deleteWithCopies(m.path()));
                if (m.projector() != null && !referenced(m.projector().sha256())) cache = cache.and(deleteWithCopies(m.projector().path()));
            }
            // the lock files of interrupted pulls (and of Jemma versions that kept them), held by no pull now
            BlobLock.deleteUnheld(blobs);
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
        return Optional.of(new Deleted(cache.bytes(), cache.failures()));
    }

    /** Deletes a blob and the weight cache copies built from it. */
    private static CacheDirectory.Removal deleteWithCopies(Path blob) throws IOException {
        // the copies are found by the real path they record: look while the blob still exists
        List<Path> copies = CacheDirectory.copiesOf(RepackCache.defaultDir(), blob);
        Files.deleteIfExists(blob);
        return CacheDirectory.delete(copies);
    }

    /** Whether a stored model still refers to the blob (as its model or its projector). */
    private boolean referenced(String sha) {
        return list().stream().anyMatch(o -> o.sha256().equals(sha) || (o.projector() != null && o.projector().sha256().equals(sha)));
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

    private Path manifestFile(ModelRef ref) {
        Path p = manifests.resolve(ref.manifestPath()).normalize();
        // ModelRef already refuses '..' and separators; this is the belt to those braces.
        if (!p.startsWith(manifests)) throw new JemmaException("invalid model name '" + ref.name() + "'");
        return p;
    }

    /** Records {@code m} under {@code ref}'s name (atomically); its blobs must already be committed. */
    public void writeManifest(ModelRef ref, StoredModel m) {
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
}
