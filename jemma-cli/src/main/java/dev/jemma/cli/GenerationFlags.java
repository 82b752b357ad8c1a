package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarException;
import dev.jemma.core.constrain.JsonSchemaGrammar;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.jemma.core.engine.SamplerSetting.NUM_PREDICT;

/** Sampling and loading flags shared by {@code run} and {@code chat} (llama.cpp / Ollama names). */
final class GenerationFlags {
    /** The parsed command line, for the values as typed in messages; null when the flags are set by hand. */
    @Spec
    CommandSpec spec;

    @Option(names = {"-n", "--n-predict", "--num-predict"}, paramLabel = "N", description = "maximum tokens to generate; -1 (or -2) = no limit (default: until the model stops or the context is full)")
    Integer maxTokens;

    /** The sampler flags, which {@code serve} takes too. */
    @Mixin
    SamplingFlags sampling = new SamplingFlags();

    @Option(names = "--stop", paramLabel = "TEXT", description = "stop when this text appears (repeatable)")
    List<String> stop;

    @Option(names = "--ignore-eos", description = "keep generating past end-of-turn / end-of-sequence tokens")
    boolean ignoreEos;

    @Option(names = {"--grammar", "--grammar-file"}, paramLabel = "FILE", description = "constrain the answer to the GBNF grammar in FILE (llama.cpp's format; start rule root)")
    Path grammarFile;

    @Option(names = {"--json-schema", "--json-schema-file"}, paramLabel = "FILE", description = "constrain the answer to JSON valid against the JSON Schema in FILE (or given inline, starting with '{')")
    String jsonSchema;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "CTX", description = "context length in tokens; 0 = the model's, at most 8192 (default 0)")
    int contextLength;

    @Option(names = {"-t", "--threads"}, paramLabel = "THREADS", description = "threads; 0 = all cores (default 0)")
    int threads;

    @Option(names = "--exact", description = "dequantize weights exactly and compute in f32")
    boolean exact;

    @Option(names = "--matformer", paramLabel = "SPEC", description = "Gemma 3n: run a MatFormer slice cut at load time: e2b (from an E4B file) or ffn=W[,W…|W*K];skip=a-b,…")
    String matformer;

    @Option(names = "--mmproj", paramLabel = "FILE", description = "multimodal projector (llama.cpp's mmproj GGUF): Gemma 3's vision tower, or Gemma 3n's audio and vision towers; default: the towers inside the model file (single-file GGUF), or mmproj-*.gguf beside it")
    Path mmproj;

    @Option(names = "--pan-and-scan", description = "also encode crops of wide or tall images (HF Gemma 3's pan-and-scan): more image tokens, finer detail")
    boolean panAndScan;

    GenerationOptions options() {
        try {
            return sampling.applyTo(GenerationOptions.builder()).maxTokens(SamplingFlags.check(spec, NUM_PREDICT, maxTokens))
                    .stop(stop).ignoreEos(ignoreEos ? Boolean.TRUE : null).grammar(grammar()).build();
        } catch (IllegalArgumentException e) {
            throw new JemmaException(e.getMessage());
        }
    }

    /** The grammar of --grammar or --json-schema, or null; a bad file is one line naming it. */
    Grammar grammar() {
        if (grammarFile != null && jsonSchema != null) throw new JemmaException("--grammar and --json-schema cannot be combined");
        if (grammarFile == null && jsonSchema == null) return null;
        boolean inline = jsonSchema != null && jsonSchema.strip().startsWith("{");
        String where = grammarFile != null ? grammarFile.toString() : inline ? "--json-schema" : jsonSchema;
        String text = inline ? jsonSchema : read(grammarFile != null ? grammarFile : Path.of(jsonSchema));
        try {
            return grammarFile != null ? Grammar.parse(text) : JsonSchemaGrammar.fromSchema(text);
        } catch (GrammarException e) {
            throw new JemmaException(where + ": " + e.getMessage());
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new JemmaException(file + ": no such file");
        } catch (java.io.IOException | RuntimeException e) {
            throw new JemmaException(file + ": cannot read (" + e.getMessage() + ")");
        }
    }

    /** Loads the engine for text only, with a progress bar on a terminal for big files. */
    Engine load(Path model) {
        return load(model, false);
    }

    /**
     * Loads the engine, with a progress bar on a terminal for big files; {@code images}: the run will be given images
     * (chat's /image, run's --image), so the memory plan counts the vision tower's copy the first image builds.
     */
    Engine load(Path model, boolean images) {
        if (contextLength < 0) throw new JemmaException("-c: context length must be positive, got " + contextLength);
        EngineOptions.Builder b = EngineOptions.builder().contextLength(contextLength).threads(Threads.resolve(threads, 0)).exact(exact).matformer(matformer).generation(options())
                .mmproj(mmproj).panAndScan(panAndScan).images(images);
        long size;
        try {
            size = Files.size(model);
        } catch (Exception e) {
            size = 0;
        }
        var console = System.console();
        ProgressLine progress = null;
        if (console != null && console.isTerminal() && size > 256L << 20) {
            ProgressLine p = progress = new ProgressLine(System.err, "loading " + model.getFileName());
            b.loadProgress(f -> p.update(Math.round(f * 1000), 1000, ""));
        }
        if (mmproj != null && !Files.isRegularFile(mmproj)) throw new JemmaException(mmproj + ": no such mmproj file");
        try {
            Engine engine = Engine.load(model, b.build());
            int trained = engine.config().contextLength();
            // as llama.cpp: allowed, but the user should know the model has never seen positions that far
            if (trained > 0 && engine.contextLength() > trained) {
                System.err.println("jemma: warning: -c " + engine.contextLength() + " is beyond the " + trained
                        + " tokens the model was trained for; expect worse output past them");
            }
            return engine;
        } catch (IllegalArgumentException e) {
            throw new JemmaException(e.getMessage());
        } finally {
            if (progress != null) progress.finish();
        }
    }
}
