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
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code jemma rm NAME…}: removes models from the local store (their files too, unless another name shares them, and
 * then their weight cache files as well).
 */
@Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove models from the local store.")
final class RmCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "NAME", description = "model names")
    List<String> names;

    @Override
    public Integer call() {
        ModelStore store = ModelStore.open();
        for (String n : names) {
            // the weight cache is named after the model file's path: work it out while the file still exists
            Path file = store.find(n).map(StoredModel::path).orElse(null);
            Path cache = file == null ? null : RepackCache.cacheFileFor(file);
            if (!store.remove(n)) throw new JemmaException("model '" + n + "' is not in the store (see jemma list)");
            if (cache != null && !Files.exists(file)) {
                try {
                    Files.deleteIfExists(cache);
                } catch (IOException e) {
                    System.err.println("jemma: could not delete the weight cache " + cache + ": " + e.getMessage());
                }
            }
            System.out.println("deleted '" + n + "'");
        }
        return 0;
    }
}
