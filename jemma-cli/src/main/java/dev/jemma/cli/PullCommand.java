package dev.jemma.cli;

import dev.jemma.tools.store.HubClient;
import dev.jemma.core.store.ModelStore;
import dev.jemma.tools.store.ModelPuller;
import dev.jemma.tools.store.PullListener;
import dev.jemma.core.store.StoredModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.util.concurrent.Callable;

/** {@code jemma pull NAME}: downloads a model from the Hugging Face hub into the local store. */
@Command(name = "pull", mixinStandardHelpOptions = true,
        description = {"Download a model into the local store (JEMMA_HOME, default ~/.jemma).",
                "NAME: gemma3:270m|1b|4b|12b|27b, gemma3n:e2b|e4b, or hf.co/ORG/REPO[:QUANT].",
                "Environment: HF_TOKEN for gated repositories, HF_ENDPOINT for a mirror."})
final class PullCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NAME", description = "model name")
    String name;

    @Override
    public Integer call() {
        ModelStore store = ModelStore.open();
        ProgressBar bar = new ProgressBar(System.err);
        StoredModel m = new ModelPuller(store).pull(name, HubClient.fromEnvironment(), bar);
        bar.finish();
        System.out.println(m.name() + "  " + m.digest().substring(0, 19) + "  " + ProgressBar.human(m.size())
                + "  (" + m.repo() + "/" + m.file() + ")");
        if (m.projector() != null) {
            System.out.println("  + projector  sha256:" + m.projector().sha256().substring(0, 12) + "  " + ProgressBar.human(m.projector().size())
                    + "  (" + m.repo() + "/" + m.projector().file() + ")");
        }
        return 0;
    }

    /** A one-line progress bar on a terminal; occasional plain lines when stderr is not a terminal. */
    static final class ProgressBar implements PullListener {
        private final PrintStream out;
        private final boolean tty;
        private final long start = System.nanoTime();
        private long startBytes = -1;
        private long lastPlain;
        private boolean drawn;

        ProgressBar(PrintStream out) {
            this.out = out;
            var c = System.console();
            this.tty = c != null && c.isTerminal();
        }

        @Override
        public void status(String status) {
            if (status.equals("success")) return;
            if (drawn) out.println();
            drawn = false;
            out.println(status);
        }

        @Override
        public void progress(String digest, long completed, long total) {
            if (startBytes < 0) startBytes = completed;
            double secs = (System.nanoTime() - start) / 1e9;
            double rate = secs > 0.2 ? (completed - startBytes) / secs : 0;
            String pct = total > 0 ? String.format("%3d%%", completed * 100 / total) : " ?%";
            String eta = rate > 0 && total > 0 ? " ETA " + duration((total - completed) / rate) : "";
            String text = String.format("%s %s %s/%s %s/s%s", pct, bar(completed, total), human(completed),
                    total > 0 ? human(total) : "?", human((long) rate), eta);
            if (tty) {
                out.print("\r" + text + "\u001b[K");
                out.flush();
                drawn = true;
            } else {
                long now = System.nanoTime();
                if (now - lastPlain > 5_000_000_000L || (total > 0 && completed >= total)) {
                    out.println(text);
                    lastPlain = now;
                }
            }
        }

        void finish() {
            if (drawn) out.println();
            drawn = false;
        }

        private static String bar(long done, long total) {
            int width = 30;
            int filled = total > 0 ? (int) Math.min(width, done * width / total) : 0;
            return "[" + "#".repeat(filled) + " ".repeat(width - filled) + "]";
        }

        static String human(long bytes) {
            if (bytes < 1024) return bytes + " B";
            String[] units = {"KB", "MB", "GB", "TB"};
            double v = bytes;
            int u = -1;
            while (v >= 1000 && u < units.length - 1) {
                v /= 1000;
                u++;
            }
            return String.format(v < 10 ? "%.1f %s" : "%.0f %s", v, units[Math.max(u, 0)]);
        }

        private static String duration(double s) {
            long t = (long) s;
            return t >= 3600 ? String.format("%dh%02dm", t / 3600, t % 3600 / 60)
                    : t >= 60 ? String.format("%dm%02ds", t / 60, t % 60) : t + "s";
        }
    }
}
