package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.repack.RepackCache;
import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code jemma rm NAME…}: removes models from the local store (their files too, the projector pulled with them included,
 * unless another name shares them, and then their weight cache files as well).
 */
@Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove models from the local store.")
final class RmCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "NAME", description = "model names")
    List<String> names;

    @Override
    public Integer call() {
        ModelStore store = ModelStore.open();
        for (String n : names) {
            // each weight cache file records the real path of the file it was built from: find them while the files still
            // exist (the model's, every part of it, and its projector's: a Gemma 3n mmproj's vision tower has a cache of its own)
            StoredModel stored = store.find(n).orElse(null);
            Map<Path, List<Path>> caches = new LinkedHashMap<>();
            if (stored != null) {
                caches.put(stored.path(), RepackCache.cacheFilesFor(stored.path()));
                if (stored.projector() != null) caches.put(stored.projector().path(), RepackCache.cacheFilesFor(stored.projector().path()));
            }
            if (!store.remove(n)) throw new JemmaException("model '" + n + "' is not in the store (see jemma list)");
            long freed = 0;
            for (var e : caches.entrySet()) {
                if (Files.exists(e.getKey())) continue;   // another name still uses the file, and its cache
                for (Path cache : e.getValue()) {
                    try {
                        long size = Files.size(cache);
                        // a copy another process has mapped is safe to unlink on Linux: its mapping keeps the inode
                        if (Files.deleteIfExists(cache)) freed += size;
                    } catch (java.nio.file.NoSuchFileException gone) {
                        // removed meanwhile (another process's build swept it)
                    } catch (IOException ex) {
                        System.err.println("jemma: could not delete the weight cache " + cache + ": " + ex.getMessage());
                    }
                }
            }
            System.out.println("deleted '" + n + "'" + (freed == 0 ? "" : " and its weight cache (" + PullCommand.ProgressBar.human(freed) + ")"));
        }
        return 0;
    }
}
