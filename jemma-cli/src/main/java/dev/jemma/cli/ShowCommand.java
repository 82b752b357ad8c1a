package dev.jemma.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.util.concurrent.Callable;

/**
 * Prints what a model file is and what loading it will cost, without loading it. Any valid GGUF file is described;
 * one of an architecture Jemma cannot run gets the generic facts and a "not supported" line, exit 0.
 */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show a model's architecture, sizes, tensor-type mix, layer pattern and memory plan.")
final class ShowCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL", description = "GGUF file or model name")
    String model;

    @Option(names = "--json", description = "print one JSON object")
    boolean json;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", description = "context length for the memory plan (default: the model's, at most 8192)")
    int contextLength;

    @Option(names = {"-np", "--parallel"}, paramLabel = "N", description = "plan the KV pool of jemma serve --parallel N: N caches, -c their total split among them (default ${DEFAULT-VALUE})")
    int parallel = 1;

    @Option(names = "--matformer", paramLabel = "SPEC", description = "Gemma 3n: plan memory for this MatFormer slice (e2b, or ffn=…;skip=…)")
    String matformer;

    @Option(names = "--exact", description = "plan memory for --exact (the GGUF's matrices, no interleaved weight copy)")
    boolean exact;

    @Option(names = "--mmproj", paramLabel = "FILE", description = "also describe this projector's towers (default: the towers inside the model file, or mmproj-*.gguf beside it)")
    java.nio.file.Path mmproj;

    @Override
    public Integer call() throws JsonProcessingException {
        if (contextLength < 0) throw new JemmaException("-c " + contextLength + ": must be positive");
        try (GgufFile f = GgufFile.open(ModelPaths.resolve(model))) {
            if (parallel < 1) throw new JemmaException("--parallel must be at least 1, got " + parallel);
            ModelSummary s = ModelSummary.of(f, contextLength, dev.jemma.core.engine.EngineOptions.defaults().modelBatch(), matformer, parallel, exact);
            var vision = visionTower(f);
            // serve, chat and run --image build (or map) the vision tower's copy with the first image and hold an image's
            // encoding on the heap: their plan counts both (as the engine's does)
            var withImages = vision != null && imageScratch > 0 && s.plan() != null ? s.plan().withImages(visionCopy, imageScratch) : null;
            if (withImages != null) {
                var w = new java.util.LinkedHashMap<String, Object>();
                w.put("total_bytes", withImages.totalBytes());
                w.put("vision_copy_bytes", withImages.visionCopyBytes());
                w.put("image_scratch_bytes", withImages.imageScratchBytes());
                w.put("heap_bytes", withImages.heapNeeded());
                String problem = withImages.problem();
                w.put("fits", problem == null);
                if (problem != null) w.put("problem", problem);
                vision.put("memory_plan_with_images", w);
            }
            boolean gemma3n = "gemma3n".equals(f.getString("general.architecture"));
            if (json) {
                var m = new java.util.LinkedHashMap<String, Object>(s.toMap());
                // what this machine would run the model with (not a property of the file)
                m.put("vector_bits", dev.jemma.core.tensor.kernels.VectorWidth.BITS);
                m.put("kernels", dev.jemma.core.tensor.kernels.VectorWidth.describe());
                if (gemma3n) m.put("gemma3n_scheme", gemma3nScheme());
                if (vision != null) m.put("vision", vision);
                if (audio != null) m.put("audio", audio);
                System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m));
            } else {
                System.out.print(s.toText());
                if (vision != null) {
                    System.out.printf("%-15s%s%n", "vision", vision.get("text"));
                    if (!vision.get("memory").toString().isEmpty()) System.out.printf("%-15s%s%n", "", vision.get("memory"));
                    if (withImages != null) {
                        String problem = withImages.problem();
                        System.out.printf("%-15s%s%n", "", "with images (jemma serve, jemma chat, jemma run --image): memory plan "
                                + dev.jemma.core.memory.MemoryPlan.gb(s.plan().totalBytes())
                                + (withImages.visionCopy() != null ? " + vision copy " + dev.jemma.core.memory.MemoryPlan.gb(withImages.visionCopyBytes()) : "")
                                + " + an image's encoding " + dev.jemma.core.memory.MemoryPlan.gb(withImages.imageScratchBytes()) + " (heap) = "
                                + dev.jemma.core.memory.MemoryPlan.gb(withImages.totalBytes()) + (problem == null ? " → fits" : " → does NOT fit"));
                        if (problem != null) System.out.printf("%-15s%s%n", "", problem);
                    }
                }
                if (audio != null) {
                    System.out.printf("%-15s%s%n", "audio", audio.get("text"));
                    System.out.printf("%-15s%s%n", "", audio.get("memory"));
                }
                System.out.printf("kernels on this machine: %s%n", dev.jemma.core.tensor.kernels.VectorWidth.describe());
                if (gemma3n) System.out.printf("gemma3n on this machine: %s%n", gemma3nScheme());
            }
        }
        return 0;
    }

    /** Which Gemma 3n matrices this machine's default mode (or --exact) runs on int8 activations. */
    private String gemma3nScheme() {
        return dev.jemma.core.model.Gemma3nScheme.of(new dev.jemma.core.model.ModelLoader.Options(exact, 1, 1)).describe();
    }

    /** The vision tower this model would use (inside the file, --mmproj, or found beside it), or null. */
    private java.util.Map<String, Object> visionTower(GgufFile f) {
        java.nio.file.Path source = mmproj;
        boolean clip = "clip".equals(f.getString("general.architecture"));
        if ("gemma3n".equals(f.getString("general.architecture"))) return gemma3nVisionTower(f);
        if (clip && mmproj == null && "gemma3nv".equals(dev.jemma.core.vision.VisionConfig.projectorType(f))) return mobileNet(f, f.path(), null, f.path().getFileName().toString(), false, exact);
        // an mmproj of another projector (Gemma 3n's, LLaVA's…) is described by the generic summary alone
        if (clip && mmproj == null && !"gemma3".equals(dev.jemma.core.vision.VisionConfig.projectorType(f))) return null;
        if (source == null && !dev.jemma.core.vision.VisionConfig.present(f)) source = dev.jemma.core.vision.ImageEncoder.findBeside(f.path());
        if (source == null && !dev.jemma.core.vision.VisionConfig.present(f)) return null;
        if (mmproj != null && !java.nio.file.Files.isRegularFile(mmproj)) throw new JemmaException(mmproj + ": no such mmproj file");
        if (mmproj == null && source != null) {
            // found beside the model: one the engine would not use is mentioned, not an error
            try {
                dev.jemma.core.vision.ImageEncoder.open(source, dev.jemma.core.tensor.MatMul.EXACT).close();
            } catch (JemmaException e) {
                return java.util.Map.of("file", source.toString(), "text", source.getFileName() + " beside the model is not used: " + e.getMessage(), "memory", "");
            }
        }
        try (var enc = source != null ? dev.jemma.core.vision.ImageEncoder.open(source, dev.jemma.core.tensor.MatMul.EXACT)
                : dev.jemma.core.vision.ImageEncoder.inModelFile(f, dev.jemma.core.tensor.MatMul.EXACT)) {
            var c = enc.config();
            var m = new java.util.LinkedHashMap<String, Object>();
            m.put("file", enc.path().toString());
            m.put("encoder", "SigLIP");
            m.put("layers", c.layers());
            m.put("width", c.hidden());
            m.put("ffn", c.ffn());
            m.put("heads", c.heads());
            m.put("image_size", c.imageSize());
            m.put("patch_size", c.patchSize());
            m.put("tokens_per_image", c.tokensPerImage());
            m.put("projection_width", c.textDim());
            m.put("weight_bytes", enc.weightBytes());
            m.put("encode_scratch_bytes", enc.scratchBytes());
            imageScratch = enc.scratchBytes();
            m.put("text", "SigLIP " + c.layers() + " layers, width " + c.hidden() + ", " + c.heads() + " heads, " + c.imageSize() + " px in "
                    + c.patchSize() + " px patches (" + c.patches() + "), pooled to " + c.tokensPerImage() + " tokens per image, projected to "
                    + c.textDim() + (source != null ? " — " + source.getFileName()
                    : "clip".equals(f.getString("general.architecture")) ? "" : " — inside the model file"));
            m.put("memory", "vision weights " + dev.jemma.core.memory.MemoryPlan.gb(enc.weightBytes()) + " + encoder scratch "
                    + dev.jemma.core.memory.MemoryPlan.gb(enc.scratchBytes()) + " while an image is encoded");
            return m;
        }
    }

    /**
     * A Gemma 3n model's MobileNet-V5 (its --mmproj, or the towers inside the model file, or the Gemma 3n mmproj beside
     * it), or null when it has none; its audio tower goes to {@link #audio}.
     */
    private java.util.Map<String, Object> gemma3nVisionTower(GgufFile f) {
        boolean inside = mmproj == null && dev.jemma.core.media3n.Gemma3nMmproj.carriesTowers(f);
        java.nio.file.Path source = mmproj != null ? mmproj : inside ? f.path() : dev.jemma.core.vision.ImageEncoder.findBeside(f.path());
        if (source == null) return null;
        if (mmproj != null && !java.nio.file.Files.isRegularFile(mmproj)) throw new JemmaException(mmproj + ": no such mmproj file");
        var tc = dev.jemma.core.model.ModelLoader.readConfig(f);
        try (var pool = new dev.jemma.core.tensor.ThreadPool(1);
             var p = dev.jemma.core.media3n.Gemma3nMmproj.open(source, tc.dim(), tc.vocabSize(), dev.jemma.core.tensor.MatMul.EXACT, pool)) {
            String where = inside ? "inside the model file" : source.getFileName().toString();
            if (p.hasAudio()) audio = conformer(p, where);
            if (!p.hasVision()) return java.util.Map.of("file", source.toString(), "text", where + ": no vision tower (audio only)", "memory", "");
            try (var g = dev.jemma.core.mobilenet.Gemma3nImageEncoder.open(p, dev.jemma.core.tensor.MatMul.EXACT)) {
                return mobileNet(p.file(), source, g, where, p.insideModel(), exact);
            }
        } catch (JemmaException e) {
            if (mmproj != null || inside) throw e;
            audio = null;
            return java.util.Map.of("file", source.toString(), "text", source.getFileName() + " beside the model is not used: " + e.getMessage(), "memory", "");
        }
    }

    /** The Gemma 3n audio tower that {@link #gemma3nVisionTower} found, or null. */
    private java.util.Map<String, Object> audio;

    /** The USM conformer of a Gemma 3n mmproj (or single file) and its embedder into the text model. */
    private static java.util.Map<String, Object> conformer(dev.jemma.core.media3n.Gemma3nMmproj p, String where) {
        var c = dev.jemma.core.audio.AudioEncoderConfig.read(p.file());
        long bytes = 0;
        for (var t : p.file().tensors().values()) {
            if (t.name().startsWith("a.") || t.name().startsWith("mm.a.")) bytes += t.byteSize();
        }
        var m = new java.util.LinkedHashMap<String, Object>();
        m.put("file", p.path().toString());
        m.put("encoder", "USM conformer");
        m.put("layers", c.layers());
        m.put("width", c.hidden());
        m.put("heads", c.heads());
        m.put("mel_bins", c.melBins());
        m.put("projection_width", p.textDim());
        m.put("weight_bytes", bytes);
        m.put("text", String.format(java.util.Locale.ROOT, "USM conformer %d blocks, width %d, %d heads, %d mel bins, one token per 160 ms, embedded to %d — %s",
                c.layers(), c.hidden(), c.heads(), c.melBins(), p.textDim(), where));
        m.put("memory", "audio weights " + dev.jemma.core.memory.MemoryPlan.gb(bytes));
        return m;
    }

    /** MobileNet-V5 as read from a Gemma 3n mmproj; {@code enc} (with the embedder into the text model) may be null. */
    /** The copy of the vision tower's matrices the first image builds (set by {@link #mobileNet}), or null. */
    private dev.jemma.core.memory.WeightCopy visionCopy;
    /** Heap one image's encoding holds (set with the tower's description), 0 without a tower. */
    private long imageScratch;

    private java.util.Map<String, Object> mobileNet(GgufFile mm, java.nio.file.Path source, dev.jemma.core.mobilenet.Gemma3nImageEncoder enc,
                                                           String where, boolean insideModel, boolean exact) {
        dev.jemma.core.mobilenet.MobileNetV5 net;
        try {
            net = enc != null ? enc.tower() : new dev.jemma.core.mobilenet.MobileNetV5(new dev.jemma.core.media3n.MmprojWeights(mm),
                    mm.requireInt("clip.vision.image_size"), (float) mm.getDouble("clip.vision.attention.layer_norm_epsilon", 1e-6));
        } catch (IllegalArgumentException e) {
            throw mm.error(e.getMessage());
        }
        var m = new java.util.LinkedHashMap<String, Object>();
        m.put("file", source.toString());
        m.put("encoder", "MobileNet-V5");
        m.put("parameters", net.parameters());
        m.put("image_size", net.imageSize());
        java.util.List<Integer> blocks = new java.util.ArrayList<>();
        for (int s = 0; s < net.stageCount(); s++) blocks.add(net.stage(s).size());
        m.put("blocks_per_stage", blocks);
        m.put("width", net.width());
        m.put("tokens_per_image", net.tokens());
        m.put("stages", net.describe());
        if (enc != null) m.put("projection_width", enc.textDim());
        m.put("weight_bytes", net.weightBytes());
        m.put("encode_scratch_bytes", 4L * net.scratchFloats());
        imageScratch = 4L * net.scratchFloats();
        m.put("text", String.format(java.util.Locale.ROOT, "MobileNet-V5 (%s parameters), %d px, stages of %s blocks, fusion to %d×%d = %d tokens of %d",
                net.parameters() >= 10_000_000 ? String.format(java.util.Locale.ROOT, "%.0fM", net.parameters() / 1e6) : String.format(java.util.Locale.ROOT, "%.2fM", net.parameters() / 1e6), net.imageSize(), blocks.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining("/")),
                dev.jemma.core.mobilenet.MobileNetV5.OUTPUT_RESOLUTION, dev.jemma.core.mobilenet.MobileNetV5.OUTPUT_RESOLUTION, net.tokens(), net.width())
                + (enc != null ? ", embedded to " + enc.textDim() : "") + " — " + where
                + "\n" + String.join("\n", net.describe().stream().map(l -> String.format("%-15s  %s", "", l)).toList()));
        // the default mode's interleaved copy of the tower's matrices, made on the first image: the text model's plan above
        // leaves it out, the plan of a run with images (memory_plan_with_images) counts it
        var copy = exact ? null : dev.jemma.core.mobilenet.Gemma3nImageEncoder.firstImageCopy(mm, insideModel, net, dev.jemma.core.repack.RepackCache.defaultDir());
        visionCopy = copy;
        if (copy != null) {
            var wc = new java.util.LinkedHashMap<String, Object>();
            wc.put("file", copy.file().toString());
            wc.put("bytes", copy.bytes());
            wc.put("present", copy.present());
            wc.put("replaces_gguf_bytes", copy.sourceBytes());
            m.put("weight_copy", wc);
        }
        m.put("memory", "vision weights " + dev.jemma.core.memory.MemoryPlan.gb(net.weightBytes()) + " + encoder scratch "
                + dev.jemma.core.memory.MemoryPlan.gb(4L * net.scratchFloats()) + " while an image is encoded"
                + (copy == null ? "" : "; the first image adds an interleaved copy of its matrices, " + dev.jemma.core.memory.MemoryPlan.gb(copy.bytes())
                        + ", in " + copy.file() + (copy.present() ? " (built)" : " (not built yet: the first image writes it)")));
        return m;
    }
}
