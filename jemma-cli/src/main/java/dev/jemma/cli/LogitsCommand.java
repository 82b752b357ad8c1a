package dev.jemma.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.jemma.core.JemmaException;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.ThreadPool;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;

/** Writes the logits of every position of a token sequence (little-endian f32, [n_ids × n_vocab]). */
@Command(name = "logits", mixinStandardHelpOptions = true, description = "Compute logits for every position of a token id list.")
final class LogitsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file or model name")
    String model;

    @Option(names = "--ids-file", required = true, paramLabel = "IDS.json", description = "JSON array of token ids (BOS included if wanted)")
    Path idsFile;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.f32", description = "output file")
    Path out;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32")
    boolean exact;

    @Option(names = "--matformer", paramLabel = "SPEC", description = "Gemma 3n: run a MatFormer slice cut at load time: e2b (from an E4B file) or ffn=W[,W…|W*K];skip=a-b,…")
    String matformer;

    @Option(names = "--audio", paramLabel = "WAV", description = "Gemma 3n: a clip whose embeddings fill the k-th run of <audio_soft_token> ids (repeat for several)")
    java.util.List<Path> audio = new java.util.ArrayList<>();

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads (default: all cores)")
    int threads = ThreadPool.defaultThreads();

    @Option(names = "--mmproj", paramLabel = "MMPROJ", description = "projector (mmproj GGUF) for --image / --audio; default: the vision tower inside the model file, or (Gemma 3n) mmproj-<model>.gguf or the only mmproj*.gguf beside the model")
    Path mmproj;

    @Option(names = "--image", paramLabel = "IMG", description = "an image whose embeddings replace the next run of image soft-token ids in IDS (repeatable, in order; Gemma 3n: with --audio too, each kind filling its own runs wherever they stand)")
    java.util.List<Path> images = new java.util.ArrayList<>();

    @Option(names = "--pan-and-scan", description = "each --image also contributes its pan-and-scan crops, as runs of their own after it (HF Gemma 3's do_pan_and_scan)")
    boolean panAndScan;

    @Override
    public Integer call() throws IOException {
        int[] ids = readIds(idsFile);
        java.util.List<dev.jemma.core.audio.AudioClip> clips = new java.util.ArrayList<>();
        for (Path a : audio) clips.add(AudioFiles.read(a, dev.jemma.core.audio.AudioClip.MAX_CLIP_SECONDS).requireOnePiece());
        // before the (possibly long) computation, not after it
        if (Files.isDirectory(out)) throw new JemmaException(out + ": is a directory; -o names the output file");
        Path path = ModelPaths.resolve(model);
        threads = Threads.resolve(threads, 1);
        if (!images.isEmpty() && audio.isEmpty()) {
            writeAtomically(out, logitsWithImages(path, ids));
            return 0;
        }
        if (panAndScan) {
            throw new JemmaException(images.isEmpty() ? "--pan-and-scan needs at least one --image" : "--pan-and-scan is Gemma 3's; with --audio the model is Gemma 3n, whose image processor has none");
        }
        try (ThreadPool pool = new ThreadPool(threads);
             LanguageModel m = ModelLoader.load(path, new ModelLoader.Options(exact, threads, 64, matformer)
                     .withContextLength(Math.max(ids.length, 1)), pool);
             dev.jemma.core.media3n.Gemma3nMmproj mm = media(path, m, pool)) {
            // each medium fills the next run of its kind's soft-token id (HF: <end_of_image> / <end_of_audio> = the
            // embedder's vocab_offset, its soft token after it), wherever the runs stand; a clip's rows are padded to its
            // run's length as HF pads them
            java.util.Map<Integer, java.util.List<float[]>> media = new java.util.HashMap<>();
            if (!clips.isEmpty()) {
                dev.jemma.core.audio.Gemma3nAudioModel am = Media3n.audio(mm, m, exact);
                int soft = am.embedder().vocabOffset() + 1;
                java.util.List<int[]> runs = dev.jemma.core.vision.ImagePrompt.spans(ids, soft);
                if (runs.size() != clips.size()) {
                    throw new JemmaException(idsFile + ": " + runs.size() + " run(s) of the audio soft-token id " + soft + " for " + clips.size() + " --audio clip(s)");
                }
                java.util.List<float[]> rows = new java.util.ArrayList<>();
                for (int k = 0; k < clips.size(); k++) rows.add(am.softTokens(clips.get(k), runs.get(k)[1] - runs.get(k)[0], pool));
                media.put(soft, rows);
            }
            if (!images.isEmpty()) {
                if (!mm.hasVision()) throw new JemmaException(mm.path().getFileName() + ": no vision tower (audio only), so --image cannot be used");
                int soft = mm.visionEmbedder().vocabOffset() + 1;
                try (var enc = dev.jemma.core.mobilenet.Gemma3nImageEncoder.open(mm, Media3n.matmul(exact))) {
                    java.util.List<float[]> rows = VisionModel.encodeAll(enc, images, false, pool);
                    dev.jemma.core.vision.ImagePrompt.check(ids, soft, rows.size(), enc.tokensPerImage());
                    media.put(soft, rows);
                }
            }
            KvCache cache = m.newCache(Math.max(ids.length, 1));
            int vocab = m.config().vocabSize();
            Path tmp = out.toAbsolutePath().resolveSibling(out.getFileName() + ".tmp");
            tmp.toFile().deleteOnExit(); // Ctrl-C before the move: no OUT.tmp left behind
            try (OutputStream os = Files.newOutputStream(tmp)) {
                ByteBuffer buf = ByteBuffer.allocate(vocab * 4 * Math.min(ids.length, m.maxBatch())).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < ids.length; i += m.maxBatch()) {
                    int n = Math.min(m.maxBatch(), ids.length - i);
                    float[] logits = media.isEmpty() ? m.forward(ids, i, n, cache, true)
                            : m.forward(dev.jemma.core.media3n.MediaPrompt.batch(ids, i, i + n, media, m.config().dim(), cache, true));
                    buf.clear();
                    buf.asFloatBuffer().put(logits, 0, n * vocab);
                    os.write(buf.array(), 0, n * vocab * 4);
                }
            } catch (RuntimeException | IOException e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
            try {
                Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return 0;
    }

    /**
     * Logits of every position with the images' embeddings at the soft-token runs: bidirectional within each for Gemma 3,
     * causal rows for Gemma 3n (as HF does each).
     */
    private float[] logitsWithImages(Path path, int[] ids) {
        try (ThreadPool pool = new ThreadPool(threads);
             VisionModel vm = VisionModel.open(path, mmproj, exact, matformer, ids.length, threads, pool)) {
            java.util.List<float[]> embeddings = vm.encode(images, panAndScan, pool);
            dev.jemma.core.vision.ImagePrompt.check(ids, vm.softToken(), embeddings.size(), vm.encoder().tokensPerImage());
            KvCache cache = vm.model().newCache(Math.max(ids.length, 1));
            int dim = vm.model().config().dim();
            return vm.model().forward(vm.encoder().bidirectional()
                    ? dev.jemma.core.vision.ImagePrompt.batch(ids, 0, vm.softToken(), embeddings, dim, cache, true)
                    : dev.jemma.core.media3n.MediaPrompt.batch(ids, 0, vm.softToken(), embeddings, dim, cache, true));
        }
    }

    /** Writes little-endian f32 through a temporary file, so a failure never leaves a half-written output. */
    static void writeAtomically(Path out, float[] values) throws IOException {
        Path tmp = out.toAbsolutePath().resolveSibling(out.getFileName() + ".tmp");
        try {
            ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
            buf.asFloatBuffer().put(values);
            Files.write(tmp, buf.array());
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * A Gemma 3n model gets its multimodal embedders whenever its mmproj is given or beside it, so media ids in the
     * list are embedded as HF embeds them; null (text only) otherwise. --audio without an mmproj is refused.
     */
    private dev.jemma.core.media3n.Gemma3nMmproj media(Path path, LanguageModel m, ThreadPool pool) {
        boolean gemma3n = m instanceof dev.jemma.core.model.Gemma3nModel;
        if (!audio.isEmpty() || (mmproj != null && gemma3n)) return Media3n.open(path, mmproj, m, exact, pool);
        if (mmproj != null) throw new JemmaException("--mmproj needs at least one --image");
        if (!gemma3n) return null;
        Path found = dev.jemma.core.media3n.Gemma3nMmproj.find(path, null);
        if (found == null) return null;
        try {
            return Media3n.open(path, found, m, exact, pool);
        } catch (JemmaException e) {
            return null;   // an mmproj of another model beside this one: text only, as without it
        }
    }

    static int[] readIds(Path file) {
        if (!Files.isRegularFile(file)) throw new JemmaException(file + (Files.isDirectory(file) ? ": is a directory, not a file" : ": no such file"));
        try {
            int[] ids = new ObjectMapper().readValue(file.toFile(), int[].class);
            if (ids.length == 0) throw new JemmaException(file + ": the id list is empty");
            return ids;
        } catch (IOException e) {
            throw new JemmaException(file + ": not a JSON array of integers (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
    }
}
