package dev.jemma.core.media3n;

import dev.jemma.core.JemmaException;
import dev.jemma.core.kv.KvCache;
import dev.jemma.core.model.Batch;
import dev.jemma.core.vision.ImagePrompt;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Splices media into a Gemma 3n prompt as HF {@code Gemma3nModel.forward} does (masked_scatter): the k-th run of a
 * soft-token id ({@code <image_soft_token>} or {@code <audio_soft_token>}) takes the k-th clip's / image's embedder
 * rows as input embeddings (not scaled by √dim; per-layer input of token 0). Unlike Gemma 3, every row stays causal:
 * HF Gemma 3n has no bidirectional mask for media.
 */
public final class MediaPrompt {
    private MediaPrompt() {
    }

    /**
     * The batch of {@code ids[from ..]} at the cache's next positions, the runs of {@code softToken} filled from
     * {@code media} (the k-th run of the whole prompt gets {@code media.get(k)}, [run length × dim]). A run may be cut
     * by {@code from} (a prefix already in the cache): its remaining rows take the matching rows of its media.
     *
     * @param allLogits logits for every row, else only for the last
     */
    public static Batch batch(int[] ids, int from, int softToken, List<float[]> media, int dim, KvCache cache, boolean allLogits) {
        return batch(ids, from, ids.length, softToken, media, dim, cache, allLogits);
    }

    /** As above for the rows [from, to) only (a chunk of a long prompt); logits of every row or of row to − 1. */
    public static Batch batch(int[] ids, int from, int to, int softToken, List<float[]> media, int dim, KvCache cache, boolean allLogits) {
        return batch(ids, from, to, Map.of(softToken, media), dim, cache, allLogits);
    }

    /**
     * As above with several kinds of media in one prompt (Gemma 3n: images and clips): {@code media} maps each kind's
     * soft-token id to its embeddings, the k-th run of that id taking the k-th of them, wherever the runs stand.
     */
    public static Batch batch(int[] ids, int from, int to, Map<Integer, List<float[]>> media, int dim, KvCache cache, boolean allLogits) {
        Map<Integer, List<int[]>> spans = new HashMap<>();
        for (Map.Entry<Integer, List<float[]>> kind : media.entrySet()) {
            int softToken = kind.getKey();
            List<int[]> s = ImagePrompt.spans(ids, softToken);
            List<float[]> m = kind.getValue();
            if (s.size() != m.size()) {
                throw new JemmaException("the prompt has " + s.size() + " soft-token run(s) (id " + softToken + ") but " + m.size()
                        + " clip(s)/image(s) were given");
            }
            for (int k = 0; k < s.size(); k++) {
                int n = s.get(k)[1] - s.get(k)[0];
                if (m.get(k).length != n * dim) {
                    throw new JemmaException("media " + (k + 1) + " has " + m.get(k).length / dim + " embedding rows of width " + dim
                            + " but its soft-token run is " + n + " tokens long");
                }
            }
            spans.put(softToken, s);
        }
        Batch.Builder b = Batch.builder();
        int last = to - 1;
        for (int i = from; i < to; i++) {
            boolean logits = allLogits || i == last;
            List<int[]> s = spans.get(ids[i]);
            if (s == null) {
                b.token(cache, ids[i], logits);
                continue;
            }
            int k = 0;
            while (s.get(k)[1] <= i) k++;
            int r = i - s.get(k)[0];
            b.embedding(cache, Arrays.copyOfRange(media.get(ids[i]).get(k), r * dim, (r + 1) * dim), logits);
        }
        return b.build();
    }
}
