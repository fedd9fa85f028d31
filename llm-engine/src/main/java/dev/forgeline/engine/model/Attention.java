package dev.forgeline.engine.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Causal self-attention with grouped-query heads (Ainslie et al., GQA): nh query heads share
 * nkv key/value heads, nh / nkv queries per group. Queries are grouped onto their kv head
 * instead of repeating keys and values, so nothing is copied per step.
 */
public final class Attention {

    private final int layer;
    private final int queryHeads;
    private final int kvHeads;
    private final int groups;
    private final int headDim;
    private final Linear qkv; // q_proj | k_proj | v_proj
    private final Linear output; // o_proj
    private final DataType dtype;

    public Attention(int layer, int queryHeads, int kvHeads, int headDim, Linear qkv, Linear output, DataType dtype) {
        this.layer = layer;
        this.queryHeads = queryHeads;
        this.kvHeads = kvHeads;
        this.groups = queryHeads / kvHeads;
        this.headDim = headDim;
        this.qkv = qkv;
        this.output = output;
        this.dtype = dtype;
    }

    /** x (B, T, hidden) -> (B, T, hidden). */
    public NDArray forward(NDArray x, Step step) {
        long b = step.batch();
        long t = step.seqLen();
        NDArray q;
        NDArray k;
        NDArray v;
        KvCache cache = step.cache();
        if (step.headMajor()) {
            // One new token per row: rotate all heads with one batched matmul.
            NDArray h = qkv.forward(x).reshape(new Shape(b, queryHeads + 2L * kvHeads, 1, headDim));
            h = h.matMul(step.rotation()); // (B, nh+2nkv, 1, hd): q rotated and pre-scaled, k rotated, v as is
            NDList parts = Torch.split(h, new long[] {queryHeads, kvHeads, kvHeads}, 1);
            q = parts.get(0); // (B, nh, 1, hd)
            k = parts.get(1); // (B, nkv, 1, hd)
            v = parts.get(2);
        } else {
            NDArray h = qkv.forward(x).reshape(new Shape(b, t, queryHeads + 2L * kvHeads, headDim));
            h = step.angles().apply(h); // q and k rotated (q pre-scaled by 1/sqrt(hd)), v untouched
            NDList parts = Torch.split(h, new long[] {queryHeads, kvHeads, kvHeads}, 2);
            q = parts.get(0); // (B, T, nh, hd)
            k = parts.get(1); // (B, T, nkv, hd)
            v = parts.get(2); // (B, T, nkv, hd)
        }
        NDArray keysT;
        if (cache != null) {
            cache.write(layer, step, k, v);
            keysT = cache.keysTransposed(layer, step); // (B, nkv, hd, S)
            v = cache.values(layer, step); // (B, nkv, S, hd)
        } else {
            keysT = k.transpose(0, 2, 3, 1); // (B, nkv, hd, T)
            v = v.transpose(0, 2, 1, 3); // (B, nkv, T, hd)
        }
        NDArray grouped = t == 1
                ? q.reshape(new Shape(b, kvHeads, groups, headDim)) // (B, nkv, g, hd)
                : q.reshape(new Shape(b, t, kvHeads, groups, headDim))
                        .transpose(0, 2, 3, 1, 4)
                        .reshape(new Shape(b, kvHeads, groups * t, headDim)); // (B, nkv, g*T, hd)
        NDArray scores = grouped.matMul(keysT); // (B, nkv, g*T, S)
        if (step.mask() != null) {
            scores = scores.add(step.mask());
        }
        NDArray weights = RmsNorm.widensToFloat32(dtype)
                ? scores.toType(DataType.FLOAT32, false).softmax(-1).toType(dtype, false)
                : scores.softmax(-1); // float32 and float64 in their own dtype
        NDArray out = weights.matMul(v); // (B, nkv, g*T, hd)
        out = t == 1
                ? out.reshape(new Shape(b, 1, (long) queryHeads * headDim))
                : out.reshape(new Shape(b, kvHeads, groups, t, headDim))
                        .transpose(0, 3, 1, 2, 4)
                        .reshape(new Shape(b, t, (long) queryHeads * headDim)); // (B, T, nh*hd)
        return output.forward(out);
    }

    public Linear qkv() {
        return qkv;
    }

    public Linear output() {
        return output;
    }
}
