package dev.forgeline.engine.generate;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.KvCache;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * log P(continuation | context), the way lm-evaluation-harness answers {@code loglikelihood}
 * requests: the sum of the continuation tokens' log probabilities, and whether each of them is
 * also the argmax (greedy) choice.
 *
 * <p>A {@link Choices} holds one context and every continuation scored after it (the answers
 * of a multiple-choice question); its context runs once for all of them, many contexts per
 * forward (longest first, right-padded, up to {@code maxBatchTokens} padded tokens). When the
 * continuations' inputs (each without its last token) are prefixes of one another, as
 * {@code " A"} = [▁, A] and {@code " B"} = [B] are, the row is the context followed by the
 * longest input, and every continuation reads its logits off that one row: a causal model's
 * logits at a position depend only on the tokens up to it. Otherwise the continuations branch:
 * they run from the context's keys and values in a {@link KvCache}, one batched step per choice
 * index, each writing over the previous one's positions.
 *
 * <p>On the CPU, {@code workers} threads run batches side by side, each with one libtorch thread:
 * the ops of a small model are too short for libtorch to split well, so whole batches on their
 * own cores go faster. libtorch's thread count is process-wide; it is set to one while they run
 * and restored after.
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
    private final int workers;

    /** @param workers batches scored at once (CPU only; a GPU takes one at a time) */
    public ContinuationScorer(CausalLm model, int maxBatchTokens, int workers) {
        this.model = model;
        this.maxBatchTokens = maxBatchTokens;
        this.workers = Device.Type.CPU.equals(model.device().getDeviceType()) ? Math.max(1, workers) : 1;
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
        int[][] tails = new int[n][];
        int[] rowLength = new int[n];
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            tails[i] = sharedInput(requests.get(i).continuations());
            rowLength[i] = contexts[i].length + (tails[i] == null ? 0 : tails[i].length);
            order[i] = i;
        }
        Arrays.sort(order, Comparator.comparingInt((Integer i) -> -rowLength[i]));
        List<List<Integer>> batches = new ArrayList<>();
        for (int at = 0; at < n; ) {
            int batch = Math.max(1, Math.min(n - at, maxBatchTokens / rowLength[order[at]]));
            batches.add(Arrays.asList(order).subList(at, at + batch));
            at += batch;
        }
        List<List<Score>> scores = Collections.synchronizedList(new ArrayList<>(Collections.nCopies(n, null)));
        if (workers == 1 || batches.size() == 1) {
            batches.forEach(members -> scoreBatch(members, contexts, tails, requests, scores));
            return scores;
        }
        int threads = JniUtils.getNumThreads();
        JniUtils.setNumThreads(1);
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(workers, batches.size()));
        try {
            List<Future<?>> done = new ArrayList<>();
            for (List<Integer> members : batches) {
                done.add(pool.submit(() -> scoreBatch(members, contexts, tails, requests, scores)));
            }
            for (Future<?> f : done) {
                f.get();
            }
            return scores;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while scoring", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : new IllegalStateException(e.getCause());
        } finally {
            pool.shutdownNow();
            JniUtils.setNumThreads(threads);
        }
    }

    /** {@code tails[i]}: request i's shared continuation input, null when its continuations branch. */
    private void scoreBatch(List<Integer> members, int[][] contexts, int[][] tails, List<Choices> requests,
            List<List<Score>> scores) {
        int batch = members.size();
        int vocab = model.config().vocabSize();
        List<int[]> rows = new ArrayList<>(batch);
        boolean[] branching = new boolean[batch];
        boolean anyBranching = false;
        int choices = 0;
        int rowLength = 1;
        int longest = 1;
        for (int b = 0; b < batch; b++) {
            int i = members.get(b);
            int[] tail = tails[i];
            branching[b] = tail == null;
            longest = Math.max(longest, requests.get(i).longest());
            anyBranching |= branching[b];
            int[] row = Arrays.copyOf(contexts[i], contexts[i].length + (tail == null ? 0 : tail.length));
            if (tail != null) {
                System.arraycopy(tail, 0, row, contexts[i].length, tail.length);
            }
            rows.add(row);
            rowLength = Math.max(rowLength, row.length);
            choices = Math.max(choices, requests.get(i).continuations().size());
        }
        // Every position whose logits some continuation reads: row b, context end - 1 + j.
        int[] firstRead = new int[batch];
        List<Long> positions = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            firstRead[b] = positions.size();
            int reads = rows.get(b).length - contexts[members.get(b)].length + 1;
            for (int j = 0; j < reads; j++) {
                positions.add((long) b * rowLength + contexts[members.get(b)].length - 1 + j);
            }
        }
        double[][] sums = new double[batch][choices];
        boolean[][] greedy = new boolean[batch][choices];
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            KvCache cache = anyBranching
                    ? new KvCache(m, model.config(), batch, rowLength + longest - 1, model.dataType()) : null;
            Step step = cache != null ? Step.cached(m, model, cache, 0, batch, rowLength) : Step.uncached(m, model, batch, rowLength);
            NDArray hidden = model.hidden(model.tokens(m, rows, rowLength, 0), step)
                    .reshape(new Shape((long) batch * rowLength, model.config().hiddenSize()));
            NDArray at = m.create(LongBuffer.wrap(positions.stream().mapToLong(Long::longValue).toArray()),
                    new Shape(positions.size()));
            float[] lp = logProbs(model.logits(hidden.get(new NDIndex("{}", at)))); // (positions, vocab)
            for (int b = 0; b < batch; b++) {
                List<int[]> conts = requests.get(members.get(b)).continuations();
                for (int c = 0; c < conts.size(); c++) {
                    int[] cont = conts.get(c);
                    greedy[b][c] = true;
                    for (int j = 0; j < (branching[b] ? 1 : cont.length); j++) {
                        int offset = (firstRead[b] + j) * vocab;
                        sums[b][c] += lp[offset + cont[j]];
                        greedy[b][c] &= Sampler.argmax(lp, offset, vocab) == cont[j];
                    }
                }
                if (cache != null) {
                    cache.setLength(b, contexts[members.get(b)].length);
                }
            }
            for (int c = 0; c < choices && cache != null; c++) {
                extend(m, cache, members, requests, branching, c, sums, greedy);
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

    /** The longest continuation input (a continuation less its last token), if every other input is a prefix of it; else null. */
    static int[] sharedInput(List<int[]> continuations) {
        int[] longest = new int[0];
        for (int[] c : continuations) {
            if (c.length - 1 > longest.length) {
                longest = Arrays.copyOf(c, c.length - 1);
            }
        }
        for (int[] c : continuations) {
            if (!Arrays.equals(c, 0, c.length - 1, longest, 0, c.length - 1)) {
                return null;
            }
        }
        return longest;
    }

    /**
     * Feeds tokens 0..L-2 of every row's continuation {@code c} after its cached context and adds
     * the log probabilities of tokens 1..L-1. The rows' lengths stay at their contexts, so the
     * next choice writes over these positions.
     */
    private void extend(NDManager scope, KvCache cache, List<Integer> members, List<Choices> requests,
            boolean[] branching, int c, double[][] sums, boolean[][] greedy) {
        int batch = members.size();
        int steps = 0;
        List<int[]> rows = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            List<int[]> conts = requests.get(members.get(b)).continuations();
            int[] cont = branching[b] && c < conts.size() ? conts.get(c) : new int[1];
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
                    greedy[b][c] &= Sampler.argmax(lp, offset, vocab) == cont[j];
                }
            }
        }
    }

    private static float[] logProbs(NDArray logits) {
        return logits.toType(DataType.FLOAT32, false).logSoftmax(-1).toFloatArray();
    }
}
