package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.store.ModelStore;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/** {@code jemma rm NAME…}: removes models from the local store (their files too, unless another name shares them). */
@Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove models from the local store.")
final class RmCommand implements Callable<Integer> {
    @Parameters(arity = "1..*", paramLabel = "NAME", description = "model names")
    List<String> names;

    @Override
    public Integer call() {
        ModelStore store = ModelStore.open();
        for (String n : names) {
            if (!store.remove(n)) throw new JemmaException("model '" + n + "' is not in the store (see jemma list)");
            System.out.println("deleted '" + n + "'");
        }
        return 0;
    }
}
