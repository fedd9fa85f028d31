package dev.forgeline.engine.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.config.ModelConfig;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The layer math of a decode step (one new token for each of a few cached sequences) and of a
 * prompt's prefill, on CPU in float32: the same math as {@link CausalLm#hidden} and
 * {@link CausalLm#logitsAt} on a cached {@link Step}, split differently between Java and libtorch.
 *
 * <p>Why: a token of a small model costs 40 native calls per layer through DJL, and only four of
 * them (q|k|v, o, gate|up, down) move much data; the others (norms, rotary, the attention over
 * the cache, SwiGLU, residuals) work on vectors of a few hundred floats, where the call costs
 * more than the arithmetic. Here everything between the weight products runs on Java arrays
 * (on the JDK's Vector API where the JVM has it), reading the cache, norms and embeddings in place
 * ({@link TensorMemory}); the products go through {@link WeightProducts}. {@link #prefill} runs a
 * prompt's positions as rows of one cache row. Design: llm-engine/README.md; measurements:
 * docs/performance.md.
 *
 * <p>Applies to float32 CPU models without unmerged LoRA adapters, any number of sequences (steps
 * go {@link #MAX_ROWS} rows at a time); {@code BatchDecoder} takes the tensor path otherwise. A
 * model loaded with {@link WeightLayout#PACKED} runs only here. Not thread-safe: one decoder thread
 * drives it; kernels on other threads may share its model.
 */
public final class CpuDecodeKernel implements AutoCloseable {

    /** Rows of one pass of a decode step; larger batches go in groups of this many (beyond 16 the gain was not measured). */
    public static final int MAX_ROWS = 16;

    /** Positions of one prompt that {@link #prefill} feeds at once: each group reads the weights once. */
    static final int PREFILL_CHUNK = 64;

    /** Rows from which a step's norms and SwiGLU are split between the team's threads. */
    private static final int SPLIT_ROWS = 16;

    /** Positions of a prefill chunk whose attention to one kv head is one unit of work. */
    private static final int PROMPT_UNIT_ROWS = 8;

    private static final Logger LOG = LoggerFactory.getLogger(CpuDecodeKernel.class);
    /**
     * Whether this JVM runs with {@code --add-modules jdk.incubator.vector} and has vectors wide
     * enough for it; {@link SimdMatmul} is only touched once the module is known to be there.
     */
    private static final boolean VECTOR_API =
            ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent() && SimdMatmul.pays();

    static {
        if (!VECTOR_API) {
            LOG.info("decode steps multiply by the weights in libtorch; --add-modules jdk.incubator.vector "
                    + "makes single-stream decode about 1.5x faster");
        }
    }

    private final CausalLm model;
    private final int hidden;
    private final int heads;
    private final int kvHeads;
    private final int groups;
    private final int headDim;
    private final int intermediate;
    private final int vocab;
    private final float eps;
    private final float queryScale;
    private final int qkvWidth; // (heads + 2 kvHeads) * headDim

    private final TensorMemory tensors = new TensorMemory();
    private final ThreadTeam team; // the products' and the attention's threads, or null: no Vector API
    private final boolean simd; // attention, norms and SwiGLU on the Vector API, else scalar Java
    private final WeightProducts products;
    private final float[][] partScores; // per part of the team, attention scores
    private final SimdPromptAttention[] promptAttention; // per part of the team, a prefill's attention
    private final int[][] queryOffsets; // per part: of a prefill unit's queries, in qkv
    private final int[][] queryLengths; // per part: positions each query attends over
    private final int[][] outputOffsets; // per part: where each query's result goes, in attended

    // Rows of a step: row b is at position[b] of cache row cacheRow[b] (in a prefill, one cache row throughout).
    private final int[] cacheRow;
    private final int[] position;

    // Java-side activations, sized for the larger of MAX_ROWS and PREFILL_CHUNK.
    private final float[] x; // residual stream (rows, hidden)
    private final float[] normed; // (rows, hidden)
    private final float[] qkv; // (rows, (heads + 2 kvHeads) * headDim)
    private final float[] attended; // (rows, heads * headDim)
    private final float[] projected; // (rows, hidden)
    private final float[] gateUp; // (rows, 2 * intermediate)
    private final float[] activated; // (rows, intermediate)
    private float[] scores = new float[256];
    private float[] keyBlock = new float[256 * 64];
    private float[] valueBlock = new float[256 * 64];

    /** A kernel on the Vector API where the JVM has it. */
    public CpuDecodeKernel(CausalLm model) {
        this(model, VECTOR_API);
    }

    /**
     * {@code vectorApi}: the weight products on {@link SimdMatmul},
     * the attention on {@link SimdAttention} and SwiGLU on {@link SimdSwiGlu}; otherwise all
     * products in libtorch and the rest in scalar Java.
     */
    CpuDecodeKernel(CausalLm model, boolean vectorApi) {
        ModelConfig c = model.config();
        this.model = model;
        this.hidden = c.hiddenSize();
        this.heads = c.numAttentionHeads();
        this.kvHeads = c.numKeyValueHeads();
        this.groups = c.queryGroups();
        this.headDim = c.headDim();
        this.intermediate = c.intermediateSize();
        this.vocab = c.vocabSize();
        this.eps = (float) c.rmsNormEps();
        this.queryScale = (float) (1.0 / Math.sqrt(headDim));
        this.qkvWidth = (heads + 2 * kvHeads) * headDim;
        int widest = Math.max(Math.max(hidden, heads * headDim), intermediate);
        int rows = Math.max(MAX_ROWS, PREFILL_CHUNK);
        this.cacheRow = new int[rows];
        this.position = new int[rows];
        this.x = new float[rows * hidden];
        this.normed = new float[rows * hidden];
        this.qkv = new float[rows * qkvWidth];
        this.attended = new float[rows * heads * headDim];
        this.projected = new float[rows * hidden];
        this.gateUp = new float[rows * 2 * intermediate];
        this.activated = new float[rows * intermediate];
        this.team = vectorApi ? new ThreadTeam(JniUtils.getNumThreads()) : null;
        this.simd = vectorApi;
        this.products = new WeightProducts(model.manager(), team, tensors, rows * widest);
        int parts = team == null ? 0 : team.size();
        this.partScores = new float[parts][0];
        this.promptAttention = new SimdPromptAttention[parts];
        for (int p = 0; p < parts; p++) {
            promptAttention[p] = new SimdPromptAttention();
        }
        this.queryOffsets = new int[parts][PROMPT_UNIT_ROWS * groups];
        this.queryLengths = new int[parts][PROMPT_UNIT_ROWS * groups];
        this.outputOffsets = new int[parts][PROMPT_UNIT_ROWS * groups];
    }

    /**
     * Whether a model loaded for serving on this device in this dtype can be held in packed tiles
     * alone ({@link WeightLayout#PACKED}); logs why not.
     */
    static boolean holdsPacked(ModelConfig c, Device device, DataType dtype) {
        long floats = 0;
        long largest = 0;
        long q = (long) c.numAttentionHeads() * c.headDim();
        long kv = (long) c.numKeyValueHeads() * c.headDim();
        long[][] shapes = { // (out, in) of each layer's projections, then the head
            {q + 2 * kv, c.hiddenSize()}, {c.hiddenSize(), q}, {2L * c.intermediateSize(), c.hiddenSize()},
            {c.hiddenSize(), c.intermediateSize()}};
        for (long[] shape : shapes) {
            floats += c.numHiddenLayers() * PackedWeight.floats(shape[0], shape[1]);
            largest = Math.max(largest, PackedWeight.floats(shape[0], shape[1]));
        }
        floats += PackedWeight.floats(c.vocabSize(), c.hiddenSize());
        largest = Math.max(largest, PackedWeight.floats(c.vocabSize(), c.hiddenSize()));
        String why = dtype != DataType.FLOAT32 || !Device.Type.CPU.equals(device.getDeviceType())
                ? "the CPU kernel runs float32 on the CPU, not " + dtype + " on " + device
                : !VECTOR_API || !PackedMatmul.pays()
                ? "packed tiles need the Vector API (--add-modules jdk.incubator.vector) and 16-float vectors"
                : largest > Integer.MAX_VALUE - 8 ? "a projection is too large for one Java array"
                : !PackedWeight.fits(floats * Float.BYTES)
                ? "the Java heap has " + PackedWeight.freeMegabytes() + " MB free for " + (floats * Float.BYTES >> 20)
                        + " MB of packed weights (half stays free; -Xmx sets the heap)"
                : null;
        if (why != null) {
            LOG.info("weights stay as libtorch tensors, the kernel packs a copy: {}", why);
        }
        return why == null;
    }

    /** Whether {@link #step} can decode sequences of this model with this cache. */
    public static boolean handles(CausalLm model, KvCache cache) {
        if (model.dataType() != DataType.FLOAT32
                || !Device.Type.CPU.equals(model.device().getDeviceType())
                || !(model.manager() instanceof PtNDManager)) {
            return false;
        }
        // A view of a tensor's memory is a ByteBuffer, whose capacity is an int.
        ModelConfig c = model.config();
        long embedding = (long) c.vocabSize() * c.hiddenSize();
        long cacheLayer = (long) cache.rows() * c.numKeyValueHeads() * c.headDim() * cache.maxLength();
        if (Math.max(embedding, cacheLayer) * Float.BYTES > Integer.MAX_VALUE) {
            return false;
        }
        return !model.hasAdapters();
    }

    /**
     * Feeds {@code tokens[b]} to cache row b at position {@code cache.length(b)}, writing its key
     * and value there, for rows [0, n), {@link #MAX_ROWS} at a time. Lengths are left to the
     * caller, as with {@link Step}.
     *
     * @return logits, (n, vocab) row-major
     */
    public float[] step(KvCache cache, int[] tokens, int n) {
        float[] logits = n <= MAX_ROWS ? null : new float[n * vocab];
        try (NoGradient ignored = NoGradient.enter()) {
            for (int from = 0; from < n; from += MAX_ROWS) {
                int rows = Math.min(MAX_ROWS, n - from);
                for (int b = 0; b < rows; b++) {
                    cacheRow[b] = from + b;
                    position[b] = cache.length(from + b);
                }
                int[] group = from == 0 ? tokens : Arrays.copyOfRange(tokens, from, from + rows); // forward reads rows [0, rows)
                float[] part = forward(cache, group, rows, false, HeadRows.ALL);
                if (logits == null) {
                    return part;
                }
                System.arraycopy(part, 0, logits, from * vocab, rows * vocab);
            }
        }
        return logits;
    }

    /**
     * Whether {@link #prefill} runs here: once every weight of the layers is packed, so that a
     * prompt's positions multiply by the weights like a batch of rows.
     */
    public boolean prefills() {
        return products.allPacked(model);
    }

    /**
     * Packs every layer's weights now, so that prompts and steps take the same path from the first
     * request; see {@link WeightProducts} for when a weight is not packed.
     */
    public void packWeights() {
        products.packAll(model);
    }

    /**
     * Feeds {@code tokens} to cache row {@code row} from position {@code cache.length(row)} on, up
     * to {@link #PREFILL_CHUNK} positions at a time, writing their keys and values. The length is
     * left to the caller, as with {@link #step}.
     *
     * @return the last position's logits, (vocab)
     */
    public float[] prefill(KvCache cache, int row, int[] tokens) {
        return prefill(cache, row, tokens, null);
    }

    /** Logits of one position of a prompt: {@code logits[offset, offset + vocab)} belong to {@code tokens[index]}. */
    public interface PositionLogits {
        void accept(int index, float[] logits, int offset);
    }

    /**
     * {@link #prefill}, every position's logits handed to {@code each} in order (a prompt's own
     * log-probabilities), or only the last one's returned when {@code each} is null.
     */
    public float[] prefill(KvCache cache, int row, int[] tokens, PositionLogits each) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("an empty prompt has no logits");
        }
        int start = cache.length(row);
        float[] logits = null;
        try (NoGradient ignored = NoGradient.enter()) {
            for (int from = 0; from < tokens.length; from += PREFILL_CHUNK) {
                int n = Math.min(PREFILL_CHUNK, tokens.length - from);
                for (int i = 0; i < n; i++) {
                    cacheRow[i] = row;
                    position[i] = start + from + i;
                }
                HeadRows head = each != null ? HeadRows.ALL : from + n == tokens.length ? HeadRows.LAST : HeadRows.NONE;
                logits = forward(cache, Arrays.copyOfRange(tokens, from, from + n), n, true, head);
                for (int i = 0; each != null && i < n; i++) {
                    each.accept(from + i, logits, i * vocab);
                }
            }
        }
        return each == null ? logits : null;
    }

    /** Rows of a forward that go through the final norm and lm_head. */
    private enum HeadRows {
        ALL,
        /** the last row alone: a prompt's next token */
        LAST,
        /** none: a chunk of a prompt before its last, which only fills the cache */
        NONE
    }

    /**
     * {@code positionsOfOneRow}: the rows are consecutive positions of one cache row (a prefill);
     * returns the logits of the {@code head} rows, or null for none.
     */
    private float[] forward(KvCache cache, int[] tokens, int n, boolean positionsOfOneRow, HeadRows head) {
        int maxLength = 0;
        for (int b = 0; b < n; b++) {
            maxLength = Math.max(maxLength, position[b] + 1);
        }
        cache.ensure(maxLength);
        FloatBuffer table = model.embedTokens() == null ? null : view(model.embedTokens());
        for (int b = 0; b < n; b++) {
            if (table != null) {
                table.get(tokens[b] * hidden, x, b * hidden, hidden);
            } else { // a packed tied head holds the embedding
                model.lmHead().packed().row(tokens[b], x, b * hidden);
            }
        }
        float[] cos = new float[n * headDim / 2];
        float[] sin = new float[cos.length];
        for (int b = 0; b < n; b++) {
            model.rotary().halfAngles(position[b], cos, sin, b * headDim / 2);
        }
        int l = 0;
        for (DecoderLayer layer : model.layers()) {
            attention(layer, l++, cache, n, cos, sin, positionsOfOneRow);
            mlp(layer, n);
        }
        if (head == HeadRows.NONE) {
            return null;
        }
        rmsNorm(model.norm(), n, normed);
        if (head == HeadRows.LAST) {
            System.arraycopy(normed, (n - 1) * hidden, normed, 0, hidden);
            n = 1;
        }
        float[] logits = new float[n * vocab];
        products.project(model.lmHead(), n, normed, hidden, logits, vocab);
        return logits;
    }

    /** x += o_proj(attention(rope(q), rope(k), v)) over each row's cache, new position included. */
    private void attention(DecoderLayer layer, int l, KvCache cache, int n, float[] cos, float[] sin,
            boolean positionsOfOneRow) {
        Attention a = layer.attention();
        rmsNorm(layer.inputNorm(), n, normed);
        products.project(a.qkv(), n, normed, hidden, qkv, qkvWidth);
        ByteBuffer keys = memory(cache.keys(l)); // (rows, kvHeads, headDim, allocated)
        ByteBuffer values = memory(cache.values(l)); // (rows, kvHeads, allocated, headDim)
        int units = n * kvHeads;
        if (team == null) {
            store(cache, keys, values, cos, sin, 0, units);
            attend(cache, keys, values, 0, units, 0);
        } else if (positionsOfOneRow) { // a position reads the keys of those before it: all are stored first
            int parts = team.size();
            team.run(p -> store(cache, keys, values, cos, sin, p * units / parts, (p + 1) * units / parts));
            team.run(p -> attendPrompt(cache, keys, values, n, p));
        } else { // rows of different caches: a unit reads only what it stored, so one pass of the team
            int parts = team.size();
            team.run(p -> {
                store(cache, keys, values, cos, sin, p * units / parts, (p + 1) * units / parts);
                attend(cache, keys, values, p * units / parts, (p + 1) * units / parts, p);
            });
        }
        products.project(a.output(), n, attended, heads * headDim, projected, hidden);
        for (int i = 0; i < n * hidden; i++) {
            x[i] += projected[i];
        }
    }

    /**
     * Attention units [from, to): unit u is row u / kvHeads and its kv head u % kvHeads, with the
     * query heads that read it. Rotates them and the row's key, and writes its key and value into
     * the cache at the row's position.
     */
    private void store(KvCache cache, ByteBuffer keyBytes, ByteBuffer valueBytes, float[] cos, float[] sin,
            int from, int to) {
        FloatBuffer keys = keyBytes.asFloatBuffer();
        FloatBuffer values = valueBytes.asFloatBuffer();
        int allocated = cache.allocated();
        for (int u = from; u < to; u++) {
            int b = u / kvHeads;
            int h = u % kvHeads;
            int row = b * qkvWidth;
            int q = row + h * groups * headDim;
            int k = row + (heads + h) * headDim;
            int v = row + (heads + kvHeads + h) * headDim;
            for (int g = 0; g < groups; g++) { // v is not rotated
                rotate(qkv, q + g * headDim, cos, sin, b * headDim / 2, queryScale);
            }
            rotate(qkv, k, cos, sin, b * headDim / 2, 1f);
            int keyBase = (cacheRow[b] * kvHeads + h) * headDim * allocated;
            for (int d = 0; d < headDim; d++) {
                keys.put(keyBase + d * allocated + position[b], qkv[k + d]);
            }
            int valueBase = (cacheRow[b] * kvHeads + h) * allocated * headDim;
            values.put(valueBase + position[b] * headDim, qkv, v, headDim);
        }
    }

    /**
     * Attention units [from, to), stored: each query head attends over its cache row up to the
     * row's position. {@code part}: whose scratch to use.
     */
    private void attend(KvCache cache, ByteBuffer keyBytes, ByteBuffer valueBytes, int from, int to, int part) {
        int allocated = cache.allocated();
        FloatBuffer keys = !simd ? keyBytes.asFloatBuffer() : null;
        FloatBuffer values = !simd ? valueBytes.asFloatBuffer() : null;
        for (int u = from; u < to; u++) {
            int b = u / kvHeads;
            int h = u % kvHeads;
            int q = b * qkvWidth + h * groups * headDim;
            int keyBase = (cacheRow[b] * kvHeads + h) * headDim * allocated;
            int valueBase = (cacheRow[b] * kvHeads + h) * allocated * headDim;
            int length = position[b] + 1;
            int o = (b * heads + h * groups) * headDim;
            if (simd) {
                if (partScores[part].length < allocated) {
                    partScores[part] = new float[allocated];
                }
                SimdAttention.attendGroup(keyBytes, keyBase, allocated, valueBytes, valueBase, length, headDim,
                        groups, qkv, q, attended, o, partScores[part]);
            } else {
                attendGroup(keys, keyBase, allocated, values, valueBase, length, qkv, q, attended, o);
            }
        }
    }

    /**
     * A prefill chunk's attention, stored: per kv head, blocks of {@link #PROMPT_UNIT_ROWS}
     * positions, the parts taking every other block so that both get early and late positions
     * (which part starts alternates by head).
     */
    private void attendPrompt(KvCache cache, ByteBuffer keyBytes, ByteBuffer valueBytes, int n, int part) {
        FloatBuffer keys = keyBytes.asFloatBuffer();
        FloatBuffer values = valueBytes.asFloatBuffer();
        int allocated = cache.allocated();
        int parts = team.size();
        int blocks = (n + PROMPT_UNIT_ROWS - 1) / PROMPT_UNIT_ROWS;
        int[] qOffset = queryOffsets[part];
        int[] length = queryLengths[part];
        int[] outOffset = outputOffsets[part];
        SimdPromptAttention attention = promptAttention[part];
        for (int h = 0; h < kvHeads; h++) {
            int keyBase = (cacheRow[0] * kvHeads + h) * headDim * allocated;
            int valueBase = (cacheRow[0] * kvHeads + h) * allocated * headDim;
            attention.head(keys, keyBase, allocated, values, valueBase, headDim, position[n - 1] + 1);
            for (int block = (h + part) % parts; block < blocks; block += parts) {
                int from = block * PROMPT_UNIT_ROWS;
                int count = 0;
                for (int b = from; b < Math.min(n, from + PROMPT_UNIT_ROWS); b++) {
                    for (int g = 0; g < groups; g++, count++) { // lengths grow with count, as attend wants
                        qOffset[count] = b * qkvWidth + (h * groups + g) * headDim;
                        length[count] = position[b] + 1;
                        outOffset[count] = (b * heads + h * groups + g) * headDim;
                    }
                }
                attention.attend(qkv, qOffset, length, count, attended, outOffset);
            }
        }
    }

    /**
     * The {@code groups} query heads that share one kv head: softmax(q k^T) v over positions
     * [0, length). q arrives rotated and scaled by 1/sqrt(hd).
     */
    private void attendGroup(FloatBuffer keys, int keyBase, int allocated, FloatBuffer values, int valueBase,
            int length, float[] q, int qOffset, float[] out, int outOffset) {
        if (keyBlock.length < headDim * length) {
            keyBlock = new float[Math.max(headDim * length, 2 * keyBlock.length)];
            valueBlock = new float[keyBlock.length];
        }
        if (scores.length < length) {
            scores = new float[Math.max(length, 2 * scores.length)];
        }
        for (int d = 0; d < headDim; d++) { // keys are stored transposed: one row of positions per dim
            keys.get(keyBase + d * allocated, keyBlock, d * length, length);
        }
        values.get(valueBase, valueBlock, 0, length * headDim);
        for (int g = 0; g < groups; g++) {
            int qg = qOffset + g * headDim;
            java.util.Arrays.fill(scores, 0, length, 0f);
            for (int d = 0; d < headDim; d++) {
                float qd = q[qg + d];
                int kd = d * length;
                for (int s = 0; s < length; s++) {
                    scores[s] += qd * keyBlock[kd + s];
                }
            }
            float max = Float.NEGATIVE_INFINITY;
            for (int s = 0; s < length; s++) {
                max = Math.max(max, scores[s]);
            }
            float sum = 0f;
            for (int s = 0; s < length; s++) {
                float e = (float) Math.exp(scores[s] - max);
                scores[s] = e;
                sum += e;
            }
            int o = outOffset + g * headDim;
            java.util.Arrays.fill(out, o, o + headDim, 0f);
            for (int s = 0; s < length; s++) {
                float p = scores[s] / sum;
                int vs = s * headDim;
                for (int d = 0; d < headDim; d++) {
                    out[o + d] += p * valueBlock[vs + d];
                }
            }
        }
    }

    /** x += down(silu(gate(norm(x))) * up(norm(x))). */
    private void mlp(DecoderLayer layer, int n) {
        Mlp m = layer.mlp();
        rmsNorm(layer.postAttentionNorm(), n, normed);
        products.project(m.gateUp(), n, normed, hidden, gateUp, 2 * intermediate);
        acrossRows(n, (from, to) -> {
            for (int b = from; b < to; b++) {
                int gu = b * 2 * intermediate;
                int act = b * intermediate;
                if (simd) {
                    SimdSwiGlu.apply(gateUp, gu, intermediate, activated, act);
                } else {
                    swiGlu(gateUp, gu, intermediate, activated, act, 0);
                }
            }
        });
        products.project(m.down(), n, activated, intermediate, projected, hidden);
        for (int i = 0; i < n * hidden; i++) {
            x[i] += projected[i];
        }
    }

    /** out = w * x / sqrt(mean(x^2) + eps), per row. */
    private void rmsNorm(RmsNorm norm, int n, float[] out) {
        if (simd) {
            ByteBuffer weight = memory(norm.weight());
            acrossRows(n, (from, to) -> {
                for (int b = from; b < to; b++) {
                    SimdRmsNorm.apply(x, b * hidden, hidden, weight, eps, out);
                }
            });
            return;
        }
        FloatBuffer w = view(norm.weight());
        for (int b = 0; b < n; b++) {
            int o = b * hidden;
            float squares = 0f;
            for (int i = 0; i < hidden; i++) {
                squares += x[o + i] * x[o + i];
            }
            float rms = (float) Math.sqrt(squares / hidden + eps);
            for (int i = 0; i < hidden; i++) {
                out[o + i] = x[o + i] / rms * w.get(i);
            }
        }
    }

    /** Rows [from, to) of a step's row-wise work. */
    private interface RowRange {
        void run(int from, int to);
    }

    /**
     * Runs {@code rows} [0, n) split between the team's parts when there are enough of them (a
     * prompt's chunk): on one thread a chunk's norms and SwiGLU left the other core spinning.
     */
    private void acrossRows(int n, RowRange rows) {
        if (team == null || n < SPLIT_ROWS) {
            rows.run(0, n);
            return;
        }
        int parts = team.size();
        team.run(p -> rows.run(p * n / parts, (p + 1) * n / parts));
    }

    /** out[o + i] = g / (1 + exp(-g)) * up for g = gateUp[gu + i], up = gateUp[gu + width + i], i in [from, width). */
    static void swiGlu(float[] gateUp, int gu, int width, float[] out, int o, int from) {
        for (int i = from; i < width; i++) {
            float g = gateUp[gu + i];
            out[o + i] = g / (1f + (float) Math.exp(-g)) * gateUp[gu + width + i];
        }
    }

    /** Hugging Face rotate_half: dimension i pairs with i + hd/2. */
    private void rotate(float[] v, int o, float[] cos, float[] sin, int angle, float scale) {
        int half = headDim / 2;
        for (int i = 0; i < half; i++) {
            float a = v[o + i];
            float b = v[o + half + i];
            float c = cos[angle + i] * scale;
            float s = sin[angle + i] * scale;
            v[o + i] = a * c - b * s;
            v[o + half + i] = b * c + a * s;
        }
    }

    /** {@link TensorMemory#floats} of a tensor, for the scalar loops. */
    private FloatBuffer view(NDArray array) {
        return tensors.floats(array);
    }

    private ByteBuffer memory(NDArray array) {
        return tensors.bytes(array);
    }

    @Override
    public void close() {
        products.close();
        if (team != null) {
            team.close();
        }
        tensors.clear();
    }
}
