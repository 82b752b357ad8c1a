package dev.jemma.tools.eval;

import dev.jemma.core.JemmaException;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.LanguageModel;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;

/**
 * Perplexity and KL divergence the way llama.cpp's {@code llama-perplexity} measures them, so numbers compare:
 * the token stream (BOS first) is cut into {@code floor(n / nCtx)} non-overlapping chunks of {@code nCtx} tokens,
 * each evaluated from an empty cache with its first token replaced by BOS, and only the second half of each
 * chunk is scored (positions nCtx/2 .. nCtx−2 predicting the next token), so every scored token has at least
 * nCtx/2 tokens of context. PPL = exp(mean NLL) ± exp(mean)·stderr(NLL).
 *
 * <p>Base log-probabilities for KL divergence are saved in llama-perplexity's {@code --kl-divergence-base} file
 * layout: {@code "_logits_"}, int32 nCtx, int32 nVocab, int32 nChunk, int32 tokens[nChunk·nCtx], then per scored
 * position 2·⌈nVocab/2⌉+4 uint16: f32 scale, f32 min log-prob, and each token's log-prob as
 * round((logit − minLogit)/scale) with minLogit clamped to maxLogit − 16 (little-endian throughout).
 */
public final class Perplexity {
    private static final byte[] MAGIC = "_logits_".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    /** Progress: chunk {@code done} of {@code total} finished; {@code ppl} is the running estimate. */
    public interface Listener {
        void chunk(int done, int total, double ppl);
    }

    /** Result of a perplexity run. */
    public record Result(int chunks, int nCtx, long count, double ppl, double pplError, double[] chunkPpl) {
    }

    /** Result of a KL-divergence run against saved base log-probabilities. */
    public record KldResult(int chunks, int nCtx, long count, double ppl, double pplError, double basePpl,
                            double basePplError, double meanKld, double meanKldError, double medianKld,
                            double p99Kld, double maxKld, double sameTop, double sameTopError,
                            double rmsDeltaP, double meanLnPplRatio) {
    }

    private Perplexity() {
    }

    /**
     * Runs perplexity over {@code tokens} (already tokenized, BOS first if the model adds one); when
     * {@code baseOut} is not null also writes the base log-probability file there (atomically).
     */
    public static Result run(LanguageModel m, int[] tokens, int nCtx, int bos, boolean addBos, int batch,
                             Path baseOut, Listener listener) {
        if (nCtx < 4 || nCtx % 2 != 0) throw new JemmaException("-c: context " + nCtx + " must be an even number >= 4");
        if (tokens.length < 2 * nCtx) {
            throw new JemmaException("the text tokenizes to only " + tokens.length + " tokens; perplexity with -c "
                    + nCtx + " needs at least " + 2 * nCtx);
        }
        int nChunk = tokens.length / nCtx;
        int vocab = m.config().vocabSize();
        int first = nCtx / 2;
        int nv = 2 * ((vocab + 1) / 2) + 4;
        double[] chunkPpl = new double[nChunk];
        ChunkScorer scorer;
        Path tmp = baseOut == null ? null : baseOut.toAbsolutePath().resolveSibling(baseOut.getFileName() + ".part");
        // deleted by the JVM's exit if Ctrl-C ends the run before the file is moved into place
        if (tmp != null) tmp.toFile().deleteOnExit();
        try (OutputStream os = tmp == null ? OutputStream.nullOutputStream() : new BufferedOutputStream(Files.newOutputStream(tmp), 1 << 20)) {
            if (tmp != null) {
                ByteBuffer h = ByteBuffer.allocate(8 + 12 + 4 * nChunk * nCtx).order(ByteOrder.LITTLE_ENDIAN);
                h.put(MAGIC).putInt(nCtx).putInt(vocab).putInt(nChunk);
                for (int i = 0; i < nChunk * nCtx; i++) h.putInt(tokens[i]);
                os.write(h.array());
            }
            ByteBuffer rec = ByteBuffer.allocate(2 * nv).order(ByteOrder.LITTLE_ENDIAN);
            scorer = new ChunkScorer() {
                @Override
                void position(float[] logits, int off, int target) throws IOException {
                    double v = tmp == null ? nll(logits, off, vocab, target) : nllAndRecord(logits, off, vocab, target, rec);
                    if (tmp != null) os.write(rec.array());
                    nll += v;
                    nll2 += v * v;
                    count++;
                }

                @Override
                void chunkDone(int c) {
                    chunkPpl[c] = Math.exp(nll / count);
                    if (listener != null) listener.chunk(c + 1, nChunk, chunkPpl[c]);
                }
            };
            scorer.run(m, tokens, nCtx, nChunk, bos, addBos, batch);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw new JemmaException(baseOut + ": cannot write: " + e.getMessage());
        } catch (RuntimeException e) {
            deleteQuietly(tmp);
            throw e;
        }
        if (tmp != null) {
            try {
                Files.move(tmp, baseOut, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException e) {
                deleteQuietly(tmp);
                throw new JemmaException(baseOut + ": cannot write: " + e.getMessage());
            }
        }
        long count = scorer.count;
        double mean = scorer.nll / count, var = scorer.nll2 / count - mean * mean;
        double ppl = Math.exp(mean);
        double err = var > 0 ? Math.sqrt(var / (count - 1)) * ppl : Double.NaN;
        return new Result(nChunk, nCtx, count, ppl, err, chunkPpl);
    }

    /** −log softmax(logits)[target], with llama.cpp's arithmetic (f32 exps summed in double). */
    static double nll(float[] l, int off, int n, int target) {
        float max = l[off];
        for (int i = 1; i < n; i++) max = Math.max(max, l[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (float) Math.exp(l[off + i] - max);
        return max + Math.log(sum) - l[off + target];
    }

    private static double nllAndRecord(float[] l, int off, int n, int target, ByteBuffer rec) {
        float max = l[off], min = l[off];
        for (int i = 1; i < n; i++) {
            max = Math.max(max, l[off + i]);
            min = Math.min(min, l[off + i]);
        }
        min = Math.max(min, max - 16);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += (float) Math.exp(l[off + i] - max);
        float lse = (float) Math.log(sum);
        float minLogProb = min - max - lse;
        float scale = (max - min) / 65535.f;
        rec.clear();
        rec.putFloat(scale).putFloat(minLogProb);
        if (scale != 0) {
            float inv = 1 / scale;
            for (int i = 0; i < n; i++) {
                float v = l[off + i];
                rec.putShort((short) (v > min ? (int) Math.rint(inv * (v - min)) : 0));
            }
        } else {
            for (int i = 0; i < n; i++) rec.putShort((short) 0);
        }
        while (rec.hasRemaining()) rec.put((byte) 0);
        return max + Math.log(sum) - l[off + target];
    }

    /** The header of a base log-probability file. */
    public record BaseHeader(int nCtx, int nVocab, int nChunk, int[] tokens) {
    }

    private static int readIntLe(DataInputStream in) throws IOException {
        return Integer.reverseBytes(in.readInt());
    }

    /** Compares {@code m} with the base log-probabilities in {@code baseFile} (KL divergence, PPL of both, top-1). */
    public static KldResult kld(LanguageModel m, Path baseFile, int bos, boolean addBos, int batch, Listener listener) {
        if (!Files.isRegularFile(baseFile)) throw new JemmaException(baseFile + ": no such file");
        try (InputStream raw = Files.newInputStream(baseFile);
             DataInputStream in = new DataInputStream(new java.io.BufferedInputStream(raw, 1 << 20))) {
            byte[] magic = new byte[8];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) throw new JemmaException(baseFile + ": not a log-probability file (no _logits_ header)");
            int nCtx = readIntLe(in), vocab = readIntLe(in), nChunk = readIntLe(in);
            if (nCtx < 4 || nChunk < 1 || vocab < 1 || (long) nCtx * nChunk > Integer.MAX_VALUE / 4) {
                throw new JemmaException(baseFile + ": implausible header n_ctx=" + nCtx + " n_vocab=" + vocab + " n_chunk=" + nChunk);
            }
            if (vocab != m.config().vocabSize()) {
                throw new JemmaException(baseFile + ": vocabulary of " + vocab + " tokens, the model has " + m.config().vocabSize());
            }
            int first = nCtx / 2, perChunk = nCtx - 1 - first;
            long expected = 20L + 4L * nCtx * nChunk + 2L * (2 * ((vocab + 1) / 2) + 4) * perChunk * nChunk;
            if (Files.size(baseFile) != expected) {
                throw new JemmaException(baseFile + ": " + Files.size(baseFile) + " bytes, the header implies " + expected + " (truncated?)");
            }
            int[] tokens = new int[nCtx * nChunk];
            byte[] tb = new byte[4 * tokens.length];
            in.readFully(tb);
            ByteBuffer.wrap(tb).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(tokens);
            int nv = 2 * ((vocab + 1) / 2) + 4;
            byte[] recBytes = new byte[2 * nv];
            ByteBuffer rec = ByteBuffer.wrap(recBytes).order(ByteOrder.LITTLE_ENDIAN);
            float[] kldValues = new float[perChunk * nChunk];
            var k = new ChunkScorer() {
                double sNll, sNll2, sBase, sBase2, sNllBase, sKld, sKld2, sDp2;
                long same;

                @Override
                void position(float[] logits, int off, int target) throws IOException {
                    in.readFully(recBytes);
                    float max = logits[off];
                    int imax = 0;
                    for (int i = 1; i < vocab; i++) {
                        if (logits[off + i] > max) {
                            max = logits[off + i];
                            imax = i;
                        }
                    }
                    double sum = 0;
                    for (int i = 0; i < vocab; i++) sum += (float) Math.exp(logits[off + i] - max);
                    float lse = (float) Math.log(sum);
                    float nll = max + lse - logits[off + target];
                    float scale = rec.getFloat(0), minLogProb = rec.getFloat(4);
                    float nllBase = -(scale * (rec.getShort(8 + 2 * target) & 0xffff) + minLogProb);
                    float shift = max + lse;
                    double kl = 0;
                    int imaxBase = -1;
                    float baseMax = 0;
                    for (int i = 0; i < vocab; i++) {
                        float pl = scale * (rec.getShort(8 + 2 * i) & 0xffff) + minLogProb;
                        if (i == 0 || pl > baseMax) {
                            baseMax = pl;
                            imaxBase = i;
                        }
                        if (pl > -16f) kl += (float) Math.exp(pl) * (pl - logits[off + i] + shift);
                    }
                    sNll += nll;
                    sNll2 += (double) nll * nll;
                    sBase += nllBase;
                    sBase2 += (double) nllBase * nllBase;
                    sNllBase += (double) nll * nllBase;
                    sKld += kl;
                    sKld2 += kl * kl;
                    double dp = Math.exp(-nll) - Math.exp(-nllBase);
                    sDp2 += dp * dp;
                    if (imax == imaxBase) same++;
                    kldValues[(int) count] = (float) kl;
                    count++;
                }

                @Override
                void chunkDone(int c) {
                    if (listener != null) listener.chunk(c + 1, nChunk, Math.exp(sNll / count));
                }
            };
            k.run(m, tokens, nCtx, nChunk, bos, addBos, batch);
            long count = k.count;
            double[] lp = meanErr(k.sNll, k.sNll2, count), lb = meanErr(k.sBase, k.sBase2, count), kl = meanErr(k.sKld, k.sKld2, count);
            Arrays.sort(kldValues);
            double sameTop = (double) k.same / count;
            double ppl = Math.exp(lp[0]), base = Math.exp(lb[0]);
            return new KldResult(nChunk, nCtx, count, ppl, ppl * lp[1], base, base * lb[1], kl[0], kl[1],
                    median(kldValues), percentile(kldValues, 0.99), kldValues[kldValues.length - 1], sameTop,
                    Math.sqrt(sameTop * (1 - sameTop) / (count - 1)), Math.sqrt(k.sDp2 / count), lp[0] - lb[0]);
        } catch (IOException e) {
            throw new JemmaException(baseFile + ": cannot read: " + e.getMessage());
        }
    }

    /**
     * Walks the positions llama-perplexity scores: {@code nChunk} chunks of {@code nCtx} tokens, each from an empty
     * cache with BOS as its first token, logits of the second half only. Subclasses see each scored position's
     * logits row and the token that follows; {@link #nll}, {@link #nll2} and {@link #count} are theirs to keep.
     */
    private abstract static class ChunkScorer {
        double nll, nll2;
        long count;

        abstract void position(float[] logits, int off, int target) throws IOException;

        abstract void chunkDone(int chunk) throws IOException;

        final void run(LanguageModel m, int[] tokens, int nCtx, int nChunk, int bos, boolean addBos, int batch) throws IOException {
            int vocab = m.config().vocabSize();
            int first = nCtx / 2;
            for (int c = 0; c < nChunk; c++) {
                int start = c * nCtx;
                int[] chunk = Arrays.copyOfRange(tokens, start, start + nCtx);
                if (addBos) chunk[0] = bos;
                KvCache cache = m.newCache(nCtx);
                for (int b = 0; b < nCtx; b += batch) {
                    int n = Math.min(batch, nCtx - b);
                    boolean needed = b + n > first;
                    float[] logits = m.forward(chunk, b, n, cache, needed);
                    if (!needed) continue;
                    for (int k = Math.max(0, first - b); k < n; k++) {
                        int pos = b + k;
                        if (pos > nCtx - 2) break;
                        position(logits, k * vocab, tokens[start + pos + 1]);
                    }
                }
                chunkDone(c);
            }
        }
    }

    /** Mean and its standard error from a sum and a sum of squares. */
    static double[] meanErr(double sum, double sum2, long n) {
        double mean = sum / n, var = sum2 / n - mean * mean;
        return new double[]{mean, var > 0 && n > 1 ? Math.sqrt(var / (n - 1)) : 0};
    }

    /** Linear-interpolated percentile of sorted values, as llama-perplexity reports them. */
    static double percentile(float[] sorted, double fraction) {
        double p = fraction * (sorted.length - 1);
        int ip = (int) p;
        p -= ip;
        return (1 - p) * sorted[ip] + p * sorted[Math.min(ip + 1, sorted.length - 1)];
    }

    static double median(float[] sorted) {
        int n = sorted.length;
        return n % 2 == 0 ? 0.5 * (sorted[n / 2] + sorted[n / 2 - 1]) : sorted[n / 2];
    }

    private static void deleteQuietly(Path p) {
        if (p == null) return;
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: a .part file is never mistaken for a result
        }
    }
}
