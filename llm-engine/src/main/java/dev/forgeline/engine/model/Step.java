package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.config.ModelConfig;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;

/**
 * What every layer of one forward call shares: rotation tables for the positions, the
 * attention mask, and where the new keys and values go in the cache. Built once per call, so
 * the per-layer code issues no native calls for bookkeeping.
 *
 * <p>Sequences in a batch are right-padded to {@code seqLen} tokens. A padded position
 * computes garbage that nothing valid attends to (the mask is causal per row), and its cache
 * entry lies beyond the row's length, where the next real token overwrites it.
 */
public final class Step {

    private static final long ROTATION_MATRIX_LIMIT = 128 * 1024; // floats, 512 KB

    private final NDManager manager; // owns everything this step creates, views of the cache included
    private final int batch;
    private final int seqLen;
    private final int keyLength;
    private final int[] positions; // (B*T) absolute positions
    private final RotaryEmbedding.Angles angles; // null on single-token cached steps
    private final NDArray rotation; // (B, heads, hd, hd) on single-token cached steps, else null
    private final NDArray mask; // (B, 1, groups*T, S) additive, or null when nothing is masked
    private final KvCache cache;
    private final int rowStart;
    private final NDIndex keyWrite; // where this step's keys go in the transposed key cache
    private final NDIndex valueWrite;

    private Step(NDManager m, ModelConfig c, RotaryEmbedding rope, DataType dtype, int batch, int seqLen,
            int[] starts, KvCache cache, int rowStart) {
        this.manager = m;
        this.batch = batch;
        this.seqLen = seqLen;
        this.cache = cache;
        this.rowStart = rowStart;
        this.positions = new int[batch * seqLen];
        int maxStart = 0;
        int minStart = Integer.MAX_VALUE;
        for (int b = 0; b < batch; b++) {
            maxStart = Math.max(maxStart, starts[b]);
            minStart = Math.min(minStart, starts[b]);
            for (int t = 0; t < seqLen; t++) {
                positions[b * seqLen + t] = starts[b] + t;
            }
        }
        this.keyLength = maxStart + seqLen;
        if (cache != null) {
            cache.ensure(keyLength);
        }
        float queryScale = (float) (1.0 / Math.sqrt(c.headDim()));
        // Rotation matrices replace four elementwise ops per layer with one matmul, but every
        // layer reads them: worth it while they stay small (a row or two of a 64-dim model).
        long matrixFloats = (long) batch * (c.numAttentionHeads() + 2L * c.numKeyValueHeads()) * c.headDim() * c.headDim();
        boolean decode = cache != null && seqLen == 1 && matrixFloats <= ROTATION_MATRIX_LIMIT;
        if (decode) {
            this.angles = null;
            this.rotation = rope.decodeMatrices(m, positions, c.numAttentionHeads(), c.numKeyValueHeads(), queryScale, dtype);
        } else {
            this.angles = rope.angles(m, positions, batch, seqLen, c.numAttentionHeads(), c.numKeyValueHeads(),
                    queryScale, dtype);
            this.rotation = null;
        }
        boolean needsMask = seqLen > 1 || maxStart != minStart;
        this.mask = needsMask ? causalMask(m, starts, c.queryGroups(), dtype) : null;
        if (cache == null) {
            this.keyWrite = null;
            this.valueWrite = null;
        } else if (decode) {
            // k, v arrive head-major (B, nkv, 1, hd): index rows (B,1,1), heads (1,nkv,1) and
            // positions (B,1,1) broadcast to (B, nkv, 1), which torch places first.
            int kv = c.numKeyValueHeads();
            long[] rows = new long[batch];
            long[] pos = new long[batch];
            long[] heads = new long[kv];
            for (int b = 0; b < batch; b++) {
                rows[b] = rowStart + b;
                pos[b] = positions[b];
            }
            for (int h = 0; h < kv; h++) {
                heads[h] = h;
            }
            NDArray r = m.create(LongBuffer.wrap(rows), new Shape(batch, 1, 1));
            NDArray hh = m.create(LongBuffer.wrap(heads), new Shape(1, kv, 1));
            NDArray p = m.create(LongBuffer.wrap(pos), new Shape(batch, 1, 1));
            this.keyWrite = new NDIndex("{}, {}, :, {}", r, hh, p);
            this.valueWrite = new NDIndex("{}, {}, {}", r, hh, p);
        } else {
            // k, v arrive (B, T, nkv, hd): rows (B,1) and positions (B,T) around full slices.
            long[] rows = new long[batch];
            long[] pos = new long[batch * seqLen];
            for (int b = 0; b < batch; b++) {
                rows[b] = rowStart + b;
            }
            for (int i = 0; i < pos.length; i++) {
                pos[i] = positions[i];
            }
            NDArray r = m.create(LongBuffer.wrap(rows), new Shape(batch, 1));
            NDArray p = m.create(LongBuffer.wrap(pos), new Shape(batch, seqLen));
            this.keyWrite = new NDIndex("{}, :, :, {}", r, p);
            this.valueWrite = new NDIndex("{}, :, {}", r, p);
        }
    }

    /** A cacheless step with explicit positions and mask (see {@link #packed}). */
    private Step(NDManager m, int batch, int seqLen, int[] positions, RotaryEmbedding.Angles angles, NDArray mask) {
        this.manager = m;
        this.batch = batch;
        this.seqLen = seqLen;
        this.keyLength = seqLen;
        this.positions = positions;
        this.angles = angles;
        this.rotation = null;
        this.mask = mask;
        this.cache = null;
        this.rowStart = 0;
        this.keyWrite = null;
        this.valueWrite = null;
    }

    /**
     * A forward over packed training rows, no cache: each row holds several examples back to
     * back. {@code positions} (B*T, row-major) restart at 0 for every example, and query t sees
     * key j iff j <= t and both carry the same {@code segments} id (padding is a segment of its
     * own, so padded rows stay finite). Rows of one example give what {@link #uncached} gives.
     */
    public static Step packed(NDManager m, CausalLm model, int batch, int seqLen, int[] positions, int[] segments) {
        if (positions.length != batch * seqLen || segments.length != batch * seqLen) {
            throw new IllegalArgumentException("positions and segments need " + batch + " x " + seqLen + " entries");
        }
        ModelConfig c = model.config();
        DataType dtype = model.dataType();
        RotaryEmbedding.Angles angles = model.rotary().angles(m, positions, batch, seqLen, c.numAttentionHeads(),
                c.numKeyValueHeads(), (float) (1.0 / Math.sqrt(c.headDim())), dtype);
        float blocked = dtype == DataType.FLOAT16 ? -65504f : -1e9f; // finite: a masked row must not turn into NaN
        int groups = c.queryGroups();
        int rowsPerBatch = groups * seqLen;
        float[] mask = new float[batch * rowsPerBatch * seqLen];
        for (int b = 0; b < batch; b++) {
            for (int g = 0; g < groups; g++) {
                for (int i = 0; i < seqLen; i++) {
                    int row = ((b * groups + g) * seqLen + i) * seqLen;
                    int si = segments[b * seqLen + i];
                    for (int j = 0; j < seqLen; j++) {
                        if (j > i || segments[b * seqLen + j] != si) {
                            mask[row + j] = blocked;
                        }
                    }
                }
            }
        }
        NDArray a = m.create(FloatBuffer.wrap(mask), new Shape(batch, 1, rowsPerBatch, seqLen));
        return new Step(m, batch, seqLen, positions.clone(), angles,
                dtype == DataType.FLOAT32 ? a : a.toType(dtype, false));
    }

    /** A forward over whole sequences, no cache: row b holds positions 0..T-1. */
    public static Step uncached(NDManager m, CausalLm model, int batch, int seqLen) {
        return new Step(m, model.config(), model.rotary(), model.dataType(), batch, seqLen, new int[batch], null, 0);
    }

    /**
     * A forward of T new tokens for cache rows [rowStart, rowStart + B), each continuing at its
     * row's current length. The caller advances the lengths afterwards by each row's real count.
     */
    public static Step cached(NDManager m, CausalLm model, KvCache cache, int rowStart, int batch, int seqLen) {
        int[] starts = new int[batch];
        for (int b = 0; b < batch; b++) {
            starts[b] = cache.length(rowStart + b);
        }
        return new Step(m, model.config(), model.rotary(), model.dataType(), batch, seqLen, starts, cache, rowStart);
    }

    /** Key j is visible to the query at position p iff j <= p; rows repeat per query group. */
    private NDArray causalMask(NDManager m, int[] starts, int groups, DataType dtype) {
        // Finite, not -inf: a fully masked padded row must not turn into NaN and leak through 0 * NaN.
        float blocked = dtype == DataType.FLOAT16 ? -65504f : -1e9f;
        int rowsPerBatch = groups * seqLen;
        float[] mask = new float[batch * rowsPerBatch * keyLength];
        for (int b = 0; b < batch; b++) {
            for (int g = 0; g < groups; g++) {
                for (int t = 0; t < seqLen; t++) {
                    int visible = starts[b] + t;
                    int row = ((b * groups + g) * seqLen + t) * keyLength;
                    for (int j = visible + 1; j < keyLength; j++) {
                        mask[row + j] = blocked;
                    }
                }
            }
        }
        NDArray a = m.create(FloatBuffer.wrap(mask), new Shape(batch, 1, rowsPerBatch, keyLength));
        return dtype == DataType.FLOAT32 ? a : a.toType(dtype, false);
    }

    public NDManager manager() {
        return manager;
    }

    public int batch() {
        return batch;
    }

    public int seqLen() {
        return seqLen;
    }

    public int keyLength() {
        return keyLength;
    }

    public int position(int row, int t) {
        return positions[row * seqLen + t];
    }

    public RotaryEmbedding.Angles angles() {
        return angles;
    }

    public NDArray mask() {
        return mask;
    }

    public KvCache cache() {
        return cache;
    }

    public int rowStart() {
        return rowStart;
    }

    /** Single-token cached step: rotation matrices, and k, v come head-major. */
    boolean headMajor() {
        return rotation != null;
    }

    NDArray rotation() {
        return rotation;
    }

    NDIndex keyWrite() {
        return keyWrite;
    }

    NDIndex valueWrite() {
        return valueWrite;
    }
}
