package dev.jemma.jmh;

import dev.jemma.core.constrain.Grammar;
import dev.jemma.core.constrain.GrammarConstraint;
import dev.jemma.core.constrain.GrammarVocabulary;
import dev.jemma.core.constrain.JsonConstraint;
import dev.jemma.core.constrain.JsonSchemaGrammar;
import dev.jemma.core.gguf.GgufFile;
import dev.jemma.core.sampling.Sampler;
import dev.jemma.core.sampling.SamplingParams;
import dev.jemma.core.tokenizer.Tokenizer;
import org.openjdk.jmh.annotations.*;

import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * One sampling step on Gemma 3's real 262 144-token vocabulary, plain and under a grammar (what {@code Session} does:
 * {@link GrammarConstraint#choose} then {@code accept}), over a rotating set of random logit rows; the difference per
 * step is the grammar's cost, to set against a decode step's forward pass. A grammar that completes starts over.
 * {@code jemma bench MODEL --grammar json} measures the same end to end with a model.
 * Run: {@code mvn -Pjmh -pl jemma-jmh -am package -DskipTests && java --add-modules jdk.incubator.vector
 * -jar jemma-jmh/target/jemma-benchmarks.jar GrammarSamplingBench}
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-XX:-UseTypeSpeculation"})
public class GrammarSamplingBench {
    /**
     * json: JSON mode; schema: an object with a bounded string, an integer, an enum array and a boolean; maxlength:
     * tools/bench/schema-maxlength.json (strings with maxLength, the costliest case measured on the 270M).
     */
    @Param({"json", "schema", "maxlength"})
    public String grammar;

    /** Top-k of both samplers: Gemma's 64, or 0 (the whole vocabulary: no top-k cut, only the full mask applies). */
    @Param({"64", "0"})
    public int topK;

    /** The vocabulary file (the repository's copy of Gemma 3's tokenizer, run from the repository root). */
    @Param({"jemma-core/src/test/resources/tokenizer/gemma3-vocab.gguf"})
    public String vocabFile;

    private static final int ROWS = 16;
    private float[][] rows;
    private int row;
    private int vocab;
    private GrammarVocabulary trie;
    private Grammar g;
    private GrammarConstraint constraint;
    private Sampler plainSampler, grammarSampler;
    private int[] endOfTurn;

    @Setup
    public void setup() {
        Tokenizer tok;
        try (GgufFile f = GgufFile.open(Path.of(vocabFile))) {
            tok = Tokenizer.fromGguf(f);
        }
        vocab = tok.vocabSize();
        trie = new GrammarVocabulary(tok, vocab);
        endOfTurn = tok.endOfTurnIds();
        g = switch (grammar) {
            case "json" -> JsonConstraint.grammar();
            case "maxlength" -> {
                try {
                    yield JsonSchemaGrammar.fromSchema(java.nio.file.Files.readString(Path.of("tools/bench/schema-maxlength.json")));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }
            default -> JsonSchemaGrammar.fromSchema(
                    "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":40},\"age\":{\"type\":\"integer\"},"
                            + "\"tags\":{\"type\":\"array\",\"items\":{\"enum\":[\"red\",\"green\",\"blue\"]}},\"ok\":{\"type\":\"boolean\"}},"
                            + "\"required\":[\"name\",\"age\",\"tags\",\"ok\"]}");
        };
        Random rnd = new Random(1);
        rows = new float[ROWS][vocab];
        for (float[] r : rows) for (int i = 0; i < vocab; i++) r[i] = (float) rnd.nextGaussian() * 2;
        SamplingParams d = SamplingParams.GEMMA_DEFAULTS;
        SamplingParams params = new SamplingParams(d.temperature(), topK, d.topP(), d.minP(), d.repeatPenalty(), d.repeatLastN(),
                d.presencePenalty(), d.frequencyPenalty(), d.seed());
        plainSampler = new Sampler(params);
        grammarSampler = new Sampler(params);
        constraint = new GrammarConstraint(g, trie);
    }

    private float[] next() {
        float[] r = rows[row];
        row = (row + 1) % ROWS;
        return r;
    }

    @Benchmark
    public int plain() {
        return plainSampler.sample(next(), 0, vocab, null, 0);
    }

    @Benchmark
    public int constrained() {
        // choose may mask the row it is given: hand it a copy, as the model's fresh logits are per step
        float[] logits = next().clone();
        int id = constraint.choose(grammarSampler, logits, vocab, null, 0);
        for (int e : endOfTurn) {
            if (e == id) {
                constraint = new GrammarConstraint(g, trie);
                return id;
            }
        }
        constraint.accept(id);
        return id;
    }

    /** The copy {@link #constrained} makes, alone, to subtract. */
    @Benchmark
    public float[] copyOnly() {
        return next().clone();
    }
}
