package dev.jemma.cli;

import dev.jemma.core.Printable;

import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;
import picocli.CommandLine.Command;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code jemma list}: the models in the local store, like {@code ollama list}. */
@Command(name = "list", aliases = "ls", mixinStandardHelpOptions = true, description = "List the models in the local store.")
final class ListCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        List<StoredModel> models = ModelStore.open().list();
        int w = Math.max(4, models.stream().mapToInt(m -> Printable.of(m.name()).length()).max().orElse(4));
        System.out.printf("%-" + w + "s  %-12s  %8s  %s%n", "NAME", "ID", "SIZE", "MODIFIED");
        for (StoredModel m : models) {
            System.out.printf("%-" + w + "s  %-12s  %8s  %s%n", Printable.of(m.name()), Printable.of(m.sha256().substring(0, 12)),
                    PullCommand.ProgressBar.human(m.size()), ago(m.pulledAt()));
        }
        return 0;
    }

    private static String ago(Instant t) {
        long s = Duration.between(t, Instant.now()).toSeconds();
        if (s < 60) return "just now";
        if (s < 3600) return s / 60 + " minutes ago";
        if (s < 86400) return s / 3600 + " hours ago";
        return s / 86400 + " days ago";
    }
}
