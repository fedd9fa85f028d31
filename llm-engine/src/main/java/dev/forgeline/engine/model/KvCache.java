package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.forgeline.engine.config.ModelConfig;

/**
 * Keys and values of past positions for {@code rows} sequences of up to
 * {@code maxLength} positions and written in place, so a decode step allocates nothing that
 * grows with the context. Each row is one sequence with its own length; rows are independent,
 * which lets a scheduler add and remove sequences between steps.
 *
 * <p>Storage starts small and doubles (up to {@code maxLength}) when a step needs more room,
 * so a request that may run to a 32k window does not reserve it up front.
 *
 * <p>Layout per layer: keys (rows, kv_heads, head_dim, max_length), already transposed for
 * q k^T, and values (rows, kv_heads, max_length, head_dim). Reading rows [r, r+B) and positions
 * [0, S) is then a view whose batch dimensions collapse, so both attention matmuls run on it
 * without a copy or a transpose.
 */
public final class KvCache implements AutoCloseable {

    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private final DataType dtype;
    private int allocated; // positions the arrays hold now
    private final int rows;
    private final int maxLength;
    private final int[] lengths;
    private final long kvHeads;
    private final long headDim;

    public KvCache(NDManager parent, ModelConfig config, int rows, int maxLength, DataType dtype) {
        this.manager = parent.newSubManager();
        this.rows = rows;
        this.maxLength = maxLength;
        this.lengths = new int[rows];
        this.kvHeads = config.numKeyValueHeads();
        int layers = config.numHiddenLayers();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
        this.headDim = config.headDim();
        this.dtype = dtype;
        this.allocated = Math.min(maxLength, INITIAL_LENGTH);
        for (int l = 0; l < layers; l++) {
            keys[l] = manager.zeros(keyShape(allocated), dtype);
            values[l] = manager.zeros(valueShape(allocated), dtype);
        }
    }

    private static final int INITIAL_LENGTH = 256;

    private Shape keyShape(long length) {
        return new Shape(rows, kvHeads, headDim, length);
    }

    private Shape valueShape(long length) {
        return new Shape(rows, kvHeads, length, headDim);
    }

    /** Makes room for {@code positions} per row, doubling the storage; fails beyond maxLength. */
    void ensure(int positions) {
        if (positions <= allocated) {
            return;
        }
        if (positions > maxLength) {
            throw new IllegalStateException("sequence of " + positions + " positions does not fit the cache of " + maxLength);
        }
        int grown = Math.min(maxLength, Math.max(positions, allocated * 2));
        for (int l = 0; l < keys.length; l++) {
            NDArray k = manager.zeros(keyShape(grown), dtype);
            k.set(new NDIndex().addAllDim(3).addSliceDim(0, allocated), keys[l]);
            keys[l].close();
            keys[l] = k;
            NDArray v = manager.zeros(valueShape(grown), dtype);
            v.set(new NDIndex().addAllDim(2).addSliceDim(0, allocated), values[l]);
            values[l].close();
            values[l] = v;
        }
        allocated = grown;
    }

    /** Writes this step's k and v: (B, T, kv_heads, hd), or (B, kv_heads, 1, hd) on head-major steps. */
    void write(int layer, Step step, NDArray k, NDArray v) {
        keys[layer].set(step.keyWrite(), k);
        values[layer].set(step.valueWrite(), v);
    }

    /** Transposed keys of rows [rowStart, rowStart + B), positions [0, S): (B, kv_heads, hd, S), a view. */
    NDArray keysTransposed(int layer, Step step) {
        return Torch.slice(keys[layer], step.manager(),
                new long[] {step.rowStart(), 0, 0, 0},
                new long[] {step.rowStart() + step.batch(), kvHeads, headDim, step.keyLength()});
    }

    /** Values of rows [rowStart, rowStart + B), positions [0, S): (B, kv_heads, S, hd), a view. */
    NDArray values(int layer, Step step) {
        return Torch.slice(values[layer], step.manager(),
                new long[] {step.rowStart(), 0, 0},
                new long[] {step.rowStart() + step.batch(), kvHeads, step.keyLength()});
    }

    /** Layer l's keys, (rows, kv_heads, hd, allocated): replaced by a new array when the storage grows. */
    NDArray keys(int layer) {
        return keys[layer];
    }

    /** Layer l's values, (rows, kv_heads, allocated, hd). */
    NDArray values(int layer) {
        return values[layer];
    }

    /** Positions the arrays hold now (their last axis for keys, the third for values). */
    int allocated() {
        return allocated;
    }

    /** Copies row {@code from} into row {@code to} (keys, values and length), to keep rows packed. */
    public void moveRow(int from, int to) {
        if (from == to) {
            return;
        }
        try (NDManager scratch = manager.newSubManager()) {
            for (int l = 0; l < keys.length; l++) {
                keys[l].set(new NDIndex().addIndices(to), keys[l].get(scratch, from));
                values[l].set(new NDIndex().addIndices(to), values[l].get(scratch, from));
            }
        }
        lengths[to] = lengths[from];
        lengths[from] = 0;
    }

    public int length(int row) {
        return lengths[row];
    }

    public void setLength(int row, int length) {
        if (length < 0 || length > maxLength) {
            throw new IllegalArgumentException("length " + length + " outside [0, " + maxLength + "]");
        }
        lengths[row] = length;
    }

    public int rows() {
        return rows;
    }

    public int maxLength() {
        return maxLength;
    }

    NDManager manager() {
        return manager;
    }

    @Override
    public void close() {
        manager.close();
    }
}
