package dev.jemma.core.sampling;

/**
 * The log-probabilities of one generated position, as OpenAI's and Ollama's {@code logprobs} report them: the
 * log-softmax of the model's logits for that position, before repetition penalties, grammar masks, temperature and
 * top-k/top-p/min-p truncation. They are the model's own probabilities, so they do not change with the sampling
 * settings, and a greedy choice is always the first of {@link #topIds()}.
 *
 * @param id          the chosen token
 * @param logprob     its log-probability (natural log, &lt;= 0)
 * @param topIds      the most likely tokens, most likely first (ties: lower id first); may be empty
 * @param topLogprobs their log-probabilities, same order
 */
public record TokenLogprobs(int id, float logprob, int[] topIds, float[] topLogprobs) {

    /**
     * The distribution of one position, computed from the logits before anything changes them; {@link #of} then gives
     * the chosen token's entry.
     */
    public static final class Position {
        private final double logZ;
        private final int[] topIds;
        private final float[] topLogprobs;

        /**
         * @param logits the model's logits (read, not modified)
         * @param vocab  how many of them
         * @param top    how many alternatives to keep (0..vocab)
         */
        public Position(float[] logits, int offset, int vocab, int top) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < vocab; i++) max = Math.max(max, logits[offset + i]);
            double sum = 0;
            for (int i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
            logZ = max + Math.log(sum);
            int k = Math.max(0, Math.min(top, vocab));
            // insertion into a small sorted array: k is at most a few dozen
            int[] ids = new int[k];
            float[] vals = new float[k];
            int n = 0;
            for (int i = 0; i < vocab && k > 0; i++) {
                float v = logits[offset + i];
                if (n == k && v <= vals[k - 1]) continue;
                int j = n < k ? n++ : k - 1;
                while (j > 0 && vals[j - 1] < v) {
                    vals[j] = vals[j - 1];
                    ids[j] = ids[j - 1];
                    j--;
                }
                vals[j] = v;
                ids[j] = i;
            }
            topIds = ids;
            topLogprobs = new float[k];
            for (int i = 0; i < k; i++) topLogprobs[i] = (float) (vals[i] - logZ);
        }

        /** The entry for the token chosen at this position, whose logit was {@code logit}. */
        public TokenLogprobs of(int id, float logit) {
            return new TokenLogprobs(id, (float) (logit - logZ), topIds, topLogprobs);
        }
    }
}
