package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.Printable;
import dev.jemma.core.repack.CacheDirectory;
import dev.jemma.core.repack.CachedCopy;
import dev.jemma.core.repack.RepackCache;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code jemma cache [list|prune]}: the weight cache (the interleaved copies of models' weights that loads build once and
 * map after), listed with each copy's model file, size and state, and pruned of everything this Jemma cannot use. A
 * command of its own rather than {@code list --cache}: its files are not models and {@code list} prints the store, and
 * "prune" has no place beside {@code list}; {@code pip cache list|purge} and {@code go clean -cache} read the same way.
 */
@Command(name = "cache", mixinStandardHelpOptions = true, description = {
        "List or prune the weight cache (the copies of models' weights in the layout the fast kernels read).",
        "",
        "A model's first load writes its copy (about the size of the model file) to -Djemma.cache.dir, else "
                + "$JEMMA_HOME/cache (~/.jemma/cache); later loads map it. A load that builds a copy first removes the "
                + "copies whose model file is gone or was rewritten since; 'jemma rm' removes a model's copies with it.",
        ""},
        footer = {"", "States:",
                "  in use           its model file is there, unchanged",
                "  source gone      its model file was deleted, moved or renamed",
                "  stale            its model file was rewritten after the copy was built",
                "  older layout     built by another Jemma version (newer layout: by a newer one)",
                "  damaged          not a whole cache file",
                "  being built      a running Jemma is writing it",
                "  abandoned build  left by a build that was killed"})
final class CacheCommand implements Callable<Integer> {
    @Parameters(arity = "0..1", paramLabel = "ACTION", defaultValue = "list",
            description = "list (the default): every cache file with its size, state and model file; "
                    + "prune: remove every cache file that is not in use (copies in use and builds still running stay)")
    String action;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        Path dir = RepackCache.defaultDir();
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new JemmaException(Printable.line(dir.toString()) + ": is not a directory (the weight cache's: -Djemma.cache.dir, else $JEMMA_HOME/cache)");
        }
        return switch (action) {
            case "list" -> list(dir);
            case "prune" -> prune(dir);
            // a usage error as picocli reports its own: exit 2, with where the help is
            default -> throw new CommandLine.ParameterException(spec.commandLine(), "unknown cache action '" + Printable.of(action) + "': use list or prune");
        };
    }

    private static int list(Path dir) {
        List<CachedCopy> all = CacheDirectory.list(dir);
        if (all.isEmpty()) {
            System.out.println("the weight cache " + Printable.line(dir.toString()) + " is empty");
            return 0;
        }
        int w = Math.max(4, all.stream().mapToInt(c -> name(c).length()).max().orElse(4));
        int s = Math.max(5, all.stream().mapToInt(c -> c.describe().length()).max().orElse(5));
        String row = "%-" + w + "s  %8s  %-" + s + "s  %s%n";
        System.out.printf(row, "FILE", "SIZE", "STATE", "SOURCE");
        long total = 0, unusable = 0;
        int unusableFiles = 0;
        for (CachedCopy c : all) {
            System.out.printf(row, name(c), PullCommand.ProgressBar.human(c.bytes()), c.describe(),
                    c.source() == null ? "-" : Printable.line(c.source().toString()));
            total += c.bytes();
            if (!c.kept()) {
                unusable += c.bytes();
                unusableFiles++;
            }
        }
        System.out.println();
        System.out.println(files(all.size()) + ", " + PullCommand.ProgressBar.human(total) + " in " + Printable.line(dir.toString())
                + (unusableFiles == 0 ? "" : "; 'jemma cache prune' frees " + PullCommand.ProgressBar.human(unusable) + " (" + files(unusableFiles) + " not in use)"));
        return 0;
    }

    private static int prune(Path dir) {
        CacheDirectory.Removal r = CacheDirectory.prune(dir);
        for (CachedCopy c : r.removed()) {
            System.out.println("removed " + name(c) + "  " + PullCommand.ProgressBar.human(c.bytes()) + "  (" + c.describe()
                    + (c.source() == null ? "" : ": " + Printable.line(c.source().toString())) + ")");
        }
        long kept = CacheDirectory.list(dir).stream().mapToLong(CachedCopy::bytes).sum();
        System.out.println((r.removed().isEmpty() ? "nothing to prune" : "freed " + PullCommand.ProgressBar.human(r.bytes()) + " (" + files(r.removed().size()) + ")")
                + "; " + PullCommand.ProgressBar.human(kept) + " in use in " + Printable.line(dir.toString()));
        for (String f : r.failures()) System.err.println("jemma: could not remove " + Printable.line(f));
        return r.failures().isEmpty() ? 0 : 1;
    }

    private static String name(CachedCopy c) {
        return Printable.line(c.file().getFileName().toString());
    }

    private static String files(int n) {
        return n + (n == 1 ? " file" : " files");
    }
}
