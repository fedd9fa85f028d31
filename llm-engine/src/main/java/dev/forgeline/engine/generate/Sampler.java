package dev.forgeline.engine.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Picks the next token of one sequence from its logits, in transformers' order: repetition
 * penalty, OpenAI presence/frequency penalties, temperature, top-k, top-p, then a draw. Runs on
 * the host: the logits row is already there, and the draw must be reproducible from the seed.
 */
public final class Sampler {

    private final SamplingParams params;
    private final SplittableRandom random;
    private final int vocab;
    private boolean[] seen; // prompt + output, for the repetition penalty
    private int[] seenList;
    private int seenCount;
    private int[] outputCounts; // output only, for presence/frequency
    private int[] outputList;
    private int outputDistinct;

    public Sampler(SamplingParams params, int vocab, int[] prompt) {
        this.params = params;
        this.vocab = vocab;
        this.random = new SplittableRandom(params.seed() != null ? params.seed() : System.nanoTime() ^ 0x9E3779B97F4A7C15L);
        if (params.repetitionPenalty() != 1.0) {
            seen = new boolean[vocab];
            seenList = new int[16];
            for (int id : prompt) {
                markSeen(id);
            }
        }
        if (params.presencePenalty() != 0 || params.frequencyPenalty() != 0) {
            outputCounts = new int[vocab];
            outputList = new int[16];
        }
    }

    /** Records a generated token, for the penalties of the following steps. */
    public void accept(int token) {
        if (seen != null) {
            markSeen(token);
        }
        if (outputCounts != null && token >= 0 && token < vocab) {
            if (outputCounts[token]++ == 0) {
                if (outputDistinct == outputList.length) {
                    outputList = Arrays.copyOf(outputList, outputDistinct * 2);
                }
                outputList[outputDistinct++] = token;
            }
        }
    }

    private void markSeen(int id) {
        if (id >= 0 && id < vocab && !seen[id]) {
            seen[id] = true;
            if (seenCount == seenList.length) {
                seenList = Arrays.copyOf(seenList, seenCount * 2);
            }
            seenList[seenCount++] = id;
        }
    }

    /** The next token; {@code logits} (vocab) is modified in place. */
    public int sample(float[] logits) {
        if (seen != null) {
            float p = (float) params.repetitionPenalty();
            for (int i = 0; i < seenCount; i++) {
                int id = seenList[i];
                logits[id] = logits[id] < 0 ? logits[id] * p : logits[id] / p;
            }
        }
        if (outputCounts != null) {
            for (int i = 0; i < outputDistinct; i++) {
                int id = outputList[i];
                logits[id] -= (float) (params.frequencyPenalty() * outputCounts[id] + params.presencePenalty());
            }
        }
        if (params.isGreedy()) {
            return argmax(logits, logits.length);
        }
        return draw(logits);
    }

    /** Index of the largest value; the lowest index wins ties, as in llama2.c and torch.argmax. */
    public static int argmax(float[] v, int n) {
        return argmax(v, 0, n);
    }

    /** {@link #argmax(float[], int)} of {@code v[from, from + n)}, as an index into that range. */
    public static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[from + i] > v[from + best]) {
                best = i;
            }
        }
        return best;
    }

    private int draw(float[] logits) {
        int n = Math.min(vocab, logits.length);
        double t = params.temperature();
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, logits[i]);
        }
        double[] probs = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp((logits[i] - max) / t);
            sum += probs[i];
        }
        for (int i = 0; i < n; i++) {
            probs[i] /= sum;
        }
        int[] candidates = nucleus(probs);
        double total = 0;
        for (int id : candidates) {
            total += probs[id];
        }
        double u = random.nextDouble() * total;
        double acc = 0;
        for (int id : candidates) {
            acc += probs[id];
            if (u < acc) {
                return id;
            }
        }
        return candidates[candidates.length - 1];
    }

    /**
     * The tokens top-k and top-p keep, most probable first; top-p applies to the probabilities
     * renormalised over the top k, as in transformers. Only tokens above a probability threshold
     * are sorted: once they number k (or, without top-k, hold top_p of the mass) the answer lies
     * among them, since every token left out is less probable than every one kept.
     */
    int[] nucleus(double[] probs) {
        int k = params.topK() > 0 ? Math.min(params.topK(), probs.length) : probs.length;
        double p = params.topP();
        if (k == probs.length && p >= 1.0) {
            int[] all = new int[probs.length];
            for (int i = 0; i < all.length; i++) {
                all[i] = i;
            }
            return all;
        }
        double threshold = 1e-4;
        while (true) {
            int count = 0;
            double mass = 0;
            for (double q : probs) {
                if (q >= threshold) {
                    count++;
                    mass += q;
                }
            }
            boolean enough = k < probs.length ? count >= k : mass >= p;
            if (enough || threshold == 0) {
                long[] packed = new long[count];
                int c = 0;
                for (int i = 0; i < probs.length; i++) {
                    if (probs[i] >= threshold) {
                        // descending probability, then ascending id: sort the complement of the bits
                        packed[c++] = ((long) (~Float.floatToIntBits((float) probs[i]) & 0x7fffffff) << 32) | i;
                    }
                }
                Arrays.sort(packed);
                int limit = Math.min(k, packed.length);
                double topKMass = 0;
                for (int i = 0; i < limit; i++) {
                    topKMass += probs[(int) packed[i]];
                }
                int keep = 0;
                double cumulative = 0;
                while (keep < limit) {
                    cumulative += probs[(int) packed[keep]];
                    keep++;
                    if (cumulative >= p * topKMass) {
                        break;
                    }
                }
                int[] out = new int[keep];
                for (int i = 0; i < keep; i++) {
                    out[i] = (int) packed[i];
                }
                return out;
            }
            threshold = threshold < 1e-12 ? 0 : threshold * 1e-3;
        }
    }
}
