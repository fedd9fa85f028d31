package dev.forgeline.engine.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;
import ai.djl.pytorch.jni.JniUtils;
import dev.forgeline.engine.config.ModelConfig;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One decode step (one new token for each of a few cached sequences) on CPU in float32, the
 * same math as {@link CausalLm#hidden} and {@link CausalLm#logitsAt} on a cached {@link Step},
 * split differently between Java and libtorch.
 *
 * <p>Why: a token of a small model costs 40 native calls per layer through DJL, and only four of
 * them (q|k|v, o, gate|up, down) move much data; the others (norms, rotary, the attention over
 * the cache, SwiGLU, residuals) work on vectors of a few hundred floats, where the call costs
 * more than the arithmetic. Here everything between the weight products runs on Java arrays.
 * The weight products run on the JDK's Vector API, at memory speed where MKL's small GEMVs were
 * not: on {@link PackedMatmul}, over a copy of each weight packed on the first step of two rows or
 * more and kept by its {@link Linear} (it doubles the weights' memory, on the Java heap), and on
 * {@link SimdMatmul}, which reads the weight where it is, while nothing is packed: single-stream
 * decode does not pay the copy, and about a tenth of its speed is the difference (products of the
 * 135M shape, one JVM: 10.1-10.5 ms packed against 11.5-11.7). Without room on the heap, or without
 * 16-float vectors, nothing is packed.
 * Without the Vector API they run in libtorch. Activations cross over to libtorch through a direct
 * buffer that a tensor wraps without copying, and the weights, the cache and the norm weights are
 * read (the cache written) in place through views of their tensors' memory.
 *
 * <p>Once the weights are packed, {@link #prefill} runs a prompt the same way, its positions
 * taken as rows of one cache row: prompts through libtorch ran at 250-270 tokens/s for 256
 * tokens of the 135M shape, here at 640-800.
 *
 * <p>Applies to float32 CPU models without unmerged LoRA adapters, for up to
 * {@link #MAX_ROWS} sequences; {@code BatchDecoder} takes the tensor path otherwise. Not
 * thread-safe: one decoder thread drives it.
 */
public final class CpuDecodeKernel implements AutoCloseable {

    /**
     * Rows its buffers hold; larger batches take the tensor path. At 16 rows of a 135M model the
     * kernel did a step in 28 ms against libtorch products' 67; beyond, not measured.
     */
    public static final int MAX_ROWS = 16;

    /** Positions of one prompt that {@link #prefill} feeds at once: each group reads the weights once. */
    static final int PREFILL_CHUNK = 64;

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

    private final NDManager manager; // owns the input tensors that wrap {@link #input}
    private final ByteBuffer input; // activations handed to libtorch, (rows, width)
    private final Map<Long, NDArray> inputs = new HashMap<>(); // (rows, width) -> tensor over input
    private final Map<NDArray, ByteBuffer> memory = new IdentityHashMap<>(); // tensor -> its memory
    private final ThreadTeam team; // the products' and the attention's threads, or null: no Vector API
    private final SimdMatmul simd; // the weight products in Java, or null: in libtorch (and no Vector API at all)
    private final PackedMatmul packed; // products on packed weights, or null: vectors too narrow
    private boolean noRoomLogged;
    private final float[][] partScores; // per part of the team, attention scores

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
        this.manager = model.manager().newSubManager();
        int rows = Math.max(MAX_ROWS, PREFILL_CHUNK);
        this.cacheRow = new int[rows];
        this.position = new int[rows];
        this.input = ByteBuffer.allocateDirect(rows * widest * Float.BYTES).order(ByteOrder.nativeOrder());
        this.x = new float[rows * hidden];
        this.normed = new float[rows * hidden];
        this.qkv = new float[rows * qkvWidth];
        this.attended = new float[rows * heads * headDim];
        this.projected = new float[rows * hidden];
        this.gateUp = new float[rows * 2 * intermediate];
        this.activated = new float[rows * intermediate];
        this.team = vectorApi ? new ThreadTeam(JniUtils.getNumThreads()) : null;
        this.simd = vectorApi ? new SimdMatmul(team) : null;
        this.packed = vectorApi && PackedMatmul.pays() ? new PackedMatmul(team) : null;
        this.partScores = new float[team == null ? 0 : team.size()][0];
    }

    /** Whether {@link #step} can decode {@code rows} sequences of this model with this cache. */
    public static boolean handles(CausalLm model, KvCache cache, int rows) {
        if (rows < 1 || rows > MAX_ROWS || model.dataType() != DataType.FLOAT32
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
     * and value there, for rows [0, n). Lengths are left to the caller, as with {@link Step}.
     *
     * @return logits, (n, vocab) row-major
     */
    public float[] step(KvCache cache, int[] tokens, int n) {
        for (int b = 0; b < n; b++) {
            cacheRow[b] = b;
            position[b] = cache.length(b);
        }
        try (NoGradient ignored = NoGradient.enter()) {
            return forward(cache, tokens, n, false);
        }
    }

    /**
     * Whether {@link #prefill} runs here: once every weight of the layers is packed (by a batched
     * step), so that a prompt's positions multiply by the weights like a batch of rows. Until
     * then prompts go through libtorch, and single-stream use never pays for the copies.
     */
    public boolean prefills() {
        if (packed == null) {
            return false;
        }
        for (DecoderLayer layer : model.layers()) {
            Attention a = layer.attention();
            Mlp m = layer.mlp();
            if (a.qkv().packed() == null || a.output().packed() == null || m.gateUp().packed() == null
                    || m.down().packed() == null) {
                return false;
            }
        }
        return true;
    }

    /**
     * Packs every layer's weights now, as the first batched step would, so that prompts run here
     * from the first one (a server's history no longer picks the path). Nothing happens without
     * 16-float vectors, for weights being trained, or without heap room (logged once).
     */
    public void packWeights() {
        if (packed == null) {
            return;
        }
        for (DecoderLayer layer : model.layers()) {
            Attention a = layer.attention();
            Mlp m = layer.mlp();
            for (Linear linear : List.of(a.qkv(), a.output(), m.gateUp(), m.down())) {
                long[] shape = linear.weight().getShape().getShape(); // (out, in)
                packed(linear, (int) shape[0], (int) shape[1]);
            }
        }
    }

    /**
     * Feeds {@code tokens} to cache row {@code row} from position {@code cache.length(row)} on, up
     * to {@link #PREFILL_CHUNK} positions at a time, writing their keys and values. The length is
     * left to the caller, as with {@link #step}.
     *
     * @return the last position's logits, (vocab)
     */
    public float[] prefill(KvCache cache, int row, int[] tokens) {
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
                logits = forward(cache, Arrays.copyOfRange(tokens, from, from + n), n, true);
            }
        }
        return logits;
    }

    /**
     * {@code positionsOfOneRow}: the rows are consecutive positions of one cache row (a prefill),
     * and only the last one's logits are returned.
     */
    private float[] forward(KvCache cache, int[] tokens, int n, boolean positionsOfOneRow) {
        int maxLength = 0;
        for (int b = 0; b < n; b++) {
            maxLength = Math.max(maxLength, position[b] + 1);
        }
        cache.ensure(maxLength);
        FloatBuffer embedding = view(model.embedTokens());
        for (int b = 0; b < n; b++) {
            embedding.get(tokens[b] * hidden, x, b * hidden, hidden);
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
        rmsNorm(model.norm(), n, normed);
        if (positionsOfOneRow) { // the last position alone goes through lm_head
            System.arraycopy(normed, (n - 1) * hidden, normed, 0, hidden);
            n = 1;
        }
        float[] logits = new float[n * vocab];
        project(model.lmHead(), n, normed, hidden, logits, vocab);
        return logits;
    }

    /** x += o_proj(attention(rope(q), rope(k), v)) over each row's cache, new position included. */
    private void attention(DecoderLayer layer, int l, KvCache cache, int n, float[] cos, float[] sin,
            boolean positionsOfOneRow) {
        Attention a = layer.attention();
        rmsNorm(layer.inputNorm(), n, normed);
        project(a.qkv(), n, normed, hidden, qkv, qkvWidth);
        ByteBuffer keys = memory(cache.keys(l)); // (rows, kvHeads, headDim, allocated)
        ByteBuffer values = memory(cache.values(l)); // (rows, kvHeads, allocated, headDim)
        int units = n * kvHeads;
        if (team == null) {
            store(cache, keys, values, cos, sin, 0, units);
            attend(cache, keys, values, 0, units, 0);
        } else if (positionsOfOneRow) { // a position reads the keys of those before it: all are stored first
            int parts = team.size();
            team.run(p -> store(cache, keys, values, cos, sin, p * units / parts, (p + 1) * units / parts));
            team.run(p -> attend(cache, keys, values, p * units / parts, (p + 1) * units / parts, p));
        } else { // rows of different caches: a unit reads only what it stored, so one pass of the team
            int parts = team.size();
            team.run(p -> {
                store(cache, keys, values, cos, sin, p * units / parts, (p + 1) * units / parts);
                attend(cache, keys, values, p * units / parts, (p + 1) * units / parts, p);
            });
        }
        project(a.output(), n, attended, heads * headDim, projected, hidden);
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
        FloatBuffer keys = simd == null ? keyBytes.asFloatBuffer() : null;
        FloatBuffer values = simd == null ? valueBytes.asFloatBuffer() : null;
        for (int u = from; u < to; u++) {
            int b = u / kvHeads;
            int h = u % kvHeads;
            int q = b * qkvWidth + h * groups * headDim;
            int keyBase = (cacheRow[b] * kvHeads + h) * headDim * allocated;
            int valueBase = (cacheRow[b] * kvHeads + h) * allocated * headDim;
            int length = position[b] + 1;
            int o = (b * heads + h * groups) * headDim;
            if (simd != null) {
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
        project(m.gateUp(), n, normed, hidden, gateUp, 2 * intermediate);
        for (int b = 0; b < n; b++) {
            int gu = b * 2 * intermediate;
            int act = b * intermediate;
            if (simd != null) {
                SimdSwiGlu.apply(gateUp, gu, intermediate, activated, act);
            } else {
                swiGlu(gateUp, gu, intermediate, activated, act, 0);
            }
        }
        project(m.down(), n, activated, intermediate, projected, hidden);
        for (int i = 0; i < n * hidden; i++) {
            x[i] += projected[i];
        }
    }

    /** out = w * x / sqrt(mean(x^2) + eps), per row. */
    private void rmsNorm(RmsNorm norm, int n, float[] out) {
        if (simd != null) {
            ByteBuffer weight = memory(norm.weight());
            for (int b = 0; b < n; b++) {
                SimdRmsNorm.apply(x, b * hidden, hidden, weight, eps, out);
            }
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

    /** dst (n, out) = src (n, in) W^T + bias. */
    private void project(Linear linear, int n, float[] src, int in, float[] dst, int out) {
        PackedWeight tiles = packed == null ? null : n > 1 ? packed(linear, out, in) : linear.packed();
        if (tiles != null) {
            packed.multiply(tiles, src, n, dst);
        } else if (simd != null) {
            simd.multiply(memory(linear.weight()), out, in, src, n, dst);
        } else {
            torchProduct(linear, n, src, in, dst, out);
        }
        NDArray bias = linear.bias();
        if (bias != null) {
            FloatBuffer bv = view(bias);
            for (int b = 0; b < n; b++) {
                for (int j = 0; j < out; j++) {
                    dst[b * out + j] += bv.get(j);
                }
            }
        }
    }

    /**
     * The linear's weight packed for {@link PackedMatmul}, packed on first use; null while the
     * weight is being trained (it changes in place) or when the heap lacks room for the copy, which
     * takes as much memory as the weight: then the product reads the weight where it is.
     */
    private PackedWeight packed(Linear linear, int out, int in) {
        PackedWeight kept = linear.packed();
        if (kept != null || linear.weight().hasGradient()) {
            return kept;
        }
        long bytes = PackedWeight.floats(out, in) * Float.BYTES;
        Runtime heap = Runtime.getRuntime();
        long free = heap.maxMemory() - (heap.totalMemory() - heap.freeMemory());
        if (bytes > Integer.MAX_VALUE || bytes > free / 2) { // half the heap stays for everything else
            if (!noRoomLogged) {
                noRoomLogged = true;
                LOG.info("no heap room to pack a {} MB weight for batched decode ({} MB free); -Xmx sets the heap",
                        bytes >> 20, free >> 20);
            }
            return null;
        }
        return linear.keepPacked(PackedWeight.of(memory(linear.weight()).asFloatBuffer(), out, in));
    }

    /** dst (n, out) = src (n, in) W^T in libtorch. */
    private void torchProduct(Linear linear, int n, float[] src, int in, float[] dst, int out) {
        input.asFloatBuffer().put(src, 0, n * in);
        NDArray y = linear.timesWeight(inputTensor(n, in), n);
        try {
            FloatBuffer result = JniUtils.getByteBuffer((PtNDArray) y, true).order(ByteOrder.nativeOrder()).asFloatBuffer();
            Shape shape = n == 1 ? null : y.getShape(); // one row comes out in order either way
            if (shape == null || shape.dimension() == 2) {
                result.get(0, dst, 0, n * out);
            } else { // (blocks, n, out / blocks): block t holds output features [t * width, (t + 1) * width)
                int blocks = (int) shape.get(0);
                int width = out / blocks;
                for (int t = 0; t < blocks; t++) {
                    for (int b = 0; b < n; b++) {
                        result.get((t * n + b) * width, dst, b * out + t * width, width);
                    }
                }
            }
        } finally {
            y.close();
        }
    }

    /** A (n, width) tensor over the staging buffer. */
    private NDArray inputTensor(int n, int width) {
        return inputs.computeIfAbsent((long) n << 32 | width, key -> {
            Shape shape = new Shape(n, width);
            return JniUtils.createNdFromByteBuffer((PtNDManager) manager, input, shape, DataType.FLOAT32,
                    SparseFormat.DENSE, Device.cpu());
        });
    }

    /** {@link #memory} as floats, for the scalar loops. */
    private FloatBuffer view(NDArray array) {
        return memory(array).asFloatBuffer();
    }

    /**
     * The memory of a float32 tensor, without a copy. Only for contiguous tensors (weights, norms
     * and cache arrays are), since DJL would hand back a copy of any other. Kept per tensor object: a
     * tensor that is replaced (a merged weight, a grown cache) is a new object and gets a new
     * view, and writes through an old view never happen because lookups go by the live object.
     */
    private ByteBuffer memory(NDArray array) {
        ByteBuffer m = memory.get(array);
        if (m == null) {
            if (memory.size() > 4096) {
                memory.clear(); // views of freed tensors (caches of finished decoders) are never read again
            }
            m = JniUtils.getByteBuffer((PtNDArray) array, true).order(ByteOrder.nativeOrder());
            memory.put(array, m);
        }
        return m;
    }

    @Override
    public void close() {
        if (team != null) {
            team.close();
        }
        memory.clear();
        inputs.clear();
        manager.close();
    }
}
