package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.tools.gen.Gemma3Generator;
import dev.jemma.tools.gen.Gemma3MmprojGenerator;
import dev.jemma.tools.gen.Gemma3Size;
import dev.jemma.tools.gen.Gemma3nMmprojGenerator;
import dev.jemma.tools.gen.Gemma3nSize;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.memory.MemoryPlan;
import dev.jemma.core.tensor.GgmlType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/** Writes a real-shaped Gemma 3 GGUF with random weights (benchmarks and load tests without downloads). */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Write a real-shaped Gemma 3 / 3n GGUF with random weights (real metadata, tensor names and 262k vocabulary).",
                "QAT style: --type Q4_0 --embedding-type F16; llama-quantize style: --type Q4_0 (token_embd Q8_0/Q6_K)."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--size", required = true, paramLabel = "SIZE", description = "Gemma 3: 270m, 1b, 4b, 12b, 27b; Gemma 3n: e2b, e4b; EmbeddingGemma: embeddinggemma-300m")
    String size;

    @Option(names = "--type", defaultValue = "Q4_0", paramLabel = "TYPE",
            description = "F32 F16 BF16 Q8_0 Q4_0 Q4_1 Q5_0 Q5_1 Q2_K Q3_K Q4_K Q5_K Q6_K Q4_K_M Q5_K_M (default ${DEFAULT-VALUE})")
    String type;

    @Option(names = "--embedding-type", paramLabel = "TYPE", description = "type of token_embd (default: what llama-quantize picks)")
    String embeddingType;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.gguf", description = "output file")
    Path out;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "1", description = "random seed (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--mmproj", description = "write the size's mmproj instead of the text model, F16 as llama.cpp's converter writes it (for timing):"
            + " Gemma 3 4b/12b/27b the SigLIP tower (896 px, 27 blocks) and projector; Gemma 3n e2b/e4b MobileNet-V5-300M and the USM conformer audio tower with their embedders")
    boolean mmproj;

    @Option(names = "--vocab", paramLabel = "GGUF", description = "GGUF to copy the tokenizer from (default: $JEMMA_VOCAB or ../shared/fixtures/gemma3-vocab.gguf)")
    Path vocab;

    @Override
    public Integer call() {
        Gemma3Size z = null;
        Gemma3nSize z3n = null;
        boolean embedding = size.toLowerCase(Locale.ROOT).startsWith("embeddinggemma");
        try {
            if (embedding) {
                if (!size.equalsIgnoreCase("embeddinggemma") && !size.equalsIgnoreCase(Gemma3Generator.EMBEDDING_GEMMA_300M.label())) {
                    throw new IllegalArgumentException(size);
                }
            } else if (size.toLowerCase(Locale.ROOT).startsWith("e")) z3n = Gemma3nSize.parse(size);
            else z = Gemma3Size.parse(size);
        } catch (IllegalArgumentException e) {
            throw new JemmaException("--size " + size + ": not a known size (270m 1b 4b 12b 27b for Gemma 3, e2b e4b for Gemma 3n, embeddinggemma-300m)");
        }
        if (mmproj) {
            if (embedding || z == Gemma3Size.S270M || z == Gemma3Size.S1B) {
                throw new JemmaException("--mmproj: --size " + size + " is a text-only model; the vision sizes are 4b, 12b, 27b (SigLIP) and e2b, e4b (MobileNet-V5 and audio)");
            }
            OutputFile.check(out, "-o");
            long t0 = System.nanoTime();
            if (z != null) {
                List<Gemma3Generator.TensorPlan> tensors = Gemma3MmprojGenerator.generate(Gemma3MmprojGenerator.GEMMA3_SIGLIP, z.dim,
                        z.label.toUpperCase(Locale.ROOT), seed, out);
                report(tensors, "Gemma 3 " + z.label + " mmproj (SigLIP 896 px, 27 blocks)", t0);
                return 0;
            }
            List<Gemma3Generator.TensorPlan> tensors = Gemma3nMmprojGenerator.generate(z3n, seed, out);
            report(tensors, "Gemma 3n " + z3n.label + " mmproj (MobileNet-V5-300M + USM audio conformer)", t0);
            return 0;
        }
        GgmlType emb = null;
        if (embeddingType != null) {
            try {
                emb = GgmlType.valueOf(embeddingType.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new JemmaException("--embedding-type " + embeddingType + ": not a tensor type");
            }
        }
        Path v = vocab != null ? vocab : defaultVocab();
        OutputFile.check(out, "-o");
        long t0 = System.nanoTime();
        List<Gemma3Generator.TensorPlan> tensors;
        try (GgufFile vf = GgufFile.open(v)) {
            tensors = embedding ? Gemma3Generator.generateEmbedding(new Gemma3Generator.Spec(Gemma3Generator.EMBEDDING_GEMMA_300M, type, emb, seed), vf, out)
                    : z != null ? Gemma3Generator.generate(new Gemma3Generator.Spec(z, type, emb, seed), vf, out)
                    : Gemma3Generator.generate3n(new Gemma3Generator.Spec3n(z3n, type, emb, seed), vf, out);
        }
        report(tensors, embedding ? "EmbeddingGemma 300M" : z != null ? "Gemma 3 " + z.label : "Gemma 3n " + z3n.label, t0);
        return 0;
    }

    private void report(List<Gemma3Generator.TensorPlan> tensors, String what, long t0) {
        double secs = (System.nanoTime() - t0) / 1e9;
        Map<String, long[]> mix = new TreeMap<>();
        for (Gemma3Generator.TensorPlan t : tensors) {
            long[] e = mix.computeIfAbsent(t.type().name(), k -> new long[2]);
            e[0]++;
            e[1] += t.bytes();
        }
        StringBuilder sb = new StringBuilder();
        mix.forEach((k, e) -> sb.append(sb.isEmpty() ? "" : ", ").append(k).append(" ×").append(e[0]).append(" (").append(MemoryPlan.gb(e[1])).append(')'));
        long size;
        try {
            size = Files.size(out);
        } catch (java.io.IOException e) {
            size = -1;
        }
        System.out.printf(Locale.ROOT, "wrote %s: %s, %s, %d tensors [%s] in %.1f s%n", out, what,
                MemoryPlan.gb(size), tensors.size(), sb, secs);
    }

    static Path defaultVocab() {
        String env = System.getenv("JEMMA_VOCAB");
        if (env != null && !env.isBlank()) return Path.of(env);
        String home = System.getProperty("jemma.home.dir", ".");
        Path p = Path.of(home).resolve("../shared/fixtures/gemma3-vocab.gguf").normalize();
        if (!Files.isRegularFile(p)) {
            throw new JemmaException("no vocabulary GGUF at " + p + "; pass --vocab FILE (any Gemma 3 GGUF) or set JEMMA_VOCAB");
        }
        return p;
    }
}
