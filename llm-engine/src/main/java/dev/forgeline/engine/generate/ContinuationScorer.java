package dev.forgeline.engine.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.KvCache;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * log P(continuation | context), the way lm-evaluation-harness answers {@code loglikelihood}
 * requests: the sum of the continuation tokens' log probabilities, and whether each of them is
 * also the argmax (greedy) choice.
 *
 * <p>A {@link Choices} holds one context and every continuation scored after it (the answers
 * of a multiple-choice question). The context runs once, many contexts per forward (longest
 * first, right-padded, up to {@code maxBatchTokens} padded tokens): the logits at its last
 * position give every continuation's first token. Continuations longer than one token then
 * run from the context's keys and values in a {@link KvCache}, one batched step per choice
 * index, each writing over the previous one's positions.
 */
public final class ContinuationScorer {

    /** Sum of log probabilities, whether greedy decoding would produce the continuation, its length. */
    public record Score(double logprob, boolean greedy, int tokens) {}

    /**
     * One context and the continuations to score after it. A context longer than the model's
     * window is cut from the left, as the harness does, so that the longest continuation fits.
     */
    public record Choices(int[] context, List<int[]> continuations) {
        public Choices {
            if (context.length == 0 || continuations.isEmpty()) {
                throw new IllegalArgumentException("a context of at least one token and at least one continuation");
            }
            for (int[] c : continuations) {
                if (c.length == 0) {
                    throw new IllegalArgumentException("a continuation needs at least one token");
                }
            }
        }

        int longest() {
            return continuations.stream().mapToInt(c -> c.length).max().orElseThrow();
        }
    }

    private final CausalLm model;
    private final int maxBatchTokens;

    public ContinuationScorer(CausalLm model, int maxBatchTokens) {
        this.model = model;
        this.maxBatchTokens = maxBatchTokens;
    }

    /** Scores of each request's continuations, in request order. */
    public List<List<Score>> score(List<Choices> requests) {
        int window = model.config().maxPositionEmbeddings();
        int n = requests.size();
        int[][] contexts = new int[n][];
        for (int i = 0; i < n; i++) {
            Choices r = requests.get(i);
            int room = window - (r.longest() - 1); // the last continuation token is never an input
            if (room < 1) {
                throw new IllegalArgumentException("request " + i + ": a continuation of " + r.longest()
                        + " tokens does not fit the window of " + window);
            }
            int[] ctx = r.context();
            contexts[i] = ctx.length <= room ? ctx : Arrays.copyOfRange(ctx, ctx.length - room, ctx.length);
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -contexts[i].length));
        List<List<Score>> scores = new ArrayList<>(java.util.Collections.nCopies(n, null));
        int at = 0;
        while (at < n) {
            int seqLen = contexts[order[at]].length;
            int batch = Math.max(1, Math.min(n - at, maxBatchTokens / seqLen));
            List<Integer> members = Arrays.asList(order).subList(at, at + batch);
            scoreBatch(members, contexts, requests, seqLen, scores);
            at += batch;
        }
        return scores;
    }

    private void scoreBatch(List<Integer> members, int[][] contexts, List<Choices> requests, int seqLen,
            List<List<Score>> scores) {
        int batch = members.size();
        int vocab = model.config().vocabSize();
        List<int[]> rows = new ArrayList<>(batch);
        int[] last = new int[batch];
        int longest = 1;
        int choices = 0;
        for (int b = 0; b < batch; b++) {
            int i = members.get(b);
            rows.add(contexts[i]);
            last[b] = contexts[i].length - 1;
            longest = Math.max(longest, requests.get(i).longest());
            choices = Math.max(choices, requests.get(i).continuations().size());
        }
        double[][] sums = new double[batch][choices]; // running log-prob sums
        boolean[][] greedy = new boolean[batch][choices];
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            // Only continuations past one token need the context's keys and values again.
            KvCache cache = longest > 1
                    ? new KvCache(m, model.config(), batch, seqLen + longest - 1, model.dataType()) : null;
            Step prefill = cache != null ? Step.cached(m, model, cache, 0, batch, seqLen) : Step.uncached(m, model, batch, seqLen);
            NDArray hidden = model.hidden(model.tokens(m, rows, seqLen, 0), prefill); // (B, T, hidden)
            float[] first = logProbs(model.logitsAt(hidden, prefill, last)); // (B, vocab)
            for (int b = 0; b < batch; b++) {
                List<int[]> conts = requests.get(members.get(b)).continuations();
                int argmax = argmax(first, b * vocab, vocab);
                for (int c = 0; c < conts.size(); c++) {
                    int token = conts.get(c)[0];
                    sums[b][c] = first[b * vocab + token];
                    greedy[b][c] = argmax == token;
                }
                if (cache != null) {
                    cache.setLength(b, contexts[members.get(b)].length);
                }
            }
            for (int c = 0; c < choices && longest > 1; c++) {
                extend(m, cache, members, requests, c, sums, greedy);
            }
        }
        for (int b = 0; b < batch; b++) {
            List<int[]> conts = requests.get(members.get(b)).continuations();
            List<Score> s = new ArrayList<>(conts.size());
            for (int c = 0; c < conts.size(); c++) {
                s.add(new Score(sums[b][c], greedy[b][c], conts.get(c).length));
            }
            scores.set(members.get(b), s);
        }
    }

    /**
     * Feeds tokens 0..L-2 of every row's continuation {@code c} after its cached context and adds
     * the log probabilities of tokens 1..L-1. The rows' lengths stay at their contexts, so the
     * next choice writes over these positions.
     */
    private void extend(NDManager scope, KvCache cache, List<Integer> members, List<Choices> requests, int c,
            double[][] sums, boolean[][] greedy) {
        int batch = members.size();
        int steps = 0;
        List<int[]> rows = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            List<int[]> conts = requests.get(members.get(b)).continuations();
            int[] cont = c < conts.size() ? conts.get(c) : new int[1];
            rows.add(cont.length > 1 ? Arrays.copyOf(cont, cont.length - 1) : new int[0]);
            steps = Math.max(steps, cont.length - 1);
        }
        if (steps == 0) {
            return;
        }
        int vocab = model.config().vocabSize();
        try (NDManager m = scope.newSubManager()) {
            Step step = Step.cached(m, model, cache, 0, batch, steps);
            float[] lp = logProbs(model.forward(model.tokens(m, rows, steps, 0), step)); // (B, steps, vocab)
            for (int b = 0; b < batch; b++) {
                int[] input = rows.get(b);
                if (input.length == 0) {
                    continue;
                }
                int[] cont = requests.get(members.get(b)).continuations().get(c);
                for (int j = 1; j < cont.length; j++) {
                    int offset = (b * steps + j - 1) * vocab;
                    sums[b][c] += lp[offset + cont[j]];
                    greedy[b][c] &= argmax(lp, offset, vocab) == cont[j];
                }
            }
        }
    }

    private static float[] logProbs(NDArray logits) {
        return logits.toType(DataType.FLOAT32, false).logSoftmax(-1).toFloatArray();
    }

    private static int argmax(float[] a, int offset, int length) {
        int best = 0;
        for (int v = 1; v < length; v++) {
            if (a[offset + v] > a[offset + best]) {
                best = v;
            }
        }
        return best;
    }
}
