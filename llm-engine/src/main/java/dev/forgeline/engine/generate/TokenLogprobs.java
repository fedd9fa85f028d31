package dev.forgeline.engine.generate;

import java.util.Arrays;

/**
 * A sampled token's log probability and the {@code k} most likely tokens of the same step, most
 * likely first: the log-softmax of the model's logits before penalties and temperature (vLLM's
 * default, "raw logprobs"), taken from the logits the token was sampled from.
 */
public record TokenLogprobs(int token, float logprob, int[] topIds, float[] topLogprobs) {

    /** From one position's logits (vocab), for {@code token} and the {@code k} best; {@code logits} is not changed. */
    public static TokenLogprobs of(float[] logits, int token, int k) {
        // log p_i = x_i - (max + log sum_j exp(x_j - max))
        float max = Float.NEGATIVE_INFINITY;
        for (float x : logits) max = Math.max(max, x);
        double sum = 0;
        for (float x : logits) sum += Math.exp(x - max);
        float logZ = (float) (max + Math.log(sum));

        int[] ids = new int[Math.min(Math.max(k, 0), logits.length)];
        float[] best = new float[ids.length];
        Arrays.fill(best, Float.NEGATIVE_INFINITY);
        for (int v = 0; v < logits.length && ids.length > 0; v++) { // insertion into a sorted top-k
            float x = logits[v];
            if (x > best[ids.length - 1]) {
                int i = ids.length - 1;
                while (i > 0 && x > best[i - 1]) {
                    best[i] = best[i - 1];
                    ids[i] = ids[i - 1];
                    i--;
                }
                best[i] = x;
                ids[i] = v;
            }
        }
        for (int i = 0; i < best.length; i++) best[i] -= logZ;
        return new TokenLogprobs(token, logits[token] - logZ, ids, best);
    }
}
