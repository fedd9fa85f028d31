package dev.forgeline.engine.generate;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.forgeline.engine.model.CausalLm;
import dev.forgeline.engine.model.CpuDecodeKernel;
import dev.forgeline.engine.model.KvCache;
import dev.forgeline.engine.model.NoGradient;
import dev.forgeline.engine.model.Step;
import java.util.ArrayList;
import java.util.List;

/**
 * Continuous batching: sequences join and leave between decode steps. {@link #add} prefills a
 * prompt into a free cache row and samples its first token; {@link #step} decodes one token for
 * every active sequence in a single batched forward (rows of different lengths, masked per
 * row) and retires the ones that finished. Active sequences occupy rows [0, n) so the batch is
 * a contiguous view of the cache; a retired row is refilled by moving the last one into it.
 *
 * <p>Steps of a float32 CPU model without unmerged adapters run through {@link CpuDecodeKernel}
 * (the small per-token math in Java); any other goes through the model's tensor forward. For such
 * a model the weights are packed for the kernel when it loads ({@code WeightLayout.PACKED}) or
 * else when the decoder is made, so prompts are prefilled through the kernel from the first one
 * ({@link CpuDecodeKernel#prefills}); without room to pack they go through the tensor forward.
 *
 * <p>Not thread-safe: one scheduler thread drives it.
 */
public final class BatchDecoder implements AutoCloseable {

    private final CausalLm model;
    private final KvCache cache;
    private final int limit; // positions a row may hold
    private final Sequence[] rows;
    private int active;
    private CpuDecodeKernel kernel; // decode steps and prefills on float32 CPU models, made on first use

    /**
     * @param capacity sequences decoded together at most
     * @param maxLength positions per sequence, prompt included (capped at max_position_embeddings)
     */
    public BatchDecoder(CausalLm model, int capacity, int maxLength) {
        this.model = model;
        this.limit = Math.min(maxLength, model.config().maxPositionEmbeddings());
        this.cache = new KvCache(model.manager(), model.config(), capacity, limit, model.dataType());
        this.rows = new Sequence[capacity];
        if (CpuDecodeKernel.handles(model, cache)) {
            kernel().packWeights();
        }
    }

    /**
     * Runs a few throwaway prompts so that the JIT has compiled the kernel's loops before the first
     * real one: a cold kernel prefills far below its warm speed, slower than libtorch, and shorter
     * warm-up prompts left a long first prompt still below it (figures: docs/performance.md). A
     * server calls it once after loading a model.
     */
    public static void warmUp(CausalLm model) {
        int length = Math.min(256, model.config().maxPositionEmbeddings() - 1);
        if (length < 1) {
            return;
        }
        int[] prompt = new int[length];
        for (int i = 0; i < length; i++) {
            prompt[i] = i % model.config().vocabSize();
        }
        SamplingParams one = SamplingParams.builder().maxTokens(1).build();
        for (int round = 0; round < 6; round++) {
            try (BatchDecoder decoder = new BatchDecoder(model, 1, length + 1)) {
                decoder.add(prompt, one, null, null);
            }
        }
    }

    /**
     * Prefills {@code prompt} and samples its first token (streamed at once). The returned
     * sequence may already be finished, in which case it takes no row.
     */
    public Sequence add(int[] prompt, SamplingParams params, TokenDecoder decoder, TokenListener listener) {
        if (active == rows.length) {
            throw new IllegalStateException("batch is full (" + rows.length + " sequences)");
        }
        if (prompt.length == 0 || prompt.length > limit) {
            throw new IllegalArgumentException("prompt of " + prompt.length + " tokens; this decoder takes 1.." + limit);
        }
        Sequence seq = new Sequence(prompt, params, model.config().vocabSize(), decoder, listener);
        int row = active;
        cache.setLength(row, 0);
        float[] logits = CpuDecodeKernel.handles(model, cache) && kernel().prefills()
                ? kernel().prefill(cache, row, prompt)
                : tensorPrefill(row, prompt);
        cache.setLength(row, prompt.length);
        seq.advance(logits, prompt.length < limit);
        if (!seq.isFinished()) {
            seq.row = row;
            rows[active++] = seq;
        }
        return seq;
    }

    /** Decodes one token for every active sequence; returns those that finished (now removed). */
    public List<Sequence> step() {
        int n = active;
        if (n == 0) {
            return List.of();
        }
        float[] logits = CpuDecodeKernel.handles(model, cache) ? kernelStep(n) : tensorStep(n); // (n * vocab)
        int vocab = model.config().vocabSize();
        List<Sequence> finished = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            int length = cache.length(b) + 1;
            cache.setLength(b, length);
            float[] row = new float[vocab];
            System.arraycopy(logits, b * vocab, row, 0, vocab);
            rows[b].advance(row, length < limit);
            if (rows[b].isFinished()) {
                finished.add(rows[b]);
            }
        }
        for (Sequence s : finished) {
            release(s);
        }
        return finished;
    }

    /** The prompt through libtorch into cache row {@code row}; the last position's logits. */
    private float[] tensorPrefill(int row, int[] prompt) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            NDArray tokens = model.tokens(m, List.of(prompt), prompt.length, 0);
            Step step = Step.cached(m, model, cache, row, 1, prompt.length);
            NDArray hidden = model.hidden(tokens, step);
            return toFloats(model.logitsAt(hidden, step, new int[] {prompt.length - 1}));
        }
    }

    private CpuDecodeKernel kernel() {
        if (kernel == null) {
            kernel = new CpuDecodeKernel(model);
        }
        return kernel;
    }

    private float[] kernelStep(int n) {
        int[] last = new int[n];
        for (int b = 0; b < n; b++) {
            last[b] = rows[b].lastToken();
        }
        return kernel().step(cache, last, n);
    }

    private float[] tensorStep(int n) {
        try (NoGradient ignored = NoGradient.enter(); NDManager m = model.manager().newSubManager()) {
            List<int[]> last = new ArrayList<>(n);
            for (int b = 0; b < n; b++) {
                last.add(new int[] {rows[b].lastToken()});
            }
            NDArray tokens = model.tokens(m, last, 1, 0); // (n, 1)
            Step step = Step.cached(m, model, cache, 0, n, 1);
            NDArray hidden = model.hidden(tokens, step); // (n, 1, hidden)
            return toFloats(model.logitsAt(hidden, step, new int[n])); // (n * vocab)
        }
    }

    /** Cancels a sequence (finish reason stop unless it had one) and frees its row. */
    public void remove(Sequence seq) {
        if (seq.row >= 0 && seq.row < active && rows[seq.row] == seq) {
            seq.cancel();
            release(seq);
        }
    }

    private void release(Sequence seq) {
        int row = seq.row;
        int last = active - 1;
        if (row != last) {
            cache.moveRow(last, row);
            rows[row] = rows[last];
            rows[row].row = row;
        }
        cache.setLength(last, 0);
        rows[last] = null;
        seq.row = -1;
        active--;
    }

    private static float[] toFloats(NDArray logits) {
        return logits.getDataType() == DataType.FLOAT32
                ? logits.toFloatArray()
                : logits.toType(DataType.FLOAT32, false).toFloatArray();
    }

    public int active() {
        return active;
    }

    public int capacity() {
        return rows.length;
    }

    public boolean hasRoom() {
        return active < rows.length;
    }

    public List<Sequence> sequences() {
        List<Sequence> out = new ArrayList<>(active);
        for (int b = 0; b < active; b++) {
            out.add(rows[b]);
        }
        return out;
    }

    /** Positions a sequence may hold, prompt included. */
    public int maxLength() {
        return limit;
    }

    @Override
    public void close() {
        if (kernel != null) {
            kernel.close();
        }
        cache.close();
    }
}
