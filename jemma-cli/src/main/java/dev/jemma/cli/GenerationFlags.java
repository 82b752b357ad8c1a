package dev.jemma.cli;

import dev.jemma.core.JemmaException;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarException;
import dev.jemma.core.constrain.JsonSchemaGrammar;
import dev.jemma.core.engine.Engine;
import dev.jemma.core.engine.EngineOptions;
import dev.jemma.core.engine.GenerationOptions;
import dev.jemma.core.sampling.SamplerChain;
import dev.jemma.core.engine.SamplerSetting;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.jemma.core.engine.SamplerSetting.*;

/** Sampling and loading flags shared by {@code run} and {@code chat} (llama.cpp / Ollama names). */
final class GenerationFlags {
    /** The parsed command line, for the values as typed in messages; null when the flags are set by hand. */
    @Spec
    CommandSpec spec;

    @Option(names = {"-n", "--n-predict", "--num-predict"}, paramLabel = "N", description = "maximum tokens to generate; -1 (or -2) = no limit (default: until the model stops or the context is full)")
    Integer maxTokens;

    @Option(names = "--temp", paramLabel = "T", description = "temperature, 0…100; 0 = greedy (default: the file's, else 1.0)")
    Float temperature;

    @Option(names = "--top-k", paramLabel = "K", description = "top-k; 0 = off (default: the file's, else 64)")
    Integer topK;

    @Option(names = "--top-p", paramLabel = "P", description = "top-p, 0…1; 1 = off (default: the file's, else 0.95)")
    Float topP;

    @Option(names = "--min-p", paramLabel = "P", description = "min-p, 0…1; 0 = off (default 0)")
    Float minP;

    @Option(names = "--repeat-penalty", paramLabel = "R", description = "repetition penalty, above 0 and at most 100; 1 = off (default 1)")
    Float repeatPenalty;

    @Option(names = "--repeat-last-n", paramLabel = "N", description = "tokens the penalties look back at; 0 = off, -1 = the whole context (default 64)")
    Integer repeatLastN;

    @Option(names = "--presence-penalty", paramLabel = "P", description = "presence penalty, -2…2 (default 0)")
    Float presencePenalty;

    @Option(names = "--frequency-penalty", paramLabel = "F", description = "frequency penalty, -2…2 (default 0)")
    Float frequencyPenalty;

    @Option(names = {"--top-nsigma", "--top-n-sigma"}, paramLabel = "N", description = "top-n-sigma: keep tokens within N standard deviations of the logits below the best, at most 100; 0 or below = off (default -1)")
    Float topNSigma;

    @Option(names = "--typical", paramLabel = "P", description = "locally typical sampling, 0…1; 1 = off (default 1)")
    Float typicalP;

    @Option(names = "--mirostat", paramLabel = "N", description = "Mirostat: 0 = off, 1 = Mirostat, 2 = Mirostat 2.0; replaces top-k, typical, top-p, min-p and XTC (default 0)")
    Integer mirostat;

    @Option(names = "--mirostat-lr", paramLabel = "ETA", description = "Mirostat's learning rate η, 0…10 (default 0.1)")
    Float mirostatEta;

    @Option(names = "--mirostat-ent", paramLabel = "TAU", description = "Mirostat's target entropy τ in bits, 0…100 (default 5)")
    Float mirostatTau;

    @Option(names = "--xtc-probability", paramLabel = "P", description = "XTC's chance per token of removing the top choices, 0…1; 0 = off (default 0)")
    Float xtcProbability;

    @Option(names = "--xtc-threshold", paramLabel = "P", description = "XTC's threshold, 0…1; above 0.5 = off (default 0.1)")
    Float xtcThreshold;

    @Option(names = "--dry-multiplier", paramLabel = "M", description = "DRY repetition penalty scale, 0…100; 0 = off (default 0)")
    Float dryMultiplier;

    @Option(names = "--dry-base", paramLabel = "B", description = "DRY penalty growth per token of repeat, 1…100 (default 1.75)")
    Float dryBase;

    @Option(names = "--dry-allowed-length", paramLabel = "N", description = "repeats this long go unpenalised by DRY, >= 1 (default 2)")
    Integer dryAllowedLength;

    @Option(names = "--dry-penalty-last-n", paramLabel = "N", description = "tokens DRY searches; 0 = off, -1 = the whole context (default -1)")
    Integer dryPenaltyLastN;

    @Option(names = "--dry-sequence-breaker", paramLabel = "TEXT", description = "a text DRY's repeats never extend across (repeatable; replaces the defaults \\n : \" *; 'none' = no breakers; \\n, \\t, \\\\ are escapes)")
    List<String> drySequenceBreakers;

    @Option(names = "--samplers", paramLabel = "NAMES", description = "the sampler stages to run, in order, separated by ';' (llama-cli's names: penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature, the default); a stage left out is not run")
    String samplers;

    @Option(names = {"--sampling-seq", "--sampler-seq"}, paramLabel = "LETTERS", description = "--samplers as one letter per stage, llama-cli's (default edskypmxt: e penalties, d dry, s top_n_sigma, k top_k, y typ_p, p top_p, m min_p, x xtc, t temperature)")
    String samplingSeq;

    @Option(names = {"-s", "--seed"}, paramLabel = "S", description = "random seed; -1 = a random one, as in llama.cpp (default: random)")
    Long seed;

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
            return GenerationOptions.builder().maxTokens(check(NUM_PREDICT, maxTokens)).temperature(check(TEMPERATURE, temperature))
                    .topK(check(TOP_K, topK)).topP(check(TOP_P, topP)).minP(check(MIN_P, minP))
                    .repeatPenalty(check(REPEAT_PENALTY, repeatPenalty)).repeatLastN(check(REPEAT_LAST_N, repeatLastN))
                    .presencePenalty(check(PRESENCE_PENALTY, presencePenalty)).frequencyPenalty(check(FREQUENCY_PENALTY, frequencyPenalty))
                    .seed(seed).stop(stop).ignoreEos(ignoreEos ? Boolean.TRUE : null).grammar(grammar())
                    .typicalP(check(TYPICAL_P, typicalP))
                    .mirostat(check(MIROSTAT, mirostat))
                    .mirostatEta(check(MIROSTAT_ETA, mirostatEta))
                    .mirostatTau(check(MIROSTAT_TAU, mirostatTau))
                    .xtcProbability(check(XTC_PROBABILITY, xtcProbability))
                    .xtcThreshold(check(XTC_THRESHOLD, xtcThreshold))
                    .dryMultiplier(check(DRY_MULTIPLIER, dryMultiplier))
                    .dryBase(check(DRY_BASE, dryBase))
                    .dryAllowedLength(check(DRY_ALLOWED_LENGTH, dryAllowedLength))
                    .dryPenaltyLastN(check(DRY_PENALTY_LAST_N, dryPenaltyLastN))
                    .drySequenceBreakers(breakers())
                    .topNSigma(check(TOP_N_SIGMA, topNSigma)).samplers(chain()).build();
        } catch (IllegalArgumentException e) {
            throw new JemmaException(e.getMessage());
        }
    }

    /** --samplers or --sampling-seq as a chain, null when neither is given; a bad name is one line naming flag and value. */
    SamplerChain chain() {
        if (samplers != null && samplingSeq != null) throw new JemmaException("--samplers and --sampling-seq cannot be combined (both set the sampler order)");
        try {
            if (samplers != null) return SamplerChain.ofNames(samplers);
            if (samplingSeq != null) return SamplerChain.ofLetters(samplingSeq);
            return null;
        } catch (IllegalArgumentException e) {
            throw new JemmaException((samplers != null ? "--samplers " + samplers : "--sampling-seq " + samplingSeq) + ": " + e.getMessage());
        }
    }

    /** {@code v} checked against the one range table, an error naming the flag and the value as typed. */
    private <N extends Number> N check(SamplerSetting s, N v) {
        return s.check(s.flag(), v, sent(s.flag(), v));
    }

    /** The text given to {@code flag} ("0", "1e-50"), where the parsed float would print "0.0"; the value when unknown. */
    private String sent(String flag, Number v) {
        OptionSpec o = spec == null ? null : spec.findOption(flag);
        List<String> typed = o == null ? List.of() : o.originalStringValues();
        return typed.isEmpty() ? String.valueOf(v) : typed.getLast();
    }

    /**
     * --dry-sequence-breaker as llama-cli takes it: the breakers given replace the defaults, "none" alone means none, and
     * escapes (\\n, \\t, \\", \\\\) let a shell pass a newline; null when not given.
     */
    List<String> breakers() {
        if (drySequenceBreakers == null || drySequenceBreakers.isEmpty()) return null;
        if (drySequenceBreakers.size() == 1 && drySequenceBreakers.getFirst().equals("none")) return List.of();
        List<String> out = new java.util.ArrayList<>();
        for (String b : drySequenceBreakers) {
            String t = unescape(b);
            if (t.isEmpty()) throw new IllegalArgumentException("--dry-sequence-breaker: must not be empty ('none' for no breakers)");
            if (b.equals("none")) throw new IllegalArgumentException("--dry-sequence-breaker none: only alone (it means no breakers)");
            out.add(t);
        }
        return out;
    }

    static String unescape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                switch (n) {
                    case 'n' -> sb.append('\n');
                    case 't' -> sb.append('\t');
                    case 'r' -> sb.append('\r');
                    case '"' -> sb.append('"');
                    case '\'' -> sb.append('\'');
                    case '\\' -> sb.append('\\');
                    default -> sb.append(c).append(n);
                }
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
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

    /** Loads the engine, with a progress bar on a terminal for big files. */
    Engine load(Path model) {
        if (contextLength < 0) throw new JemmaException("-c: context length must be positive, got " + contextLength);
        EngineOptions.Builder b = EngineOptions.builder().contextLength(contextLength).threads(Threads.resolve(threads, 0)).exact(exact).matformer(matformer).generation(options())
                .mmproj(mmproj).panAndScan(panAndScan);
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
