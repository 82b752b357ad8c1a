package dev.jemma.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jemma.core.JemmaException;
import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarConstraint;
import dev.jemma.core.constrain.GrammarException;
import dev.jemma.core.constrain.GrammarVocabulary;
import dev.jemma.core.constrain.JsonConstraint;
import dev.jemma.core.constrain.JsonSchemaGrammar;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;
import dev.jemma.core.sampling.Sampler;
import dev.jemma.core.sampling.SamplingParams;
import dev.jemma.core.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code jemma bench --grammar}: generation with sampling (Gemma's defaults, fixed seed) without and with a grammar
 * constraint, the same way, so the difference is what constrained decoding costs; the sampling step is also timed on its
 * own, plain and constrained (token checks, allowed-set sampling or full masks, feeding the chosen token). Each
 * constrained run starts a fresh constraint (an empty mask cache, as a new request has), and
 * a grammar that completes is restarted so every run generates the same number of tokens.
 */
record GrammarBench(String grammar, double[] plain, double[] constrained, double sampleMsPerToken, double grammarMsPerToken,
                    double sampleCpuMsPerToken, double grammarCpuMsPerToken, double trieSeconds, int trieNodes, int topK) {
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    static GrammarBench run(LanguageModel m, Path model, String spec, int gen, int reps, int[] tokens, KvCache cache, int topK) {
        Grammar g = load(spec);
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(model)) {
            tok = Tokenizer.fromGguf(f);
        }
        int vocab = m.config().vocabSize();
        long t0 = System.nanoTime();
        GrammarVocabulary v = new GrammarVocabulary(tok, vocab);
        double trie = (System.nanoTime() - t0) / 1e9;
        // wall and CPU nanoseconds of each run's sampling steps (the step runs on this thread, so its CPU time is its own
        // even on a busy machine, where wall time is not)
        List<Long> sampleNanos = new ArrayList<>(), grammarNanos = new ArrayList<>(), sampleCpu = new ArrayList<>(), grammarCpu = new ArrayList<>();
        int[] eot = tok.endOfTurnIds();
        double[] plain = BenchCommand.rates(BenchCommand.run(reps, () -> generate(m, cache, tokens[0], gen, null, v, eot, sampleNanos, sampleCpu, topK), gen));
        double[] constrained = BenchCommand.rates(BenchCommand.run(reps, () -> generate(m, cache, tokens[0], gen, g, v, eot, grammarNanos, grammarCpu, topK), gen));
        return new GrammarBench(spec, plain, constrained, lastMeanMs(sampleNanos, reps, gen), lastMeanMs(grammarNanos, reps, gen),
                lastMeanMs(sampleCpu, reps, gen), lastMeanMs(grammarCpu, reps, gen), trie, v.nodes(), topK);
    }

    private static void generate(LanguageModel m, KvCache cache, int first, int gen, Grammar g, GrammarVocabulary v, int[] eot, List<Long> maskNanos,
                                 List<Long> maskCpuNanos, int topK) {
        cache.clear();
        // Gemma's defaults, top-k as asked (0: the whole vocabulary, where only the full mask applies)
        SamplingParams d = SamplingParams.GEMMA_DEFAULTS;
        Sampler sampler = new Sampler(new SamplingParams(d.temperature(), topK, d.topP(), d.minP(), d.repeatPenalty(), d.repeatLastN(),
                d.presencePenalty(), d.frequencyPenalty(), d.seed()));
        GrammarConstraint c = g == null ? null : new GrammarConstraint(g, v);
        int vocab = m.config().vocabSize();
        float[] logits = m.forward(new int[]{first}, 0, 1, cache, false);
        long constrained = 0, cpu = 0;
        for (int i = 0; i < gen; i++) {
            int id;
            if (c != null) {
                // as Session does (checked candidates, small allowed sets, a full mask only when neither decides),
                // with feeding the chosen token to the grammar: what a step costs beyond the forward pass
                long t = System.nanoTime(), tc = THREADS.getCurrentThreadCpuTime();
                id = c.choose(sampler, logits, vocab, null, 0);
                c.accept(id);
                cpu += THREADS.getCurrentThreadCpuTime() - tc;
                constrained += System.nanoTime() - t;
                boolean end = false;
                for (int e : eot) end |= e == id;
                if (end) c = new GrammarConstraint(g, v); // the grammar is complete: start over
            } else {
                long t = System.nanoTime(), tc = THREADS.getCurrentThreadCpuTime();
                id = sampler.sample(logits, 0, vocab, null, 0);
                cpu += THREADS.getCurrentThreadCpuTime() - tc;
                constrained += System.nanoTime() - t;
            }
            if (i + 1 < gen) logits = m.forward(new int[]{id}, 0, 1, cache, false); // gen forwards in all, as tg
        }
        maskNanos.add(constrained);
        maskCpuNanos.add(cpu);
    }

    private static Grammar load(String spec) {
        if (spec.equals("json")) return JsonConstraint.grammar();
        Path p = Path.of(spec);
        String text;
        try {
            text = Files.readString(p);
        } catch (IOException e) {
            throw new JemmaException("--grammar " + spec + ": cannot read (" + (e instanceof java.nio.file.NoSuchFileException ? "no such file" : e.getMessage()) + ")");
        }
        try {
            return spec.endsWith(".json") ? JsonSchemaGrammar.fromSchema(text) : Grammar.parse(text);
        } catch (GrammarException e) {
            throw new JemmaException(spec + ": " + e.getMessage());
        }
    }

    /** Mean ms per token over the measured runs (the last {@code reps}; the ones before are warm-up). */
    private static double lastMeanMs(List<Long> nanos, int reps, int gen) {
        double sum = 0;
        for (int i = Math.max(0, nanos.size() - reps); i < nanos.size(); i++) sum += nanos.get(i);
        return sum / reps / gen / 1e6;
    }

    double overheadPercent() {
        return (BenchCommand.mean(plain) / BenchCommand.mean(constrained) - 1) * 100;
    }

    void put(ObjectNode o) {
        o.put("grammar", grammar);
        o.put("grammar_top_k", topK);
        o.put("tg_sampled_tokens_per_s", BenchCommand.mean(plain));
        o.put("tg_grammar_tokens_per_s", BenchCommand.mean(constrained));
        o.put("grammar_overhead_percent", overheadPercent());
        o.put("sample_ms_per_token", sampleMsPerToken);
        o.put("grammar_sample_ms_per_token", grammarMsPerToken);
        // what the grammar adds to a step beyond plain sampling (checks, masks, feeding the token)
        o.put("grammar_mask_ms_per_token", grammarMsPerToken - sampleMsPerToken);
        // the same in CPU time of the sampling thread: comparable on a busy machine
        o.put("sample_cpu_ms_per_token", sampleCpuMsPerToken);
        o.put("grammar_sample_cpu_ms_per_token", grammarCpuMsPerToken);
        o.put("grammar_trie_seconds", trieSeconds);
        o.put("grammar_trie_nodes", trieNodes);
    }

    void print(String name, String size, int threads, String mode, int gen) {
        System.out.printf("| %s | %s | %d | %s | tg%d sampled | %.2f ± %.2f |%n", name, size, threads, mode, gen, BenchCommand.mean(plain), BenchCommand.sd(plain));
        System.out.printf("| %s | %s | %d | %s | tg%d grammar | %.2f ± %.2f |%n", name, size, threads, mode, gen, BenchCommand.mean(constrained), BenchCommand.sd(constrained));
        System.out.printf("%ngrammar %s (top-k " + topK + "): %+.1f %% time per token; sampling %.3f ms/token plain, %.3f ms/token constrained"
                + " (mask %+.3f ms/token; CPU time %.3f / %.3f ms/token; trie of %d nodes built in %.3f s)%n", grammar, overheadPercent(),
                sampleMsPerToken, grammarMsPerToken, grammarMsPerToken - sampleMsPerToken, sampleCpuMsPerToken, grammarCpuMsPerToken,
                trieNodes, trieSeconds);
    }
}
