package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.ModelStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code jemma rm NAME…}: removes models from the local store (their files too, the projector pulled with them included,
 * unless another name shares them, and then their weight cache copies as well).
 */
@Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove models from the local store.")
final class RmCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "NAME", description = "model names")
    List<String> names;

    @Override
    public Integer call() {
        ModelStore store = ModelStore.open();
        for (String n : names) {
            // the store deletes the weight cache copies of the files it deletes (not of a file another name still uses)
            ModelStore.Deleted d = store.delete(n)
                    .orElseThrow(() -> new JemmaException("model '" + n + "' is not in the store (see jemma list)"));
            for (String f : d.weightCacheFailures()) System.err.println("jemma: could not delete the weight cache " + f);
            System.out.println("deleted '" + n + "'"
                    + (d.weightCacheBytes() == 0 ? "" : " and its weight cache (" + PullCommand.ProgressBar.human(d.weightCacheBytes()) + ")"));
        }
        return 0;
    }
}
