package dev.jemma.core.vision;

import dev.jemma.core.JemmaException;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.Batch;

import java.util.ArrayList;
import java.util.List;

/**
 * Splices images into a prompt the way HF {@code Gemma3ForConditionalGeneration} does: the ids hold one run of the
 * image soft-token id per image ({@code <start_of_image>} + N soft tokens + {@code <end_of_image>}, as the processor
 * expands them); the rows of the k-th run take the k-th image's embeddings as input (not scaled by √dim) and attend to
 * each other bidirectionally (HF's token-type mask), everything else stays causal.
 */
public final class ImagePrompt {
    private ImagePrompt() {
    }

    /** [start, end) of every maximal run of {@code softToken} in ids, in order. */
    public static List<int[]> spans(int[] ids, int softToken) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < ids.length; ) {
            if (ids[i] != softToken) {
                i++;
                continue;
            }
            int s = i;
            while (i < ids.length && ids[i] == softToken) i++;
            out.add(new int[]{s, i});
        }
        return out;
    }

    /** Checks that the prompt's soft-token runs are one per image, each exactly {@code tokensPerImage} long. */
    public static void check(int[] ids, int softToken, int images, int tokensPerImage) {
        List<int[]> spans = spans(ids, softToken);
        if (spans.size() != images) {
            throw new JemmaException("the prompt has " + spans.size() + " image soft-token run(s) (id " + softToken + ") but "
                    + images + " image(s) were given");
        }
        for (int[] s : spans) {
            if (s[1] - s[0] != tokensPerImage) {
                throw new JemmaException("an image soft-token run at position " + s[0] + " is " + (s[1] - s[0])
                        + " tokens long; the vision tower gives " + tokensPerImage + " per image");
            }
        }
    }

    /** Where a prompt position falls: the start of the image run it is inside, or itself when outside every run. */
    public static int notInsideSpan(int[] ids, int softToken, int pos) {
        for (int[] s : spans(ids, softToken)) if (pos > s[0] && pos < s[1]) return s[0];
        return pos;
    }

    /**
     * The input embedding each prompt row takes: the rows of the k-th soft-token run take {@code images.get(k)}'s rows
     * ([tokens × dim]); text rows null (they take their token's embedding).
     */
    public static float[][] embeddingRows(int[] ids, int softToken, List<float[]> images, int dim) {
        List<int[]> spans = spans(ids, softToken);
        if (spans.size() != images.size()) {
            throw new JemmaException("the prompt has " + spans.size() + " image soft-token run(s) but " + images.size() + " image(s) were given");
        }
        float[][] rows = new float[ids.length][];
        for (int k = 0; k < spans.size(); k++) {
            int[] s = spans.get(k);
            float[] e = images.get(k);
            int n = s[1] - s[0];
            if (e.length != n * dim) {
                throw new JemmaException("image " + (k + 1) + " has " + e.length / dim + " embedding rows of width " + dim
                        + " but its soft-token run is " + n + " tokens long");
            }
            for (int r = 0; r < n; r++) rows[s[0] + r] = java.util.Arrays.copyOfRange(e, r * dim, (r + 1) * dim);
        }
        if (!spans.isEmpty() && spans.getLast()[1] == ids.length) throw new JemmaException("the prompt ends inside an image");
        return rows;
    }

    /**
     * The batch of {@code ids[from ..]} at the cache's next positions: soft-token rows carry the images' embeddings
     * ({@code images.get(k)}: the k-th run of the whole prompt, [tokens × dim]), each run one bidirectional span.
     * {@code from} must not fall inside a run.
     *
     * @param allLogits logits for every row, else only for the last
     */
    public static Batch batch(int[] ids, int from, int softToken, List<float[]> images, int dim, KvCache cache, boolean allLogits) {
        List<int[]> spans = spans(ids, softToken);
        if (spans.size() != images.size()) {
            throw new JemmaException("the prompt has " + spans.size() + " image soft-token run(s) but " + images.size() + " image(s) were given");
        }
        Batch.Builder b = Batch.builder();
        int i = from, k = 0;
        while (k < spans.size() && spans.get(k)[1] <= from) k++;
        int last = ids.length - 1;
        while (i < ids.length) {
            if (k < spans.size() && spans.get(k)[0] == i) {
                int[] s = spans.get(k);
                float[] e = images.get(k);
                int n = s[1] - s[0];
                if (e.length != n * dim) {
                    throw new JemmaException("image " + (k + 1) + " has " + e.length / dim + " embedding rows of width " + dim
                            + " but its soft-token run is " + n + " tokens long");
                }
                float[][] rows = new float[n][];
                for (int r = 0; r < n; r++) rows[r] = java.util.Arrays.copyOfRange(e, r * dim, (r + 1) * dim);
                b.bidirectional(cache, rows, allLogits);
                if (!allLogits && s[1] - 1 == last) throw new JemmaException("the prompt ends inside an image");
                i = s[1];
                k++;
            } else {
                if (k < spans.size() && i > spans.get(k)[0]) throw new IllegalArgumentException("position " + from + " is inside an image's soft tokens");
                b.token(cache, ids[i], allLogits || i == last);
                i++;
            }
        }
        return b.build();
    }
}
