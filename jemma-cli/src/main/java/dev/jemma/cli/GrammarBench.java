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
 * constraint, the same way, so the difference is what constrained decoding costs; the mask time per token is also
 * measured on its own (token checks, full masks when the checks do not decide, and feeding the chosen token). Each
 * constrained run starts a fresh constraint (an empty mask cache, as a new request has), and
 * a grammar that completes is restarted so every run generates the same number of tokens.
 */
record GrammarBench(String grammar, double[] plain, double[] constrained, double maskMsPerToken, double trieSeconds, int trieNodes) {
    static GrammarBench run(LanguageModel m, Path model, String spec, int gen, int reps, int[] tokens, KvCache cache) {
        Grammar g = load(spec);
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(model)) {
            tok = Tokenizer.fromGguf(f);
        }
        int vocab = m.config().vocabSize();
        long t0 = System.nanoTime();
        GrammarVocabulary v = new GrammarVocabulary(tok, vocab);
        double trie = (System.nanoTime() - t0) / 1e9;
        List<Long> maskNanos = new ArrayList<>();
        int[] eot = tok.endOfTurnIds();
        double[] plain = BenchCommand.rates(BenchCommand.run(reps, () -> generate(m, cache, tokens[0], gen, null, v, eot, maskNanos), gen));
        double[] constrained = BenchCommand.rates(BenchCommand.run(reps, () -> generate(m, cache, tokens[0], gen, g, v, eot, maskNanos), gen));
        double mask = 0;
        for (int i = maskNanos.size() - reps; i < maskNanos.size(); i++) mask += maskNanos.get(i);
        return new GrammarBench(spec, plain, constrained, mask / reps / gen / 1e6, trie, v.nodes());
    }

    private static void generate(LanguageModel m, KvCache cache, int first, int gen, Grammar g, GrammarVocabulary v, int[] eot, List<Long> maskNanos) {
        cache.clear();
        Sampler sampler = new Sampler(SamplingParams.GEMMA_DEFAULTS);
        GrammarConstraint c = g == null ? null : new GrammarConstraint(g, v);
        int vocab = m.config().vocabSize();
        float[] logits = m.forward(new int[]{first}, 0, 1, cache, false);
        long masked = 0;
        long[] checking = {0};
        for (int i = 0; i < gen; i++) {
            int id = -1;
            if (c != null) {
                // as Session does: check the best candidates, mask the vocabulary only when they do not decide
                GrammarConstraint cc = c;
                long t = System.nanoTime();
                id = sampler.sampleAllowed(logits, 0, vocab, null, 0, x -> {
                    long u = System.nanoTime();
                    boolean ok = cc.allows(x);
                    checking[0] += System.nanoTime() - u;
                    return ok;
                });
                if (id < 0) {
                    t = System.nanoTime();
                    c.mask(logits, vocab);
                    masked += System.nanoTime() - t;
                }
            }
            if (id < 0) id = sampler.sample(logits, 0, vocab, null, 0);
            if (c != null) {
                long t = System.nanoTime();
                c.accept(id);
                masked += System.nanoTime() - t;
                boolean end = false;
                for (int e : eot) end |= e == id;
                if (end) c = new GrammarConstraint(g, v); // the grammar is complete: start over
            }
            if (i + 1 < gen) logits = m.forward(new int[]{id}, 0, 1, cache, false); // gen forwards in all, as tg
        }
        if (g != null) maskNanos.add(masked + checking[0]);
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

    double overheadPercent() {
        return (BenchCommand.mean(plain) / BenchCommand.mean(constrained) - 1) * 100;
    }

    void put(ObjectNode o) {
        o.put("grammar", grammar);
        o.put("tg_sampled_tokens_per_s", BenchCommand.mean(plain));
        o.put("tg_grammar_tokens_per_s", BenchCommand.mean(constrained));
        o.put("grammar_overhead_percent", overheadPercent());
        o.put("grammar_mask_ms_per_token", maskMsPerToken);
        o.put("grammar_trie_seconds", trieSeconds);
        o.put("grammar_trie_nodes", trieNodes);
    }

    void print(String name, String size, int threads, String mode, int gen) {
        System.out.printf("| %s | %s | %d | %s | tg%d sampled | %.2f ± %.2f |%n", name, size, threads, mode, gen, BenchCommand.mean(plain), BenchCommand.sd(plain));
        System.out.printf("| %s | %s | %d | %s | tg%d grammar | %.2f ± %.2f |%n", name, size, threads, mode, gen, BenchCommand.mean(constrained), BenchCommand.sd(constrained));
        System.out.printf("%ngrammar %s: %+.1f %% time per token, mask %.3f ms/token (trie of %d nodes built in %.3f s)%n", grammar,
                overheadPercent(), maskMsPerToken, trieNodes, trieSeconds);
    }
}
