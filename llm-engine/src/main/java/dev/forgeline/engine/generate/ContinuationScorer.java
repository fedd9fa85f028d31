package dev.forgeline.engine.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * log P(continuation | context) for a batch of pairs, the way lm-evaluation-harness's
 * {@code loglikelihood} requests are answered: the sum of the continuation tokens' log
 * probabilities, and whether each of them is also the argmax (greedy) choice. Pairs are run
 * longest first, right-padded, as many per forward as {@code maxBatchTokens} allows; only the
 * positions that predict continuation tokens go through lm_head.
 */
public final class ContinuationScorer {

    /** Sum of log probabilities, whether greedy decoding would produce the continuation, its length. */
    public record Score(double logprob, boolean greedy, int tokens) {}

    private final CausalLm model;
    private final int maxBatchTokens;

    public ContinuationScorer(CausalLm model, int maxBatchTokens) {
        this.model = model;
        this.maxBatchTokens = maxBatchTokens;
    }

    public List<Score> score(List<int[]> contexts, List<int[]> continuations) {
        if (contexts.size() != continuations.size()) {
            throw new IllegalArgumentException(contexts.size() + " contexts, " + continuations.size() + " continuations");
        }
        int window = model.config().maxPositionEmbeddings();
        int n = contexts.size();
        int[][] inputs = new int[n][];
        int[] firstTarget = new int[n]; // input position that predicts the first continuation token
        for (int i = 0; i < n; i++) {
            int[] ctx = contexts.get(i);
            int[] cont = continuations.get(i);
            if (ctx.length == 0 || cont.length == 0) {
                throw new IllegalArgumentException("pair " + i + ": context and continuation need at least one token");
            }
            int[] full = new int[ctx.length + cont.length];
            System.arraycopy(ctx, 0, full, 0, ctx.length);
            System.arraycopy(cont, 0, full, ctx.length, cont.length);
            // Too long for the window: drop the oldest context, as the harness does.
            int start = Math.max(0, full.length - 1 - window);
            if (start > ctx.length - 1) {
                throw new IllegalArgumentException("pair " + i + ": continuation of " + cont.length
                        + " tokens does not fit the window of " + window);
            }
            inputs[i] = Arrays.copyOfRange(full, start, full.length - 1);
            firstTarget[i] = ctx.length - 1 - start;
        }
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -inputs[i].length));
        Score[] scores = new Score[n];
        int at = 0;
        while (at < n) {
            int seqLen = inputs[order[at]].length;
            int batch = Math.max(1, Math.min(n - at, maxBatchTokens / seqLen));
            List<Integer> members = Arrays.asList(order).subList(at, at + batch);
            scoreBatch(members, inputs, firstTarget, continuations, seqLen, scores);
            at += batch;
        }
        return Arrays.asList(scores);
    }

    private void scoreBatch(List<Integer> members, int[][] inputs, int[] firstTarget, List<int[]> continuations,
            int seqLen, Score[] scores) {
        int batch = members.size();
        List<int[]> rows = new ArrayList<>(batch);
        List<Long> positions = new ArrayList<>();
        List<Long> targets = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            int i = members.get(b);
            rows.add(inputs[i]);
            int[] cont = continuations.get(i);
            for (int j = 0; j < cont.length; j++) {
                positions.add((long) b * seqLen + firstTarget[i] + j);
                targets.add((long) cont[j]);
            }
        }
        float[] logprobs;
        long[] argmax;
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            NDArray tokens = model.tokens(m, rows, seqLen, 0);
            Step step = Step.uncached(m, model, batch, seqLen);
            NDArray hidden = model.hidden(tokens, step) // (B, T, hidden)
                    .reshape(new Shape((long) batch * seqLen, model.config().hiddenSize()));
            NDArray at = m.create(LongBuffer.wrap(positions.stream().mapToLong(Long::longValue).toArray()),
                    new Shape(positions.size()));
            NDArray logits = model.logits(hidden.get(new NDIndex("{}", at))).toType(DataType.FLOAT32, false); // (N, vocab)
            NDArray lp = logits.logSoftmax(1);
            long[] tgt = targets.stream().mapToLong(Long::longValue).toArray();
            NDArray rowsIdx = m.arange(0L, (long) tgt.length, 1L, DataType.INT64);
            NDArray tgtIdx = m.create(LongBuffer.wrap(tgt), new Shape(tgt.length));
            logprobs = lp.get(new NDIndex("{}, {}", rowsIdx, tgtIdx)).toFloatArray();
            argmax = logits.argMax(1).toLongArray();
        }
        int k = 0;
        for (int b = 0; b < batch; b++) {
            int i = members.get(b);
            int[] cont = continuations.get(i);
            double sum = 0;
            boolean greedy = true;
            for (int j = 0; j < cont.length; j++, k++) {
                sum += logprobs[k];
                greedy &= argmax[k] == cont[j];
            }
            scores[i] = new Score(sum, greedy, cont.length);
        }
    }
}
