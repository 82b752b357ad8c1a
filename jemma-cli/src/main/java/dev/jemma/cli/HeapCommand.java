package dev.jemma.cli;

import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.store.ModelStore;
import dev.jemma.core.store.StoredModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code jemma heap COMMAND ARGS…} (hidden): prints the {@code -Xmx} option the launcher starts {@code serve}, {@code run}
 * and {@code chat} with, from the memory plan of the models that command will load, so that a flood of requests meets
 * a bounded heap (and is refused) instead of a heap that grows to a quarter of the machine and swaps. Prints nothing
 * when it cannot tell (the command itself then reports the problem).
 *
 * <p>The heap a model needs is its plan's ({@link MemoryPlan#heapNeeded()}: KV cache, scratch, headroom), with the KV
 * cache once per conversation the command keeps (the server's KV pool: {@code parallel} slots per model), plus room for the
 * rest of the process: {@value #BASE_MIB} MiB (tokenizer tables, the JIT's warm-up garbage, Jetty) and, for the
 * server, three times the body limit per admitted request (the raw body, its JSON tree and the prompt string). Where
 * the command will be given images ({@code serve}, {@code chat}, {@code run --image}) and the model has a vision tower,
 * the plan holds an image's encoding too ({@link MemoryPlan#imageScratchBytes}), as the engine's plan does: without it
 * the engine would refuse the heap this command gives (E2B's MobileNet-V5 plans 392 MB).
 */
@Command(name = "heap", hidden = true, description = "Print the -Xmx the launcher gives COMMAND (from the memory plan).")
final class HeapCommand implements Callable<Integer> {
    static final long BASE_MIB = 256;
    static final long MIB = 1L << 20;

    /** The command line of the command to size, as given (its options are not this command's). */
    @CommandLine.Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() {
        long bytes = args.isEmpty() ? 0 : heapFor(args.getFirst(), args.subList(1, args.size()).toArray(String[]::new));
        if (bytes > 0) System.out.println("-Xmx" + bytes / MIB + "m");
        return 0;
    }

    /** The heap, bytes (a multiple of 64 MiB), or 0 when the command loads no model or cannot be parsed. */
    static long heapFor(String command, String... rest) {
        long bytes;
        try {
            bytes = switch (command) {
                case "serve" -> serve(rest);
                case "run" -> run(rest);
                case "chat" -> chat(rest);
                default -> 0;
            };
        } catch (RuntimeException e) {
            return 0; // bad arguments or model: the command itself says so
        }
        if (bytes <= 0) return 0;
        long unit = 64 * MIB;
        return (bytes + unit - 1) / unit * unit;
    }

    private static long serve(String[] rest) {
        ServeCommand s = new ServeCommand();
        new CommandLine(s).parseArgs(rest);
        int sessions = s.parallel;
        int perSlot = s.ctx > 0 ? Math.max(1, s.ctx / s.parallel) : 0;
        // the model's batch takes a whole --batch-chunk, as the engine loads it
        int batch = dev.jemma.core.engine.EngineOptions.builder().batchChunk(s.batchChunk).build().modelBatch();
        long models = 0;
        if (!s.models.isEmpty()) {
            for (String m : s.models) models += modelHeap(ModelPaths.resolve(m), perSlot, sessions, batch, true, null);
        } else {
            // models load on demand from the store: room for the largest
            for (StoredModel m : ModelStore.open().list()) models = Math.max(models, modelHeap(m.path(), perSlot, sessions, batch, true, null));
        }
        if (models == 0) return 0;
        long requests = (long) (s.parallel + s.queue) * 3 * dev.jemma.server.JemmaServer.Config.defaults().maxBodyBytes();
        return models + requests + BASE_MIB * MIB;
    }

    private static long run(String[] rest) {
        RunCommand r = new RunCommand();
        new CommandLine(r).parseArgs(rest);
        String modelArg = null;
        if (r.positional.size() >= 2) modelArg = r.positional.get(0);
        else if (r.positional.size() == 1) {
            String a = r.positional.get(0);
            if (ModelPaths.isModel(a) || a.toLowerCase().endsWith(".gguf")) modelArg = a;
        }
        Path model = modelArg != null ? ModelPaths.resolve(modelArg) : ModelPaths.demoModel();
        return modelHeap(model, r.flags.contextLength, 1, DEFAULT_BATCH, !r.images.isEmpty(), r.flags.mmproj) + BASE_MIB * MIB;
    }

    private static long chat(String[] rest) {
        ChatCommand c = new ChatCommand();
        new CommandLine(c).parseArgs(rest);
        Path model = c.model != null ? ModelPaths.resolve(c.model) : ModelPaths.demoModel();
        // chat takes images (/image) whenever the model has a tower
        return modelHeap(model, c.flags.contextLength, 1, DEFAULT_BATCH, true, c.flags.mmproj) + BASE_MIB * MIB;
    }

    private static final int DEFAULT_BATCH = dev.jemma.core.engine.EngineOptions.defaults().modelBatch();

    /**
     * (KV cache + a generation's logits rows) per conversation × conversations + one forward's scratch (batches of
     * {@code batch}) + headroom, + an image's encoding where {@code images} and the model has a vision tower
     * ({@code mmproj}, or found as the engine finds it): the model's plan with that many sequences.
     */
    static long modelHeap(Path model, int contextLength, int sessions, int batch, boolean images, Path mmproj) {
        if (model == null || !Files.isRegularFile(model)) return 0;
        try (GgufFile f = GgufFile.open(model)) {
            MemoryPlan p = ModelLoader.plan(f, ModelLoader.readConfig(f), contextLength, batch);
            if (images) p = p.withImages(null, imageScratch(f, model, mmproj));
            return p.withSequences(Math.max(1, sessions)).heapNeeded();
        }
    }

    /** The heap one image's encoding holds with the model's vision tower, 0 when it has none (or one the engine would refuse). */
    private static long imageScratch(GgufFile f, Path model, Path mmproj) {
        if ("gemma3n".equals(f.getString("general.architecture")) && (mmproj != null || !dev.jemma.core.media3n.Gemma3nMmproj.carriesTowers(f))) {
            // MobileNet-V5's shapes alone: opening the whole mmproj (embedders, audio tower) takes seconds (E2B: 13 s at C1)
            // where this takes ~0.1 s, and this command runs before every launch
            Path source = mmproj != null ? mmproj : dev.jemma.core.vision.ImageEncoder.findBeside(model);
            if (source == null || !Files.isRegularFile(source)) return 0;
            try (GgufFile mm = GgufFile.open(source)) {
                if (!"gemma3nv".equals(dev.jemma.core.vision.VisionConfig.projectorType(mm))) return 0;
                return 4L * new dev.jemma.core.mobilenet.MobileNetV5(new dev.jemma.core.media3n.MmprojWeights(mm),
                        mm.requireInt("clip.vision.image_size"), (float) mm.getDouble("clip.vision.attention.layer_norm_epsilon", 1e-6)).scratchFloats();
            } catch (RuntimeException e) {
                return 0;
            }
        }
        try (dev.jemma.core.tensor.ThreadPool pool = new dev.jemma.core.tensor.ThreadPool(1);
             dev.jemma.core.vision.VisionEncoder enc = VisionModel.encoder(f, model, mmproj, new ModelLoader.Options(true, 1, 64), pool)) {
            return enc.scratchBytes();
        } catch (RuntimeException e) {
            return 0; // text only: the command itself reports a bad tower
        }
    }
}
