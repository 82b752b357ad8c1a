package dev.jemma.tools.quant;

import dev.jemma.core.JemmaException;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.gguf.GgufTensorInfo;
import dev.jemma.core.gguf.GgufValueType;
import dev.jemma.core.gguf.GgufWriter;
import dev.jemma.core.media3n.Gemma3nMmproj;
import dev.jemma.core.mobilenet.Gemma3nImageEncoder;
import dev.jemma.core.model.ModelConfig;
import dev.jemma.core.model.ModelLoader;
import dev.jemma.core.tensor.MatMul;
import dev.jemma.core.tensor.ThreadPool;
import dev.jemma.core.vision.ImageEncoder;
import dev.jemma.core.vision.VisionConfig;
import dev.jemma.core.vision.VisionTensorNames;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * {@code jemma convert MODEL.gguf --mmproj MMPROJ.gguf -o ONE.gguf}: one GGUF that carries the text model and its
 * encoders, every tensor's bytes copied unchanged (so the merged file computes exactly what the pair does).
 * <ul>
 *   <li>Gemma 3: Ollama's single-file gemma3 layout (convert_gemma3.go), which Ollama runs too: the SigLIP tower and
 *       projector under HF-derived names ({@link VisionTensorNames#OLLAMA}), {@code gemma3.vision.*} keys and
 *       {@code gemma3.mm.tokens_per_image}.</li>
 *   <li>Gemma 3n: Ollama's converter drops Gemma 3n's towers ("TODO: handle audio and vision towers"), so Jemma's own
 *       layout in the same spirit: the mmproj's tensors under their llama.cpp names ({@code v.*}, {@code a.*},
 *       {@code mm.*}, {@code mm.a.*}; none collides with a text tensor) and its {@code clip.*} keys under the model's
 *       namespace ({@code clip.vision.image_size} → {@code gemma3n.vision.image_size}; a one-tower file's
 *       {@code clip.projector_type} becomes that tower's {@code gemma3n.vision|audio.projector_type}). See
 *       {@link Gemma3nMmproj}.</li>
 * </ul>
 * The mmproj's {@code general.*} keys describe the mmproj file itself and are not carried over. Everything is checked
 * before anything is written (the pair must load together), and the output is written atomically.
 */
public final class MmprojMerge {
    private MmprojMerge() {
    }

    /** What was merged, for the command's one-line report. */
    public record Result(String architecture, int textTensors, int towerTensors, String towers) {
    }

    public static Result merge(Path model, Path mmproj, Path out) {
        for (Path in : new Path[]{model, mmproj}) {
            if (!Files.isRegularFile(in)) throw new JemmaException(in + (Files.isDirectory(in) ? ": is a directory, not a GGUF file" : ": no such file"));
            if (sameFile(in, out)) throw new JemmaException("-o " + out + ": is an input file; write the merged model to a new file");
        }
        if (Files.isDirectory(out)) throw new JemmaException("-o " + out + ": is a directory; -o names the output file");
        try (GgufFile text = GgufFile.open(model); GgufFile mm = GgufFile.open(mmproj)) {
            String arch = text.getString("general.architecture");
            if (!"clip".equals(mm.getString("general.architecture"))) {
                throw mm.error("--mmproj: not an mmproj file (general.architecture is '" + mm.getString("general.architecture") + "', expected 'clip')");
            }
            ModelLoader.requireSupported(text);
            GgufWriter w = new GgufWriter().copyMetadata(text);
            int towerTensors;
            String towers;
            if ("gemma3".equals(arch)) {
                towerTensors = gemma3(text, mm, w);
                towers = "vision (SigLIP)";
            } else if ("gemma3n".equals(arch)) {
                towerTensors = gemma3n(text, mm, w);
                towers = String.join(" + ", (Gemma3nMmproj.hasVisionTower(mm) ? "vision (MobileNet-V5)" : ""),
                        (Gemma3nMmproj.hasAudioTower(mm) ? "audio (USM conformer)" : "")).replaceAll("^ \\+ | \\+ $", "");
            } else {
                throw text.error("only gemma3 and gemma3n models take an mmproj, this one is " + arch);
            }
            w.write(out);
            return new Result(arch, text.tensors().size(), towerTensors, towers);
        }
    }

    /** Ollama's single-file gemma3: keys under gemma3.vision.*, tensors renamed to convert_gemma3.go's names. */
    private static int gemma3(GgufFile text, GgufFile mm, GgufWriter w) {
        if (VisionConfig.present(text)) throw text.error("already carries a vision tower (gemma3.vision.* keys); nothing to merge");
        VisionConfig c;
        try (ImageEncoder enc = ImageEncoder.open(mm.path(), MatMul.EXACT)) {
            enc.requireTextWidth(ModelLoader.readConfig(text).dim());
            c = enc.config();
        }
        w.putU32("gemma3.vision.block_count", c.layers())
                .putU32("gemma3.vision.embedding_length", c.hidden())
                .putU32("gemma3.vision.feed_forward_length", c.ffn())
                .putU32("gemma3.vision.image_size", c.imageSize())
                .putU32("gemma3.vision.patch_size", c.patchSize())
                .putU32("gemma3.vision.num_channels", 3)
                .putU32("gemma3.vision.attention.head_count", c.heads())
                .putF32("gemma3.vision.attention.layer_norm_epsilon", c.eps())
                .putU32("gemma3.mm.tokens_per_image", c.tokensPerImage());
        // every Gemma 3 normalises with 0.5 / 0.5, which Ollama's layout assumes; other values are written, not lost
        float[] half = {0.5f, 0.5f, 0.5f};
        if (!Arrays.equals(c.mean(), half)) w.putFloats("gemma3.vision.image_mean", c.mean());
        if (!Arrays.equals(c.std(), half)) w.putFloats("gemma3.vision.image_std", c.std());
        Set<String> names = copyTensors(text, w, new HashSet<>());
        int n = 0;
        for (GgufTensorInfo t : mm.tensors().values()) {
            String name;
            try {
                name = VisionTensorNames.LLAMA_CPP.renameTo(VisionTensorNames.OLLAMA, t.name());
            } catch (IllegalArgumentException e) {
                throw mm.error(e.getMessage() + " (a SigLIP mmproj has only v.* and mm.* tensors Jemma knows)");
            }
            add(w, mm, t, name, names);
            n++;
        }
        return n;
    }

    /** Jemma's single-file gemma3n: the mmproj's clip.* keys under gemma3n.*, its tensors under their own names. */
    private static int gemma3n(GgufFile text, GgufFile mm, GgufWriter w) {
        if (Gemma3nMmproj.carriesTowers(text)) throw text.error("already carries its towers (gemma3n.*.projector_type); nothing to merge");
        if (!Gemma3nMmproj.isGemma3nMmproj(mm)) {
            throw mm.error("--mmproj: not a Gemma 3n mmproj (projector " + VisionConfig.projectorType(mm) + "; expected gemma3nv and/or gemma3na)");
        }
        // the pair must work together before anything is written: embedders of the model's width and vocabulary,
        // towers that build
        ModelConfig tc = ModelLoader.readConfig(text);
        try (ThreadPool pool = new ThreadPool(1);
             Gemma3nMmproj p = Gemma3nMmproj.open(mm.path(), tc.dim(), tc.vocabSize(), MatMul.EXACT, pool)) {
            if (p.hasVision()) Gemma3nImageEncoder.open(p, MatMul.EXACT).close();
            if (p.hasAudio()) dev.jemma.core.audio.AudioEncoderConfig.read(p.file());
        }
        for (Map.Entry<String, Object> e : mm.metadata().entrySet()) {
            String key = e.getKey();
            if (key.startsWith("general.")) continue;
            if (!key.startsWith("clip.")) throw mm.error("key " + key + " is not an mmproj (clip.*) key; cannot place it in the model's namespace");
            String to = key.equals("clip.projector_type") ? projectorKey(mm, e.getValue()) : Gemma3nMmproj.SINGLE_FILE_PREFIX + key.substring(5);
            if (text.has(to)) throw text.error("already has key " + to + ", which the mmproj's " + key + " would be written to");
            GgufValueType[] t = mm.valueType(key);
            w.put(to, t[0], t.length > 1 ? t[1] : null, e.getValue());
        }
        Set<String> names = copyTensors(text, w, new HashSet<>());
        for (GgufTensorInfo t : mm.tensors().values()) add(w, mm, t, t.name(), names);
        return mm.tensors().size();
    }

    /** A one-tower mmproj's clip.projector_type, as that tower's key (the two-tower files name each tower's already). */
    private static String projectorKey(GgufFile mm, Object type) {
        String p = Gemma3nMmproj.SINGLE_FILE_PREFIX;
        if ("gemma3nv".equals(type)) return p + "vision.projector_type";
        if ("gemma3na".equals(type)) return p + "audio.projector_type";
        throw mm.error("clip.projector_type '" + type + "' is not a Gemma 3n tower");
    }

    private static Set<String> copyTensors(GgufFile f, GgufWriter w, Set<String> names) {
        for (GgufTensorInfo t : f.tensors().values()) add(w, f, t, t.name(), names);
        return names;
    }

    private static void add(GgufWriter w, GgufFile f, GgufTensorInfo t, String name, Set<String> names) {
        if (!names.add(name)) throw f.error("tensor " + name + " is in both files; cannot merge them");
        MemorySegment data = f.tensorData(t);
        w.addTensor(name, t.dims(), t.type(), os -> copy(data, os));
    }

    /** Streams a tensor's bytes in 1 MiB pieces (a tensor may exceed an array's 2 GiB). */
    private static void copy(MemorySegment data, OutputStream os) throws IOException {
        byte[] buf = new byte[1 << 20];
        for (long off = 0; off < data.byteSize(); off += buf.length) {
            int n = (int) Math.min(buf.length, data.byteSize() - off);
            MemorySegment.copy(data, ValueLayout.JAVA_BYTE, off, buf, 0, n);
            os.write(buf, 0, n);
        }
    }

    private static boolean sameFile(Path a, Path b) {
        try {
            return Files.exists(b) && Files.isSameFile(a, b);
        } catch (IOException e) {
            return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
        }
    }
}
