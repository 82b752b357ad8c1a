package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code jemma} command. */
@Command(name = "jemma", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Gemma 3 and Gemma 3n inference in pure Java.",
        subcommands = {RunCommand.class, ChatCommand.class, TokenizeCommand.class, LogitsCommand.class, EmbedCommand.class, EmbedImageCommand.class, AudioFeaturesCommand.class, EmbedAudioCommand.class, TranscribeCommand.class, QuantizeCommand.class, PullCommand.class, ListCommand.class, RmCommand.class, CacheCommand.class,
                ServeCommand.class, LoadTestCommand.class,
                ShowCommand.class, GenerateCommand.class,
                ConvertCommand.class,
                PerplexityCommand.class,
                BenchCommand.class,
                HeapCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns its exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        // every subcommand offers -V/--version (mixinStandardHelpOptions); without the root's provider it printed nothing
        cl.getSubcommands().values().forEach(c -> c.getCommandSpec().versionProvider(new Version()));
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            if (ex instanceof JemmaException) {
                cmd.getErr().println("jemma: " + ex.getMessage());
                return 1;
            }
            // a file the command could not open or write (e.g. -o into a missing directory): one line, no class name
            Throwable io = ex instanceof java.io.UncheckedIOException u ? u.getCause() : ex;
            if (io instanceof java.nio.file.FileSystemException f) {
                cmd.getErr().println("jemma: " + dev.jemma.core.Printable.line(describe(f)));
                return 1;
            }
            cmd.getErr().println("jemma: internal error: " + dev.jemma.core.Printable.line(String.valueOf(ex)));
            if (System.getenv("JEMMA_DEBUG") != null) ex.printStackTrace(cmd.getErr());
            return 70;
        });
        // bad flags: one line naming the problem and where help is, not the whole usage text
        cl.setParameterExceptionHandler((ex, a) -> {
            CommandLine c = ex.getCommandLine();
            String unknown = unknownCommand(ex, cl);
            if (unknown != null) {
                c.getErr().println("jemma: " + unknown);
                return 2;
            }
            c.getErr().println("jemma: " + ex.getMessage() + " (see '" + c.getCommandSpec().qualifiedName() + " --help')");
            return 2;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            System.err.println("jemma: out of memory (" + e.getMessage() + "); try a smaller context with -c, or a larger heap with JEMMA_JAVA_OPTS=-Xmx…");
            return 1;
        }
    }

    /**
     * "unknown command 'X'" (with picocli's closest names) for a first argument that names no command, instead of
     * picocli's "Unmatched argument at index 0"; null for any other error.
     */
    static String unknownCommand(CommandLine.ParameterException ex, CommandLine root) {
        if (!(ex instanceof CommandLine.UnmatchedArgumentException u) || ex.getCommandLine() != root) return null;
        java.util.List<String> args = u.getUnmatched();
        if (args.isEmpty() || args.getFirst().startsWith("-")) return null;
        // picocli suggests names sharing a few letters (frobnicate: generate, chat, loadtest); keep the real typos
        java.util.List<String> near = u.getSuggestions().stream().filter(n -> editDistance(n, args.getFirst()) <= 2).toList();
        return "unknown command '" + dev.jemma.core.Printable.of(args.getFirst()) + "'"
                + (near.isEmpty() ? "" : "; did you mean " + String.join(" or ", near) + "?") + " (see 'jemma --help')";
    }

    static int editDistance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                cur[j] = Math.min(Math.min(cur[j - 1], prev[j]) + 1, prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** "PATH: problem" for a failed file operation; a temp file's name is replaced by the file the user named. */
    static String describe(java.nio.file.FileSystemException f) {
        String file = f.getFile() == null ? "?" : f.getFile().replaceFirst("\\.(tmp|part)$", "");
        java.nio.file.Path parent = java.nio.file.Path.of(file).toAbsolutePath().getParent();
        if (f instanceof java.nio.file.NoSuchFileException && parent != null && !java.nio.file.Files.isDirectory(parent)) {
            return file + ": cannot write: directory " + parent + " does not exist";
        }
        if (f instanceof java.nio.file.NoSuchFileException) return file + ": no such file";
        if (f instanceof java.nio.file.AccessDeniedException) return file + ": permission denied";
        return file + ": " + (f.getReason() != null ? f.getReason() : f.getClass().getSimpleName());
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[]{"jemma " + (v == null ? "dev" : v)};
        }
    }
}
